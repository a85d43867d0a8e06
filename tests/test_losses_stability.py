"""Float32 stability of cebook.losses: extreme logits and scales, targets on the support's edge,
and the continuous Bernoulli's series expansion near lambda = 1/2.

References are computed with mpmath at 50 digits (in the test extra)
or in float64 without cebook, never with the library itself.
"""

from __future__ import annotations

import itertools
import math

import mpmath
import pytest
import torch
from torch import distributions as D

from cebook import losses as L

F32, F64 = torch.float32, torch.float64
mpmath.mp.dps = 50

LOGITS = [-1e4, -1e3, -30.0, -1.0, -0.1, -1e-8, 0.0, 1e-8, 0.1, 1.0, 30.0, 1e3, 1e4]
SCALES = [1e-6, 1e-3, 1.0, 1e3, 1e6]


def _value_and_grads(fn, params, target, **kwargs):
    """Per-element values and the gradients of their sum with respect to each tensor param."""
    leaves = [
        p.detach().clone().requires_grad_() if isinstance(p, torch.Tensor) else p for p in params
    ]
    value = fn(*leaves, target, reduction="none", **kwargs)
    value.sum().backward()
    return value.detach(), [p.grad for p in leaves if isinstance(p, torch.Tensor)]


def _assert_finite(value, grads):
    assert torch.isfinite(value).all(), value
    for grad in grads:
        assert grad is not None and torch.isfinite(grad).all(), grad


def _grid(*axes, dtype=F32):
    rows = list(itertools.product(*axes))
    return [torch.tensor([r[i] for r in rows], dtype=dtype) for i in range(len(axes))]


# Log-likelihoods and their gradients at the (rounded) inputs, in 50-digit arithmetic, from the
# textbook formulas (log-gamma, digamma), never from the library.


def _nb_reference(r, eta, y):
    r, e, y = mpmath.mpf(r), mpmath.mpf(eta), mpmath.mpf(y)
    softplus, sigmoid = mpmath.log1p(mpmath.exp(e)), 1 / (1 + mpmath.exp(-e))
    lg = mpmath.loggamma
    value = (r + y) * softplus - y * e - lg(r + y) + lg(r) + lg(y + 1)
    grads = [softplus - mpmath.digamma(r + y) + mpmath.digamma(r), (r + y) * sigmoid - y]
    return value, grads


def _gamma_reference(k, rate, y):
    k, b, y = mpmath.mpf(k), mpmath.mpf(rate), mpmath.mpf(y)
    value = b * y - (k - 1) * mpmath.log(y) - k * mpmath.log(b) + mpmath.loggamma(k)
    return value, [mpmath.digamma(k) - mpmath.log(b * y), y - k / b]


def _beta_reference(a, b, y):
    a, b, y = mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(y)
    log_beta = mpmath.loggamma(a) + mpmath.loggamma(b) - mpmath.loggamma(a + b)
    value = log_beta - (a - 1) * mpmath.log(y) - (b - 1) * mpmath.log1p(-y)
    dig = mpmath.digamma(a + b)
    return value, [
        mpmath.digamma(a) - dig - mpmath.log(y),
        mpmath.digamma(b) - dig - mpmath.log1p(-y),
    ]


def _assert_close_to_mpmath(fn, reference, params, target, atol=0.0, rtol=0.0, grad_rtol=None):
    """|value - mpmath| <= atol + rtol |mpmath| in nats (rtol: the answer's own rounding, never the
    size of terms that cancel); gradients finite, and with ``grad_rtol`` within
    grad_rtol (1 + |mpmath|) of the mpmath gradient."""
    value, grads = _value_and_grads(fn, params, target)
    _assert_finite(value, grads)
    for i in range(len(target)):
        inputs = [float(p[i]) for p in params] + [float(target[i])]
        want, dwant = reference(*inputs)
        err = abs(value[i].item() - float(want))
        assert err <= atol + rtol * abs(float(want)), (inputs, value[i].item(), float(want))
        if grad_rtol is not None:
            for grad, d in zip(grads, dwant, strict=True):
                gerr = abs(grad[i].item() - float(d))
                assert gerr <= grad_rtol * (1 + abs(float(d))), (inputs, grad[i].item(), float(d))


# ------------------------------------------------------------------------------------------------
# Logits of +-1e4
# ------------------------------------------------------------------------------------------------


def test_bernoulli_extreme_logits():
    eta, y = _grid(LOGITS, [0.0, 0.5, 1.0])
    value, grads = _value_and_grads(L.bernoulli_nll, [eta], y)
    _assert_finite(value, grads)
    e, t = eta.double(), y.double()
    want = torch.nn.functional.softplus(e) - t * e  # float64, written out
    torch.testing.assert_close(value.double(), want, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grads[0].double(), torch.sigmoid(e) - t, rtol=1e-6, atol=1e-6)


def _cb_reference(eta: float, y: float) -> tuple[float, float]:
    """-log q and d/d eta, from log C = log(eta / tanh(eta / 2)), in 50-digit arithmetic."""
    e, t = mpmath.mpf(eta), mpmath.mpf(y)
    softplus = mpmath.log1p(mpmath.exp(e))
    sigmoid = 1 / (1 + mpmath.exp(-e))
    if e == 0:
        log_c, dlog_c = mpmath.log(2), mpmath.mpf(0)
    else:
        log_c = mpmath.log(e / mpmath.tanh(e / 2))
        dlog_c = 1 / e - 1 / mpmath.sinh(e)
    return float(softplus - t * e - log_c), float(sigmoid - t - dlog_c)


def _cb_check(logits, targets, dtype, value_tol, grad_tol):
    eta, y = _grid(logits, targets, dtype=dtype)
    value, grads = _value_and_grads(L.continuous_bernoulli_nll, [eta], y)
    _assert_finite(value, grads)
    refs = [_cb_reference(float(e), float(t)) for e, t in zip(eta, y, strict=True)]
    want_value = torch.tensor([r[0] for r in refs], dtype=F64)
    want_grad = torch.tensor([r[1] for r in refs], dtype=F64)
    # relative to the size of the terms that cancel (|eta| for large logits)
    scale = 1 + eta.double().abs()
    assert ((value.double() - want_value).abs() / scale).max() < value_tol
    assert (grads[0].double() - want_grad).abs().max() < grad_tol


def test_continuous_bernoulli_extreme_logits_float32():
    _cb_check(LOGITS, [0.0, 0.3, 1.0], F32, value_tol=3e-7, grad_tol=3e-6)


def test_continuous_bernoulli_extreme_logits_float64():
    _cb_check(LOGITS, [0.0, 0.3, 1.0], F64, value_tol=1e-15, grad_tol=1e-13)


def test_continuous_bernoulli_large_logits_where_torch_saturates():
    # torch computes log C from probabilities, which round to 1 for large logits; from the
    # logits, log C = log|eta| - log tanh(|eta| / 2) keeps full accuracy (-> log|eta|)
    eta = torch.tensor([40.0, 200.0, 1e4], dtype=F64)
    got = L.continuous_bernoulli_nll(eta, torch.ones(3, dtype=F64), reduction="none")
    torch.testing.assert_close(got, -torch.log(eta), rtol=1e-14, atol=1e-14)


NEAR_HALF = [k * 1e-3 for k in range(-300, 301, 7)] + [-0.1, 0.1, 0.0999999, 0.1000001]


def test_continuous_bernoulli_near_one_half_float32():
    _cb_check(NEAR_HALF, [0.0, 0.5, 1.0], F32, value_tol=2e-7, grad_tol=1e-6)


def test_continuous_bernoulli_near_one_half_float64():
    _cb_check(NEAR_HALF, [0.0, 0.5, 1.0], F64, value_tol=1e-15, grad_tol=1e-14)


@pytest.mark.parametrize("dtype, tol", [(F64, 1e-15), (F32, 1e-6)])
def test_continuous_bernoulli_is_continuous_across_the_series_boundary(dtype, tol):
    # walk across |eta| = 0.1 one representable number at a time, on both sides of 0
    for sign in (1.0, -1.0):
        start = torch.tensor(0.1, dtype=dtype)
        below, above = start.clone(), start.clone()
        steps = []
        for _ in range(4):
            below = torch.nextafter(below, torch.tensor(0.0, dtype=dtype))
            above = torch.nextafter(above, torch.tensor(1.0, dtype=dtype))
            steps += [below.clone(), above.clone()]
        eta = sign * torch.stack(sorted(steps + [start]))
        eta = eta.requires_grad_()
        value = L.continuous_bernoulli_nll(eta, torch.full_like(eta, 0.25), reduction="none")
        value.sum().backward()
        assert value.diff().abs().max() < tol
        assert eta.grad.diff().abs().max() < tol


def test_continuous_bernoulli_matches_torch_around_its_taylor_region():
    # torch switches to its own Taylor series for lambda in (0.499, 0.501)
    lam = torch.tensor([0.4985, 0.499, 0.4995, 0.5, 0.5005, 0.501, 0.5015], dtype=F64)
    eta = torch.logit(lam)
    y = torch.linspace(0, 1, 7, dtype=F64)
    want = -torch.distributions.ContinuousBernoulli(logits=eta).log_prob(y)
    torch.testing.assert_close(
        L.continuous_bernoulli_nll(eta, y, reduction="none"), want, rtol=1e-12, atol=1e-12
    )


def test_categorical_extreme_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=F32)
    idx = torch.tensor([1, 2, 0])
    value, grads = _value_and_grads(L.categorical_nll, [logits], idx)
    _assert_finite(value, grads)
    torch.testing.assert_close(value, torch.tensor([2e4, math.log(3), math.log(2)]))
    probs = torch.tensor([[0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.5, 0.5, 0.0]], dtype=F32)
    value, grads = _value_and_grads(L.categorical_nll, [logits], probs)
    _assert_finite(value, grads)
    torch.testing.assert_close(value, torch.tensor([2e4, math.log(3), math.log(2)]))


def test_negative_binomial_extreme_logits_and_counts():
    eta, r, y = _grid(LOGITS, SCALES, [0.0, 5.0, 1e6])
    _assert_close_to_mpmath(
        L.negative_binomial_nll, _nb_reference, [r, eta], y, atol=1e-5, rtol=1e-5
    )


def test_gmm_extreme_logits_and_far_targets():
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4], [0.0, 0.0]], dtype=F32)
    loc = torch.tensor([[0.0, 5.0], [0.0, 5.0], [-1e3, 1e3]], dtype=F32)
    scale = torch.tensor([[1e-3, 1.0], [1e-3, 1e6], [1e-6, 1e-6]], dtype=F32)
    y = torch.tensor([5.0, 1e3, 0.0], dtype=F32)
    value, grads = _value_and_grads(L.gmm_nll, [logits, loc, scale], y)
    _assert_finite(value, grads)
    # first row: the component with weight e^-2e4 sits on the target, the heavy one 5000 of its
    # scales away (z^2 / 2 = 1.25e7 nats): the light one wins, NLL = 2e4 + log(2 pi) / 2
    assert value[0].item() == pytest.approx(2e4 + 0.5 * math.log(2 * math.pi), rel=1e-6)


# ------------------------------------------------------------------------------------------------
# Scales from 1e-6 to 1e6
# ------------------------------------------------------------------------------------------------

OFFSETS = [0.0, 1e-3, 1.0, -3.0, 100.0]  # target - loc, in absolute units


def _location_scale_check(fn, reference, extra=(), number_scale=False, **kwargs):
    diff, scale = _grid(OFFSETS, SCALES)
    loc = torch.full_like(diff, 0.5)
    y = loc + diff
    if number_scale:  # the fused path (mse_loss, l1_loss) with a Python-number scale
        loc5 = torch.full((len(OFFSETS),), 0.5)
        y5 = loc5 + torch.tensor(OFFSETS)
        for s in SCALES:
            value, grads = _value_and_grads(fn, [*extra, loc5, s], y5, **kwargs)
            _assert_finite(value, grads)
            want = reference(loc5.double(), torch.full((len(OFFSETS),), s, dtype=F64), y5.double())
            torch.testing.assert_close(value.double(), want, rtol=2e-6, atol=2e-6)
        return
    value, grads = _value_and_grads(fn, [*extra, loc, scale], y, **kwargs)
    _assert_finite(value, grads)
    want = reference(loc.double(), scale.double(), y.double())
    torch.testing.assert_close(value.double(), want, rtol=2e-6, atol=2e-6)


def test_gaussian_extreme_scales():
    ref = lambda m, s, y: -torch.distributions.Normal(m, s).log_prob(y)  # noqa: E731
    _location_scale_check(L.gaussian_nll, ref)
    _location_scale_check(L.gaussian_nll, ref, number_scale=True)
    ref_beta = lambda m, s, y: ref(m, s, y) * s  # noqa: E731  beta = 0.5: times sigma
    _location_scale_check(L.gaussian_nll, ref_beta, beta=0.5)


def test_laplace_extreme_scales():
    ref = lambda m, s, y: -torch.distributions.Laplace(m, s).log_prob(y)  # noqa: E731
    _location_scale_check(L.laplace_nll, ref)
    _location_scale_check(L.laplace_nll, ref, number_scale=True)


@pytest.mark.parametrize("df", [1e-3, 1.0, 4.0, 1e6])
def test_student_t_extreme_scales(df):
    def ref(m, s, y):
        return -torch.distributions.StudentT(torch.full_like(m, df), m, s).log_prob(y)

    _location_scale_check(L.student_t_nll, ref, extra=(torch.full((len(OFFSETS) * 5,), df),))
    _location_scale_check(L.student_t_nll, ref, extra=(df,))


def test_lognormal_extreme_scales_and_targets():
    y, scale = _grid([1e-30, 1e-6, 1.0, 1e6, 1e30], SCALES)
    loc = torch.zeros_like(y)
    value, grads = _value_and_grads(L.lognormal_nll, [loc, scale], y)
    _assert_finite(value, grads)
    want = -torch.distributions.LogNormal(loc.double(), scale.double()).log_prob(y.double())
    torch.testing.assert_close(value.double(), want, rtol=2e-6, atol=2e-6)


def test_gmm_extreme_scales():
    diff, scale = _grid(OFFSETS, SCALES)
    logits = torch.zeros(len(diff), 2)
    loc = torch.stack([torch.zeros_like(diff), torch.full_like(diff, 2.0)], -1)
    scales = torch.stack([scale, torch.ones_like(scale)], -1)
    value, grads = _value_and_grads(L.gmm_nll, [logits, loc, scales], diff)
    _assert_finite(value, grads)


def test_mvn_extreme_scales():
    d0, d1 = _grid(SCALES, SCALES)
    tril = torch.diag_embed(torch.stack([d0, d1], -1))
    tril[:, 1, 0] = 0.5 * d0
    y = torch.stack([d0, -d1], -1) * 3
    value, grads = _value_and_grads(L.mvn_nll, [torch.zeros_like(y), tril], y)
    _assert_finite(value, grads)
    want = -torch.distributions.MultivariateNormal(
        torch.zeros(2, dtype=F64), scale_tril=tril.double()
    ).log_prob(y.double())
    torch.testing.assert_close(value.double(), want, rtol=2e-6, atol=2e-6)


# ------------------------------------------------------------------------------------------------
# Rates and concentrations from 1e-6 to 1e6, targets on the edge of the support
# ------------------------------------------------------------------------------------------------


def test_exponential_extreme_rates_and_zero_target():
    rate, y = _grid(SCALES, [0.0, 1e-6, 1.0, 1e6])
    value, grads = _value_and_grads(L.exponential_nll, [rate], y)
    _assert_finite(value, grads)
    want = -torch.distributions.Exponential(rate.double()).log_prob(y.double())
    torch.testing.assert_close(value.double(), want, rtol=1e-6, atol=1e-6)


def test_poisson_extreme_rates_and_zero_count():
    rate, y = _grid(SCALES, [0.0, 1.0, 7.0, 1e6])
    value, grads = _value_and_grads(L.poisson_nll, [rate], y)
    _assert_finite(value, grads)
    r, t = rate.double(), y.double()
    want = -torch.distributions.Poisson(r).log_prob(t)
    terms = 1 + r + (t * r.log()).abs() + torch.lgamma(t + 1)  # float32 rounds each term
    assert ((value.double() - want).abs() / terms).max() < 1e-6
    zero = y == 0  # at y = 0 the loss is the rate itself, gradient exactly 1
    torch.testing.assert_close(value[zero], rate[zero])
    torch.testing.assert_close(grads[0][zero], torch.ones(int(zero.sum())))


def test_gamma_extreme_parameters_and_tiny_targets():
    a, b, y = _grid(SCALES, SCALES, [1e-30, 1e-6, 1.0, 1e6])
    _assert_close_to_mpmath(L.gamma_nll, _gamma_reference, [a, b], y, atol=1e-5, rtol=1e-5)


def test_beta_extreme_concentrations_and_targets_near_the_edges():
    edge = 1.0 - 2.0**-24  # the largest float32 below 1
    a, b, y = _grid(SCALES, SCALES, [1e-30, 1e-6, 0.5, 1 - 1e-6, edge])
    _assert_close_to_mpmath(L.beta_nll, _beta_reference, [a, b], y, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# Large shapes: in float32 the direct formulas subtract log-gammas of size k log k (the review's
# 0.83 nats for a negative binomial at total_count = 1e6, 0.7 for a gamma and 0.5 for a beta at
# shapes of 1e6). Plausible targets (a few standard deviations from the mean) at shapes up to
# 1e6-1e8, absolute errors in nats against mpmath.
# ------------------------------------------------------------------------------------------------

SHAPES = [1e-3, 0.5, 1.0, 9.99, 10.0, 10.01, 100.0, 1e4, 1e6]  # Stirling takes over at 10
ABS_TOL = {F32: 5e-4, F64: 1e-10}  # nats
GRAD_TOL = {F32: 2e-4, F64: 1e-10}  # relative to 1 + |gradient|


def _nb_grid(dtype):
    # total_count up to 1e8 near the Poisson limit, means 0.1 to 50: logits = log(mean / r)
    rows = [
        (r, math.log(m / r), y)
        for r in [*SHAPES, 1e8]
        for m in (0.1, 5.0, 50.0)
        for y in (0.0, 1.0, 3.0, 10.0, 30.0, 100.0)
    ]
    return [torch.tensor(c, dtype=dtype) for c in zip(*rows, strict=True)]


def _gamma_grid(dtype):
    rows = []
    for k in SHAPES:
        w = 1 / math.sqrt(max(k, 1.0))  # about the coefficient of variation
        for m in (1e-3, 1.0, 1e3):
            rows += [(k, k / m, m * math.exp(z * w)) for z in (-3, -1, 0, 1, 3)]
    rows += [(k, k, y) for k in (1e4, 1e6) for y in (0.99, 1.01)]  # the review's cases
    return [torch.tensor(c, dtype=dtype) for c in zip(*rows, strict=True)]


def _beta_grid(dtype):
    rows = []
    for n in [1e-2, 1.0, 2.0, 20.0, 1e3, 1e5, 1e6]:  # a + b
        for m in (0.5, 0.1, 0.999):
            w = min(2.0, 1 / math.sqrt(n * m * (1 - m)))  # about the sd of logit(y)
            logit = math.log(m / (1 - m))
            rows += [(m * n, (1 - m) * n, 1 / (1 + math.exp(-logit - z * w))) for z in (-2, 0, 2)]
    return [torch.tensor(c, dtype=dtype) for c in zip(*rows, strict=True)]


@pytest.mark.parametrize("dtype", [F32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize(
    "fn, reference, grid",
    [
        (L.negative_binomial_nll, _nb_reference, _nb_grid),
        (L.gamma_nll, _gamma_reference, _gamma_grid),
        (L.beta_nll, _beta_reference, _beta_grid),
    ],
    ids=["negative_binomial", "gamma", "beta"],
)
def test_large_shapes_absolute_error_against_mpmath(fn, reference, grid, dtype):
    *params, y = grid(dtype)
    _assert_close_to_mpmath(
        fn, reference, params, y, atol=ABS_TOL[dtype], grad_rtol=GRAD_TOL[dtype]
    )


def test_large_shapes_the_reviews_cases():
    # total_count = 1e6, mean 5, y = 3 and 10; concentration = rate = 1e4 at y = 0.99 and 1.01
    r = torch.tensor([1e6, 1e6])
    nb = L.negative_binomial_nll(r, torch.log(5 / r), torch.tensor([3.0, 10.0]), reduction="none")
    want = [float(_nb_reference(1e6, float(torch.log(5 / r[0])), y)[0]) for y in (3.0, 10.0)]
    assert (nb.double() - torch.tensor(want, dtype=F64)).abs().max() < 1e-5
    y = torch.tensor([0.99, 1.01])
    gamma = L.gamma_nll(1e4, 1e4, y, reduction="none")
    assert gamma[1] - gamma[0] == pytest.approx(
        float(
            _gamma_reference(1e4, 1e4, float(y[1]))[0] - _gamma_reference(1e4, 1e4, float(y[0]))[0]
        ),
        abs=1e-5,
    )


@pytest.mark.parametrize("fn", [L.bernoulli_nll, L.continuous_bernoulli_nll])
def test_unit_interval_end_points(fn):
    eta, y = _grid([-5.0, 0.0, 5.0], [0.0, 1.0])
    value, grads = _value_and_grads(fn, [eta], y)
    _assert_finite(value, grads)


def test_pinball_extremes():
    pred, y = _grid([-1e30, -1.0, 0.0, 1e30], [-1e30, 0.0, 1e30])
    for q in (1e-6, 0.5, 1 - 1e-6):
        value, grads = _value_and_grads(L.pinball_loss, [pred], y, quantile=q)
        _assert_finite(value, grads)


@pytest.mark.parametrize("dtype, tol", [(F64, 1e-13), (F32, 2e-6)])
def test_student_t_large_df_against_mpmath(dtype, tol):
    # lgamma(df / 2) - lgamma((df + 1) / 2) cancels for large df: a series takes over at df = 64
    dfs = [1.0, 63.99, 64.0, 64.01, 1e3, 1e6, 1e10]
    y = 1.7
    df = torch.tensor(dfs, dtype=dtype, requires_grad=True)
    value = L.student_t_nll(df, 0.0, 1.0, torch.full((len(dfs),), y, dtype=dtype), reduction="none")
    value.sum().backward()
    assert torch.isfinite(df.grad).all()
    for nu, got in zip(df.detach().tolist(), value.tolist(), strict=True):
        v = mpmath.mpf(nu)
        want = -(
            mpmath.loggamma((v + 1) / 2)
            - mpmath.loggamma(v / 2)
            - mpmath.log(v * mpmath.pi) / 2
            - (v + 1) / 2 * mpmath.log1p(mpmath.mpf(y) ** 2 / v)
        )
        assert abs(got - float(want)) < tol * (1 + abs(float(want))), nu


# ------------------------------------------------------------------------------------------------
# Half precision: float16 and bfloat16 inputs are computed and returned in float32
# ------------------------------------------------------------------------------------------------


def _half_cases():
    g = torch.Generator().manual_seed(0)
    n = 64
    y, loc = torch.randn(n, generator=g), torch.randn(n, generator=g)
    sc, u = 0.5 + torch.rand(n, generator=g), 0.05 + 0.9 * torch.rand(n, generator=g)
    counts = torch.poisson(torch.full((n,), 4.0), generator=g)
    logits = torch.randn(n, 4, generator=g)
    tril = torch.tensor([[1.0, 0.0], [0.3, 0.7]])
    # name -> (args, loss(*args), reference(*args) in float64 without cebook)
    return {
        "gaussian": ((loc, sc, y), L.gaussian_nll, lambda m, s, t: -D.Normal(m, s).log_prob(t)),
        "laplace": ((loc, sc, y), L.laplace_nll, lambda m, s, t: -D.Laplace(m, s).log_prob(t)),
        "student_t": (
            (1 + 10 * u, loc, sc, y),
            L.student_t_nll,
            lambda df, m, s, t: -D.StudentT(df, m, s).log_prob(t),
        ),
        "lognormal": (
            (loc, sc, 3 * u),
            L.lognormal_nll,
            lambda m, s, t: -D.LogNormal(m, s).log_prob(t),
        ),
        "exponential": ((sc, 3 * u), L.exponential_nll, lambda r, t: -D.Exponential(r).log_prob(t)),
        "gamma": ((1 + 20 * u, sc, 3 * u), L.gamma_nll, lambda k, r, t: -D.Gamma(k, r).log_prob(t)),
        "poisson": ((20 * sc, counts), L.poisson_nll, lambda r, t: -D.Poisson(r).log_prob(t)),
        "negative_binomial": (
            (30 * u, loc, counts),
            L.negative_binomial_nll,
            lambda r, e, t: -D.NegativeBinomial(r, logits=e).log_prob(t),
        ),
        "bernoulli": (
            (3 * loc, (u > 0.5).float()),
            L.bernoulli_nll,
            lambda e, t: -D.Bernoulli(logits=e).log_prob(t),
        ),
        "continuous_bernoulli": (
            (3 * loc, u),
            L.continuous_bernoulli_nll,
            lambda e, t: -D.ContinuousBernoulli(logits=e).log_prob(t),
        ),
        "beta": ((5 * sc, 20 * sc, u), L.beta_nll, lambda a, b, t: -D.Beta(a, b).log_prob(t)),
        "gmm": (
            (logits[:, :2], logits[:, 2:], sc.unsqueeze(-1).expand(n, 2), y),
            L.gmm_nll,
            lambda w, m, s, t: (
                -D.MixtureSameFamily(D.Categorical(logits=w), D.Normal(m, s)).log_prob(t)
            ),
        ),
        "mvn": (
            (logits[:, :2], tril, logits[:, 2:]),
            L.mvn_nll,
            lambda m, t, x: -D.MultivariateNormal(m, scale_tril=t).log_prob(x),
        ),
    }


HALF_CASES = _half_cases()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(HALF_CASES))
def test_half_precision_inputs_are_computed_in_float32(name, dtype):
    args, fn, reference = HALF_CASES[name]
    low = [a.to(dtype).requires_grad_() for a in args]
    value = fn(*low, reduction="none")
    assert value.dtype == F32
    # against float64 at the same (rounded) inputs: float32 accuracy, not half precision's
    want = reference(*[a.detach().double() for a in low])
    assert ((value.double() - want).abs() / (1 + want.abs())).max() < 1e-5
    value.sum().backward()
    for a in low:  # the gradients come back in the inputs' dtype
        assert a.grad.dtype == dtype and torch.isfinite(a.grad).all()


def test_half_precision_tiny_scale_does_not_overflow():
    # the review's case: in float16, (10 / 1e-3)^2 / 2 = 5e7 overflows (its largest value is 65504)
    scale = torch.full((3,), 1e-3, dtype=torch.float16)
    loc, y = torch.zeros(3, dtype=torch.float16), torch.full((3,), 10.0, dtype=torch.float16)
    for s in (scale, 1e-3):
        value = L.gaussian_nll(loc, s, y, reduction="none")
        assert value.dtype == F32 and torch.isfinite(value).all()
        sigma = scale.double() if isinstance(s, torch.Tensor) else torch.tensor(1e-3, dtype=F64)
        want = -D.Normal(0.0, sigma).log_prob(y.double())
        torch.testing.assert_close(value.double(), want.expand(3), rtol=1e-6, atol=0.0)
