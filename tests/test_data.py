"""Tests of cebook.data: shapes, seeding, untouched global RNGs, laws against scipy and closed
forms, moments of the samples against the laws, and the real-data loaders."""

import math
import random
import sys

import numpy as np
import pytest
import scipy.stats as st
import torch

from cebook import data

GENERATORS = {
    "heteroscedastic_sine": data.heteroscedastic_sine,
    "seitzer_sine": data.seitzer_sine,
    "bishop_inverse": data.bishop_inverse,
    "linear_with_outliers": data.linear_with_outliers,
    "overdispersed_counts": data.overdispersed_counts,
    "positive_skewed": data.positive_skewed,
    "unit_interval": data.unit_interval,
    "correlated_2d": data.correlated_2d,
}


@pytest.mark.parametrize("name", GENERATORS)
def test_shapes_dtypes_and_law(name):
    toy = GENERATORS[name](n=64, seed=3)
    assert toy.name == name and toy.description
    assert toy.x.shape == (64, 1) and toy.x.dtype == torch.float32
    expected_y = (64, 2) if name == "correlated_2d" else (64,)
    assert toy.y.shape == expected_y and toy.y.dtype == torch.float32
    assert bool(torch.isfinite(toy.y).all()) and bool(torch.isfinite(toy.x).all())
    assert bool((toy.x[1:] >= toy.x[:-1]).all()), "x is sorted"
    law = toy.law(toy.x)
    assert law.batch_shape == (64,)
    assert law.event_shape == ((2,) if name == "correlated_2d" else ())
    assert bool(torch.isfinite(law.log_prob(toy.y)).all()), "every draw lies in the law's support"
    x, y, law_fn = toy  # unpacking
    assert x is toy.x and y is toy.y and law_fn is toy.law
    # the law follows the inputs' dtype, and accepts (m,) as well as (m, 1)
    assert toy.law(toy.x.double().squeeze(-1)).mean.dtype == torch.float64


@pytest.mark.parametrize("name", GENERATORS)
def test_seeded_and_global_rngs_untouched(name):
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    states = (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state())
    a = GENERATORS[name](n=100, seed=1)
    b = GENERATORS[name](n=100, seed=1)
    c = GENERATORS[name](n=100, seed=2)
    assert random.getstate() == states[0]
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.get_rng_state(), states[2])
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not torch.equal(a.y, c.y)


@pytest.mark.parametrize("name", GENERATORS)
def test_bad_arguments_raise(name):
    with pytest.raises(ValueError, match=f"{name}: seed must be"):
        GENERATORS[name](n=10, seed=-1)
    with pytest.raises(ValueError, match=f"{name}: n must be"):
        GENERATORS[name](n=0, seed=0)


def _standardised_moments_match(y, mean, std):
    # CLT tolerance: four standard errors of the sample means of z and z².
    z = ((y - mean) / std).double()
    n = z.numel()
    assert abs(float(z.mean())) < 4 * float(z.std()) / math.sqrt(n)
    z2 = z**2
    assert abs(float(z2.mean()) - 1) < 4 * float(z2.std()) / math.sqrt(n)


@pytest.mark.parametrize(
    "name",
    [
        "heteroscedastic_sine",
        "seitzer_sine",
        "bishop_inverse",
        "linear_with_outliers",
        "overdispersed_counts",
        "positive_skewed",
        "unit_interval",
    ],
)
def test_samples_have_the_laws_moments(name):
    toy = GENERATORS[name](n=20_000, seed=11)
    law = toy.law(toy.x)
    _standardised_moments_match(toy.y, law.mean, law.stddev)


def test_correlated_2d_moments_and_correlation():
    toy = data.correlated_2d(n=20_000, seed=11)
    law = toy.law(toy.x)
    # whiten with the true Cholesky factor: the result must be standard normal, uncorrelated
    white = torch.linalg.solve_triangular(
        law.scale_tril, (toy.y - law.loc).unsqueeze(-1), upper=False
    ).squeeze(-1)
    n = white.shape[0]
    assert torch.allclose(white.mean(0), torch.zeros(2), atol=4 / math.sqrt(n))
    cov = torch.cov(white.T.double())
    assert torch.allclose(cov, torch.eye(2, dtype=torch.float64), atol=6 * math.sqrt(2 / n))
    # closed form of the covariance at x = 0.5: sigma = (0.3, 0.2), rho = 0.4
    c = toy.law(torch.tensor([[0.5]])).covariance_matrix[0]
    expected = torch.tensor([[0.09, 0.4 * 0.3 * 0.2], [0.4 * 0.3 * 0.2, 0.04]])
    assert torch.allclose(c, expected, atol=1e-6)


def test_heteroscedastic_sine_law_is_detlefsens():
    x = np.linspace(0, 10, 7)
    law = data.heteroscedastic_sine(n=10).law(torch.tensor(x))
    np.testing.assert_allclose(law.mean.numpy(), x * np.sin(x), atol=1e-12)
    np.testing.assert_allclose(law.stddev.numpy(), 0.3 * np.sqrt(1 + x**2), atol=1e-12)


def test_seitzer_sine_grid_and_law():
    toy = data.seitzer_sine(n=1000, seed=0)
    np.testing.assert_allclose(toy.x[:, 0].numpy(), np.linspace(0, 12, 1000), atol=1e-5)
    law = toy.law(toy.x.double())
    np.testing.assert_allclose(
        law.mean.numpy(), 0.4 * np.sin(2 * np.pi * toy.x[:, 0].double().numpy())
    )
    assert float(law.stddev.max()) == pytest.approx(0.01)
    small = data.seitzer_sine(n=101, x_max=2.0)
    assert float(small.x.max()) == pytest.approx(2.0)


def test_overdispersed_counts_law_matches_scipy_nbinom():
    toy = data.overdispersed_counts(n=50, seed=0)
    x = toy.x[:, 0].double()
    law = toy.law(x)
    mu = np.exp(0.5 + 1.5 * x.numpy())
    r = 2.0
    expected = st.nbinom(n=r, p=r / (r + mu)).logpmf(toy.y.numpy())
    np.testing.assert_allclose(law.log_prob(toy.y.double()).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(law.mean.numpy(), mu, rtol=1e-12)
    np.testing.assert_allclose(law.variance.numpy(), mu + mu**2 / r, rtol=1e-12)


def test_positive_skewed_law_matches_scipy_gamma():
    toy = data.positive_skewed(n=50, seed=0, concentration=3.0)
    x = toy.x[:, 0].double()
    mu = np.exp(x.numpy())
    expected = st.gamma(a=3.0, scale=mu / 3.0).logpdf(toy.y.double().numpy())
    np.testing.assert_allclose(toy.law(x).log_prob(toy.y.double()).numpy(), expected, rtol=1e-10)


def test_unit_interval_law_matches_scipy_beta():
    toy = data.unit_interval(n=50, seed=0, precision=20.0)
    x = toy.x[:, 0].double()
    mu = 1 / (1 + np.exp(-(-1.5 + 3.0 * x.numpy())))
    expected = st.beta(mu * 20, (1 - mu) * 20).logpdf(toy.y.double().numpy())
    np.testing.assert_allclose(toy.law(x).log_prob(toy.y.double()).numpy(), expected, rtol=1e-9)


def test_linear_with_outliers_fraction_and_mixture_law():
    toy = data.linear_with_outliers(n=20_000, seed=2, fraction=0.1)
    f = toy.params["outliers"] / 20_000
    assert abs(f - 0.1) < 4 * math.sqrt(0.1 * 0.9 / 20_000)
    xs = torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64)
    law = toy.law(xs)
    line = 0.5 + 2.0 * xs.numpy()
    np.testing.assert_allclose(law.mean.numpy(), line + 0.1 * 4.0, atol=1e-12)
    y = np.array([0.3, 1.0, 4.2])
    expected = np.log(0.9 * st.norm.pdf(y, line, 0.25) + 0.1 * st.norm.pdf(y, line + 4.0, 1.0))
    np.testing.assert_allclose(law.log_prob(torch.tensor(y)).numpy(), expected, rtol=1e-10)
    clean = data.linear_with_outliers(n=200, fraction=0.0)
    assert clean.params["outliers"] == 0


# --- Bishop's inverse problem: a numerical law, checked against independent computations ---


def _bishop_set_length(t, n=400_001):
    # |S(t)| = P(|t - g(x)| < 0.1) for x ~ U(0, 1), on a much finer grid than the law's
    x = np.linspace(0, 1, n)
    return np.mean(np.abs(t - (x + 0.3 * np.sin(2 * np.pi * x))) < 0.1)


def test_bishop_law_density_integrates_to_one_and_matches_uniform_on_branches():
    ts = torch.tensor([0.1, 0.5, 0.62, 0.9], dtype=torch.float64)
    law = data.bishop_inverse(n=10).law(ts)
    grid = torch.linspace(0, 1, 200_001, dtype=torch.float64)
    density = law.log_prob(grid.unsqueeze(-1)).exp()  # (G, 4)
    integral = torch.trapezoid(density, grid, dim=0)
    np.testing.assert_allclose(integral.numpy(), 1.0, atol=2e-3)
    x = np.linspace(0, 1, 1001)
    for i, t in enumerate(ts.tolist()):
        # a point well inside S(t), and the density there: 1 / |S(t)| from a finer grid
        x0 = x[np.argmin(np.abs(t - (x + 0.3 * np.sin(2 * np.pi * x))))]
        value = law.log_prob(torch.full((4,), x0, dtype=torch.float64))[i]
        assert float(value) == pytest.approx(-math.log(_bishop_set_length(t)), abs=2e-3)


def test_bishop_law_pit_is_uniform_and_icdf_inverts_cdf():
    toy = data.bishop_inverse(n=5000, seed=4)
    law = toy.law(toy.x)
    pit = law.cdf(toy.y).numpy()
    assert st.kstest(pit, "uniform").pvalue > 1e-3
    q = torch.tensor([0.1, 0.5, 0.9]).unsqueeze(-1)
    back = law.cdf(law.icdf(q))
    assert torch.allclose(back, q.expand_as(back), atol=1e-3)


def test_bishop_law_mean_matches_monte_carlo():
    # condition by hand: keep draws whose t falls near 0.5, compare E[x | t] with the law's mean
    toy = data.bishop_inverse(n=400_000, seed=9)
    near = (toy.x[:, 0] - 0.5).abs() < 0.005
    mc = toy.y[near].double()
    law = toy.law(torch.tensor([0.5], dtype=torch.float64))
    assert abs(float(mc.mean()) - float(law.mean[0])) < 4 * float(mc.std()) / math.sqrt(len(mc))
    assert float(law.mean[0]) == pytest.approx(0.5, abs=1e-3)
    samples = law.sample((20_000,))
    assert samples.shape == (20_000, 1)
    assert abs(float(samples.std()) - float(law.stddev[0])) < 0.01


# --- real data ---


def test_load_engel_matches_statsmodels():
    import statsmodels.api as sm

    frame = sm.datasets.engel.load_pandas().data
    d = data.load_engel()
    assert d.x.shape == (235, 1) and d.y.shape == (235,)
    assert d.x.dtype == d.y.dtype == torch.float32
    np.testing.assert_allclose(d.x[:, 0].numpy(), frame["income"], rtol=1e-6)
    np.testing.assert_allclose(d.y.numpy(), frame["foodexp"], rtol=1e-6)
    x, y = d
    assert x is d.x and y is d.y


def test_load_strikes_and_randhie():
    s = data.load_strikes()
    assert s.x.shape == (62, 1) and bool((s.y > 0).all()) and s.feature_names == ["iprod"]
    r = data.load_randhie()
    assert r.x.shape == (20190, 9) and r.y.shape == (20190,)
    assert bool((r.y == r.y.round()).all()) and float(r.y.min()) == 0
    assert len(r.feature_names) == 9 and r.target_name == "mdvis"


def test_load_star98_proportions():
    d = data.load_star98()
    assert d.x.shape == (303, 20) and len(d.feature_names) == 20
    above, below = d.extra["n_above"], d.extra["n_below"]
    assert torch.allclose(d.y, above / (above + below))
    assert bool(((d.y > 0) & (d.y < 1)).all())


def test_standardize():
    d = data.load_star98(standardize=True)
    assert torch.allclose(d.x.mean(0), torch.zeros(20), atol=1e-4)
    assert torch.allclose(d.x.std(0, unbiased=False), torch.ones(20), atol=1e-4)
    raw = data.load_star98()
    back = d.x * d.extra["x_std"] + d.extra["x_mean"]
    assert bool(((back - raw.x).abs() <= 1e-5 * raw.x.abs().amax(0)).all())


def test_load_diabetes_and_digits_match_sklearn():
    from sklearn import datasets

    d = data.load_diabetes()
    assert d.x.shape == (442, 10) and d.feature_names[:3] == ["age", "sex", "bmi"]
    np.testing.assert_allclose(d.y.numpy(), datasets.load_diabetes().target, rtol=1e-6)
    g = data.load_digits()
    assert g.x.shape == (1797, 64) and g.x.dtype == torch.float32
    assert float(g.x.min()) == 0.0 and float(g.x.max()) == 1.0
    assert g.y.dtype == torch.int64 and set(g.y.tolist()) == set(range(10))
    np.testing.assert_allclose(g.x.numpy() * 16, datasets.load_digits().data, atol=1e-5)


def test_missing_package_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        data.load_digits()
