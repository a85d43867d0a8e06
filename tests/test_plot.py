"""Tests of cebook.plot: each figure drawn on the Agg backend, its artists checked against scipy;
importing the module changes nothing; the style is applied only when asked."""

import subprocess
import sys
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.stats as st  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from torch import distributions as D  # noqa: E402

from cebook import plot  # noqa: E402


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def _band(ax):
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    return band


def _band_edges(ax, x):
    # fill_between's polygon: the lower edge left to right, then the upper edge right to left
    vertices = _band(ax).get_paths()[0].vertices
    n = len(x)
    lower = vertices[1 : n + 1, 1]
    upper = vertices[n + 2 : 2 * n + 2, 1][::-1]
    return lower, upper


def test_import_changes_neither_backend_nor_rcparams():
    code = """
import sys, matplotlib
def snapshot():  # every rcParam but "backend", whose lookup would resolve the backend
    return {k: matplotlib.rcParams[k] for k in matplotlib.rcParams if k != "backend"}
backend = matplotlib.rcParams._get_backend_or_none()
rc = snapshot()
import cebook.plot
assert matplotlib.rcParams._get_backend_or_none() == backend, "backend resolved or switched"
assert snapshot() == rc, "rcParams changed"
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
print("clean")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_use_style_and_style_context():
    with matplotlib.rc_context():
        plot.use_style()
        assert tuple(matplotlib.rcParams["figure.figsize"]) == (6.0, 3.5)
        assert matplotlib.rcParams["figure.dpi"] == 110
        colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        assert colors[:3] == ["#0072B2", "#D55E00", "#009E73"]
    before = dict(matplotlib.rcParams)
    with plot.style():
        assert matplotlib.rcParams["axes.grid"] is True
    assert dict(matplotlib.rcParams) == before


def test_predictive_band_normal_uses_exact_quantiles_and_draws_truth_and_data(ax):
    x = torch.linspace(-1, 1, 30).flip(0)  # unsorted on purpose
    loc, scale = torch.sin(3 * x), 0.1 + 0.2 * x.abs()
    out = plot.predictive_band(
        ax,
        x.unsqueeze(-1),
        D.Normal(loc, scale),
        truth=D.Normal(loc + 0.1, scale),
        x_data=x,
        y_data=loc,
        label="net",
        level=0.8,
    )
    assert out is ax
    labels = [line.get_label() for line in ax.lines]
    assert labels[0] == "net: mean" and "truth: mean" in labels and "truth: 80% interval" in labels
    assert ax.lines[labels.index("truth: mean")].get_linestyle() == "--"
    assert len(ax.collections) == 2  # the data scatter and the band
    order = np.argsort(x.numpy())
    lower, upper = _band_edges(ax, x)
    expected_lo = st.norm.ppf(0.1, loc.numpy(), scale.numpy())[order]
    expected_hi = st.norm.ppf(0.9, loc.numpy(), scale.numpy())[order]
    np.testing.assert_allclose(lower, expected_lo, atol=1e-5)
    np.testing.assert_allclose(upper, expected_hi, atol=1e-5)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), loc.numpy()[order], atol=1e-6)
    assert ax.get_legend() is not None


@pytest.mark.parametrize(
    "make, reference",
    [
        (lambda x: D.Gamma(2 + x, torch.ones_like(x)), lambda x, q: st.gamma.ppf(q, 2 + x)),
        (
            lambda x: D.MixtureSameFamily(
                D.Categorical(probs=torch.tensor([0.3, 0.7]).expand(len(x), 2)),
                D.Normal(torch.stack([x - 1, x + 1], -1), torch.ones(len(x), 2) * 0.5),
            ),
            None,
        ),
    ],
    ids=["gamma", "mixture"],
)
def test_predictive_band_by_bisection_on_the_cdf(ax, make, reference):
    x = torch.linspace(0, 2, 11, dtype=torch.float64)
    plot.predictive_band(ax, x, make(x), level=0.9)
    lower, upper = _band_edges(ax, x)
    if reference is None:  # the mixture's quantile: solve its cdf with scipy's root finder
        from scipy.optimize import brentq

        def cdf(v, xi):
            return 0.3 * st.norm.cdf(v, xi - 1, 0.5) + 0.7 * st.norm.cdf(v, xi + 1, 0.5)

        expected_lo = [brentq(lambda v, xi=xi: cdf(v, xi) - 0.05, -10, 10) for xi in x.numpy()]
        expected_hi = [brentq(lambda v, xi=xi: cdf(v, xi) - 0.95, -10, 10) for xi in x.numpy()]
    else:
        expected_lo, expected_hi = reference(x.numpy(), 0.05), reference(x.numpy(), 0.95)
    np.testing.assert_allclose(lower, expected_lo, atol=1e-6)
    np.testing.assert_allclose(upper, expected_hi, atol=1e-6)


def test_predictive_band_from_seeded_samples_leaves_the_global_rng_alone(ax):
    x = torch.linspace(0, 1, 20)
    law = D.Poisson(5 + 10 * x)  # no icdf, no cdf: quantiles from samples
    torch.manual_seed(123)
    state = torch.get_rng_state()
    plot.predictive_band(ax, x, law, n_samples=20_000)
    assert torch.equal(torch.get_rng_state(), state)
    lower, upper = _band_edges(ax, x)
    rate = (5 + 10 * x).numpy()
    # sample quantiles of a discrete law sit within one count of scipy's
    assert np.all(np.abs(lower - st.poisson.ppf(0.05, rate)) <= 1.0)
    assert np.all(np.abs(upper - st.poisson.ppf(0.95, rate)) <= 1.0)
    fig2, ax2 = plt.subplots()
    plot.predictive_band(ax2, x, law, n_samples=20_000)
    np.testing.assert_array_equal(_band_edges(ax2, x)[0], lower)  # same seed, same band
    plt.close(fig2)


def test_predictive_band_rejects_bad_input(ax):
    x = torch.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="one law per x"):
        plot.predictive_band(ax, x, D.Normal(torch.zeros(4), 1.0))
    with pytest.raises(ValueError, match="univariate"):
        plot.predictive_band(ax, x, D.MultivariateNormal(torch.zeros(5, 2), torch.eye(2)))
    with pytest.raises(ValueError, match="level"):
        plot.predictive_band(ax, x, D.Normal(x, 1.0), level=1.5)
    with pytest.raises(ValueError, match="both x_data and y_data"):
        plot.predictive_band(ax, x, D.Normal(x, 1.0), x_data=x)


def test_pit_histogram(ax):
    u = torch.rand(1000, generator=torch.Generator().manual_seed(0))
    out = plot.pit_histogram(ax, u, n_bins=8)
    assert out is ax
    heights = [p.get_height() for p in ax.patches if p.get_width() == pytest.approx(1 / 8)]
    assert len(heights) == 8
    assert np.mean(heights) == pytest.approx(1.0)  # a density on [0, 1]
    counts = np.histogram(u.numpy(), bins=np.linspace(0, 1, 9))[0]
    np.testing.assert_allclose(heights, counts * 8 / 1000)
    reference = [line for line in ax.lines if line.get_label() == "uniform"]
    assert len(reference) == 1 and list(reference[0].get_ydata()) == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        plot.pit_histogram(ax, torch.tensor([0.5, 1.5]))
    # a rounding overshoot is named to full precision, not printed as "1"
    with pytest.raises(ValueError, match=r"got range \[0\.5, 1\.0000001\d*\]"):
        plot.pit_histogram(ax, torch.tensor([0.5, 1.0000001], dtype=torch.float64))


def test_reliability_diagram(ax):
    nominal = torch.tensor([0.5, 0.8, 0.9])
    observed = torch.tensor([0.4, 0.7, 0.85])
    out = plot.reliability_diagram(ax, nominal, observed, label="Gaussian")
    assert out is ax
    ideal, model = ax.lines
    assert list(ideal.get_xdata()) == [0, 1] and list(ideal.get_ydata()) == [0, 1]
    np.testing.assert_allclose(model.get_ydata(), observed.numpy())
    assert model.get_label() == "Gaussian"
    with pytest.raises(ValueError, match="same length"):
        plot.reliability_diagram(ax, nominal, observed[:2])


def test_bin_probabilities_with_bins_target_and_truth(ax):
    from cebook.bins import Bins

    bins = Bins.uniform(-1.0, 1.0, 8)
    probs = torch.softmax(-(bins.centers**2) * 4, -1)
    truth = D.Normal(torch.tensor(0.0), torch.tensor(0.4))
    out = plot.bin_probabilities(ax, bins, probs, target=torch.tensor(0.2), truth=truth)
    assert out is ax
    assert len(ax.patches) == 8
    np.testing.assert_allclose([p.get_height() for p in ax.patches], probs.numpy(), rtol=1e-6)
    np.testing.assert_allclose([p.get_width() for p in ax.patches], 0.25, rtol=1e-6)
    labels = [line.get_label() for line in ax.lines]
    assert "target" in labels and "truth" in labels
    mass = ax.lines[labels.index("truth")].get_ydata()
    edges = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(mass, np.diff(st.norm.cdf(edges, 0, 0.4)), atol=1e-6)


def test_bin_probabilities_density_with_uneven_bins(ax):
    edges = torch.tensor([0.0, 0.1, 0.3, 0.7, 1.5])
    bins = SimpleNamespace(edges=edges, centers=(edges[1:] + edges[:-1]) / 2, widths=edges.diff())
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    plot.bin_probabilities(ax, bins, probs, density=True, truth=D.Exponential(torch.tensor(1.0)))
    np.testing.assert_allclose(
        [p.get_height() for p in ax.patches], (probs / edges.diff()).numpy(), rtol=1e-6
    )
    (truth,) = ax.lines
    grid, values = truth.get_xdata(), truth.get_ydata()
    np.testing.assert_allclose(values, st.expon.pdf(grid), rtol=1e-5)
    assert ax.get_ylabel() == "probability density"
    with pytest.raises(ValueError, match="one entry per bin"):
        plot.bin_probabilities(ax, bins, torch.ones(3) / 3)
