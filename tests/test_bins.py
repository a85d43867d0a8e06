"""Tests of cebook.bins against closed forms, numpy/scipy references and round trips: bin
indices (edges, outside the range, a single bin), two-hot and HL-Gauss targets (Farebrother et
al.'s example, scipy's normal CDF, far-away targets), decoding, the density NLL against an explicit
histogram density, and the companding functions."""

import math
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats as st
import torch

import cebook
from cebook.bins import Bins, mu_law_decode, mu_law_encode, symexp, symlog

UNEVEN = [-2.0, -0.5, 0.0, 0.25, 1.0, 3.0]  # five bins of unequal widths


def reference_index(edges, y):
    edges = np.asarray(edges, dtype=np.float64)
    return np.clip(np.searchsorted(edges, np.asarray(y), side="right") - 1, 0, len(edges) - 2)


# ---------------------------------------------------------------------------- construction


def test_uniform_edges_centres_widths():
    bins = Bins.uniform(-1.0, 3.0, 8)
    assert bins.n == len(bins) == 8
    np.testing.assert_allclose(bins.edges.numpy(), np.linspace(-1, 3, 9), atol=1e-7)
    np.testing.assert_allclose(bins.centers.numpy(), np.linspace(-0.75, 2.75, 8), atol=1e-7)
    np.testing.assert_allclose(bins.widths.numpy(), np.full(8, 0.5), atol=1e-7)
    assert bins.edges.dtype == torch.get_default_dtype()
    assert bins.edges.shape == (9,) and bins.centers.shape == (8,) and bins.widths.shape == (8,)
    assert "n=8" in repr(bins)


def test_general_edges_keep_a_float64_tensor_dtype():
    bins = Bins(torch.tensor(UNEVEN, dtype=torch.float64))
    assert bins.edges.dtype == torch.float64
    np.testing.assert_allclose(bins.widths.numpy(), np.diff(UNEVEN))
    np.testing.assert_allclose(bins.centers.numpy(), (np.array(UNEVEN[:-1]) + UNEVEN[1:]) / 2)


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ([0.0, 1.0, 1.0, 2.0], r"Bins: edges must be strictly increasing, got edges\[1\] = 1"),
        ([0.0, 2.0, 1.0], r"Bins: edges must be strictly increasing, got edges\[1\] = 2"),
        ([1.0], r"Bins: edges must be one-dimensional with at least 2 entries, got shape \(1,\)"),
        ([[0.0, 1.0]], r"Bins: edges must be one-dimensional .* got shape \(1, 2\)"),
        ([0.0, math.inf], r"Bins: edges must be finite, got \[0, inf\]"),
        ([0.0, math.nan, 1.0], r"Bins: edges must be finite"),
        ("abc", r"Bins: edges must be numbers"),
    ],
)
def test_bad_edges_raise(edges, message):
    with pytest.raises(ValueError, match=message):
        Bins(edges)


def test_bad_centres_and_constructor_arguments_raise():
    with pytest.raises(ValueError, match=r"Bins: each centre must lie in its bin, got centers \[3"):
        Bins([0.0, 1.0, 2.0], centers=[0.5, 3.0])
    with pytest.raises(ValueError, match=r"Bins: centers must have shape \(2,\)"):
        Bins([0.0, 1.0, 2.0], centers=[0.5])
    with pytest.raises(ValueError, match=r"Bins: centers must be strictly increasing, got \[1"):
        Bins([0.0, 1.0, 2.0], centers=[1.0, 1.0])  # each in its bin, on their shared edge
    with pytest.raises(ValueError, match="Bins.uniform: n must be a positive int, got 0"):
        Bins.uniform(0.0, 1.0, 0)
    with pytest.raises(ValueError, match="Bins.uniform: low and high must be finite with low < h"):
        Bins.uniform(1.0, 1.0, 3)
    with pytest.raises(ValueError, match="Bins.mu_law: mu must be a positive finite number, got 0"):
        Bins.mu_law(8, mu=0.0)
    with pytest.raises(ValueError, match="Bins.mu_law: n must be a positive int, got 2.5"):
        Bins.mu_law(2.5)


def test_mu_law_bins_follow_the_companding():
    bins = Bins.mu_law(256)
    assert bins.n == 256
    mu = 255.0
    grid = np.linspace(-1, 1, 513)
    decoded = np.sign(grid) * ((1 + mu) ** np.abs(grid) - 1) / mu  # f^{-1}, written out
    np.testing.assert_allclose(bins.edges.numpy(), decoded[0::2], atol=1e-7)
    np.testing.assert_allclose(bins.centers.numpy(), decoded[1::2], atol=1e-7)
    edges, centers = bins.edges.double(), bins.centers.double()
    assert bool(((centers > edges[:-1]) & (centers < edges[1:])).all())
    # symmetric about 0, finest in the middle: the outer bin is (1+mu)^(2/256) / ... wider
    np.testing.assert_allclose(bins.edges.numpy(), -bins.edges.flip(0).numpy(), atol=1e-7)
    ratio = float(bins.widths[-1] / bins.widths[128])
    expected = ((1 + mu) ** 1 - (1 + mu) ** (254 / 256)) / ((1 + mu) ** (2 / 256) - 1)
    assert ratio == pytest.approx(expected, rel=1e-4)
    # the decoded centre of a positive bin lies below its arithmetic midpoint (convex f^{-1})
    midpoints = (edges[:-1] + edges[1:]) / 2
    assert bool((centers[128:] < midpoints[128:]).all())


# ---------------------------------------------------------------------------- index


def test_index_on_edges_inside_and_outside():
    bins = Bins(UNEVEN)
    y = torch.tensor([-9.0, -2.0, -1.0, -0.5, -1e-7, 0.0, 0.25, 0.9, 1.0, 2.999, 3.0, 3.5, 1e30])
    got = bins.index(y)
    assert got.dtype == torch.long and got.shape == y.shape
    np.testing.assert_array_equal(got.numpy(), reference_index(UNEVEN, y.numpy()))
    # an inner edge opens its bin, the top edge belongs to the last bin
    assert bins.index(torch.tensor(0.25)).item() == 3
    assert bins.index(3.0).item() == 4
    assert bins.index(torch.tensor([-math.inf, math.inf])).tolist() == [0, 4]


def test_index_random_values_match_numpy():
    generator = torch.Generator().manual_seed(0)
    y = torch.empty(2000, dtype=torch.float64).uniform_(-4.0, 5.0, generator=generator)
    np.testing.assert_array_equal(Bins(UNEVEN).index(y).numpy(), reference_index(UNEVEN, y.numpy()))


def test_strided_targets_and_mu_law_edges_raise_no_warning():
    # torch.bucketize warns (once per process) on strided inputs; run in a fresh one.
    code = (
        "import torch; from cebook.bins import Bins\n"
        "y = torch.rand(4, 3).T\n"
        "for bins in (Bins.mu_law(8), Bins.uniform(0.0, 1.0, 4)):\n"
        "    bins.index(y); bins.two_hot(y); bins.hl_gauss(y)\n"
    )
    command = [sys.executable, "-W", "error", "-c", code]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_index_rejects_nan_only_with_validation():
    bins = Bins.uniform(0.0, 1.0, 4)
    with pytest.raises(ValueError, match=r"^Bins.index: y must be a number \(not NaN\), got nan$"):
        bins.index(torch.tensor([0.5, math.nan]))
    with cebook.validation(False):
        bins.index(torch.tensor([0.5, math.nan]))  # no check, no error


def test_single_bin():
    bins = Bins([2.0, 5.0])
    y = torch.tensor([1.0, 2.0, 3.3, 5.0, 9.0])
    assert bins.index(y).tolist() == [0] * 5
    assert torch.equal(bins.two_hot(y), torch.ones(5, 1))
    assert torch.allclose(bins.hl_gauss(y), torch.ones(5, 1))
    logits = torch.randn(5, 1)
    assert torch.allclose(bins.decode(logits), torch.full((5,), 3.5))
    for method in ("mode", "interpolate"):
        assert torch.allclose(bins.decode(logits, method), torch.full((5,), 3.5))
    inside = torch.tensor([2.0, 3.3, 5.0, 4.0, 2.5])
    nll = bins.density_nll(logits, inside, reduction="none")
    assert torch.allclose(nll, torch.full((5,), math.log(3.0)))  # uniform density 1/3


# ---------------------------------------------------------------------------- two-hot


def test_two_hot_has_mean_y_on_two_neighbouring_centres():
    bins = Bins(UNEVEN)
    centers = bins.centers.double()
    generator = torch.Generator().manual_seed(1)
    y = torch.empty(500, dtype=torch.float64).uniform_(
        float(centers[0]), float(centers[-1]), generator=generator
    )
    probs = bins.two_hot(y)
    assert probs.shape == (500, 5) and probs.dtype == torch.float64
    assert torch.allclose(probs.sum(-1), torch.ones(500, dtype=torch.float64))
    assert torch.allclose(probs @ centers, y, atol=1e-12)  # the defining property
    assert bool((probs >= 0).all())
    support = probs > 0
    assert bool((support.sum(-1) <= 2).all())
    first = support.int().argmax(-1)
    # the mass sits on the centres just below and just above y
    np.testing.assert_array_less(centers[first].numpy(), y.numpy() + 1e-12)
    top = (first + support.sum(-1) - 1).clamp(max=4)
    np.testing.assert_array_less(y.numpy(), centers[top].numpy() + 1e-12)


def test_two_hot_muzero_example_centres_and_clamping():
    bins = Bins(torch.arange(-0.5, 5.0))  # centres 0, 1, 2, 3, 4
    assert torch.allclose(bins.two_hot(torch.tensor(3.7)), torch.tensor([0, 0, 0, 0.3, 0.7]))
    assert torch.equal(bins.two_hot(torch.tensor(2.0)), torch.tensor([0.0, 0, 1, 0, 0]))
    assert torch.equal(bins.two_hot(torch.tensor(4.0)), torch.tensor([0.0, 0, 0, 0, 1]))
    # outside the centres, including the half bins at the ends: the end centre
    outside = bins.two_hot(torch.tensor([-0.4, -100.0, 4.3, 1e9]))
    assert torch.equal(outside[:2], torch.tensor([[1.0, 0, 0, 0, 0]] * 2))
    assert torch.equal(outside[2:], torch.tensor([[0.0, 0, 0, 0, 1]] * 2))


def test_two_hot_two_bins_and_shapes():
    bins = Bins([0.0, 1.0, 2.0])  # centres 0.5 and 1.5
    y = torch.tensor([[0.5, 0.75], [1.25, 1.5]])
    probs = bins.two_hot(y)
    assert probs.shape == (2, 2, 2)
    expected = torch.tensor([[[1.0, 0.0], [0.75, 0.25]], [[0.25, 0.75], [0.0, 1.0]]])
    assert torch.allclose(probs, expected)


# ---------------------------------------------------------------------------- HL-Gauss


def test_hl_gauss_matches_the_paper_example():
    probs = Bins.uniform(0.0, 1.0, 10).hl_gauss(torch.tensor(0.5), sigma=0.075)
    expected = [0, 3.2e-5, 0.003799, 0.087381, 0.408789, 0.408789, 0.087381, 0.003799, 3.2e-5, 0]
    np.testing.assert_allclose(np.round(probs.numpy(), 6), expected, atol=1e-12)
    assert float(probs.sum()) == pytest.approx(1.0, abs=1e-6)


def test_hl_gauss_against_scipy_normal_cdf_on_uneven_bins():
    edges = np.array(UNEVEN)
    bins = Bins(UNEVEN)
    y = torch.tensor([-2.5, -1.0, 0.1, 0.3, 2.9, 3.4], dtype=torch.float64)
    sigma = torch.tensor([0.3, 0.5, 0.05, 1.0, 0.2, 2.0], dtype=torch.float64)
    probs = bins.hl_gauss(y, sigma)
    for row, yi, si in zip(probs.numpy(), y.numpy(), sigma.numpy(), strict=True):
        # scipy's cdf below the mean, its survival function above (no cancellation)
        upper = (edges[:-1] + edges[1:]) / 2 > yi
        cdf, sf = st.norm.cdf(edges, yi, si), st.norm.sf(edges, yi, si)
        mass = np.where(upper, sf[:-1] - sf[1:], cdf[1:] - cdf[:-1])
        total = sf[0] - sf[-1] if edges.mean() > yi else cdf[-1] - cdf[0]
        reference = mass / total
        np.testing.assert_allclose(row, reference, rtol=1e-9, atol=1e-15)


def test_hl_gauss_default_sigma_is_three_quarters_of_the_bin_width():
    uniform = Bins.uniform(-1.0, 1.0, 20)
    y = torch.tensor([-0.33, 0.0, 0.71])
    assert torch.allclose(uniform.hl_gauss(y), uniform.hl_gauss(y, sigma=0.075), atol=1e-7)
    uneven = Bins(UNEVEN)  # y = 2.0 lies in [1, 3): width 2, sigma 1.5
    assert torch.allclose(uneven.hl_gauss(torch.tensor(2.0)), uneven.hl_gauss(2.0, sigma=1.5))


def test_hl_gauss_far_outside_is_one_hot_on_the_end_bin_never_nan():
    bins = Bins.uniform(0.0, 1.0, 10)
    y = torch.tensor([-1e30, -50.0, -3.0, 1.0 + 40 * 0.075, 1e6, math.inf, -math.inf])
    probs = bins.hl_gauss(y, sigma=0.075)
    assert bool(torch.isfinite(probs).all())
    assert torch.allclose(probs.sum(-1), torch.ones(7))
    first, last = torch.eye(10)[0], torch.eye(10)[-1]
    for row, value in zip(probs, y.tolist(), strict=True):
        assert torch.allclose(row, first if value < 0 else last, atol=1e-6)
    # just outside: mostly the end bin, still a proper spread
    near = bins.hl_gauss(torch.tensor(1.05), sigma=0.075)
    assert 0.5 < float(near[-1]) < 1.0 and float(near[-2]) > 0.01


def test_hl_gauss_follows_the_input_dtype_and_checks_sigma():
    bins = Bins.uniform(0.0, 1.0, 10)
    assert bins.hl_gauss(torch.tensor([0.2], dtype=torch.float64)).dtype == torch.float64
    assert bins.hl_gauss(torch.tensor([0.2])).dtype == torch.float32
    assert bins.hl_gauss(0.2).shape == (10,)
    with pytest.raises(ValueError, match="^Bins.hl_gauss: sigma must be > 0, got 0$"):
        bins.hl_gauss(torch.tensor(0.5), sigma=0.0)
    with pytest.raises(ValueError, match=r"^Bins.hl_gauss: sigma must be > 0, got -1$"):
        bins.hl_gauss(torch.tensor([0.5, 0.4]), sigma=torch.tensor([0.1, -1.0]))
    with pytest.raises(ValueError, match=r"sigma of shape \(3,\) must broadcast to y's shape"):
        bins.hl_gauss(torch.tensor([0.5, 0.4]), sigma=torch.ones(3))


# ---------------------------------------------------------------------------- decode


def test_decode_mean_and_mode_against_explicit_formulas():
    bins = Bins(UNEVEN)
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(7, 5, generator=generator, dtype=torch.float64)
    probs = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(-1, keepdims=True)
    centers = (np.array(UNEVEN[:-1]) + UNEVEN[1:]) / 2
    np.testing.assert_allclose(bins.decode(logits).numpy(), probs @ centers, rtol=1e-12)
    np.testing.assert_allclose(
        bins.decode(logits, "mode").numpy(), centers[logits.numpy().argmax(-1)]
    )
    assert bins.decode(logits).dtype == torch.float64


def test_decode_interpolate_is_exact_for_quadratic_logits_on_any_spacing():
    bins = Bins(UNEVEN)
    centers = bins.centers.double()
    for peak in [-0.6, -0.2, 0.1, 0.4, 0.9, 1.2]:
        logits = -((centers - peak) ** 2) / (2 * 0.4**2)
        k = int(logits.argmax())
        assert 0 < k < 4
        assert float(bins.decode(logits, "interpolate")) == pytest.approx(peak, abs=1e-12)


def test_decode_interpolate_stays_near_the_mode_and_falls_back_at_the_ends():
    bins = Bins.uniform(0.0, 1.0, 10)
    generator = torch.Generator().manual_seed(3)
    logits = 3 * torch.randn(200, 10, generator=generator)
    mode = bins.decode(logits, "mode")
    refined = bins.decode(logits, "interpolate")
    assert bool(((refined - mode).abs() <= 0.05 + 1e-6).all())  # half a bin
    at_end = (logits.argmax(-1) == 0) | (logits.argmax(-1) == 9)
    assert bool(at_end.any()) and torch.equal(refined[at_end], mode[at_end])
    flat = torch.zeros(10)
    flat[4:6] = 1.0  # a plateau: the parabola through 0, 1, 1 peaks half-way
    assert float(bins.decode(flat, "interpolate")) == pytest.approx(0.5, abs=1e-6)


def test_decode_on_peaked_logits_gives_the_peak_centre():
    bins = Bins.uniform(-1.0, 1.0, 40)
    logits = torch.full((3, 40), -30.0)
    logits[0, 7] = logits[1, 20] = logits[2, 39] = 30.0
    expected = bins.centers[[7, 20, 39]]
    for method in ("mean", "mode", "interpolate"):
        assert torch.allclose(bins.decode(logits, method), expected, atol=1e-6), method


def test_decode_errors():
    bins = Bins.uniform(0.0, 1.0, 4)
    with pytest.raises(ValueError, match="Bins.decode: method must be 'mean', 'mode' or 'inter"):
        bins.decode(torch.zeros(4), "median")
    with pytest.raises(ValueError, match=r"4 entries \(one per bin\) .* got shape \(2, 5\)"):
        bins.decode(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="Bins.decode: logits must be a floating tensor"):
        bins.decode(torch.zeros(4, dtype=torch.long))


# ---------------------------------------------------------------------------- density NLL


def test_density_nll_equals_the_histogram_density():
    edges = np.array(UNEVEN)
    bins = Bins(UNEVEN)
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(300, 5, generator=generator, dtype=torch.float64)
    target = torch.empty(300, dtype=torch.float64).uniform_(-2.0, 3.0, generator=generator)
    target[:6] = torch.tensor(UNEVEN, dtype=torch.float64)  # every edge, both ends included
    probs = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(-1, keepdims=True)
    k = reference_index(edges, target.numpy())
    density = probs[np.arange(300), k] / np.diff(edges)[k]  # piecewise-constant density
    got = bins.density_nll(logits, target, reduction="none")
    np.testing.assert_allclose(got.numpy(), -np.log(density), rtol=1e-12)
    assert float(bins.density_nll(logits, target)) == pytest.approx(-np.log(density).mean())
    assert float(bins.density_nll(logits, target, reduction="sum")) == pytest.approx(
        -np.log(density).sum()
    )
    # = the framework's cross-entropy of the target's bin plus log(width)
    ce = torch.nn.functional.cross_entropy(logits, torch.as_tensor(k), reduction="none")
    np.testing.assert_allclose(got.numpy(), ce.numpy() + np.log(np.diff(edges)[k]), rtol=1e-12)


def test_density_nll_of_fine_gaussian_bins_tends_to_the_gaussian_nll():
    # Bin probabilities of N(0.3, 0.5^2) on fine bins: density_nll -> -log phi(y).
    bins = Bins(torch.linspace(-4.0, 4.0, 4001, dtype=torch.float64))
    edges = bins.edges.numpy()
    mass = np.diff(st.norm.cdf(edges, loc=0.3, scale=0.5))
    logits = torch.log(torch.as_tensor(mass)).expand(5, -1)
    y = torch.as_tensor((edges[:-1] + edges[1:]) / 2)[[1250, 1990, 2150, 2385, 2950]]
    got = bins.density_nll(logits, y, reduction="none").numpy()
    # at a bin's centre the mean density over the bin is phi(y) (1 + O(width^2))
    np.testing.assert_allclose(got, -st.norm.logpdf(y.numpy(), 0.3, 0.5), atol=1e-5)
    # without the log(width) term the two differ by log(width) = log(0.002)
    ce = torch.nn.functional.cross_entropy(logits, bins.index(y), reduction="none").numpy()
    np.testing.assert_allclose(ce - got, -math.log(0.002), atol=1e-9)


def test_density_nll_rejects_targets_outside_and_bad_shapes():
    bins = Bins.uniform(0.0, 1.0, 4)
    logits = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"Bins.density_nll: target must be within the bins' r"):
        bins.density_nll(logits, torch.tensor([0.5, 1.5, -0.1]))
    with pytest.raises(ValueError, match=r"range \[0, 1\], got 1.5$"):
        bins.density_nll(logits, torch.tensor([0.5, 1.5, -0.1]))
    with pytest.raises(ValueError, match=r"bin dimension \(3,\) and target \(3, 1\)"):
        bins.density_nll(logits, torch.zeros(3, 1))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'max'"):
        bins.density_nll(logits, torch.zeros(3), reduction="max")
    with cebook.validation(False):  # no check: the end bins take the values outside
        out = bins.density_nll(logits, torch.tensor([0.5, 1.5, -0.1]), reduction="none")
    assert torch.allclose(out, torch.full((3,), 0.0), atol=1e-6)  # log 4 + log 0.25


def test_density_nll_gradient_is_softmax_minus_one_hot():
    bins = Bins.uniform(0.0, 1.0, 4)
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.1]], requires_grad=True)
    bins.density_nll(logits, torch.tensor([0.6]), reduction="sum").backward()
    expected = torch.softmax(logits.detach(), -1) - torch.tensor([[0.0, 0, 1, 0]])
    assert torch.allclose(logits.grad, expected)


# ---------------------------------------------------------------------------- companding


def test_mu_law_encode_matches_the_formula_and_round_trips():
    x = np.linspace(-1, 1, 2001)
    for mu in (255.0, 15.0, 1e-3):
        encoded = mu_law_encode(torch.as_tensor(x), mu)
        expected = np.sign(x) * np.log(1 + mu * np.abs(x)) / np.log(1 + mu)
        np.testing.assert_allclose(encoded.numpy(), expected, atol=1e-12)
        np.testing.assert_allclose(mu_law_decode(encoded, mu).numpy(), x, atol=1e-12)
    assert mu_law_encode(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [-1.0, 0.0, 1.0]
    assert mu_law_encode(0.5).dtype == torch.get_default_dtype()
    assert mu_law_encode(torch.tensor([0.5], dtype=torch.float64)).dtype == torch.float64


def test_mu_law_quantisation_matches_wavenet_levels():
    # torchaudio's mu_law_encoding: int((f(x) + 1) / 2 * 255 + 0.5)
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)
    levels = ((mu_law_encode(x) + 1) / 2 * 255 + 0.5).floor()
    assert levels.min() == 0 and levels.max() == 255
    xs = x.numpy()
    expected = np.floor(
        (np.sign(xs) * np.log1p(255 * np.abs(xs)) / np.log(256) + 1) / 2 * 255 + 0.5
    )
    np.testing.assert_array_equal(levels.numpy(), expected)


def test_mu_law_rejects_values_outside_the_unit_interval():
    with pytest.raises(ValueError, match=r"^mu_law_encode: x must be in \[-1, 1\], got 1.5$"):
        mu_law_encode(torch.tensor([0.2, 1.5]))
    with pytest.raises(ValueError, match=r"^mu_law_decode: y must be in \[-1, 1\], got -2$"):
        mu_law_decode(torch.tensor([-2.0]))
    with pytest.raises(ValueError, match="mu_law_encode: mu must be a positive finite number"):
        mu_law_encode(torch.tensor([0.2]), mu=-1.0)
    with cebook.validation(False):
        assert torch.isfinite(mu_law_encode(torch.tensor([1.5]))).all()


def test_symlog_symexp():
    x = torch.tensor([-1e6, -20.0, -1.0, -1e-4, 0.0, 1e-4, 0.5, 3.0, 1e6], dtype=torch.float64)
    xs = x.numpy()
    np.testing.assert_allclose(symlog(x).numpy(), np.sign(xs) * np.log1p(np.abs(xs)), rtol=1e-15)
    np.testing.assert_allclose(symexp(symlog(x)).numpy(), x.numpy(), rtol=1e-12)
    np.testing.assert_allclose(symlog(symexp(x[1:-1])).numpy(), x[1:-1].numpy(), rtol=1e-12)
    assert torch.equal(symlog(-x), -symlog(x))  # odd
    zero = torch.zeros((), requires_grad=True)
    symlog(zero).backward()
    assert float(zero.grad) == 1.0  # the identity near 0
    assert symlog(3).dtype == torch.get_default_dtype()
    # DreamerV3: bins equally spaced in symlog space on [-20, 20], decoded by symexp
    bins = Bins(torch.linspace(-20, 20, 256, dtype=torch.float64))
    value = torch.tensor(1234.5, dtype=torch.float64)
    assert float(symexp(bins.two_hot(symlog(value)) @ bins.centers)) == pytest.approx(1234.5)


# ---------------------------------------------------------------------------- devices, compile


def test_methods_follow_the_input_device_and_dtype():
    # The meta device holds no data: every method must place its tables on the input's device
    # (validation off: the checks would read the data back).
    bins = Bins.uniform(0.0, 1.0, 10)
    y, logits = torch.empty(3, device="meta"), torch.empty(3, 10, device="meta")
    with cebook.validation(False):
        outputs = [
            bins.index(y),
            bins.two_hot(y),
            bins.hl_gauss(y),
            bins.hl_gauss(y, sigma=0.1),
            bins.decode(logits),
            bins.decode(logits, "mode"),
            bins.decode(logits, "interpolate"),
            bins.density_nll(logits, y),
            mu_law_encode(y),
            mu_law_decode(y),
            symlog(y),
            symexp(y),
        ]
    assert all(out.device.type == "meta" for out in outputs)
    y64 = torch.rand(3, dtype=torch.float64)
    for out in (bins.two_hot(y64), bins.hl_gauss(y64), bins.decode(torch.zeros(3, 10).double())):
        assert out.dtype == torch.float64


def test_a_training_step_compiles_whole_with_validation_off():
    bins = Bins.uniform(0.0, 1.0, 10)

    def step(logits, y):
        return (
            bins.density_nll(logits, y)
            + torch.nn.functional.cross_entropy(logits, bins.hl_gauss(y))
            + torch.nn.functional.cross_entropy(logits, bins.two_hot(y))
            + bins.decode(logits, "interpolate").sum()
        )

    logits, y = torch.randn(4, 10), torch.rand(4)
    torch._dynamo.reset()
    with cebook.validation(False):
        compiled = torch.compile(step, fullgraph=True, backend="eager")
        assert torch.allclose(compiled(logits, y), step(logits, y))
