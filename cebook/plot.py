r"""The book's figures: predictive bands beside the true law, PIT histograms, reliability diagrams
and predicted probabilities over bins.

Every function draws on a Matplotlib ``Axes`` that the caller created, accepts tensors on any device
(they are moved to the CPU) and returns the ``Axes``. Importing this module changes nothing: it
selects no backend and leaves ``rcParams`` alone; chapters call :func:`use_style` once (or use
:func:`style` as a context manager) to get the book's look.

>>> import matplotlib
>>> matplotlib.use("Agg")  # the book's pages use the inline backend; tests use Agg
>>> import matplotlib.pyplot as plt, torch
>>> from cebook import plot
>>> with plot.style():
...     fig, ax = plt.subplots()
...     x = torch.linspace(0, 1, 50)
...     ax = plot.predictive_band(ax, x, torch.distributions.Normal(x, 0.1))
>>> plt.close(fig)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import distributions as D

try:
    import matplotlib as mpl
    from cycler import cycler  # installed with matplotlib
except ImportError as error:  # matplotlib is an optional dependency: the plot extra
    raise ImportError(
        "cebook.plot needs matplotlib; install it with `pip install 'cebook[plot]'`"
    ) from error

if TYPE_CHECKING:  # pragma: no cover - for annotations only
    from matplotlib.axes import Axes
    from matplotlib.typing import RcKeyType

    from cebook.bins import Bins

__all__ = [
    "COLORS",
    "RC_PARAMS",
    "use_style",
    "style",
    "predictive_band",
    "pit_histogram",
    "reliability_diagram",
    "bin_probabilities",
]

#: Okabe & Ito's colour-blind-safe palette (blue, vermillion, bluish green, reddish purple,
#: orange, sky blue, yellow, black).
COLORS: list[str] = [
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
]

#: The book's ``rcParams``, applied by :func:`use_style` and :func:`style`.
RC_PARAMS: dict[RcKeyType, Any] = {
    "figure.figsize": (6.0, 3.5),
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=COLORS),
    "lines.linewidth": 1.8,
    "legend.frameon": False,
    "image.cmap": "viridis",
}

_TRUTH_COLOR = "black"
_DATA_COLOR = "0.55"


def use_style() -> None:
    """Apply the book's Matplotlib style (:data:`RC_PARAMS`) for the rest of the session.

    Readable font sizes, a light grid, a 6 × 3.5 inch figure at 110 dpi and Okabe & Ito's
    colour-blind-safe colour cycle. Every chapter of the book calls it once, after its imports;
    importing :mod:`cebook.plot` does not.

    Examples
    --------
    >>> import matplotlib
    >>> from cebook.plot import use_style
    >>> with matplotlib.rc_context():  # restore the caller's style afterwards
    ...     use_style()
    ...     tuple(matplotlib.rcParams["figure.figsize"])
    (6.0, 3.5)
    """
    mpl.rcParams.update(RC_PARAMS)


@contextmanager
def style() -> Iterator[None]:
    """Apply the book's style inside a ``with`` block only (``matplotlib.rc_context``).

    Examples
    --------
    >>> import matplotlib
    >>> from cebook.plot import style
    >>> before = matplotlib.rcParams["axes.grid"]
    >>> with style():
    ...     matplotlib.rcParams["axes.grid"]
    True
    >>> matplotlib.rcParams["axes.grid"] == before
    True
    """
    with mpl.rc_context(RC_PARAMS):
        yield


# --------------------------------------------------------------------------------------------
# helpers


def _cpu(value: Any, name: str, caller: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64).numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{caller}: {name} must be a tensor or an array") from error


def _flat(value: Any, name: str, caller: str) -> np.ndarray:
    array = _cpu(value, name, caller)
    if array.ndim == 2 and array.shape[-1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{caller}: {name} must be 1-D (or (n, 1)), got shape {array.shape}")
    return array


def _seeded_samples(dist: D.Distribution, n: int, seed: int) -> torch.Tensor:
    """Draw ``n`` samples with a fixed seed, restoring every global generator afterwards."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    mps_state = None
    if torch.backends.mps.is_available():
        mps_state = torch.mps.get_rng_state()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            with torch.no_grad():
                return dist.sample((n,))
    finally:
        if mps_state is not None:
            torch.mps.set_rng_state(mps_state)


def _bound(dist: D.Distribution, which: str) -> float | None:
    bound = getattr(dist.support, which, None)
    if isinstance(bound, torch.Tensor):
        if not bound.numel():
            return None
        return float(bound.min() if which == "lower_bound" else bound.max())
    return None if bound is None else float(bound)


def _cdf(dist: D.Distribution, values: torch.Tensor) -> torch.Tensor:
    """``dist.cdf`` without argument validation (values on the edge of the support are fine)."""
    previous = dist._validate_args
    dist._validate_args = False
    try:
        return dist.cdf(values)
    finally:
        dist._validate_args = previous


def _quantiles(
    dist: D.Distribution, probs: Sequence[float], n_samples: int, seed: int
) -> torch.Tensor:
    """Quantiles of a batch of scalar laws: shape (len(probs), *batch_shape), on dist's device.

    By ``icdf`` when the law has one, by bisection on ``cdf`` for continuous laws that only have
    a cdf, otherwise from ``n_samples`` seeded samples.
    """
    batch = dist.batch_shape
    mean = dist.mean
    p = torch.tensor(probs, dtype=mean.dtype, device=mean.device).reshape(-1, *([1] * len(batch)))
    with torch.no_grad():
        try:
            return dist.icdf(p).expand(len(probs), *batch)
        except NotImplementedError:
            pass
        support = dist.support
        discrete = support is not None and support.is_discrete
        if not discrete:
            try:
                _cdf(dist, mean.detach())
            except (NotImplementedError, ValueError):
                pass
            else:
                return _bisect(dist, p.expand(len(probs), *batch).contiguous())
        samples = _seeded_samples(dist, n_samples, seed).to(mean.dtype)
        return torch.quantile(samples, p.flatten(), dim=0)


def _bisect(dist: D.Distribution, p: torch.Tensor, steps: int = 60) -> torch.Tensor:
    mean, std = dist.mean.detach(), dist.stddev.detach()
    lo, hi = (mean - 12 * std).expand_as(p).clone(), (mean + 12 * std).expand_as(p).clone()
    low_bound, high_bound = _bound(dist, "lower_bound"), _bound(dist, "upper_bound")
    if low_bound is not None:
        lo = lo.clamp(min=low_bound)
    if high_bound is not None:
        hi = hi.clamp(max=high_bound)
    for _ in range(steps):
        mid = (lo + hi) / 2
        below = _cdf(dist, mid) < p
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    return (lo + hi) / 2


def _summary(
    dist: D.Distribution, level: float, n_samples: int, seed: int, caller: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(dist, D.Distribution):
        raise ValueError(f"{caller}: expected a torch.distributions object, got {type(dist)}")
    if dist.event_shape != torch.Size():
        raise ValueError(
            f"{caller}: the law must be univariate, got event_shape {tuple(dist.event_shape)}"
        )
    tail = (1 - level) / 2
    low, high = _quantiles(dist, [tail, 1 - tail], n_samples, seed)
    try:
        centre = dist.mean.detach()
        if not bool(torch.isfinite(centre).all()):
            raise NotImplementedError
    except NotImplementedError:
        centre = _quantiles(dist, [0.5], n_samples, seed)[0]
    return (
        _flat(centre.reshape(-1), "mean", caller),
        _flat(low.reshape(-1), "lower quantile", caller),
        _flat(high.reshape(-1), "upper quantile", caller),
    )


# --------------------------------------------------------------------------------------------
# figures


def predictive_band(
    ax: Axes,
    x: torch.Tensor | np.ndarray,
    dist: D.Distribution,
    *,
    truth: D.Distribution | None = None,
    level: float = 0.9,
    x_data: torch.Tensor | np.ndarray | None = None,
    y_data: torch.Tensor | np.ndarray | None = None,
    label: str | None = None,
    color: str | None = None,
    legend: bool = True,
    n_samples: int = 4000,
    seed: int = 0,
) -> Axes:
    r"""Draw a model's predictive mean and central band against ``x``, with the true law beside it.

    ``dist`` is a batch of scalar laws, one per entry of ``x`` (batch shape ``(m,)``). The band
    runs from the :math:`(1-\ell)/2` to the :math:`(1+\ell)/2` quantile (:math:`\ell` =
    ``level``), computed by ``icdf`` when the law has one, by bisection on ``cdf`` when it only has
    that (gamma, mixtures of normals), and otherwise from ``n_samples`` draws made with a fixed
    ``seed`` (the global random state is restored afterwards). ``truth``, another law at the same
    ``x``, is drawn in dashed black: its mean and the edges of its band. The data, if given, are a
    grey scatter underneath. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html
    and most chapters of
    parts II-IV.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    x : Tensor or array
        Inputs, shape ``(m,)`` or ``(m, 1)``, on any device, in any order.
    dist : torch.distributions.Distribution
        The model's law at ``x``, batch shape ``(m,)`` (or ``(m, 1)``).
    truth : torch.distributions.Distribution, optional
        The true law at ``x``.
    level : float
        Probability of the central band, in (0, 1).
    x_data, y_data : Tensor or array, optional
        Training data to scatter.
    label : str, optional
        Name of the model in the legend (default ``"model"``).
    color : str, optional
        Colour of the model's mean and band (default: the next in the cycle).
    legend : bool
        Draw a legend.
    n_samples, seed : int
        Number of seeded draws when quantiles need samples.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, torch
    >>> from cebook.plot import predictive_band
    >>> x = torch.linspace(0, 3, 40)
    >>> fig, ax = plt.subplots()
    >>> ax = predictive_band(ax, x, torch.distributions.Gamma(2 + x, 1.0),
    ...                      truth=torch.distributions.Gamma(2 + x, 1.1), label="gamma head")
    >>> len(ax.lines), len(ax.collections)  # model mean, true mean and band edges; model band
    (4, 1)
    >>> plt.close(fig)
    """
    caller = "predictive_band"
    if not 0 < level < 1:
        raise ValueError(f"{caller}: level must be in (0, 1), got {level!r}")
    xs = _flat(x, "x", caller)
    order = np.argsort(xs, kind="stable")
    name = label or "model"
    if x_data is not None or y_data is not None:
        if x_data is None or y_data is None:
            raise ValueError(f"{caller}: give both x_data and y_data, or neither")
        xd, yd = _flat(x_data, "x_data", caller), _flat(y_data, "y_data", caller)
        if xd.shape != yd.shape:
            raise ValueError(
                f"{caller}: x_data and y_data must have the same length, got {xd.shape} "
                f"and {yd.shape}"
            )
        ax.scatter(xd, yd, s=6, color=_DATA_COLOR, alpha=0.5, linewidths=0, label="data", zorder=1)
    mean, low, high = _summary(dist, level, n_samples, seed, caller)
    if mean.shape != xs.shape:
        raise ValueError(
            f"{caller}: dist must hold one law per x, got batch_shape {tuple(dist.batch_shape)} "
            f"for {xs.shape[0]} inputs"
        )
    percent = f"{100 * level:g}%"
    (line,) = ax.plot(xs[order], mean[order], color=color, label=f"{name}: mean", zorder=3)
    ax.fill_between(
        xs[order],
        low[order],
        high[order],
        color=line.get_color(),
        alpha=0.25,
        linewidth=0,
        label=f"{name}: {percent} interval",
        zorder=2,
    )
    if truth is not None:
        t_mean, t_low, t_high = _summary(truth, level, n_samples, seed, caller)
        if t_mean.shape != xs.shape:
            raise ValueError(
                f"{caller}: truth must hold one law per x, got batch_shape "
                f"{tuple(truth.batch_shape)} for {xs.shape[0]} inputs"
            )
        ax.plot(
            xs[order],
            t_mean[order],
            color=_TRUTH_COLOR,
            linestyle="--",
            linewidth=1.2,
            label="truth: mean",
            zorder=4,
        )
        ax.plot(
            xs[order],
            t_low[order],
            color=_TRUTH_COLOR,
            linestyle=":",
            linewidth=1.0,
            label=f"truth: {percent} interval",
            zorder=4,
        )
        ax.plot(
            xs[order], t_high[order], color=_TRUTH_COLOR, linestyle=":", linewidth=1.0, zorder=4
        )
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    if legend:
        ax.legend(loc="best")
    return ax


def pit_histogram(
    ax: Axes,
    pit_values: torch.Tensor | np.ndarray,
    n_bins: int = 10,
    *,
    label: str | None = None,
    color: str | None = None,
    band: bool = True,
) -> Axes:
    r"""Histogram of probability integral transform values :math:`F(y)`, with the uniform line.

    If the predicted laws are calibrated, the PIT values :math:`u_i = F_i(y_i)` (from
    :func:`cebook.metrics.pit`) are uniform on [0, 1] and the histogram's density is flat at 1: a
    U shape means over-confident laws (too narrow), a hump under-confident ones, a slope a biased
    mean. The grey strip is where about 95 % of the bars of a calibrated model's histogram fall,
    :math:`1 \pm 2\sqrt{(B - 1)/n}` for :math:`B` bins and :math:`n` values. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html
    and https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    pit_values : Tensor or array
        Values in [0, 1], any shape (flattened), on any device.
    n_bins : int
        Number of bars.
    label : str, optional
        Legend entry for the bars.
    color : str, optional
        Colour of the bars.
    band : bool
        Draw the 95 % strip of a calibrated histogram.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, torch
    >>> from cebook.plot import pit_histogram
    >>> fig, ax = plt.subplots()
    >>> ax = pit_histogram(ax, torch.rand(500, generator=torch.Generator().manual_seed(0)))
    >>> len(ax.patches) >= 10
    True
    >>> plt.close(fig)
    """
    caller = "pit_histogram"
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"{caller}: n_bins must be a positive int, got {n_bins!r}")
    values = _cpu(pit_values, "pit_values", caller).reshape(-1)
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ValueError(f"{caller}: no PIT values to draw")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(
            f"{caller}: PIT values must lie in [0, 1], got range "
            f"[{float(values.min())!r}, {float(values.max())!r}]"
        )
    if band:
        half = 2 * math.sqrt((n_bins - 1) / values.size)
        ax.axhspan(
            max(0.0, 1 - half),
            1 + half,
            color="0.85",
            alpha=0.6,
            linewidth=0,
            label="95% range if calibrated",
            zorder=0,
        )
    ax.hist(
        values,
        bins=np.linspace(0, 1, n_bins + 1).tolist(),
        density=True,
        color=color,
        alpha=0.8,
        edgecolor="white",
        linewidth=0.8,
        label=label or "PIT",
        zorder=2,
    )
    ax.axhline(1.0, color=_TRUTH_COLOR, linestyle="--", linewidth=1.2, label="uniform", zorder=3)
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT value $F(y)$")
    ax.set_ylabel("density")
    return ax


def reliability_diagram(
    ax: Axes,
    nominal: torch.Tensor | np.ndarray | Sequence[float],
    observed: torch.Tensor | np.ndarray | Sequence[float],
    *,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    r"""Observed against nominal coverage of central intervals, with the diagonal of calibration.

    ``observed`` is what :func:`cebook.metrics.interval_coverage` returns for the levels
    ``nominal``: the fraction of targets inside each central interval. Points below the diagonal
    mean intervals too narrow (over-confidence), above it too wide. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    nominal, observed : Tensor, array or sequence
        Coverages in [0, 1], same length.
    label : str, optional
        Legend entry for the model (default ``"model"``).
    color : str, optional
        Colour of the model's curve.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from cebook.plot import reliability_diagram
    >>> fig, ax = plt.subplots()
    >>> ax = reliability_diagram(ax, [0.5, 0.8, 0.9], [0.42, 0.7, 0.83], label="Gaussian head")
    >>> [line.get_label() for line in ax.lines]
    ['ideal', 'Gaussian head']
    >>> plt.close(fig)
    """
    caller = "reliability_diagram"
    nominal_ = _flat(nominal, "nominal", caller)
    observed_ = _flat(observed, "observed", caller)
    if nominal_.shape != observed_.shape:
        raise ValueError(
            f"{caller}: nominal and observed must have the same length, got "
            f"{nominal_.shape[0]} and {observed_.shape[0]}"
        )
    ax.plot([0, 1], [0, 1], color=_TRUTH_COLOR, linestyle="--", linewidth=1.2, label="ideal")
    ax.plot(nominal_, observed_, marker="o", markersize=4, color=color, label=label or "model")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.legend(loc="upper left")
    return ax


def bin_probabilities(
    ax: Axes,
    bins: Bins,
    probs: torch.Tensor | np.ndarray,
    target: float | torch.Tensor | None = None,
    *,
    truth: D.Distribution | None = None,
    density: bool = False,
    label: str | None = None,
    color: str | None = None,
) -> Axes:
    r"""Bar chart of a predicted distribution over bins, with the target and the truth.

    One bar per bin, centred on the bin and as wide as it; the target is a solid black line, the
    truth dashed black. With ``density=True`` each bar's
    height is its probability divided by its width, a density comparable with a continuous law's
    (the ``log(width)`` term of :meth:`cebook.bins.Bins.density_nll`); ``truth`` (a scalar law)
    is then drawn as its density, otherwise as its mass in each bin. Used in
    https://cebook.github.io/cross-entropy-regression/book/classification/bins.html
    and https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    bins : cebook.bins.Bins
        The bins (anything with ``edges``, ``centers`` and ``widths``).
    probs : Tensor or array
        Probabilities of the ``K`` bins, shape ``(K,)`` (for instance ``logits.softmax(-1)[i]``).
    target : float or Tensor, optional
        The true value of this example, drawn as a vertical line.
    truth : torch.distributions.Distribution, optional
        The true law of this example (batch shape ``()``).
    density : bool
        Plot probability per unit of ``y`` instead of probability.
    label : str, optional
        Legend entry for the bars.
    color : str, optional
        Colour of the bars.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt, torch
    >>> from cebook.bins import Bins
    >>> from cebook.plot import bin_probabilities
    >>> bins = Bins.uniform(0.0, 1.0, 10)
    >>> probs = torch.softmax(-((bins.centers - 0.3) / 0.1) ** 2, -1)
    >>> fig, ax = plt.subplots()
    >>> ax = bin_probabilities(ax, bins, probs, target=0.3)
    >>> len(ax.patches)
    10
    >>> plt.close(fig)
    """
    caller = "bin_probabilities"
    edges = _flat(bins.edges, "bins.edges", caller)
    centers = _flat(bins.centers, "bins.centers", caller)
    widths = _flat(bins.widths, "bins.widths", caller)
    p = _flat(probs, "probs", caller)
    if p.shape != centers.shape:
        raise ValueError(
            f"{caller}: probs must have one entry per bin ({centers.shape[0]}), got shape {p.shape}"
        )
    heights = p / widths if density else p
    ax.bar(
        centers,
        heights,
        width=widths,
        align="center",
        color=color,
        alpha=0.8,
        edgecolor="white",
        linewidth=0.5,
        label=label or "predicted",
    )
    if truth is not None:
        if truth.batch_shape != torch.Size() or truth.event_shape != torch.Size():
            raise ValueError(f"{caller}: truth must be a single scalar law")
        device = truth.mean.device
        with torch.no_grad():
            if density:
                grid = torch.linspace(float(edges[0]), float(edges[-1]), 400, device=device)
                support = truth.support
                inside = (
                    support.check(grid)
                    if support is not None
                    else torch.ones_like(grid, dtype=torch.bool)
                )
                safe = torch.where(inside, grid, truth.mean.detach().expand_as(grid))
                values = torch.where(inside, truth.log_prob(safe).exp(), torch.zeros_like(grid))
                ax.plot(
                    grid.cpu().numpy(),
                    values.cpu().numpy(),
                    color=_TRUTH_COLOR,
                    linestyle="--",
                    linewidth=1.2,
                    label="truth",
                )
            else:
                edge = torch.as_tensor(edges, dtype=truth.mean.dtype, device=device)
                low, high = _bound(truth, "lower_bound"), _bound(truth, "upper_bound")
                edge = edge.clamp(min=low) if low is not None else edge
                edge = edge.clamp(max=high) if high is not None else edge
                cdf = _cdf(truth, edge)
                mass = (cdf[1:] - cdf[:-1]).cpu().numpy()
                ax.plot(
                    centers,
                    mass,
                    color=_TRUTH_COLOR,
                    linestyle="none",
                    marker="_",
                    markersize=10,
                    markeredgewidth=2,
                    label="truth",
                )
    if target is not None:
        value = float(torch.as_tensor(target).detach().cpu())
        ax.axvline(value, color=_TRUTH_COLOR, linestyle="-", linewidth=1.0, label="target")
    ax.set_xlabel("$y$")
    ax.set_ylabel("probability density" if density else "probability")
    return ax
