"""Tests of cebook.losses against torch.distributions, scipy.stats and closed forms.

Every reference is computed independently of cebook: ``-torch.distributions.X(...).log_prob``,
``scipy.stats`` log-densities, or the textbook formula written out in float64.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from torch import distributions as D

import cebook
from cebook import losses as L

F64 = torch.float64
SETTINGS = settings(max_examples=50, deadline=None)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _pos(shape, g, low=0.2, high=3.0, dtype=F64):
    return low + (high - low) * torch.rand(shape, generator=g, dtype=dtype)


def _tril(batch, d, g, dtype=F64):
    low = 0.5 * torch.randn(*batch, d, d, generator=g, dtype=dtype).tril(-1)
    return low + torch.diag_embed(_pos((*batch, d), g, 0.5, 2.0, dtype))


# ------------------------------------------------------------------------------------------------
# Cases: name -> (loss, make(g) -> (params, target, kwargs), reference(params, target) -> -log q)
# The reference returns the per-element NLL in float64, computed without cebook.
# ------------------------------------------------------------------------------------------------


def _gaussian(g):
    shape = (6, 4)
    return (torch.randn(shape, generator=g, dtype=F64), _pos(shape, g)), torch.randn(
        shape, generator=g, dtype=F64
    )


def _unit(shape, g):
    return 0.02 + 0.96 * torch.rand(shape, generator=g, dtype=F64)


def _counts(shape, g, rate=4.0):
    return torch.poisson(torch.full(shape, rate, dtype=F64), generator=g)


CASES = {
    "gaussian": (
        L.gaussian_nll,
        _gaussian,
        lambda p, y: -D.Normal(*p).log_prob(y),
    ),
    "gaussian_number_scale": (
        L.gaussian_nll,
        lambda g: ((torch.randn(6, 4, generator=g, dtype=F64), 0.7), torch.randn(6, 4, dtype=F64)),
        lambda p, y: -D.Normal(p[0], p[1]).log_prob(y),
    ),
    "gaussian_broadcast_params": (
        L.gaussian_nll,
        lambda g: (
            (torch.randn(4, generator=g, dtype=F64), _pos((6, 1), g)),
            torch.randn(6, 4, generator=g, dtype=F64),
        ),
        lambda p, y: -D.Normal(*p).log_prob(y),
    ),
    "gaussian_beta": (  # beta-NLL: the NLL times the detached scale ** (2 beta)
        L.gaussian_nll,
        lambda g: (*_gaussian(g), {"beta": 0.5}),
        lambda p, y: -D.Normal(*p).log_prob(y) * p[1],
    ),
    "mvn_batched": (
        L.mvn_nll,
        lambda g: (
            (torch.randn(5, 3, generator=g, dtype=F64), _tril((5,), 3, g)),
            torch.randn(5, 3, generator=g, dtype=F64),
        ),
        lambda p, y: -D.MultivariateNormal(p[0], scale_tril=p[1]).log_prob(y),
    ),
    "mvn_shared_tril": (
        L.mvn_nll,
        lambda g: (
            (torch.randn(3, generator=g, dtype=F64), _tril((), 3, g)),
            torch.randn(2, 5, 3, generator=g, dtype=F64),
        ),
        lambda p, y: -D.MultivariateNormal(p[0], scale_tril=p[1]).log_prob(y),
    ),
    "mvn_d10_batched": (  # above the unrolled size: torch.linalg.solve_triangular
        L.mvn_nll,
        lambda g: (
            (torch.randn(4, 10, generator=g, dtype=F64), _tril((4,), 10, g)),
            torch.randn(4, 10, generator=g, dtype=F64),
        ),
        lambda p, y: -D.MultivariateNormal(p[0], scale_tril=p[1]).log_prob(y),
    ),
    "mvn_d10_shared": (
        L.mvn_nll,
        lambda g: (
            (torch.randn(4, 10, generator=g, dtype=F64), _tril((), 10, g)),
            torch.randn(4, 10, generator=g, dtype=F64),
        ),
        lambda p, y: -D.MultivariateNormal(p[0], scale_tril=p[1]).log_prob(y),
    ),
    "laplace": (
        L.laplace_nll,
        _gaussian,
        lambda p, y: -D.Laplace(*p).log_prob(y),
    ),
    "laplace_number_scale": (
        L.laplace_nll,
        lambda g: ((torch.randn(6, 4, generator=g, dtype=F64), 1.3), torch.randn(6, 4, dtype=F64)),
        lambda p, y: -D.Laplace(p[0], p[1]).log_prob(y),
    ),
    "student_t": (
        L.student_t_nll,
        lambda g: (
            (_pos((6, 4), g, 0.5, 10.0), *_gaussian(g)[0]),
            3 * torch.randn(6, 4, dtype=F64),
        ),
        lambda p, y: -D.StudentT(*p).log_prob(y),
    ),
    "student_t_large_df": (  # df / 2 on both sides of 32, where a series takes over
        L.student_t_nll,
        lambda g: (
            (
                torch.cat([_pos(12, g, 50.0, 80.0), _pos(12, g, 80.0, 5000.0)]),
                torch.randn(24, generator=g, dtype=F64),
                _pos(24, g),
            ),
            3 * torch.randn(24, generator=g, dtype=F64),
        ),
        lambda p, y: -D.StudentT(*p).log_prob(y),
    ),
    "student_t_number_df": (
        L.student_t_nll,
        lambda g: ((2.5, *_gaussian(g)[0]), 3 * torch.randn(6, 4, dtype=F64)),
        lambda p, y: -D.StudentT(*p).log_prob(y),
    ),
    "exponential": (
        L.exponential_nll,
        lambda g: ((_pos((6, 4), g),), _pos((6, 4), g, 0.0, 5.0)),
        lambda p, y: -D.Exponential(*p).log_prob(y),
    ),
    "gamma": (
        L.gamma_nll,
        lambda g: ((_pos((6, 4), g, 0.3, 5.0), _pos((6, 4), g)), _pos((6, 4), g, 0.01, 5.0)),
        lambda p, y: -D.Gamma(*p).log_prob(y),
    ),
    "lognormal": (
        L.lognormal_nll,
        lambda g: (_gaussian(g)[0], _pos((6, 4), g, 0.01, 5.0)),
        lambda p, y: -D.LogNormal(*p).log_prob(y),
    ),
    "poisson": (
        L.poisson_nll,
        lambda g: ((_pos((6, 4), g, 0.1, 8.0),), _counts((6, 4), g)),
        lambda p, y: -D.Poisson(*p).log_prob(y),
    ),
    "negative_binomial": (
        L.negative_binomial_nll,
        lambda g: (
            (_pos((6, 4), g, 0.3, 5.0), torch.randn(6, 4, generator=g, dtype=F64)),
            _counts((6, 4), g),
        ),
        lambda p, y: -D.NegativeBinomial(p[0], logits=p[1]).log_prob(y),
    ),
    "bernoulli_hard": (
        L.bernoulli_nll,
        lambda g: (
            (3 * torch.randn(6, 4, generator=g, dtype=F64),),
            (torch.rand(6, 4, generator=g) < 0.5).to(F64),
        ),
        lambda p, y: -D.Bernoulli(logits=p[0]).log_prob(y),
    ),
    "bernoulli_soft": (  # torch's Bernoulli rejects soft targets: the closed form instead
        L.bernoulli_nll,
        lambda g: ((3 * torch.randn(6, 4, generator=g, dtype=F64),), _unit((6, 4), g)),
        lambda p, y: -(y * torch.sigmoid(p[0]).log() + (1 - y) * torch.sigmoid(-p[0]).log()),
    ),
    "continuous_bernoulli": (
        L.continuous_bernoulli_nll,
        lambda g: (
            (torch.cat([3 * torch.randn(20, generator=g, dtype=F64), torch.zeros(1, dtype=F64)]),),
            torch.rand(21, generator=g, dtype=F64),
        ),
        lambda p, y: -D.ContinuousBernoulli(logits=p[0]).log_prob(y),
    ),
    "beta": (
        L.beta_nll,
        lambda g: ((_pos((6, 4), g, 0.3, 5.0), _pos((6, 4), g, 0.3, 5.0)), _unit((6, 4), g)),
        lambda p, y: -D.Beta(*p).log_prob(y),
    ),
    "categorical_index": (
        L.categorical_nll,
        lambda g: ((2 * torch.randn(6, 4, 5, generator=g, dtype=F64),), torch.randint(5, (6, 4))),
        lambda p, y: -D.Categorical(logits=p[0]).log_prob(y),
    ),
    "categorical_index_shared_logits": (
        L.categorical_nll,
        lambda g: ((2 * torch.randn(5, generator=g, dtype=F64),), torch.randint(5, (7,))),
        lambda p, y: -D.Categorical(logits=p[0]).log_prob(y),
    ),
    "categorical_probs": (
        L.categorical_nll,
        lambda g: (
            (2 * torch.randn(6, 4, 5, generator=g, dtype=F64),),
            torch.softmax(torch.randn(6, 4, 5, generator=g, dtype=F64), -1),
        ),
        lambda p, y: -(y * torch.log_softmax(p[0], -1)).sum(-1),
    ),
    "gmm": (
        L.gmm_nll,
        lambda g: (
            (
                torch.randn(6, 3, generator=g, dtype=F64),
                2 * torch.randn(6, 3, generator=g, dtype=F64),
                _pos((6, 3), g, 0.3, 2.0),
            ),
            2 * torch.randn(6, generator=g, dtype=F64),
        ),
        lambda p, y: (
            -D.MixtureSameFamily(D.Categorical(logits=p[0]), D.Normal(p[1], p[2])).log_prob(y)
        ),
    ),
    "pinball": (  # no torch twin: the textbook max form
        L.pinball_loss,
        lambda g: (
            (torch.randn(6, 4, generator=g, dtype=F64),),
            torch.randn(6, 4, generator=g, dtype=F64),
            {"quantile": 0.8},
        ),
        lambda p, y, q=0.8: torch.maximum(q * (y - p[0]), (q - 1) * (y - p[0])),
    ),
    "asymmetric_laplace": (  # no torch twin: the pinball loss over the scale, plus the normaliser
        L.asymmetric_laplace_nll,
        lambda g: (
            (
                torch.randn(6, 4, generator=g, dtype=F64),
                _pos((6, 4), g, 0.3, 2.0),
                _pos((6, 4), g, 0.05, 0.95),
            ),
            torch.randn(6, 4, generator=g, dtype=F64),
        ),
        lambda p, y: (
            torch.maximum(p[2] * (y - p[0]), (p[2] - 1) * (y - p[0])) / p[1]
            + torch.log(p[1] / (p[2] * (1 - p[2])))
        ),
    ),
}


def _make(name, seed=0):
    fn, make, ref = CASES[name]
    made = make(_gen(seed))
    params, target = made[0], made[1]
    kwargs = made[2] if len(made) > 2 else {}
    return fn, params, target, kwargs, ref


def _call(fn, params, target, kwargs, **extra):
    if fn is L.pinball_loss:
        return fn(params[0], target, kwargs["quantile"], **extra)
    return fn(*params, target, **kwargs, **extra)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference_elementwise(name, seed):
    fn, params, target, kwargs, ref = _make(name, seed)
    got = _call(fn, params, target, kwargs, reduction="none")
    want = ref(params, target)
    assert got.dtype == F64
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reductions(name, reduction):
    fn, params, target, kwargs, ref = _make(name)
    want = ref(params, target)
    want = want.mean() if reduction == "mean" else want.sum()
    got = _call(fn, params, target, kwargs, reduction=reduction)
    assert got.shape == ()
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_default_reduction_is_mean():
    fn, params, target, kwargs, ref = _make("gamma")
    torch.testing.assert_close(fn(*params, target), ref(params, target).mean())


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_reduction_raises(name):
    fn, params, target, kwargs, _ = _make(name)
    expected = f"{fn.__name__}: reduction must be 'mean', 'sum' or 'none', got 'avg'"
    with pytest.raises(ValueError, match=re.escape(expected)):
        _call(fn, params, target, kwargs, reduction="avg")


# ------------------------------------------------------------------------------------------------
# Independent references from scipy.stats (different parameterisations, no torch)
# ------------------------------------------------------------------------------------------------


def test_scipy_references():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    loc, scale = rng.normal(size=50), rng.uniform(0.2, 3, size=50)
    df = rng.uniform(0.5, 10, size=50)
    t = torch.from_numpy
    pairs = [
        (
            L.gaussian_nll(t(loc), t(scale), t(y), reduction="none"),
            stats.norm(loc, scale).logpdf(y),
        ),
        (
            L.laplace_nll(t(loc), t(scale), t(y), reduction="none"),
            stats.laplace(loc, scale).logpdf(y),
        ),
        (
            L.student_t_nll(t(df), t(loc), t(scale), t(y), reduction="none"),
            stats.t(df, loc, scale).logpdf(y),
        ),
    ]
    ypos = rng.uniform(0.01, 5, size=50)
    a, b = rng.uniform(0.3, 5, size=50), rng.uniform(0.3, 5, size=50)
    pairs += [
        (L.exponential_nll(t(b), t(ypos), reduction="none"), stats.expon(scale=1 / b).logpdf(ypos)),
        (
            L.gamma_nll(t(a), t(b), t(ypos), reduction="none"),
            stats.gamma(a, scale=1 / b).logpdf(ypos),
        ),
        (
            L.lognormal_nll(t(loc), t(scale), t(ypos), reduction="none"),
            stats.lognorm(scale, scale=np.exp(loc)).logpdf(ypos),
        ),
    ]
    yunit = rng.uniform(0.01, 0.99, size=50)
    pairs.append(
        (L.beta_nll(t(a), t(b), t(yunit), reduction="none"), stats.beta(a, b).logpdf(yunit))
    )
    counts = rng.poisson(4, size=50).astype(np.float64)
    eta = rng.normal(size=50)
    p_fail = 1 / (1 + np.exp(eta))  # scipy's p is torch's 1 - probs
    pairs += [
        (L.poisson_nll(t(a), t(counts), reduction="none"), stats.poisson(a).logpmf(counts)),
        (
            L.negative_binomial_nll(t(a), t(eta), t(counts), reduction="none"),
            stats.nbinom(a, p_fail).logpmf(counts),
        ),
    ]
    tau = rng.uniform(0.05, 0.95, size=50)  # scipy's kappa and scale, from the level and b
    pairs.append(
        (
            L.asymmetric_laplace_nll(t(loc), t(scale), t(tau), t(y), reduction="none"),
            stats.laplace_asymmetric(
                np.sqrt(tau / (1 - tau)), loc, scale / np.sqrt(tau * (1 - tau))
            ).logpdf(y),
        )
    )
    y2 = rng.normal(size=(20, 2))
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    pairs.append(
        (
            L.mvn_nll(
                torch.zeros(2, dtype=F64), t(np.linalg.cholesky(cov)), t(y2), reduction="none"
            ),
            stats.multivariate_normal(np.zeros(2), cov).logpdf(y2),
        )
    )
    for got, logpdf in pairs:
        np.testing.assert_allclose(got.numpy(), -logpdf, rtol=1e-9, atol=1e-9)


def test_continuous_bernoulli_against_numerical_integration():
    # the density C(lambda) lambda^y (1 - lambda)^(1 - y) integrates to 1 over [0, 1]
    from scipy.integrate import quad

    for logit in [-30.0, -4.0, -0.05, 0.0, 1e-3, 0.3, 7.0]:
        density = lambda y, e=logit: math.exp(  # noqa: E731
            -L.continuous_bernoulli_nll(
                torch.tensor(e, dtype=F64), torch.tensor(y, dtype=F64)
            ).item()
        )
        total, _ = quad(density, 0.0, 1.0, limit=200)
        assert total == pytest.approx(1.0, abs=1e-8), logit


def test_continuous_bernoulli_known_constants():
    # REFERENCES section 4: log C(0.2) = 0.8374599, C(0.9) = C(0.1) = 2.7465
    lam = torch.tensor([0.2, 0.9, 0.1], dtype=F64)
    eta = torch.logit(lam)
    log_c = -L.continuous_bernoulli_nll(eta, torch.zeros(3, dtype=F64), reduction="none") - (
        -F.softplus(eta)
    )
    assert log_c[0].item() == pytest.approx(0.8374599, abs=1e-7)
    assert math.exp(log_c[1].item()) == pytest.approx(2.7465, abs=1e-4)
    assert log_c[1].item() == pytest.approx(log_c[2].item(), abs=1e-12)


def test_poisson_exact_factorial_not_stirling():
    # REFERENCES 1.2: lambda = 3, k = 5: exact 2.2944302994; poisson_nll_loss(full=True) 2.2777856
    got = L.poisson_nll(torch.tensor([3.0], dtype=F64), torch.tensor([5.0], dtype=F64))
    assert got.item() == pytest.approx(2.2944302994, abs=1e-10)


def test_pinball_with_tensor_quantiles_and_number_quantile():
    g = _gen(3)
    pred = torch.randn(8, 3, generator=g, dtype=F64)
    y = torch.randn(8, 1, generator=g, dtype=F64).expand(8, 3)
    q = torch.tensor([0.1, 0.5, 0.9], dtype=F64)
    d = y - pred
    want = torch.where(d >= 0, q * d, (q - 1) * d)
    torch.testing.assert_close(L.pinball_loss(pred, y, q, reduction="none"), want)
    torch.testing.assert_close(
        L.pinball_loss(pred[:, 2], y[:, 2], 0.9, reduction="none"), want[:, 2]
    )
    # the asymmetric-Laplace reading: argmin of the mean pinball loss is the empirical quantile
    sample = torch.randn(999, generator=g, dtype=F64)
    grid = torch.linspace(-3, 3, 6001, dtype=F64)
    mean_loss = torch.stack(
        [L.pinball_loss(c.expand(999), sample, 0.9) for c in grid]  # one constant prediction
    )
    best = grid[mean_loss.argmin()]
    # the minimiser is the order statistic y_(ceil(n tau)) (n tau = 899.1 is not an integer)
    order_statistic = sample.sort().values[math.ceil(999 * 0.9) - 1]
    assert abs(best - order_statistic).item() <= 1e-3 + 1e-12  # one grid step


def test_asymmetric_laplace_is_the_pinball_loss_over_the_scale_plus_its_normaliser():
    g = _gen(4)
    pred, y = torch.randn(50, generator=g, dtype=F64), torch.randn(50, generator=g, dtype=F64)
    for tau in (0.1, 0.5, 0.9):
        got = L.asymmetric_laplace_nll(pred, 0.5, tau, y)
        want = L.pinball_loss(pred, y, tau) / 0.5 + math.log(0.5 / (tau * (1 - tau)))
        assert got.item() == pytest.approx(want.item(), rel=1e-12, abs=1e-12)
    # at tau = 1/2 it is the Laplace law with scale 2b
    torch.testing.assert_close(
        L.asymmetric_laplace_nll(pred, 0.5, 0.5, y, reduction="none"),
        L.laplace_nll(pred, 1.0, y, reduction="none"),
    )


# ------------------------------------------------------------------------------------------------
# Parameters as Python numbers, integer targets, device and dtype
# ------------------------------------------------------------------------------------------------


def test_python_number_parameters():
    y = torch.tensor([0.5, 1.5])
    torch.testing.assert_close(
        L.gaussian_nll(0.0, 1.0, y, reduction="none"), -D.Normal(0.0, 1.0).log_prob(y)
    )
    torch.testing.assert_close(
        L.gamma_nll(2.0, 3.0, y, reduction="none"), -D.Gamma(2.0, 3.0).log_prob(y)
    )
    torch.testing.assert_close(
        L.exponential_nll(2.0, y, reduction="none"), -D.Exponential(2.0).log_prob(y)
    )
    torch.testing.assert_close(
        L.continuous_bernoulli_nll(0.5, y / 2, reduction="none"),
        -D.ContinuousBernoulli(logits=torch.tensor(0.5)).log_prob(y / 2),
    )


def test_integer_targets_give_floating_results():
    counts = torch.tensor([0, 3, 7])
    out = L.poisson_nll(torch.tensor([1.0, 2.0, 3.0]), counts, reduction="none")
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, -D.Poisson(torch.tensor([1.0, 2.0, 3.0])).log_prob(counts))
    assert L.poisson_nll(2.0, counts).dtype == torch.get_default_dtype()
    out = L.bernoulli_nll(torch.zeros(2, dtype=F64), torch.tensor([True, False]))
    assert out.dtype == F64


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_dtype_is_preserved(name, dtype):
    fn, params, target, kwargs, _ = _make(name)

    def cast(x):
        return x.to(dtype) if isinstance(x, torch.Tensor) and x.is_floating_point() else x

    out = _call(fn, [cast(p) for p in params], cast(target), kwargs, reduction="none")
    assert out.dtype == dtype


@pytest.mark.parametrize("name", sorted(CASES))
def test_device_is_preserved_and_nothing_is_read_back_when_validation_is_off(name):
    # Meta tensors carry no data: any host-device synchronisation (.item(), .tolist(), `if t`)
    # would raise. With validation off every loss must run on them and stay on their device.
    fn, params, target, kwargs, _ = _make(name)

    def meta(x):
        return x.to("meta") if isinstance(x, torch.Tensor) else x

    with cebook.validation(False):
        for reduction in ("none", "mean", "sum"):
            out = _call(fn, [meta(p) for p in params], meta(target), kwargs, reduction=reduction)
            assert out.device.type == "meta"
    with pytest.raises(NotImplementedError, match="meta"):  # validation on reads data back
        _call(fn, [meta(p) for p in params], meta(target), kwargs)


@pytest.mark.parametrize(
    "name",
    ["gaussian", "gaussian_number_scale", "mvn_batched", "student_t_number_df", "student_t"]
    + ["gamma", "gmm", "gaussian_beta"]
    + ["negative_binomial", "continuous_bernoulli", "categorical_index", "categorical_probs"]
    + ["beta", "pinball", "poisson", "laplace_number_scale", "bernoulli_soft"],
)
def test_compiles_whole_with_validation_off(name):
    # fullgraph=True fails on any graph break (a data-dependent branch, .item(), ...). The
    # aot_eager backend traces forward and backward through AOTAutograd without generating C++,
    # which keeps the test fast; the captured graph is what inductor would compile.
    fn, params, target, kwargs, _ = _make(name)
    params = [p.clone().requires_grad_() if isinstance(p, torch.Tensor) else p for p in params]
    torch._dynamo.reset()
    compiled = torch.compile(
        lambda *p: _call(fn, p, target, kwargs), fullgraph=True, backend="aot_eager"
    )
    leaves = [p for p in params if isinstance(p, torch.Tensor)]
    with cebook.validation(False):
        out = compiled(*params)
        got = torch.autograd.grad(out, leaves)  # through the value as written (no custom node)
        want = _call(fn, params, target, kwargs)
        want_grads = torch.autograd.grad(want, leaves)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(got, want_grads)


def test_compile_with_validation_on_breaks_the_graph():
    # the reason the switch exists: the checks read data back to the host
    fn, params, target, kwargs, _ = _make("gamma")
    torch._dynamo.reset()
    compiled = torch.compile(lambda *p: fn(*p, target), fullgraph=True, backend="eager")
    with pytest.raises(torch._dynamo.exc.Unsupported):
        compiled(*params)


# ------------------------------------------------------------------------------------------------
# Shapes: never broadcast silently
# ------------------------------------------------------------------------------------------------

N = 4
col, vec = torch.zeros(N, 1), torch.zeros(N)
ones, ones_col = torch.ones(N), torch.ones(N, 1)
half = torch.full((N,), 0.5)

SHAPE_ERRORS = [
    (
        lambda: L.gaussian_nll(col, 1.0, vec),
        "gaussian_nll: shapes loc (4, 1), scale () and target (4,) broadcast to (4, 4)",
    ),
    (
        lambda: L.gaussian_nll(vec, ones_col, vec),
        "gaussian_nll: shapes loc (4,), scale (4, 1) and target (4,) broadcast to (4, 4)",
    ),
    (
        lambda: L.gaussian_nll(vec, 1.0, col),
        "gaussian_nll: shapes loc (4,), scale () and target (4, 1) broadcast to (4, 4)",
    ),
    (
        lambda: L.gaussian_nll(torch.zeros(3), ones, vec),
        "gaussian_nll: shapes loc (3,), scale (4,) and target (4,) do not broadcast together",
    ),
    (
        lambda: L.laplace_nll(col, 1.0, vec),
        "laplace_nll: shapes loc (4, 1), scale () and target (4,)",
    ),
    (
        lambda: L.laplace_nll(col, ones, vec),
        "laplace_nll: shapes loc (4, 1), scale (4,) and target (4,)",
    ),
    (
        lambda: L.student_t_nll(3.0, col, ones, vec),
        "student_t_nll: shapes df (), loc (4, 1), scale (4,) and target (4,)",
    ),
    (
        lambda: L.student_t_nll(ones_col, vec, ones, vec),
        "student_t_nll: shapes df (4, 1), loc (4,), scale (4,) and target (4,)",
    ),
    (
        lambda: L.exponential_nll(ones_col, vec),
        "exponential_nll: shapes rate (4, 1) and target (4,)",
    ),
    (
        lambda: L.gamma_nll(ones_col, ones, ones),
        "gamma_nll: shapes concentration (4, 1), rate (4,) and target (4,)",
    ),
    (
        lambda: L.lognormal_nll(col, ones, ones),
        "lognormal_nll: shapes loc (4, 1), scale (4,) and target (4,)",
    ),
    (lambda: L.poisson_nll(ones_col, vec), "poisson_nll: shapes rate (4, 1) and target (4,)"),
    (
        lambda: L.negative_binomial_nll(ones, col, vec),
        "negative_binomial_nll: shapes total_count (4,), logits (4, 1) and target (4,)",
    ),
    (lambda: L.bernoulli_nll(col, half), "bernoulli_nll: shapes logits (4, 1) and target (4,)"),
    (
        lambda: L.continuous_bernoulli_nll(col, half),
        "continuous_bernoulli_nll: shapes logits (4, 1) and target (4,)",
    ),
    (
        lambda: L.beta_nll(ones_col, ones, half),
        "beta_nll: shapes concentration1 (4, 1), concentration0 (4,) and target (4,)",
    ),
    (
        lambda: L.pinball_loss(col, vec, 0.5),
        "pinball_loss: shapes pred (4, 1), quantile () and target (4,)",
    ),
    (
        lambda: L.pinball_loss(vec, vec, torch.full((N, 1), 0.5)),
        "pinball_loss: shapes pred (4,), quantile (4, 1) and target (4,)",
    ),
    (
        lambda: L.asymmetric_laplace_nll(col, 1.0, 0.5, vec),
        "asymmetric_laplace_nll: shapes loc (4, 1), scale (), quantile () and target (4,)",
    ),
    (
        lambda: L.mvn_nll(torch.zeros(N, 2), torch.eye(3), torch.zeros(N, 2)),
        "mvn_nll: scale_tril must have shape (..., 2, 2) for target (4, 2), got (3, 3)",
    ),
    (
        lambda: L.mvn_nll(torch.zeros(N, 3), torch.eye(2), torch.zeros(N, 2)),
        "mvn_nll: loc must have shape (..., 2) for target (4, 2), got (4, 3)",
    ),
    (
        lambda: L.mvn_nll(torch.zeros(N, 1, 2), torch.eye(2), torch.zeros(N, 2)),
        "mvn_nll: shapes loc batch (4, 1), scale_tril batch () and target batch (4,) "
        "broadcast to (4, 4)",
    ),
    (
        lambda: L.mvn_nll(torch.zeros(2), torch.eye(2), torch.tensor(0.0)),
        "mvn_nll: target must have an event dimension",
    ),
    (
        lambda: L.categorical_nll(torch.zeros(N, 3), torch.zeros(N, 1, dtype=torch.long)),
        "categorical_nll: logits (4, 3) (classes last) and index target (4, 1)",
    ),
    (
        lambda: L.categorical_nll(torch.zeros(N, 3), torch.zeros(N)),
        "categorical_nll: a floating target holds class probabilities and must have shape (..., 3)",
    ),
    (
        lambda: L.categorical_nll(torch.zeros(N, 1, 3), torch.full((N, 3), 1 / 3)),
        "categorical_nll: shapes logits (4, 1, 3) and target (4, 3) broadcast to (4, 4, 3)",
    ),
    (
        lambda: L.categorical_nll(torch.tensor(1.0), torch.tensor(0)),
        "categorical_nll: logits must be a tensor of shape (..., K)",
    ),
    (
        lambda: L.gmm_nll(torch.zeros(N, 3), torch.zeros(N, 3), 1.0, col),
        "gmm_nll: shapes parameters without their component dimension (4,) and target (4, 1) "
        "broadcast to (4, 4)",
    ),
    (
        lambda: L.gmm_nll(torch.zeros(N, 3), torch.zeros(N, 2), 1.0, vec),
        "gmm_nll: shapes logits (4, 3), loc (4, 2), scale () do not broadcast together",
    ),
]


@pytest.mark.parametrize("case", range(len(SHAPE_ERRORS)))
def test_shape_errors_name_both_shapes(case):
    call, message = SHAPE_ERRORS[case]
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
    with cebook.validation(False), pytest.raises(ValueError, match=re.escape(message)):
        call()  # shapes are checked whatever the switch says


def test_shape_error_suggests_the_fix():
    with pytest.raises(ValueError, match=r"never broadcasts silently.*squeeze\(-1\)"):
        L.gaussian_nll(col, 1.0, vec)


# ------------------------------------------------------------------------------------------------
# Support and parameter errors: function, argument and an offending value in the message
# ------------------------------------------------------------------------------------------------

nan, inf = float("nan"), float("inf")


def _t(*values, dtype=torch.float32):
    return torch.tensor(values, dtype=dtype)


SUPPORT_ERRORS = [
    (
        lambda: L.gaussian_nll(_t(0.0, nan), 1.0, _t(0.0, 0.0)),
        "gaussian_nll: loc must be finite, got nan",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0, 0.0), _t(1.0, -2.0), _t(0.0, 0.0)),
        "gaussian_nll: scale must be > 0, got -2",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0, 0.0), _t(1.0, 0.0), _t(0.0, 0.0)),
        "gaussian_nll: scale must be > 0, got 0",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0, 0.0), _t(1.0, nan), _t(0.0, 0.0)),
        "gaussian_nll: scale must be > 0, got nan",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0, 0.0), _t(1.0, inf), _t(0.0, 0.0)),
        "gaussian_nll: scale must be finite, got inf",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0, 0.0), -1.0, _t(0.0, 0.0)),
        "gaussian_nll: scale must be > 0, got -1",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0, 0.0), inf, _t(0.0, 0.0)),
        "gaussian_nll: scale must be finite, got inf",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0, 0.0), 1.0, _t(0.0, -inf)),
        "gaussian_nll: target must be finite, got -inf",
    ),
    (
        lambda: L.gaussian_nll(_t(0.0), _t(1.0), _t(0.0), beta=-0.5),
        "gaussian_nll: beta must be >= 0, got -0.5",
    ),
    (
        lambda: L.mvn_nll(torch.zeros(2), _t(1.0, 0.5, 0.0, 1.0).reshape(2, 2), torch.zeros(2)),
        "mvn_nll: scale_tril must be lower triangular, got 0.5 above the diagonal",
    ),
    (
        lambda: L.mvn_nll(torch.zeros(2), _t(1.0, 0.0, 0.3, -1.0).reshape(2, 2), torch.zeros(2)),
        "mvn_nll: scale_tril's diagonal must be > 0, got -1",
    ),
    (
        lambda: L.mvn_nll(torch.zeros(2), torch.eye(2), _t(0.0, nan)),
        "mvn_nll: target must be finite, got nan",
    ),
    (
        lambda: L.mvn_nll(_t(inf, 0.0), torch.eye(2), torch.zeros(2)),
        "mvn_nll: loc must be finite, got inf",
    ),
    (lambda: L.laplace_nll(_t(0.0), _t(-1.0), _t(0.0)), "laplace_nll: scale must be > 0, got -1"),
    (lambda: L.laplace_nll(_t(0.0), 0.0, _t(0.0)), "laplace_nll: scale must be > 0, got 0"),
    (
        lambda: L.student_t_nll(_t(0.0), _t(0.0), _t(1.0), _t(0.0)),
        "student_t_nll: df must be > 0, got 0",
    ),
    (
        lambda: L.student_t_nll(-2.0, _t(0.0), _t(1.0), _t(0.0)),
        "student_t_nll: df must be > 0, got -2",
    ),
    (
        lambda: L.student_t_nll(3.0, _t(0.0), _t(-1.0), _t(0.0)),
        "student_t_nll: scale must be > 0, got -1",
    ),
    (lambda: L.exponential_nll(_t(1.0), _t(-1.0)), "exponential_nll: target must be >= 0, got -1"),
    (
        lambda: L.exponential_nll(_t(1.0), _t(inf)),
        "exponential_nll: target must be finite, got inf",
    ),
    (lambda: L.exponential_nll(_t(0.0), _t(1.0)), "exponential_nll: rate must be > 0, got 0"),
    (lambda: L.gamma_nll(2.0, 1.0, _t(1.0, -1.5)), "gamma_nll: target must be > 0, got -1.5"),
    (lambda: L.gamma_nll(2.0, 1.0, _t(0.0)), "gamma_nll: target must be > 0, got 0"),
    (lambda: L.gamma_nll(_t(-0.5), 1.0, _t(1.0)), "gamma_nll: concentration must be > 0, got -0.5"),
    (lambda: L.gamma_nll(1.0, _t(0.0), _t(1.0)), "gamma_nll: rate must be > 0, got 0"),
    (lambda: L.lognormal_nll(0.0, 1.0, _t(0.0)), "lognormal_nll: target must be > 0, got 0"),
    (lambda: L.lognormal_nll(0.0, _t(-3.0), _t(1.0)), "lognormal_nll: scale must be > 0, got -3"),
    (
        lambda: L.poisson_nll(_t(1.0), _t(2.5)),
        "poisson_nll: target must be a non-negative integer (a count), got 2.5",
    ),
    (
        lambda: L.poisson_nll(_t(1.0), _t(-1.0)),
        "poisson_nll: target must be a non-negative integer (a count), got -1",
    ),
    (
        lambda: L.poisson_nll(_t(1.0), _t(inf)),
        "poisson_nll: target must be a non-negative integer (a count), got inf",
    ),
    (lambda: L.poisson_nll(_t(0.0), _t(0.0)), "poisson_nll: rate must be > 0, got 0"),
    (
        lambda: L.negative_binomial_nll(_t(-1.0), 0.0, _t(1.0)),
        "negative_binomial_nll: total_count must be > 0, got -1",
    ),
    (
        lambda: L.negative_binomial_nll(1.0, _t(nan), _t(1.0)),
        "negative_binomial_nll: logits must be finite, got nan",
    ),
    (
        lambda: L.negative_binomial_nll(1.0, 0.0, _t(0.5)),
        "negative_binomial_nll: target must be a non-negative integer (a count), got 0.5",
    ),
    (lambda: L.bernoulli_nll(_t(0.0), _t(1.5)), "bernoulli_nll: target must be in [0, 1], got 1.5"),
    (
        lambda: L.bernoulli_nll(_t(0.0), _t(-0.25)),
        "bernoulli_nll: target must be in [0, 1], got -0.25",
    ),
    (lambda: L.bernoulli_nll(_t(inf), _t(1.0)), "bernoulli_nll: logits must be finite, got inf"),
    (
        lambda: L.continuous_bernoulli_nll(_t(0.0), _t(1.25)),
        "continuous_bernoulli_nll: target must be in [0, 1], got 1.25",
    ),
    (
        lambda: L.continuous_bernoulli_nll(_t(nan), _t(0.5)),
        "continuous_bernoulli_nll: logits must be finite, got nan",
    ),
    (lambda: L.beta_nll(2.0, 2.0, _t(0.5, 0.0)), "beta_nll: target must be in (0, 1), got 0"),
    (lambda: L.beta_nll(2.0, 2.0, _t(1.0)), "beta_nll: target must be in (0, 1), got 1"),
    (lambda: L.beta_nll(_t(0.0), 2.0, _t(0.5)), "beta_nll: concentration1 must be > 0, got 0"),
    (lambda: L.beta_nll(2.0, _t(-1.0), _t(0.5)), "beta_nll: concentration0 must be > 0, got -1"),
    (
        lambda: L.categorical_nll(torch.zeros(2, 3), torch.tensor([0, 3])),
        "categorical_nll: target must be a class index in [0, 2], got 3",
    ),
    (
        lambda: L.categorical_nll(torch.zeros(2, 3), torch.tensor([-1, 0])),
        "categorical_nll: target must be a class index in [0, 2], got -1",
    ),
    (
        lambda: L.categorical_nll(_t(0.0, nan), torch.tensor(0)),
        "categorical_nll: logits must be finite, got nan",
    ),
    (
        lambda: L.categorical_nll(torch.zeros(3), _t(0.5, 0.4, 0.0)),
        "categorical_nll: target probabilities must sum to 1 over the last dimension, "
        "got a sum of 0.9",
    ),
    (
        lambda: L.categorical_nll(torch.zeros(3), _t(1.2, -0.2, 0.0)),
        "categorical_nll: target probabilities must be in [0, 1], got 1.2",
    ),
    (
        lambda: L.categorical_nll(torch.zeros(2), torch.tensor([True])),
        "categorical_nll: target indices must be integers, got dtype torch.bool",
    ),
    (
        lambda: L.gmm_nll(torch.zeros(3), torch.zeros(3), _t(1.0, 0.0, 1.0), _t(0.0)),
        "gmm_nll: scale must be > 0, got 0",
    ),
    (
        lambda: L.gmm_nll(_t(0.0, nan), torch.zeros(2), 1.0, _t(0.0)),
        "gmm_nll: logits must be finite, got nan",
    ),
    (
        lambda: L.gmm_nll(torch.zeros(2), torch.zeros(2), 1.0, _t(inf)),
        "gmm_nll: target must be finite, got inf",
    ),
    (
        lambda: L.pinball_loss(_t(0.0), _t(0.0), 1.0),
        "pinball_loss: quantile must be in (0, 1), got 1",
    ),
    (
        lambda: L.pinball_loss(_t(0.0), _t(0.0), _t(0.0)),
        "pinball_loss: quantile must be in (0, 1), got 0",
    ),
    (lambda: L.pinball_loss(_t(nan), _t(0.0), 0.3), "pinball_loss: pred must be finite, got nan"),
    (
        lambda: L.asymmetric_laplace_nll(_t(0.0), _t(-1.0), 0.5, _t(0.0)),
        "asymmetric_laplace_nll: scale must be > 0, got -1",
    ),
    (
        lambda: L.asymmetric_laplace_nll(_t(0.0), 1.0, _t(1.0), _t(0.0)),
        "asymmetric_laplace_nll: quantile must be in (0, 1), got 1",
    ),
]


@pytest.mark.parametrize("case", range(len(SUPPORT_ERRORS)))
def test_support_and_parameter_errors(case):
    call, message = SUPPORT_ERRORS[case]
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call()


ALWAYS_CHECKED = ("beta must be", "indices must be integers")


@pytest.mark.parametrize("case", range(len(SUPPORT_ERRORS)))
def test_validation_off_skips_the_checks(case):
    call, message = SUPPORT_ERRORS[case]
    with cebook.validation(False):
        if any(text in message for text in ALWAYS_CHECKED):  # API misuse, not data
            with pytest.raises(ValueError):
                call()
            return
        try:
            out = call()
        except ValueError as error:
            # Python-number parameters are checked whatever the switch says (it costs nothing):
            # the same message, never math.log's "math domain error"
            assert str(error) == message
            return
        except IndexError:
            # F.cross_entropy's own bounds check (a device-side assert on CUDA)
            assert "class index" in message
            return
        assert isinstance(out, torch.Tensor)


def test_validation_is_read_at_call_time():
    y = _t(-1.5)
    with cebook.validation(False):
        assert torch.isnan(L.gamma_nll(2.0, 1.0, y))
    with pytest.raises(ValueError, match="got -1.5"):
        L.gamma_nll(2.0, 1.0, y)


# ------------------------------------------------------------------------------------------------
# Properties the book teaches (hypothesis)
# ------------------------------------------------------------------------------------------------

values = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
pairs = st.lists(st.tuples(values, values), min_size=1, max_size=20)


@SETTINGS
@given(pairs)
def test_gaussian_unit_scale_is_half_mse_plus_constant(data):
    loc = torch.tensor([a for a, _ in data], dtype=F64)
    y = torch.tensor([b for _, b in data], dtype=F64)
    half_mse = 0.5 * sum((b - a) ** 2 for a, b in data) / len(data)
    want = half_mse + 0.5 * math.log(2 * math.pi)
    assert L.gaussian_nll(loc, 1.0, y).item() == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert L.gaussian_nll(loc, torch.ones_like(y), y).item() == pytest.approx(want, rel=1e-12)


@SETTINGS
@given(st.floats(0.001, 0.999), st.floats(-3, 3).filter(lambda d: abs(d) > 1e-3))
def test_bernoulli_minimum_is_at_the_target_and_equals_binary_entropy(y, delta):
    target = torch.tensor([y], dtype=F64)
    best = torch.tensor([math.log(y / (1 - y))], dtype=F64, requires_grad=True)
    loss = L.bernoulli_nll(best, target)
    loss.backward()
    entropy = -(y * math.log(y) + (1 - y) * math.log(1 - y))
    assert loss.item() == pytest.approx(entropy, rel=1e-10, abs=1e-12)
    assert abs(best.grad.item()) < 1e-10  # stationary: sigmoid(logit) - y = 0
    assert L.bernoulli_nll(best.detach() + delta, target).item() > entropy


@SETTINGS
@given(pairs)
def test_pinball_at_one_half_is_half_mae(data):
    pred = torch.tensor([a for a, _ in data], dtype=F64)
    y = torch.tensor([b for _, b in data], dtype=F64)
    half_mae = 0.5 * sum(abs(b - a) for a, b in data) / len(data)
    assert L.pinball_loss(pred, y, 0.5).item() == pytest.approx(half_mae, rel=1e-12, abs=1e-12)
    tensor_q = torch.full_like(y, 0.5)
    assert L.pinball_loss(pred, y, tensor_q).item() == pytest.approx(half_mae, rel=1e-12, abs=1e-12)


@SETTINGS
@given(pairs, st.lists(st.floats(0.01, 100), min_size=20, max_size=20))
def test_gaussian_beta_nll_with_beta_one_gives_the_mse_gradient_for_the_mean(data, scales):
    n = len(data)
    loc = torch.tensor([a for a, _ in data], dtype=F64, requires_grad=True)
    y = torch.tensor([b for _, b in data], dtype=F64)
    scale = torch.tensor(scales[:n], dtype=F64, requires_grad=True)
    L.gaussian_nll(loc, scale, y, beta=1.0).backward()
    # d/d loc of (1/2) mean (loc - y)^2, whatever the scales
    want = (loc.detach() - y) / n
    torch.testing.assert_close(loc.grad, want, rtol=1e-10, atol=1e-12)
    # and the weights carry no gradient into the scale beyond the NLL's own, times sigma^2
    s = scale.detach()
    z2 = ((y - loc.detach()) / s) ** 2
    torch.testing.assert_close(scale.grad, s**2 * (1 - z2) / s / n, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(pairs, st.floats(0.05, 20))
def test_gaussian_beta_nll_weights_the_plain_nll_by_the_detached_variance_power(data, s):
    loc = torch.tensor([a for a, _ in data], dtype=F64)
    y = torch.tensor([b for _, b in data], dtype=F64)
    plain = -D.Normal(loc, s).log_prob(y)
    for beta in (0.25, 0.5, 1.0):
        got = L.gaussian_nll(loc, torch.full_like(y, s), y, beta=beta, reduction="none")
        torch.testing.assert_close(got, plain * s ** (2 * beta), rtol=1e-10, atol=1e-10)
        got = L.gaussian_nll(loc, s, y, beta=beta, reduction="none")  # fused path
        torch.testing.assert_close(got, plain * s ** (2 * beta), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------------------------
# Gradients
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck(name):
    fn, params, target, kwargs, _ = _make(name, seed=4)
    tensors = [i for i, p in enumerate(params) if isinstance(p, torch.Tensor)]
    if name == "gaussian_beta":
        # the weight scale.detach() ** (2 beta) is constant on purpose: the scale's gradient is
        # not the derivative of the value (checked in the hypothesis test); the mean's is
        tensors = [0]
    if name == "categorical_probs":
        target = target.clone().requires_grad_()  # soft targets are differentiable too

    def f(*inputs):
        full = list(params)
        for i, value in zip(tensors, inputs[: len(tensors)], strict=True):
            full[i] = value
        y = inputs[len(tensors)] if len(inputs) > len(tensors) else target
        return _call(fn, full, y, kwargs, reduction="none")

    def g(*inputs):
        if fn is L.mvn_nll:  # perturb only the lower triangle of scale_tril
            inputs = (inputs[0], inputs[1].tril(), *inputs[2:])
        return f(*inputs)

    inputs = [params[i].detach().clone().requires_grad_() for i in tensors]
    if name == "categorical_probs":
        inputs.append(target)
    # Validation off: gradcheck's perturbations leave the probability simplex, and the checks
    # would only slow down its many forward calls. For large inputs fast_mode compares random
    # projections of the analytical and numerical Jacobians instead of every entry.
    fast = sum(x.numel() for x in inputs) > 100
    with cebook.validation(False):
        assert torch.autograd.gradcheck(g, inputs, eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=fast)


def test_gradient_of_gaussian_matches_the_textbook_formulas():
    g = _gen(7)
    loc = torch.randn(10, generator=g, dtype=F64, requires_grad=True)
    scale = _pos(10, g).requires_grad_()
    y = torch.randn(10, generator=g, dtype=F64)
    L.gaussian_nll(loc, scale, y, reduction="sum").backward()
    z = (y - loc.detach()) / scale.detach()
    torch.testing.assert_close(loc.grad, -z / scale.detach())
    torch.testing.assert_close(scale.grad, (1 - z**2) / scale.detach())
