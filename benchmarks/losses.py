"""Speed of cebook.losses against PyTorch's built-in losses and torch.distributions.

Run from the repository root:

    python benchmarks/losses.py  [--threads 1] [--reps 15] [--budget 4] [--device cpu|cuda]

For every loss it times one forward and backward pass on inputs of 2**20 float32 elements (the
largest input: the target, or the logits for the categorical laws and the mixture; the
multivariate normal has 2**19 events of dimension 2) and prints the time as a ratio to

* the closest PyTorch built-in (``mse_loss``, ``l1_loss``, ``binary_cross_entropy_with_logits``,
  ``cross_entropy``, ``poisson_nll_loss(log_input=False, full=True)``, ``gaussian_nll_loss(full=
  True)``); for a law with no built-in the column repeats ``torch.distributions``;
* ``-torch.distributions.X(...).log_prob(y).mean()``,

with cebook's validation on and off (``torch.distributions`` with ``validate_args`` on and off to
match). The variants are interleaved in one process (A, B, C, A, B, C, ...) so that a change in the
machine's load hits them alike; each ratio is the median over rounds of the ratio of the two
runs of one round (robust to a load that drifts between rounds). The table is printed in
markdown and written to ``benchmarks/results/losses-<device>.md``. The target: at most 1.1x the
fused built-in with validation off where a law reduces to one, and faster than torch.distributions.
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import distributions as D

import cebook
from cebook import losses as L

N = 2**20


@dataclass
class Case:
    name: str
    builtin_name: str  # "" when the law has no built-in
    fused: bool  # the law reduces to the fused built-in: the 1.1x target applies
    make: Callable[[torch.device], dict]


def _leaf(x: torch.Tensor) -> torch.Tensor:
    return x.detach().requires_grad_()


def _cases() -> list[Case]:
    def gaussian_fixed(dev):
        loc, y = _leaf(torch.randn(N, device=dev)), torch.randn(N, device=dev)
        return {
            "params": [loc],
            "cebook": lambda: L.gaussian_nll(loc, 0.7, y),
            "builtin": lambda: F.mse_loss(loc, y),
            "dist": lambda v: -D.Normal(loc, 0.7, validate_args=v).log_prob(y).mean(),
        }

    def gaussian_learned(dev, beta=0.0):
        loc, y = _leaf(torch.randn(N, device=dev)), torch.randn(N, device=dev)
        scale = _leaf(torch.rand(N, device=dev) + 0.5)
        var = _leaf(scale.detach().square())
        return {
            "params": [loc, scale, var],
            "cebook": lambda: L.gaussian_nll(loc, scale, y, beta=beta),
            "builtin": lambda: F.gaussian_nll_loss(loc, y, var, full=True),
            "dist": lambda v: -D.Normal(loc, scale, validate_args=v).log_prob(y).mean(),
        }

    def mvn(dev):
        n, d = N // 2, 2
        loc, y = _leaf(torch.randn(n, d, device=dev)), torch.randn(n, d, device=dev)
        tril = torch.randn(n, d, d, device=dev).tril(-1) * 0.3
        tril = _leaf(tril + torch.diag_embed(torch.rand(n, d, device=dev) + 0.5))
        return {
            "params": [loc, tril],
            "cebook": lambda: L.mvn_nll(loc, tril, y),
            "dist": lambda v: (
                -D.MultivariateNormal(loc, scale_tril=tril, validate_args=v).log_prob(y).mean()
            ),
        }

    def laplace_fixed(dev):
        loc, y = _leaf(torch.randn(N, device=dev)), torch.randn(N, device=dev)
        return {
            "params": [loc],
            "cebook": lambda: L.laplace_nll(loc, 0.7, y),
            "builtin": lambda: F.l1_loss(loc, y),
            "dist": lambda v: -D.Laplace(loc, 0.7, validate_args=v).log_prob(y).mean(),
        }

    def laplace_learned(dev):
        loc, y = _leaf(torch.randn(N, device=dev)), torch.randn(N, device=dev)
        scale = _leaf(torch.rand(N, device=dev) + 0.5)
        return {
            "params": [loc, scale],
            "cebook": lambda: L.laplace_nll(loc, scale, y),
            "dist": lambda v: -D.Laplace(loc, scale, validate_args=v).log_prob(y).mean(),
        }

    def student_t(dev):
        loc, y = _leaf(torch.randn(N, device=dev)), torch.randn(N, device=dev)
        scale = _leaf(torch.rand(N, device=dev) + 0.5)
        df = _leaf(torch.rand(N, device=dev) + 2.0)
        return {
            "params": [df, loc, scale],
            "cebook": lambda: L.student_t_nll(df, loc, scale, y),
            "dist": lambda v: -D.StudentT(df, loc, scale, validate_args=v).log_prob(y).mean(),
        }

    def exponential(dev):
        rate, y = _leaf(torch.rand(N, device=dev) + 0.5), torch.rand(N, device=dev) * 3
        return {
            "params": [rate],
            "cebook": lambda: L.exponential_nll(rate, y),
            "dist": lambda v: -D.Exponential(rate, validate_args=v).log_prob(y).mean(),
        }

    def gamma(dev):
        a, b = _leaf(torch.rand(N, device=dev) + 0.5), _leaf(torch.rand(N, device=dev) + 0.5)
        y = torch.rand(N, device=dev) * 3 + 0.01
        return {
            "params": [a, b],
            "cebook": lambda: L.gamma_nll(a, b, y),
            "dist": lambda v: -D.Gamma(a, b, validate_args=v).log_prob(y).mean(),
        }

    def lognormal(dev):
        loc, y = _leaf(torch.randn(N, device=dev)), torch.rand(N, device=dev) * 3 + 0.01
        scale = _leaf(torch.rand(N, device=dev) + 0.5)
        return {
            "params": [loc, scale],
            "cebook": lambda: L.lognormal_nll(loc, scale, y),
            "dist": lambda v: -D.LogNormal(loc, scale, validate_args=v).log_prob(y).mean(),
        }

    def poisson(dev):
        rate = _leaf(torch.rand(N, device=dev) * 5 + 0.1)
        y = torch.poisson(torch.full((N,), 3.0, device=dev))
        return {
            "params": [rate],
            "cebook": lambda: L.poisson_nll(rate, y),
            "builtin": lambda: F.poisson_nll_loss(rate, y, log_input=False, full=True),
            "dist": lambda v: -D.Poisson(rate, validate_args=v).log_prob(y).mean(),
        }

    def negative_binomial(dev):
        r, eta = _leaf(torch.rand(N, device=dev) + 0.5), _leaf(torch.randn(N, device=dev))
        y = torch.poisson(torch.full((N,), 3.0, device=dev))
        return {
            "params": [r, eta],
            "cebook": lambda: L.negative_binomial_nll(r, eta, y),
            "dist": lambda v: (
                -D.NegativeBinomial(r, logits=eta, validate_args=v).log_prob(y).mean()
            ),
        }

    def bernoulli(dev):
        eta = _leaf(torch.randn(N, device=dev))
        y = (torch.rand(N, device=dev) < 0.5).float()
        return {
            "params": [eta],
            "cebook": lambda: L.bernoulli_nll(eta, y),
            "builtin": lambda: F.binary_cross_entropy_with_logits(eta, y),
            "dist": lambda v: -D.Bernoulli(logits=eta, validate_args=v).log_prob(y).mean(),
        }

    def continuous_bernoulli(dev):
        eta, y = _leaf(torch.randn(N, device=dev)), torch.rand(N, device=dev)
        return {
            "params": [eta],
            "cebook": lambda: L.continuous_bernoulli_nll(eta, y),
            "builtin": lambda: F.binary_cross_entropy_with_logits(eta, y),
            "dist": lambda v: (
                -D.ContinuousBernoulli(logits=eta, validate_args=v).log_prob(y).mean()
            ),
        }

    def beta(dev):
        a, b = _leaf(torch.rand(N, device=dev) + 0.5), _leaf(torch.rand(N, device=dev) + 0.5)
        y = torch.rand(N, device=dev) * 0.98 + 0.01
        return {
            "params": [a, b],
            "cebook": lambda: L.beta_nll(a, b, y),
            "dist": lambda v: -D.Beta(a, b, validate_args=v).log_prob(y).mean(),
        }

    def categorical_index(dev):
        k = 16
        logits = _leaf(torch.randn(N // k, k, device=dev))
        y = torch.randint(0, k, (N // k,), device=dev)
        return {
            "params": [logits],
            "cebook": lambda: L.categorical_nll(logits, y),
            "builtin": lambda: F.cross_entropy(logits, y),
            "dist": lambda v: -D.Categorical(logits=logits, validate_args=v).log_prob(y).mean(),
        }

    def categorical_probs(dev):
        k = 16
        logits = _leaf(torch.randn(N // k, k, device=dev))
        y = torch.softmax(torch.randn(N // k, k, device=dev), -1)
        return {
            "params": [logits],
            "cebook": lambda: L.categorical_nll(logits, y),
            "builtin": lambda: F.cross_entropy(logits, y),
            # torch.distributions has no soft-target cross-entropy: the plain formula instead
            "dist": lambda v: -(y * torch.log_softmax(logits, -1)).sum(-1).mean(),
        }

    def gmm(dev):
        k = 4
        logits = _leaf(torch.randn(N // k, k, device=dev))
        loc = _leaf(torch.randn(N // k, k, device=dev))
        scale = _leaf(torch.rand(N // k, k, device=dev) + 0.5)
        y = torch.randn(N // k, device=dev)
        return {
            "params": [logits, loc, scale],
            "cebook": lambda: L.gmm_nll(logits, loc, scale, y),
            "dist": lambda v: (
                -D.MixtureSameFamily(
                    D.Categorical(logits=logits, validate_args=v),
                    D.Normal(loc, scale, validate_args=v),
                    validate_args=v,
                )
                .log_prob(y)
                .mean()
            ),
        }

    def pinball(dev, q):
        pred, y = _leaf(torch.randn(N, device=dev)), torch.randn(N, device=dev)
        return {
            "params": [pred],
            "cebook": lambda: L.pinball_loss(pred, y, q),
            "builtin": lambda: F.l1_loss(pred, y),
            # no law in torch.distributions: the textbook formula max(q d, (q - 1) d)
            "dist": lambda v: torch.maximum(q * (y - pred), (q - 1) * (y - pred)).mean(),
        }

    def asymmetric_laplace(dev, q=0.9):
        loc, y = _leaf(torch.randn(N, device=dev)), torch.randn(N, device=dev)
        scale = _leaf(torch.rand(N, device=dev) + 0.5)
        return {
            "params": [loc, scale],
            "cebook": lambda: L.asymmetric_laplace_nll(loc, scale, q, y),
            "builtin": lambda: F.l1_loss(loc, y),
            # no law in torch.distributions: the textbook formula
            "dist": lambda v: (
                torch.maximum(q * (y - loc), (q - 1) * (y - loc)) / scale
                + torch.log(scale)
                - math.log(q * (1 - q))
            ).mean(),
        }

    return [
        Case("gaussian_nll, scale a number", "mse_loss", True, gaussian_fixed),
        Case("gaussian_nll, scale a tensor", "gaussian_nll_loss", False, gaussian_learned),
        Case(
            "gaussian_nll, beta=0.5",
            "gaussian_nll_loss",
            False,
            lambda dev: gaussian_learned(dev, 0.5),
        ),
        Case("mvn_nll, d=2, one L per event", "", False, mvn),
        Case("laplace_nll, scale a number", "l1_loss", True, laplace_fixed),
        Case("laplace_nll, scale a tensor", "", False, laplace_learned),
        Case("student_t_nll, df a tensor", "", False, student_t),
        Case("exponential_nll", "", False, exponential),
        Case("gamma_nll", "", False, gamma),
        Case("lognormal_nll", "", False, lognormal),
        Case("poisson_nll", "poisson_nll_loss(full=True)", False, poisson),
        Case("negative_binomial_nll", "", False, negative_binomial),
        Case("bernoulli_nll", "bce_with_logits", True, bernoulli),
        Case("continuous_bernoulli_nll", "bce_with_logits", False, continuous_bernoulli),
        Case("beta_nll", "", False, beta),
        Case("categorical_nll, indices, K=16", "cross_entropy", True, categorical_index),
        Case("categorical_nll, probabilities, K=16", "cross_entropy", True, categorical_probs),
        Case("gmm_nll, K=4", "", False, gmm),
        Case("pinball_loss, quantile=0.5", "l1_loss", True, lambda dev: pinball(dev, 0.5)),
        Case("pinball_loss, quantile=0.9", "l1_loss", False, lambda dev: pinball(dev, 0.9)),
        Case("asymmetric_laplace_nll, quantile=0.9", "l1_loss", False, asymmetric_laplace),
    ]


def _timer(fn: Callable[[], torch.Tensor], params: list[torch.Tensor], dev: torch.device):
    def run() -> float:
        for p in params:
            p.grad = None
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start = time.perf_counter()
        fn().backward()
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return time.perf_counter() - start

    return run


def _with_validation(fn: Callable[[], torch.Tensor], enabled: bool) -> Callable[[], torch.Tensor]:
    def run() -> torch.Tensor:
        with cebook.validation(enabled):
            return fn()

    return run


def bench_case(case: Case, dev: torch.device, reps: int, budget_s: float) -> dict[str, float]:
    """Median time of cebook and median ratios of paired runs (each pair ran back to back)."""
    torch.manual_seed(0)
    made = case.make(dev)
    params = made["params"]
    variants = {
        "cebook_off": _with_validation(made["cebook"], False),
        "cebook_on": _with_validation(made["cebook"], True),
        "dist_off": lambda: made["dist"](False),
        "dist_on": lambda: made["dist"](True),
    }
    if "builtin" in made:
        variants["builtin"] = made["builtin"]
    runners = {name: _timer(fn, params, dev) for name, fn in variants.items()}
    start = time.perf_counter()
    for run in runners.values():  # warm-up
        run()
        run()
    round_s = (time.perf_counter() - start) / 2
    # cheap cases get more rounds (up to 8x), so that every case costs about budget_s
    rounds = max(reps, min(8 * reps, int(budget_s / max(round_s, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            times[name].append(run())
    builtin = "builtin" if "builtin" in times else None

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    return {
        "cebook_ms": 1e3 * statistics.median(times["cebook_off"]),
        "rounds": rounds,
        "builtin_off": ratio("cebook_off", builtin or "dist_off"),
        "builtin_on": ratio("cebook_on", builtin or "dist_on"),
        "dist_off": ratio("cebook_off", "dist_off"),
        "dist_on": ratio("cebook_on", "dist_on"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="least timed rounds per loss")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds per loss (about)")
    parser.add_argument("--device", action="append", help="cpu, cuda (default: all present)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(exist_ok=True)
    for name in devices:
        dev = torch.device(name)
        lines = [
            f"### cebook.losses speed on {name} ({torch.cuda.get_device_name(dev) if name == 'cuda' else platform.processor() or platform.machine()})",  # noqa: E501
            "",
            f"`python benchmarks/losses.py {' '.join(argv if argv is not None else sys.argv[1:])}`"
            f": torch {torch.__version__}, {torch.get_num_threads()} CPU threads, float32, "
            f"2**20 elements, forward + backward. The variants run interleaved "
            f"(A, B, C, A, B, C, ...; at least {args.reps} rounds, more for cheap losses) and each "
            "ratio is the median of the ratios of runs from the same round. Ratios < 1 mean "
            "cebook is faster. For a law with no built-in the built-in column "
            "repeats torch.distributions. Target: <= 1.1 against a fused built-in (marked *) "
            "with validation off, < 1 against torch.distributions.",
            "",
            "| loss | built-in | cebook ms (val. off) | / built-in (off) | / built-in (on) "
            "| / torch.distributions (off) | / torch.distributions (on) | target |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        print(lines[0], file=sys.stderr)
        for case in _cases():
            med = bench_case(case, dev, args.reps, args.budget)
            vs_builtin, vs_dist = med["builtin_off"], med["dist_off"]
            met = (vs_builtin <= 1.1 if case.fused else True) and vs_dist < 1
            builtin = (case.builtin_name + (" *" if case.fused else "")) or "— (distributions)"
            row = (
                f"| {case.name} | {builtin} | {med['cebook_ms']:.2f} "
                f"| {med['builtin_off']:.2f} | {med['builtin_on']:.2f} "
                f"| {med['dist_off']:.2f} | {med['dist_on']:.2f} | {'met' if met else 'NOT met'} |"
            )
            lines.append(row)
            print(row, file=sys.stderr)
        table = "\n".join(lines) + "\n"
        print(table)
        (out_dir / f"losses-{name}.md").write_text(table)
    return 0


if __name__ == "__main__":
    assert math.log2(N) == 20
    sys.exit(main())
