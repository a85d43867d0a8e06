"""Tests of cebook.metrics against independent references: the CRPS integral by quadrature,
Monte Carlo, a brute-force O(M^2) ensemble score, scipy.stats CDFs, torch's registered KL
divergences and scipy.integrate.quad for the numerical cross-entropies; plus shape, support and
validation errors."""

import math
import warnings

import numpy as np
import pytest
import scipy.stats as st
import torch
from scipy import integrate
from torch import distributions as D

import cebook
from cebook.metrics import (
    coverage,
    cross_entropy,
    crps_ensemble,
    crps_gaussian,
    crps_laplace,
    interval_coverage,
    kl,
    pit,
)

F64 = torch.float64


def t64(*values):
    return torch.tensor(values if len(values) > 1 else values[0], dtype=F64)


def crps_by_quadrature(cdf, y, low=-np.inf, high=np.inf):
    """CRPS(F, y) = int (F(z) - 1{y <= z})^2 dz, by scipy's adaptive quadrature."""
    left, _ = integrate.quad(lambda z: cdf(z) ** 2, low, y, epsabs=1e-12, epsrel=1e-12)
    right, _ = integrate.quad(lambda z: (1 - cdf(z)) ** 2, y, high, epsabs=1e-12, epsrel=1e-12)
    return left + right


# ---------------------------------------------------------------------------- CRPS


@pytest.mark.parametrize(("loc", "scale", "y"), [(0.0, 1.0, 0.0), (1.5, 0.3, 0.2), (-2, 4, 9)])
def test_crps_gaussian_equals_the_crps_integral(loc, scale, y):
    reference = crps_by_quadrature(st.norm(loc, scale).cdf, y)
    got = crps_gaussian(t64(loc), t64(scale), t64(y))
    assert float(got) == pytest.approx(reference, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("loc", "scale", "y"), [(0.0, 1.0, 0.0), (1.5, 0.3, 0.2), (-2, 4, 9)])
def test_crps_laplace_equals_the_crps_integral(loc, scale, y):
    reference = crps_by_quadrature(st.laplace(loc, scale).cdf, y)
    got = crps_laplace(t64(loc), t64(scale), t64(y))
    assert float(got) == pytest.approx(reference, rel=1e-9, abs=1e-12)


def test_closed_forms_against_monte_carlo_ensembles():
    generator = torch.Generator().manual_seed(0)
    m = 200_000
    y = t64(0.4, -1.0, 2.5)
    loc, scale = t64(0.0, 0.5, 1.0), t64(1.0, 2.0, 0.5)
    normal = loc.unsqueeze(-1) + scale.unsqueeze(-1) * torch.randn(
        3, m, generator=generator, dtype=F64
    )
    uniform = torch.rand(3, m, generator=generator, dtype=F64) - 0.5
    laplace = loc.unsqueeze(-1) - scale.unsqueeze(-1) * uniform.sign() * torch.log1p(
        -2 * uniform.abs()
    )
    for samples, closed in [
        (normal, crps_gaussian(loc, scale, y, reduction="none")),
        (laplace, crps_laplace(loc, scale, y, reduction="none")),
    ]:
        empirical = crps_ensemble(samples, y, reduction="none")
        # Monte Carlo error ~ scale / sqrt(m) ~ 0.005 at most here
        np.testing.assert_allclose(empirical.numpy(), closed.numpy(), atol=0.01)
        fair = crps_ensemble(samples, y, fair=True, reduction="none")
        np.testing.assert_allclose(fair.numpy(), closed.numpy(), atol=0.01)


def test_crps_gaussian_tends_to_the_absolute_error():
    y, loc = t64(1.0, -2.0, 0.3), t64(0.0, 0.5, 0.3)
    got = crps_gaussian(loc, 1e-9, y, reduction="none")
    np.testing.assert_allclose(got.numpy(), (y - loc).abs().numpy(), atol=1e-8)
    assert float(crps_laplace(loc, 1e-9, y, reduction="sum")) == pytest.approx(3.5, abs=1e-8)


def brute_force_crps(samples, y, fair=False):
    x = samples.astype(np.float64)
    m = len(x)
    pairwise = np.abs(x[:, None] - x[None, :]).sum()
    return np.abs(x - y).mean() - pairwise / (2 * (m * (m - 1) if fair else m * m))


def test_crps_ensemble_against_the_brute_force_pairwise_formula():
    rng = np.random.default_rng(0)
    for m in (1, 2, 3, 7, 50):
        samples = rng.standard_t(3, size=(4, m))
        y = rng.normal(size=4)
        got = crps_ensemble(torch.as_tensor(samples), torch.as_tensor(y), reduction="none")
        reference = [brute_force_crps(s, t) for s, t in zip(samples, y, strict=True)]
        np.testing.assert_allclose(got.numpy(), reference, rtol=1e-12, atol=1e-14)
        if m > 1:
            fair = crps_ensemble(torch.as_tensor(samples), torch.as_tensor(y), fair=True)
            reference = [brute_force_crps(s, t, fair=True) for s, t in zip(samples, y, strict=True)]
            assert float(fair) == pytest.approx(np.mean(reference), rel=1e-12)


def test_crps_ensemble_equals_the_integral_of_the_empirical_cdf():
    # int (F_M(z) - 1{y <= z})^2 dz, exactly: F_M is a step function.
    rng = np.random.default_rng(1)
    x = np.sort(rng.normal(size=9))
    y = 0.37
    points = np.sort(np.append(x, y))
    values = np.array([(np.sum(x <= z) / 9 - (y <= z)) ** 2 for z in points[:-1]])
    reference = np.sum(values * np.diff(points))
    got = crps_ensemble(torch.as_tensor(rng.permutation(x)).unsqueeze(0), t64(y).reshape(1))
    assert float(got) == pytest.approx(reference, rel=1e-12)


def test_crps_ensemble_float32_large_ensemble_and_batch_shapes():
    generator = torch.Generator().manual_seed(2)
    samples = 1000.0 + torch.randn(2, 3, 100_000, generator=generator)  # far from 0: centring
    y = torch.full((2, 3), 1000.0)
    got = crps_ensemble(samples, y, reduction="none")
    assert got.shape == (2, 3) and got.dtype == torch.float32
    reference = crps_gaussian(0.0, 1.0, 0.0)  # 0.2337
    np.testing.assert_allclose(got.numpy(), float(reference), atol=0.01)
    # a one-member ensemble: the absolute error
    assert float(crps_ensemble(torch.tensor([[3.0]]), torch.tensor([1.0]))) == 2.0
    assert float(crps_ensemble(torch.tensor([2.0, 4.0]), 3.0)) == pytest.approx(0.5)


def test_crps_shape_and_value_errors():
    y = torch.zeros(5)
    with pytest.raises(
        ValueError,
        match=r"crps_gaussian: shapes loc \(5, 1\), scale \(\) and target \(5,\) broadcast to",
    ):
        crps_gaussian(torch.zeros(5, 1), 1.0, y)
    with pytest.raises(ValueError, match=r"broadcast to \(5, 5\), not to the target's shape \(5,"):
        crps_laplace(torch.zeros(5, 1), 1.0, y)
    with pytest.raises(ValueError, match=r"^crps_gaussian: scale must be > 0, got 0$"):
        crps_gaussian(0.0, torch.tensor([1.0, 0.0, -1.0, 2.0, 1.0]), y)
    with pytest.raises(ValueError, match=r"^crps_laplace: scale must be > 0, got -2$"):
        crps_laplace(0.0, -2.0, y)
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        crps_gaussian(0.0, 1.0, y, reduction="avg")
    with pytest.raises(
        ValueError,
        match=r"crps_ensemble: shapes samples without their ensemble dimension \(5,\) and "
        r"target \(5, 1\) broadcast to \(5, 5\)",
    ):
        crps_ensemble(torch.zeros(5, 10), torch.zeros(5, 1))
    with pytest.raises(
        ValueError,
        match="crps_ensemble: samples must hold at least 2 ensemble members in its last "
        "dimension, got 1",
    ):
        crps_ensemble(torch.zeros(5, 1), y, fair=True)
    with pytest.raises(ValueError, match="crps_ensemble: samples must be a tensor of shape"):
        crps_ensemble(torch.tensor(1.0), 1.0)
    with cebook.validation(False):  # no support check of tensors (and no device sync)
        crps_gaussian(0.0, -torch.ones(5), y)
        with pytest.raises(ValueError, match="^crps_gaussian: scale must be > 0, got -1$"):
            crps_gaussian(0.0, -1.0, y)  # a Python number is checked always: it costs nothing


def test_crps_reductions_and_gradients():
    loc = torch.tensor([0.0, 1.0, 2.0], requires_grad=True)
    y = torch.tensor([0.5, 0.5, 0.5])
    none = crps_gaussian(loc, 1.0, y, reduction="none")
    assert torch.allclose(crps_gaussian(loc, 1.0, y), none.mean())
    assert torch.allclose(crps_gaussian(loc, 1.0, y, reduction="sum"), none.sum())
    none.sum().backward()
    # d CRPS / d mu = -(2 Phi(z) - 1) = 1 - 2 Phi((y - mu) / sigma)
    expected = 1 - 2 * st.norm.cdf(0.5 - loc.detach().numpy())
    np.testing.assert_allclose(loc.grad.numpy(), expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------- PIT, coverage


def test_pit_is_the_cdf_and_uniform_for_the_true_law():
    generator = torch.Generator().manual_seed(3)
    loc = torch.linspace(-2, 2, 4000, dtype=F64)
    scale = 0.5 + loc.abs()
    y = loc + scale * torch.randn(4000, generator=generator, dtype=F64)
    u = pit(D.Normal(loc, scale), y)
    np.testing.assert_allclose(u.numpy(), st.norm.cdf(y.numpy(), loc.numpy(), scale.numpy()))
    assert st.kstest(u.numpy(), "uniform").pvalue > 1e-3
    # a law twice too narrow piles the PIT at 0 and 1
    narrow = pit(D.Normal(loc, scale / 2), y)
    assert st.kstest(narrow.numpy(), "uniform").pvalue < 1e-10


@pytest.mark.parametrize("df", [0.7, 1.0, 2.5, 30.0])
def test_pit_of_student_t_by_quadrature_matches_scipy(df):
    y = t64(-1e4, -30.0, -2.0, -0.1, 0.0, 0.4, 3.0, 1e3)
    u = pit(D.StudentT(t64(df), t64(0.5), t64(2.0)), y)
    np.testing.assert_allclose(u.numpy(), st.t(df, 0.5, 2.0).cdf(y.numpy()), atol=1e-10)


def test_pit_of_beta_by_quadrature_matches_scipy_and_float32_laws():
    y = t64(0.0, 1e-9, 0.02, 0.5, 0.93, 1.0)
    for a, b in [(0.3, 0.7), (2.0, 5.0), (40.0, 0.6)]:
        u = pit(D.Beta(t64(a), t64(b)), y)
        np.testing.assert_allclose(u.numpy(), st.beta(a, b).cdf(y.numpy()), atol=1e-9)
    y32 = torch.linspace(-3, 3, 13)
    u32 = pit(D.StudentT(torch.full((13,), 4.0)), y32)
    assert u32.dtype == torch.float32
    np.testing.assert_allclose(u32.numpy(), st.t(4).cdf(y32.numpy()), atol=1e-6)


def _uniforms_behind(u, lower, upper):
    """V of the randomised PIT u = F(y - 1) + V p(y), given scipy's F(y - 1) and F(y)."""
    return (u.numpy() - lower) / (upper - lower)


@pytest.mark.parametrize("rate", [0.3, 4.0, 3000.0])  # 3000: F(y - 1) summed in two chunks
def test_randomised_pit_of_poisson_against_scipy(rate):
    generator = torch.Generator().manual_seed(5)
    rates = torch.full((2500,), rate, dtype=F64) * torch.empty(2500, dtype=F64).uniform_(
        0.5, 1.5, generator=generator
    )
    y = torch.poisson(rates, generator=generator)
    u = pit(D.Poisson(rates), y, generator=torch.Generator().manual_seed(7))
    lower = st.poisson.cdf(y.numpy() - 1, rates.numpy())
    upper = st.poisson.cdf(y.numpy(), rates.numpy())
    v = torch.rand(2500, generator=torch.Generator().manual_seed(7), dtype=F64).numpy()
    np.testing.assert_allclose(u.numpy(), lower + v * (upper - lower), atol=1e-12)
    assert st.kstest(u.numpy(), "uniform").pvalue > 1e-3  # uniform under the true law


def test_randomised_pit_is_uniform_for_the_true_law_only():
    generator = torch.Generator().manual_seed(11)
    mean = torch.empty(5000, dtype=F64).uniform_(1.0, 8.0, generator=generator)
    probs = mean / (mean + 2.0)  # torch's NegativeBinomial(2, p) has mean 2 p / (1 - p)
    truth = D.NegativeBinomial(torch.full_like(mean, 2.0), probs=probs)
    y = truth.sample()
    u = pit(truth, y, generator=generator)
    # torch's NegativeBinomial(r, p) counts successes of probability p: scipy's nbinom(r, 1 - p)
    lower = st.nbinom.cdf(y.numpy() - 1, 2.0, 1 - probs.numpy())
    upper = st.nbinom.cdf(y.numpy(), 2.0, 1 - probs.numpy())
    v = _uniforms_behind(u, lower, upper)
    assert ((v >= -1e-9) & (v <= 1 + 1e-9)).all()
    assert st.kstest(u.numpy(), "uniform").pvalue > 1e-3
    # the Poisson law with the right mean is too narrow: its randomised PIT is U-shaped
    poisson = pit(D.Poisson(2.0 * probs / (1 - probs)), y, generator=generator)
    assert st.kstest(poisson.numpy(), "uniform").pvalue < 1e-10


def test_randomised_pit_of_bernoulli_binomial_and_categorical():
    generator = torch.Generator().manual_seed(2)
    v = torch.rand(3, generator=torch.Generator().manual_seed(2), dtype=F64)
    p = t64(0.2, 0.7, 0.9)
    u = pit(D.Bernoulli(p), t64(0.0, 1.0, 1.0), generator=generator)
    torch.testing.assert_close(u, t64(0.8 * v[0], 0.3 + 0.7 * v[1], 0.1 + 0.9 * v[2]))
    u = pit(D.Binomial(5, p), t64(0.0, 3.0, 5.0), generator=torch.Generator().manual_seed(2))
    lower = st.binom.cdf(t64(-1.0, 2.0, 4.0).numpy(), 5, p.numpy())
    upper = st.binom.cdf(t64(0.0, 3.0, 5.0).numpy(), 5, p.numpy())
    np.testing.assert_allclose(u.numpy(), lower + v.numpy() * (upper - lower), atol=1e-12)
    probs = t64(0.1, 0.2, 0.3, 0.4)
    u = pit(D.Categorical(probs), torch.tensor(2), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(u, 0.3 + v[0] * 0.3)


def test_pit_errors():
    with pytest.raises(
        ValueError, match=r"pit: shapes dist batch \(5, 1\) and target \(5,\) broadcast to \(5, 5\)"
    ):
        pit(D.Normal(torch.zeros(5, 1), 1.0), torch.zeros(5))
    with pytest.raises(ValueError, match=r"^pit: target must be in the support of Gamma, got -1$"):
        pit(D.Gamma(torch.ones(2), 1.0), torch.tensor([1.0, -1.0]))

    class FromOne(D.Poisson):  # a discrete law whose support does not start at 0
        support = D.constraints.integer_interval(1, 50)

    with pytest.raises(ValueError, match=r"pit: FromOne is discrete with support .*needs a suppo"):
        pit(FromOne(torch.ones(2)), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"pit: dist must be a law of scalars .* event_shape \(2,"):
        pit(D.MultivariateNormal(torch.zeros(2), torch.eye(2)), torch.zeros(2))
    with pytest.raises(ValueError, match="pit: dist must be a torch.distributions.Distribution"):
        pit(st.norm(), torch.zeros(2))


def test_coverage_counts_inclusive_intervals():
    y = torch.tensor([0.0, 0.5, 1.0, 1.5, -0.5, 0.99])
    assert coverage(0.0, 1.0, y) == pytest.approx(4 / 6)
    got = coverage(torch.zeros(6), torch.ones(6), y)
    assert isinstance(got, torch.Tensor) and got.shape == () and got.dtype == y.dtype
    with pytest.raises(ValueError, match=r"^coverage: lower must be <= upper, got lower 2 above"):
        coverage(torch.tensor([0.0, 0, 0, 0, 2, 0]), 1.0, y)
    with pytest.raises(ValueError, match=r"coverage: shapes lower \(6, 1\), upper \(\) and targ"):
        coverage(torch.zeros(6, 1), 1.0, y)


def test_interval_coverage_matches_quantile_intervals_and_is_calibrated_for_the_truth():
    generator = torch.Generator().manual_seed(4)
    n = 20_000
    loc = torch.randn(n, generator=generator, dtype=F64)
    y = loc + 0.7 * torch.randn(n, generator=generator, dtype=F64)
    law = D.Normal(loc, 0.7)
    levels = [0.1, 0.5, 0.8, 0.9, 0.99]
    observed = interval_coverage(law, y, levels)
    assert observed.shape == (5,)
    for level, got in zip(levels, observed.tolist(), strict=True):
        lower = law.icdf(torch.tensor((1 - level) / 2, dtype=F64))
        upper = law.icdf(torch.tensor((1 + level) / 2, dtype=F64))
        assert got == pytest.approx(coverage(lower, upper, y).item(), abs=1e-12)
        assert abs(got - level) < 4 * math.sqrt(level * (1 - level) / n)  # binomial error
    too_wide = interval_coverage(D.Normal(loc, 1.4), y, levels)
    assert bool((too_wide[:-1] > torch.tensor(levels[:-1], dtype=F64)).all())
    with pytest.raises(ValueError, match=r"interval_coverage: levels must be in \(0, 1\]"):
        interval_coverage(law, y, [0.5, 1.5])


# ---------------------------------------------------------------------------- cross-entropy, KL

CLOSED_FORM_PAIRS = [
    (D.Normal(t64(0.3), t64(1.2)), D.Normal(t64(-0.4), t64(0.6))),
    (D.Laplace(t64(0.0), t64(1.0)), D.Laplace(t64(1.0), t64(2.0))),  # kinks at 0 and 1
    (D.Laplace(t64(0.5), t64(0.8)), D.Normal(t64(-0.2), t64(1.3))),
    (D.Normal(t64(0.5), t64(0.8)), D.Laplace(t64(-0.2), t64(1.3))),
    (D.Gamma(t64(3.0), t64(2.0)), D.Normal(t64(1.0), t64(0.5))),
    (D.Gamma(t64(2.5), t64(1.5)), D.Gamma(t64(1.2), t64(0.7))),
    (D.Gamma(t64(0.3), t64(2.0)), D.Gamma(t64(1.5), t64(1.0))),  # singular density at 0
    (D.Beta(t64(0.5), t64(3.0)), D.Beta(t64(2.0), t64(2.0))),
    (D.Exponential(t64(2.0)), D.Gamma(t64(2.0), t64(3.0))),
    (D.LogNormal(t64(0.2), t64(0.5)), D.LogNormal(t64(0.0), t64(1.0))),
    (D.Poisson(t64(3.5)), D.Poisson(t64(6.0))),
    (D.Geometric(t64(0.05)), D.Geometric(t64(0.2))),
    (D.Bernoulli(t64(0.3)), D.Bernoulli(t64(0.8))),
    (D.Binomial(12, t64(0.3)), D.Binomial(12, t64(0.6))),
    (D.Categorical(logits=t64(0.1, -2.0, 1.0, 0.5)), D.Categorical(logits=t64(1.0, 0, 0, 0))),
]


@pytest.mark.parametrize(("p", "q"), CLOSED_FORM_PAIRS, ids=lambda d: type(d).__name__)
def test_numerical_integration_agrees_with_the_closed_forms(p, q):
    closed = kl(p, q, method="closed_form")
    numerical = kl(p, q, method="numerical")
    assert closed.shape == numerical.shape == ()
    assert float(numerical) == pytest.approx(float(closed), rel=1e-8, abs=1e-10)
    try:
        entropy = p.entropy()
    except NotImplementedError:  # torch's Poisson has no entropy: no closed cross-entropy
        with pytest.raises(ValueError, match="cross_entropy: no closed form for Poisson"):
            cross_entropy(p, q, method="closed_form")
        entropy = torch.tensor(st.poisson(float(p.rate)).entropy(), dtype=F64)
    else:
        assert torch.allclose(cross_entropy(p, q, method="closed_form"), entropy + closed)
    numerical = cross_entropy(p, q, method="numerical")
    assert float(numerical) == pytest.approx(float(entropy + closed), rel=1e-8, abs=1e-10)
    assert float(kl(p, p, method="numerical")) == pytest.approx(0.0, abs=1e-10)


def quad_expectation(p_pdf, g, low, high):
    value, _ = integrate.quad(lambda x: p_pdf(x) * g(x), low, high, epsabs=1e-13, epsrel=1e-12)
    return value


def normal_logpdf(x, loc, scale):
    return -0.5 * ((x - loc) / scale) ** 2 - math.log(scale * math.sqrt(2 * math.pi))


def test_cross_entropy_without_closed_form_against_scipy_quad():
    # Scalar formulas in plain Python for scipy's quad (its frozen laws are slow per point).
    # Laplace against Normal (the quadrature, forced, against scipy's); kinks at 0.5
    p, q = D.Laplace(t64(0.5), t64(0.8)), D.Normal(t64(-0.2), t64(1.3))
    reference = sum(
        quad_expectation(
            lambda x: math.exp(-abs(x - 0.5) / 0.8) / 1.6,
            lambda x: -normal_logpdf(x, -0.2, 1.3),
            low,
            high,
        )
        for low, high in [(-np.inf, 0.5), (0.5, np.inf)]
    )
    assert float(cross_entropy(p, q, method="numerical")) == pytest.approx(reference, rel=1e-9)
    # Student-t against Normal, KL: torch registers no KL for the pair
    p, q = D.StudentT(t64(4.0), t64(0.0), t64(1.0)), D.Normal(t64(0.0), t64(1.5))
    with pytest.raises(ValueError, match="cross_entropy: no closed form for StudentT against No"):
        cross_entropy(p, q, method="closed_form")
    log_c = math.lgamma(2.5) - math.lgamma(2.0) - 0.5 * math.log(4 * math.pi)

    def t_logpdf(x):
        return log_c - 2.5 * math.log1p(x * x / 4)

    reference = quad_expectation(
        lambda x: math.exp(t_logpdf(x)),
        lambda x: t_logpdf(x) - normal_logpdf(x, 0.0, 1.5),
        -np.inf,
        np.inf,
    )
    assert float(kl(p, q)) == pytest.approx(reference, rel=1e-9)
    # Gamma against LogNormal
    p, q = D.Gamma(t64(2.0), t64(1.0)), D.LogNormal(t64(0.5), t64(0.8))
    reference = quad_expectation(
        lambda x: x * math.exp(-x),  # Gamma(2, 1)
        lambda x: math.log(x) - normal_logpdf(math.log(x), 0.5, 0.8),  # -log lognormal
        0,
        np.inf,
    )
    assert float(cross_entropy(p, q)) == pytest.approx(reference, rel=1e-9)


def test_mixture_of_narrow_components_against_scipy_quad():
    mixture = D.MixtureSameFamily(
        D.Categorical(logits=t64(0.0, 1.0)), D.Normal(t64(-10.0, 10.0), t64(0.1, 0.2))
    )
    q = D.Normal(t64(0.0), t64(10.0))
    weights = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    pieces = [(weights[0], st.norm(-10, 0.1)), (weights[1], st.norm(10, 0.2))]
    reference = sum(  # scipy's quad needs finite limits to find the narrow peaks
        w * quad_expectation(c.pdf, lambda x: -st.norm(0, 10).logpdf(x), *c.ppf([1e-15, 1 - 1e-15]))
        for w, c in pieces
    )
    assert float(cross_entropy(mixture, q)) == pytest.approx(reference, rel=1e-9)
    assert float(kl(mixture, q)) >= 0


def test_discrete_laws_without_closed_form_against_explicit_sums():
    p, q = D.Binomial(10, t64(0.3)), D.Poisson(t64(3.0))
    k = np.arange(11)
    reference = -(st.binom(10, 0.3).pmf(k) * st.poisson(3.0).logpmf(k)).sum()
    assert float(cross_entropy(p, q)) == pytest.approx(reference, rel=1e-12)
    p, q = D.Poisson(t64(4.0)), D.NegativeBinomial(t64(3.0), probs=t64(0.6))
    k = np.arange(200)
    nbinom = st.nbinom(3.0, 1 - 0.6)  # torch's probs is scipy's 1 - p
    reference = (st.poisson(4).pmf(k) * (st.poisson(4).logpmf(k) - nbinom.logpmf(k))).sum()
    assert float(kl(p, q)) == pytest.approx(reference, rel=1e-10)


def test_batches_broadcast_and_cross_entropy_is_entropy_plus_kl():
    p = D.Laplace(t64(0.0, 1.0, 2.0), t64(1.0, 0.5, 2.0))  # batch (3,)
    q = D.Normal(t64(0.0, 1.0).reshape(2, 1), t64(1.0))  # batch (2, 1)
    ce = cross_entropy(p, q)
    assert ce.shape == (2, 3)
    divergence = kl(p, q)
    np.testing.assert_allclose(ce.numpy(), (p.entropy() + divergence).numpy(), rtol=1e-9)
    for i in range(2):
        for j in range(3):
            single = cross_entropy(
                D.Laplace(p.loc[j], p.scale[j]), D.Normal(q.loc[i, 0], q.scale[i, 0])
            )
            assert float(ce[i, j]) == pytest.approx(float(single), rel=1e-9)
    assert bool((divergence > 0).all())


def test_numerical_cross_entropy_has_gradients_through_both_laws():
    loc_q = torch.tensor(0.4, dtype=F64, requires_grad=True)
    scale_p = torch.tensor(0.8, dtype=F64, requires_grad=True)
    value = cross_entropy(
        D.Normal(t64(0.0), scale_p), D.Normal(loc_q, t64(1.5)), method="numerical"
    )
    value.backward()
    # closed form: log(s_q sqrt(2 pi)) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2)
    assert float(loc_q.grad) == pytest.approx(0.4 / 1.5**2, rel=1e-7)
    assert float(scale_p.grad) == pytest.approx(0.8 / 1.5**2, rel=1e-7)


def test_float32_laws_are_accurate_to_float32():
    p, q = D.Gamma(torch.tensor([0.7, 3.0]), 1.0), D.Gamma(torch.tensor([2.0, 2.0]), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning
        numerical = kl(p, q, method="numerical")
    assert numerical.dtype == torch.float32
    np.testing.assert_allclose(numerical.numpy(), D.kl_divergence(p, q).numpy(), rtol=2e-5)


def test_infinite_when_q_has_no_mass_where_p_has():
    assert math.isinf(
        float(cross_entropy(D.Normal(t64(0.0), t64(1.0)), D.Gamma(t64(2.0), t64(1.0))))
    )
    assert math.isinf(
        float(kl(D.Uniform(t64(0.0), t64(2.0)), D.Beta(t64(2.0), t64(2.0)), method="numerical"))
    )


def test_cross_entropy_and_kl_errors():
    normal, poisson = D.Normal(0.0, 1.0), D.Poisson(2.0)
    with pytest.raises(ValueError, match=r"kl: p \(Poisson\) is discrete and q \(Normal\) is cont"):
        kl(poisson, normal)
    with pytest.raises(ValueError, match="cross_entropy: p .Normal. is continuous and q .Poisson"):
        cross_entropy(normal, poisson)
    with pytest.raises(ValueError, match="kl: q must be a torch.distributions.Distribution"):
        kl(normal, st.norm())
    with pytest.raises(ValueError, match="kl: method must be 'auto', 'closed_form' or 'numerical'"):
        kl(normal, normal, method="exact")
    with pytest.raises(ValueError, match=r"kl: batch shapes \(2,\) and \(3,\) do not broadcast"):
        kl(D.Normal(torch.zeros(2), 1.0), D.Normal(torch.zeros(3), 1.0))
    with pytest.raises(ValueError, match="kl: torch registers no KL for StudentT against Normal"):
        kl(D.StudentT(3.0), normal, method="closed_form")
    mvn = D.MultivariateNormal(torch.zeros(2), torch.eye(2))
    with pytest.raises(ValueError, match=r"cross_entropy: p must be a law of scalars .*\(2,\)"):
        cross_entropy(mvn, mvn, method="numerical")
    assert float(cross_entropy(mvn, mvn)) == pytest.approx(math.log(2 * math.pi * math.e))


def test_crps_follow_the_device_and_compile_whole_with_validation_off():
    meta = torch.empty(3, device="meta")
    with cebook.validation(False):
        for out in (
            crps_gaussian(meta, meta, meta),
            crps_laplace(meta, meta, meta),
            crps_ensemble(torch.empty(3, 5, device="meta"), meta),
        ):
            assert out.device.type == "meta"

    def score(loc, scale, y, samples):
        return (
            crps_gaussian(loc, scale, y) + crps_laplace(loc, scale, y) + crps_ensemble(samples, y)
        )

    args = (torch.zeros(3), torch.ones(3), torch.rand(3), torch.randn(3, 5))
    torch._dynamo.reset()
    with cebook.validation(False):
        compiled = torch.compile(score, fullgraph=True, backend="eager")
        assert torch.allclose(compiled(*args), score(*args))
