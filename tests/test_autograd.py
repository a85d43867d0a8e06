"""Derivatives of every loss and every head: first and second order, and under torch.func.

* ``gradcheck`` and ``gradgradcheck`` (float64, finite differences) of every loss in
  ``cebook.losses.__all__`` with respect to every differentiable argument, at points that reach
  the series branches (large degrees of freedom, total counts, shapes and concentrations, logits
  near 0), and of every head in ``cebook.heads`` through its features and its parameters.
* ``torch.func.grad``, ``vmap``, ``jacrev`` and ``hessian`` with validation off, against
  ``torch.autograd``, a Python loop and central differences of the gradient.
* The review's bug: ``student_t_nll``'s Hessian in ``df`` against torch.distributions'.
"""

from __future__ import annotations

import pytest
import torch
from torch import distributions as D
from torch.func import functional_call, grad, hessian, jacrev, vmap

import cebook
from cebook import heads as H
from cebook import losses as L

F64 = torch.float64


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _pos(n, g, low, high):
    return low + (high - low) * torch.rand(n, generator=g, dtype=F64)


def _randn(*shape, g):
    return torch.randn(*shape, generator=g, dtype=F64)


def _tril(batch, d, g):
    low = 0.3 * _randn(*batch, d, d, g=g).tril(-1)
    return low + torch.diag_embed(_pos((*batch, d), g, 0.5, 2.0))


def _counts(values):
    return torch.tensor(values, dtype=F64)


# name -> (loss, make(g) -> (args, kwargs), indices of the differentiable args). The target is
# the last positional argument (pinball_loss: the middle one). Every branch that a loss switches
# between is represented: the Student-t series (df >= 64), Stirling's remainder (shapes >= 10),
# the r - 1 - log r lanes (ratios on both sides of (1/16, 16)), the continuous Bernoulli's series
# (|logit| < 0.1), the unrolled and the solved Mahalanobis distance (d <= 8 and d > 8).
CASES = {
    "gaussian": (
        L.gaussian_nll,
        lambda g: ((_randn(4, g=g), _pos(4, g, 0.5, 2.0), _randn(4, g=g)), {}),
        (0, 1, 2),
    ),
    "gaussian_number_scale": (
        L.gaussian_nll,
        lambda g: ((_randn(4, g=g), 0.7, _randn(4, g=g)), {}),
        (0, 2),
    ),
    "gaussian_beta": (  # the weight scale.detach() ** (2 beta) is constant by design
        L.gaussian_nll,
        lambda g: ((_randn(4, g=g), _pos(4, g, 0.5, 2.0), _randn(4, g=g)), {"beta": 0.5}),
        (0, 2),
    ),
    "mvn": (
        L.mvn_nll,
        lambda g: ((_randn(2, 3, g=g), _tril((2,), 3, g), _randn(2, 3, g=g)), {}),
        (0, 1, 2),
    ),
    "mvn_solved": (  # d = 9: torch.linalg.solve_triangular
        L.mvn_nll,
        lambda g: ((_randn(9, g=g), _tril((), 9, g), _randn(9, g=g)), {}),
        (0, 1, 2),
    ),
    "laplace": (
        L.laplace_nll,
        lambda g: ((_randn(4, g=g), _pos(4, g, 0.5, 2.0), _randn(4, g=g) + 3.0), {}),
        (0, 1, 2),
    ),
    "student_t": (
        L.student_t_nll,
        lambda g: (
            (
                torch.tensor([0.7, 3.0, 50.0, 63.9, 64.1, 500.0], dtype=F64),
                _randn(6, g=g),
                _pos(6, g, 0.5, 2.0),
                2 * _randn(6, g=g),
            ),
            {},
        ),
        (0, 1, 2, 3),
    ),
    "student_t_number_df": (
        L.student_t_nll,
        lambda g: ((4.0, _randn(4, g=g), _pos(4, g, 0.5, 2.0), 2 * _randn(4, g=g)), {}),
        (1, 2, 3),
    ),
    "exponential": (
        L.exponential_nll,
        lambda g: ((_pos(4, g, 0.5, 2.0), _pos(4, g, 0.1, 3.0)), {}),
        (0, 1),
    ),
    "gamma": (  # ratios y rate / k of about 1, and far (0.01 and 50) from it
        L.gamma_nll,
        lambda g: (
            (
                torch.tensor([0.6, 3.0, 9.9, 10.1, 40.0, 300.0, 2.0, 2.0], dtype=F64),
                torch.tensor([1.0, 2.0, 9.0, 11.0, 35.0, 310.0, 0.02, 100.0], dtype=F64),
                torch.tensor([0.8, 1.3, 1.2, 0.9, 1.1, 0.97, 1.0, 1.0], dtype=F64),
            ),
            {},
        ),
        (0, 1, 2),
    ),
    "lognormal": (
        L.lognormal_nll,
        lambda g: ((_randn(4, g=g), _pos(4, g, 0.5, 2.0), _pos(4, g, 0.2, 3.0)), {}),
        (0, 1, 2),
    ),
    "poisson": (
        L.poisson_nll,
        lambda g: ((_pos(4, g, 0.5, 6.0), _counts([0, 1, 3, 7])), {}),
        (0,),
    ),
    "negative_binomial": (  # total counts below and above 10, means from 0.05 to 40
        L.negative_binomial_nll,
        lambda g: (
            (
                torch.tensor([0.4, 3.0, 9.9, 12.0, 80.0, 2000.0, 1.5, 50.0], dtype=F64),
                torch.tensor([0.3, -1.0, 0.2, -0.5, -3.0, -7.0, 3.0, -6.9], dtype=F64),
                _counts([0, 2, 14, 5, 3, 1, 40, 0]),
            ),
            {},
        ),
        (0, 1),
    ),
    "bernoulli": (
        L.bernoulli_nll,
        lambda g: ((2 * _randn(4, g=g), _pos(4, g, 0.1, 0.9)), {}),
        (0, 1),
    ),
    "continuous_bernoulli": (  # the series for |logit| < 0.1, the closed form above
        L.continuous_bernoulli_nll,
        lambda g: (
            (
                torch.tensor([-3.0, -0.3, -0.05, 0.0, 0.02, 0.09, 0.11, 2.0], dtype=F64),
                _pos(8, g, 0.1, 0.9),
            ),
            {},
        ),
        (0, 1),
    ),
    "beta": (  # concentrations below and above 10, targets near and far from the mean
        L.beta_nll,
        lambda g: (
            (
                torch.tensor([0.7, 2.0, 9.9, 15.0, 300.0, 40.0, 2.0], dtype=F64),
                torch.tensor([1.3, 5.0, 10.1, 25.0, 700.0, 4.0, 60.0], dtype=F64),
                torch.tensor([0.3, 0.25, 0.5, 0.4, 0.31, 0.05, 0.9], dtype=F64),
            ),
            {},
        ),
        (0, 1, 2),
    ),
    "categorical_index": (
        L.categorical_nll,
        lambda g: ((_randn(3, 4, g=g), torch.tensor([0, 3, 1])), {}),
        (0,),
    ),
    "categorical_probs": (
        L.categorical_nll,
        lambda g: ((_randn(3, 4, g=g), torch.softmax(_randn(3, 4, g=g), -1)), {}),
        (0, 1),
    ),
    "gmm": (
        L.gmm_nll,
        lambda g: (
            (_randn(3, 2, g=g), _randn(3, 2, g=g), _pos((3, 2), g, 0.5, 2.0), _randn(3, g=g)),
            {},
        ),
        (0, 1, 2, 3),
    ),
    "pinball": (  # piecewise linear: away from the kinks its second derivative is 0
        L.pinball_loss,
        lambda g: (
            (_randn(4, g=g), torch.tensor([-2.0, 2.0, -1.5, 1.5], dtype=F64), _pos(4, g, 0.1, 0.9)),
            {},
        ),
        (0, 1, 2),
    ),
    "asymmetric_laplace": (  # away from the kink at y = loc
        L.asymmetric_laplace_nll,
        lambda g: (
            (
                _randn(4, g=g),
                _pos(4, g, 0.5, 2.0),
                _pos(4, g, 0.1, 0.9),
                torch.tensor([-4.0, 4.0, -3.5, 3.5], dtype=F64),
            ),
            {},
        ),
        (0, 1, 2, 3),
    ),
}


def test_every_loss_has_a_case():
    assert {CASES[name][0].__name__ for name in CASES} == set(L.__all__) - {"Reduction"}


def _case(name, seed=0):
    fn, make, diff = CASES[name]
    args, kwargs = make(_g(seed))
    return fn, list(args), kwargs, diff


def _closure(fn, args, kwargs, diff, reduction="none"):
    """f(*differentiable args) -> the loss, the other arguments fixed."""

    def f(*inputs):
        full = list(args)
        for i, value in zip(diff, inputs, strict=True):
            full[i] = value.tril() if fn is L.mvn_nll and i == 1 else value
        return fn(*full, reduction=reduction, **kwargs)

    return f


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_and_gradgradcheck(name):
    fn, args, kwargs, diff = _case(name)
    f = _closure(fn, args, kwargs, diff)
    inputs = [args[i].detach().clone().requires_grad_() for i in diff]
    # validation off: finite differences leave the probability simplex (categorical targets)
    with cebook.validation(False):
        assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)
        assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------------------
# torch.func, with validation off (validation reads values back, which transforms cannot)
# ------------------------------------------------------------------------------------------------


def _flat(name, seed=0):
    """The case as a scalar function of one flat vector holding all its differentiable args."""
    fn, args, kwargs, diff = _case(name, seed)
    f = _closure(fn, args, kwargs, diff, reduction="sum")
    shapes = [args[i].shape for i in diff]
    sizes = [args[i].numel() for i in diff]

    def scalar(vec):
        parts = torch.split(vec, sizes)
        return f(*[p.reshape(s) for p, s in zip(parts, shapes, strict=True)])

    return scalar, torch.cat([args[i].reshape(-1) for i in diff])


SMALL = [n for n in sorted(CASES) if n != "mvn_solved"]  # Hessians of at most ~30 x 30


@pytest.mark.parametrize("name", SMALL)
def test_func_grad_and_jacrev_equal_autograd(name):
    f, x = _flat(name)
    with cebook.validation(False):
        leaf = x.clone().requires_grad_()
        want = torch.autograd.grad(f(leaf), leaf)[0]
        torch.testing.assert_close(grad(f)(x), want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(jacrev(f)(x), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SMALL)
def test_vmap_equals_a_loop(name):
    f, x = _flat(name)
    batch = torch.stack([x, *[_flat(name, seed)[1] for seed in (1, 2)]])
    with cebook.validation(False):
        got = vmap(f)(batch)
        want = torch.stack([f(row) for row in batch])
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
        got = vmap(grad(f))(batch)  # per-example gradients
        want = torch.stack([grad(f)(row) for row in batch])
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def _hessian_by_differences(f, x, eps=1e-5):
    """Central differences of the autograd gradient, column by column (symmetrised)."""

    def g(v):
        v = v.clone().requires_grad_()
        return torch.autograd.grad(f(v), v)[0]

    cols = [(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in torch.eye(len(x), dtype=F64)]
    h = torch.stack(cols, -1)
    return (h + h.T) / 2


@pytest.mark.parametrize("name", SMALL)
def test_func_hessian_equals_autograd_and_finite_differences(name):
    f, x = _flat(name)
    with cebook.validation(False):
        got = hessian(f)(x)
        torch.testing.assert_close(
            got, torch.autograd.functional.hessian(f, x), rtol=1e-10, atol=1e-10
        )
        torch.testing.assert_close(got, _hessian_by_differences(f, x), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# The review's finding: the Student-t normaliser's curvature in df was silently dropped
# ------------------------------------------------------------------------------------------------


def test_student_t_hessian_in_df_matches_torch_distributions():
    y = torch.randn(5, generator=_g(0), dtype=F64)
    df = torch.tensor([0.8, 3.0, 10.0, 63.0, 200.0], dtype=F64)  # both sides of the series

    def ours(d):
        return L.student_t_nll(d, 0.0, 1.0, y, reduction="sum")

    def theirs(d):
        return -D.StudentT(d, 0.0, 1.0).log_prob(y).sum()

    want = torch.autograd.functional.hessian(theirs, df)
    torch.testing.assert_close(torch.autograd.functional.hessian(ours, df), want)
    with cebook.validation(False):  # what StudentTHead's df (always a tensor) goes through
        torch.testing.assert_close(hessian(ours)(df), want)
    # the curvature at small df is not negligible (the old, first-order-only backward dropped it)
    assert (want.diagonal()[:3].abs() > 1e-3).all()


# ------------------------------------------------------------------------------------------------
# Heads: through the features and the head's own parameters, into the loss
# ------------------------------------------------------------------------------------------------


def _y_real(g, shape):
    return _randn(*shape, g=g)


# head name -> (build(), loss, target(g, batch))
HEADS = {
    "GaussianHead": (lambda: H.GaussianHead(3), L.gaussian_nll, lambda g: _randn(4, g=g)),
    "LaplaceHead": (lambda: H.LaplaceHead(3), L.laplace_nll, lambda g: _randn(4, g=g) + 3.0),
    "StudentTHead": (
        lambda: H.StudentTHead(3, df_min=2.0),
        L.student_t_nll,
        lambda g: 2 * _randn(4, g=g),
    ),
    "ExponentialHead": (
        lambda: H.ExponentialHead(3),
        L.exponential_nll,
        lambda g: _pos(4, g, 0.1, 3.0),
    ),
    "GammaHead": (
        lambda: H.GammaHead(3, init_concentration=20.0),  # Stirling's remainder
        L.gamma_nll,
        lambda g: _pos(4, g, 0.5, 2.0),
    ),
    "LogNormalHead": (lambda: H.LogNormalHead(3), L.lognormal_nll, lambda g: _pos(4, g, 0.2, 3.0)),
    "PoissonHead": (lambda: H.PoissonHead(3), L.poisson_nll, lambda g: _counts([0, 1, 2, 5])),
    "NegativeBinomialHead": (
        lambda: H.NegativeBinomialHead(3, init_total_count=30.0),
        L.negative_binomial_nll,
        lambda g: _counts([0, 1, 4, 9]),
    ),
    "BernoulliHead": (
        lambda: H.BernoulliHead(3),
        L.bernoulli_nll,
        lambda g: _pos(4, g, 0.1, 0.9),
    ),
    "ContinuousBernoulliHead": (
        lambda: H.ContinuousBernoulliHead(3),
        L.continuous_bernoulli_nll,
        lambda g: _pos(4, g, 0.1, 0.9),
    ),
    "BetaHead": (
        lambda: H.BetaHead(3, init_precision=30.0),
        L.beta_nll,
        lambda g: _pos(4, g, 0.2, 0.8),
    ),
    "MVNHead": (lambda: H.MVNHead(3, dim=2), L.mvn_nll, lambda g: _randn(4, 2, g=g)),
    "GMMHead": (lambda: H.GMMHead(3, n_components=2), L.gmm_nll, lambda g: _randn(4, g=g)),
    "CategoricalHead": (
        lambda: H.CategoricalHead(3, 5),
        L.categorical_nll,
        lambda g: torch.tensor([0, 4, 2, 1]),
    ),
}


def test_every_head_has_a_case():
    classes = {n for n in H.__all__ if isinstance(getattr(H, n), type)}
    assert set(HEADS) == classes


@pytest.mark.parametrize("name", sorted(HEADS))
def test_head_gradcheck_and_gradgradcheck(name):
    build, loss, target = HEADS[name]
    torch.manual_seed(0)
    head = build().double()
    g = _g(1)
    y = target(g)
    # random weights in every block (the heads start some of them at zero)
    params = {
        k: v.detach() + 0.3 * torch.randn(v.shape, generator=g, dtype=F64)
        for k, v in head.named_parameters()
    }
    names = sorted(params)
    x = 0.5 * _randn(4, 3, g=g)

    def f(x, *weights):
        out = functional_call(head, dict(zip(names, weights, strict=True)), (x,))
        return loss(*out, y, reduction="none")

    inputs = [x.requires_grad_(), *[params[k].clone().requires_grad_() for k in names]]
    with cebook.validation(False):
        assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)
        assert torch.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
