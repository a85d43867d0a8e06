r"""Data sets for the book: toy data whose true law is known, and small real data sets.

Every toy generator returns a :class:`ToyData` with inputs ``x`` (float32, shape ``(n, 1)``,
sorted increasingly so that lines plot cleanly), targets ``y`` (float32, shape ``(n,)`` or
``(n, d)``; counts are float32 too) and ``law``, a function that returns the **true conditional
law** of ``y`` given ``x`` as a :mod:`torch.distributions` object, so that a chapter can draw the
truth beside what a model learned:

>>> from cebook.data import heteroscedastic_sine
>>> data = heteroscedastic_sine(n=200, seed=0)
>>> data.x.shape, data.y.shape, data.law(data.x).batch_shape
(torch.Size([200, 1]), torch.Size([200]), torch.Size([200]))

Generators are seeded by their ``seed`` keyword and draw from a private
:class:`numpy.random.Generator` (PCG64): they never read or change the global random state of
Python, NumPy or PyTorch. (NumPy's generator is used rather than a ``torch.Generator`` because
PyTorch's gamma and beta samplers accept no generator.) The law is built on the device and in the
dtype of the ``x`` it is given.

The real-data loaders return a :class:`RealData` read from data sets that ship inside
statsmodels and scikit-learn (imported lazily; nothing is downloaded; ``pip install 'cebook[data]'``
installs both).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import distributions as D
from torch.distributions import constraints

__all__ = [
    "ToyData",
    "RealData",
    "BishopInverseLaw",
    "heteroscedastic_sine",
    "seitzer_sine",
    "bishop_inverse",
    "linear_with_outliers",
    "overdispersed_counts",
    "positive_skewed",
    "unit_interval",
    "correlated_2d",
    "load_engel",
    "load_strikes",
    "load_randhie",
    "load_star98",
    "load_diabetes",
    "load_digits",
]

Law = Callable[[torch.Tensor], D.Distribution]


@dataclass(frozen=True)
class ToyData:
    r"""A toy data set and the true conditional law that generated it.

    Attributes
    ----------
    x : Tensor
        Inputs, float32 of shape ``(n, 1)``, sorted increasingly.
    y : Tensor
        Targets, float32 of shape ``(n,)`` (or ``(n, d)`` for a ``d``-dimensional target).
    law : callable or None
        ``law(x)`` returns the true law of ``y`` given inputs ``x`` (shape ``(m, 1)`` or ``(m,)``)
        as a :mod:`torch.distributions` object of batch shape ``(m,)``.
    name : str
        The generator's name.
    description : str
        One sentence on how the data were drawn.
    params : dict
        The generator's parameters (slopes, noise levels, ...), for checks and captions.

    Unpacking gives ``x, y, law``.

    Examples
    --------
    >>> from cebook.data import seitzer_sine
    >>> x, y, law = seitzer_sine(n=100, seed=0)
    >>> law(x).stddev[:2]
    tensor([0.0100, 0.0100])
    """

    x: torch.Tensor
    y: torch.Tensor
    law: Law | None
    name: str = ""
    description: str = ""
    params: dict[str, float] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter((self.x, self.y, self.law))


@dataclass(frozen=True)
class RealData:
    r"""A small real data set, as float32 tensors.

    Attributes
    ----------
    x : Tensor
        Features, float32 of shape ``(n, p)`` (raw units unless ``standardize=True`` was asked).
    y : Tensor
        Target, float32 of shape ``(n,)`` (int64 class labels for :func:`load_digits`).
    feature_names : list of str
        The names of the columns of ``x``.
    target_name : str
        The name of ``y``.
    description : str
        Where the data come from and what the units are.
    extra : dict
        Other columns that some chapters need (for example the counts behind a proportion), and
        the ``x_mean``/``x_std`` used when standardising.

    Unpacking gives ``x, y``.

    Examples
    --------
    >>> from cebook.data import load_engel
    >>> x, y = load_engel()
    >>> x.shape, y.dtype
    (torch.Size([235, 1]), torch.float32)
    """

    x: torch.Tensor
    y: torch.Tensor
    feature_names: list[str]
    target_name: str
    description: str
    extra: dict[str, torch.Tensor] = field(default_factory=dict)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter((self.x, self.y))


# --------------------------------------------------------------------------------------------
# helpers


def _rng(seed: int, name: str) -> np.random.Generator:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{name}: seed must be a non-negative int, got {seed!r}")
    return np.random.default_rng(seed)


def _check_n(n: int, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name}: n must be a positive int, got {n!r}")
    return n


def _column(x: torch.Tensor | float) -> torch.Tensor:
    """Inputs of shape (m, 1) or (m,) → (m,) floating tensor."""
    x = torch.as_tensor(x)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    if x.dim() >= 2 and x.shape[-1] == 1:
        x = x.squeeze(-1)
    return x


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32))  # a writable, contiguous copy


def _uniform_x(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    return np.sort(rng.uniform(low, high, size=n))


def _toy(
    x: np.ndarray, y: np.ndarray, law: Law | None, name: str, description: str, **params: float
) -> ToyData:
    return ToyData(
        x=_tensor(x).unsqueeze(-1),
        y=_tensor(y),
        law=law,
        name=name,
        description=description,
        params={k: float(v) for k, v in params.items()},
    )


# --------------------------------------------------------------------------------------------
# toy data with known laws


def heteroscedastic_sine(
    n: int = 1000, seed: int = 0, *, x_max: float = 10.0, noise: float = 0.3
) -> ToyData:
    r"""Noisy :math:`x \sin x` whose noise grows with :math:`x` (Detlefsen et al. 2019).

    .. math::

        x \sim \mathcal U(0, x_{\max}), \qquad
        y = x \sin x + a\,\varepsilon_1 + a\,x\,\varepsilon_2, \qquad
        \varepsilon_{1,2} \sim \mathcal N(0, 1),

    so :math:`y \mid x \sim \mathcal N\!\left(x \sin x,\; a^2 (1 + x^2)\right)`: the standard
    deviation grows from :math:`a` to about :math:`a\,x_{\max}`. With :math:`a = 0.3` and
    :math:`x_{\max} = 10` this is the "SineDetlefsen" toy of Seitzer et al.'s β-NLL code. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    x_max : float
        Upper end of the input range.
    noise : float
        The noise level :math:`a`.

    Returns
    -------
    ToyData
        ``law(x)`` is ``Normal(x sin x, noise * sqrt(1 + x**2))``.

    Examples
    --------
    >>> from cebook.data import heteroscedastic_sine
    >>> data = heteroscedastic_sine(n=500, seed=1)
    >>> float(data.x.min()) >= 0.0 and float(data.x.max()) <= 10.0
    True
    >>> law = data.law(data.x)
    >>> round(float(law.stddev[-1] / law.stddev[0]), 1) > 5
    True
    """
    name = "heteroscedastic_sine"
    rng = _rng(seed, name)
    _check_n(n, name)
    x = _uniform_x(rng, n, 0.0, x_max)
    eps = rng.standard_normal((2, n))
    y = x * np.sin(x) + noise * eps[0] + noise * x * eps[1]

    def law(inputs: torch.Tensor) -> D.Normal:
        x_ = _column(inputs)
        return D.Normal(x_ * torch.sin(x_), noise * torch.sqrt(1 + x_**2))

    description = f"y = x sin x + {noise}·ε₁ + {noise}·x·ε₂, x ~ U(0, {x_max})"
    return _toy(x, y, law, name, description, x_max=x_max, noise=noise)


def seitzer_sine(
    n: int = 1000, seed: int = 0, *, x_max: float = 12.0, noise: float = 0.01
) -> ToyData:
    r"""Seitzer et al.'s (2022) sine, where plain Gaussian NLL leaves parts of the curve unfitted.

    .. math::

        x = \operatorname{linspace}(0, x_{\max}, n), \qquad
        y = 0.4 \sin(2\pi x) + \varepsilon, \qquad \varepsilon \sim \mathcal N(0, 0.01^2).

    The paper uses :math:`x_{\max} = 12` (twelve periods) and :math:`n = 1000`; the book scales
    it down (fewer periods) to train in seconds. Note the inputs are a regular grid, as in the
    paper's code, so ``seed`` only changes the noise. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    x_max : float
        Upper end of the grid (periods of the sine).
    noise : float
        Standard deviation of the noise.

    Returns
    -------
    ToyData
        ``law(x)`` is ``Normal(0.4 sin(2πx), noise)``.

    Examples
    --------
    >>> from cebook.data import seitzer_sine
    >>> data = seitzer_sine(n=201, seed=0, x_max=2.0)
    >>> data.x[[0, -1], 0].tolist()
    [0.0, 2.0]
    """
    name = "seitzer_sine"
    rng = _rng(seed, name)
    _check_n(n, name)
    x = np.linspace(0.0, x_max, n)
    y = 0.4 * np.sin(2 * np.pi * x) + noise * rng.standard_normal(n)

    def law(inputs: torch.Tensor) -> D.Normal:
        x_ = _column(inputs)
        return D.Normal(0.4 * torch.sin(2 * math.pi * x_), torch.full_like(x_, noise))

    description = f"y = 0.4 sin(2πx) + N(0, {noise}²), x = linspace(0, {x_max}, {n})"
    return _toy(x, y, law, name, description, x_max=x_max, noise=noise)


class BishopInverseLaw(D.Distribution):
    r"""The true law of :math:`x` given :math:`t` in Bishop's inverse problem.

    With :math:`x \sim \mathcal U(0,1)` and :math:`t = g(x) + u`, :math:`g(x) = x + a\sin 2\pi x`,
    :math:`u \sim \mathcal U(-\delta, \delta)`, Bayes' rule gives a law of :math:`x` given
    :math:`t` that is **uniform on the set** :math:`S(t) = \{x \in [0,1] : |t - g(x)| < \delta\}`.
    For :math:`a > 1/2\pi`, :math:`g` rises, falls and rises again, so :math:`S(t)` is a union of
    up to three intervals, one per monotone piece: the branches (adjacent ones touch and merge).
    Their ends solve :math:`g(x) = t \pm \delta`, found by bisection (to float precision);
    everything else is in closed form: the density :math:`1/|S(t)|` on :math:`S(t)`, the cdf, its
    inverse, the mean and the variance. ``sample`` inverts the cdf with PyTorch's global
    generator, as :mod:`torch.distributions` do. :func:`bishop_inverse` returns it.

    Parameters
    ----------
    t : Tensor
        Inputs, shape ``(m,)`` or ``(m, 1)``; values with an empty :math:`S(t)` (beyond about
        [-0.1, 1.1]) have no law (density 0 everywhere, mean 0).
    amplitude, half_width : float
        The :math:`a = 0.3` and :math:`\delta = 0.1` of the problem.

    Examples
    --------
    >>> import torch
    >>> from cebook.data import BishopInverseLaw
    >>> law = BishopInverseLaw(torch.tensor([0.5]))
    >>> round(float(law.mean[0]), 4)  # symmetric about 1/2
    0.5
    >>> law.intervals().shape  # three branches: (start, end) of each
    torch.Size([1, 3, 2])
    >>> law.log_prob(torch.tensor([0.1]))
    tensor([-inf])
    """

    arg_constraints: dict[str, constraints.Constraint] = {}
    support = constraints.unit_interval

    def __init__(self, t: torch.Tensor, *, amplitude: float = 0.3, half_width: float = 0.1):
        t = _column(t)
        self.t = t
        self.amplitude = float(amplitude)
        self.half_width = float(half_width)
        # monotone pieces of g on [0, 1]: g' = 1 + 2πa cos(2πx) vanishes where cos(2πx) = -1/(2πa)
        c = -1.0 / (2 * math.pi * self.amplitude) if self.amplitude > 0 else -2.0
        if c >= -1.0:
            x1 = math.acos(c) / (2 * math.pi)
            pieces = [(0.0, x1, 1.0), (x1, 1.0 - x1, -1.0), (1.0 - x1, 1.0, 1.0)]
        else:
            pieces = [(0.0, 1.0, 1.0)]
        # one batched bisection for both ends of every piece: on an increasing piece S is
        # [g⁻¹(t - δ), g⁻¹(t + δ)], on a decreasing one the two are swapped
        k = len(pieces)
        low = t.new_tensor([p[0] for p in pieces]).repeat(2)  # new_tensor: t's dtype and device
        high = t.new_tensor([p[1] for p in pieces]).repeat(2)
        sign = t.new_tensor([p[2] for p in pieces]).repeat(2)
        side = t.new_tensor([-1.0] * k + [1.0] * k)
        shape = (2 * k,) + (1,) * t.dim()
        level = t.unsqueeze(0) + (side * sign * self.half_width).reshape(shape)
        ends = self._solve(level, low.reshape(shape), high.reshape(shape), sign.reshape(shape))
        first, last = ends[:k], ends[k:]
        self._a = first.movedim(0, -1)  # (*batch, k), increasing in k
        self._b = torch.maximum(last, first).movedim(0, -1)
        lengths = self._b - self._a
        self._length = lengths.sum(-1).clamp_min(torch.finfo(t.dtype).tiny)  # |S(t)|
        weights = lengths / self._length.unsqueeze(-1)
        middles = (self._a + self._b) / 2
        self._mean = (weights * middles).sum(-1)
        # law of total variance over the branches: stable even for a very short S(t)
        spread = (middles - self._mean.unsqueeze(-1)) ** 2 + lengths**2 / 12
        self._variance = (weights * spread).sum(-1)
        super().__init__(batch_shape=t.shape, validate_args=False)

    def _g(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.amplitude * torch.sin(2 * math.pi * x)

    def _solve(
        self, level: torch.Tensor, low: torch.Tensor, high: torch.Tensor, sign: torch.Tensor
    ) -> torch.Tensor:
        """Solve g(x) = level where sign * g increases on [low, high] (clamped to its ends)."""
        lo = (low + 0 * level).clone()
        hi = (high + 0 * level).clone()
        for _ in range(round(-math.log2(torch.finfo(level.dtype).eps)) + 3):  # float precision
            mid = (lo + hi) / 2
            below = sign * self._g(mid) < sign * level
            lo = torch.where(below, mid, lo)
            hi = torch.where(below, hi, mid)
        return (lo + hi) / 2

    def intervals(self) -> torch.Tensor:
        """Return the branches of :math:`S(t)`: shape ``(*batch_shape, k, 2)``, (start, end) pairs
        in increasing order (an empty branch has start = end)."""
        return torch.stack([self._a, self._b], dim=-1)

    @property
    def mean(self) -> torch.Tensor:
        return self._mean

    @property
    def variance(self) -> torch.Tensor:
        return self._variance

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        value = torch.as_tensor(value, dtype=self.t.dtype, device=self.t.device)
        inside = ((self.t - self._g(value)).abs() < self.half_width) & (value >= 0) & (value <= 1)
        log_density = -torch.log(self._length).expand(inside.shape)
        return torch.where(inside, log_density, torch.full_like(log_density, -math.inf))

    def cdf(self, value: torch.Tensor) -> torch.Tensor:
        value = torch.as_tensor(value, dtype=self.t.dtype, device=self.t.device)
        covered = (value.unsqueeze(-1) - self._a).clamp(min=0)
        covered = torch.minimum(covered, self._b - self._a)
        return covered.sum(-1) / self._length

    def icdf(self, value: torch.Tensor) -> torch.Tensor:
        value = torch.as_tensor(value, dtype=self.t.dtype, device=self.t.device)
        mass = value * self._length  # length of S(t) to the left of the answer
        lengths = self._b - self._a
        before = lengths.cumsum(-1) - lengths  # length of the branches left of each branch
        result = self._a[..., 0] + mass
        for k in range(1, lengths.shape[-1]):
            in_later = mass > before[..., k]
            result = torch.where(in_later, self._a[..., k] + (mass - before[..., k]), result)
        return result.clamp(0, 1)

    def sample(self, sample_shape: torch.Size | list[int] | tuple[int, ...] = ()) -> torch.Tensor:
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            u = torch.rand(shape, dtype=self.t.dtype, device=self.t.device)
            return self.icdf(u)


def bishop_inverse(
    n: int = 1000, seed: int = 0, *, amplitude: float = 0.3, half_width: float = 0.1
) -> ToyData:
    r"""Bishop's inverse problem: one input, up to three plausible targets.

    The forward problem (Bishop 1994; PRML §5.6) is single-valued,

    .. math::

        x \sim \mathcal U(0, 1), \qquad t = x + 0.3 \sin(2\pi x) + u, \qquad
        u \sim \mathcal U(-0.1, 0.1);

    this generator **swaps the roles**: the input is :math:`t` and the target :math:`x`, so
    ``ToyData.x`` holds :math:`t` and ``ToyData.y`` holds :math:`x`. For :math:`t` between about
    0.31 and 0.69 the plausible :math:`x` lie on up to three branches of the inverse (which merge
    where they touch), and least squares averages them. The true
    law (:class:`BishopInverseLaw`) is uniform on the branches, whose ends are found numerically.
    Used in https://cebook.github.io/cross-entropy-regression/book/classification/mixtures.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    amplitude : float
        The 0.3 in front of the sine.
    half_width : float
        Half the width of the uniform noise (0.1).

    Returns
    -------
    ToyData
        ``law(t)`` is a :class:`BishopInverseLaw`.

    Examples
    --------
    >>> from cebook.data import bishop_inverse
    >>> data = bishop_inverse(n=300, seed=0)
    >>> float(data.y.min()) >= 0.0 and float(data.y.max()) <= 1.0
    True
    >>> bool(data.law(data.x).log_prob(data.y).isfinite().all())
    True
    """
    name = "bishop_inverse"
    rng = _rng(seed, name)
    _check_n(n, name)
    target = rng.uniform(0.0, 1.0, size=n)
    t = target + amplitude * np.sin(2 * np.pi * target) + rng.uniform(-half_width, half_width, n)
    order = np.argsort(t)

    def law(inputs: torch.Tensor) -> BishopInverseLaw:
        return BishopInverseLaw(inputs, amplitude=amplitude, half_width=half_width)

    description = (
        f"x ~ U(0, 1), t = x + {amplitude} sin(2πx) + U(-{half_width}, {half_width}); "
        "input t, target x (the inverse problem)"
    )
    return _toy(
        t[order], target[order], law, name, description, amplitude=amplitude, half_width=half_width
    )


def linear_with_outliers(
    n: int = 500,
    seed: int = 0,
    *,
    fraction: float = 0.1,
    intercept: float = 0.5,
    slope: float = 2.0,
    noise: float = 0.25,
    outlier_shift: float = 4.0,
    outlier_scale: float = 1.0,
) -> ToyData:
    r"""A straight line with a fraction of gross outliers above it.

    .. math::

        x \sim \mathcal U(-1, 1), \qquad
        y \mid x \sim (1 - f)\,\mathcal N(a + bx,\, \sigma^2)
                     + f\,\mathcal N(a + bx + s,\, \tau^2),

    with :math:`f` = ``fraction``, :math:`s` = ``outlier_shift``, :math:`\tau` =
    ``outlier_scale``. The outliers raise the conditional mean by :math:`fs` (0.4 by default),
    which least squares follows, while the conditional median moves by only :math:`0.14\sigma`
    (0.035 by default); the clean line is ``params["intercept"] + params["slope"] * x``.
    Used in https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    fraction : float
        Probability that an example is an outlier, in [0, 1).
    intercept, slope, noise : float
        The clean line :math:`a + bx` and its noise :math:`\sigma`.
    outlier_shift, outlier_scale : float
        Mean offset :math:`s` and standard deviation :math:`\tau` of the outliers.

    Returns
    -------
    ToyData
        ``law(x)`` is the two-component ``MixtureSameFamily`` above; ``params["outliers"]`` is the
        number of outliers drawn.

    Examples
    --------
    >>> from cebook.data import linear_with_outliers
    >>> data = linear_with_outliers(n=1000, seed=0, fraction=0.1)
    >>> 60 < data.params["outliers"] < 140
    True
    >>> round(float(data.law(0.0).mean), 2)  # 0.5 + 0.1 * 4
    0.9
    """
    name = "linear_with_outliers"
    rng = _rng(seed, name)
    _check_n(n, name)
    if not 0 <= fraction < 1:
        raise ValueError(f"{name}: fraction must be in [0, 1), got {fraction!r}")
    x = _uniform_x(rng, n, -1.0, 1.0)
    is_outlier = rng.uniform(size=n) < fraction
    clean = intercept + slope * x + noise * rng.standard_normal(n)
    wild = intercept + slope * x + outlier_shift + outlier_scale * rng.standard_normal(n)
    y = np.where(is_outlier, wild, clean)

    def law(inputs: torch.Tensor) -> D.MixtureSameFamily:
        x_ = _column(inputs)
        line = intercept + slope * x_
        loc = torch.stack([line, line + outlier_shift], dim=-1)
        scale = torch.tensor([noise, outlier_scale], dtype=x_.dtype, device=x_.device)
        probs = torch.tensor([1 - fraction, fraction], dtype=x_.dtype, device=x_.device)
        return D.MixtureSameFamily(
            D.Categorical(probs=probs.expand(loc.shape)), D.Normal(loc, scale.expand(loc.shape))
        )

    description = (
        f"y = {intercept} + {slope}x + N(0, {noise}²), and with probability {fraction} "
        f"an outlier N({outlier_shift}, {outlier_scale}²) above the line; x ~ U(-1, 1)"
    )
    return _toy(
        x,
        y,
        law,
        name,
        description,
        fraction=fraction,
        intercept=intercept,
        slope=slope,
        noise=noise,
        outlier_shift=outlier_shift,
        outlier_scale=outlier_scale,
        outliers=int(is_outlier.sum()),
    )


def overdispersed_counts(
    n: int = 1000,
    seed: int = 0,
    *,
    total_count: float = 2.0,
    intercept: float = 0.5,
    slope: float = 1.5,
) -> ToyData:
    r"""Counts with a log-linear mean and more spread than a Poisson law allows.

    .. math::

        x \sim \mathcal U(0, 1), \quad \mu(x) = e^{a + bx}, \quad
        \lambda \sim \text{Gamma}(r, \text{rate} = r/\mu), \quad y \sim \text{Poisson}(\lambda),

    so :math:`y \mid x` is negative binomial with mean :math:`\mu` and variance
    :math:`\mu + \mu^2/r` (:math:`r` = ``total_count``; :math:`r \to \infty` is Poisson). In
    PyTorch's convention that is ``NegativeBinomial(r, logits=log μ − log r)``. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    total_count : float
        The dispersion :math:`r` (smaller is more over-dispersed).
    intercept, slope : float
        :math:`a` and :math:`b` of the log mean.

    Returns
    -------
    ToyData
        ``y`` holds float32 counts; ``law(x)`` is the ``NegativeBinomial`` above.

    Examples
    --------
    >>> from cebook.data import overdispersed_counts
    >>> data = overdispersed_counts(n=400, seed=0)
    >>> bool((data.y == data.y.round()).all()), float(data.y.min()) >= 0
    (True, True)
    >>> law = data.law(data.x)
    >>> bool((law.variance > law.mean).all())
    True
    """
    name = "overdispersed_counts"
    rng = _rng(seed, name)
    _check_n(n, name)
    if not total_count > 0:
        raise ValueError(f"{name}: total_count must be positive, got {total_count!r}")
    x = _uniform_x(rng, n, 0.0, 1.0)
    mean = np.exp(intercept + slope * x)
    rate = rng.gamma(shape=total_count, scale=mean / total_count)
    y = rng.poisson(rate).astype(np.float64)

    def law(inputs: torch.Tensor) -> D.NegativeBinomial:
        x_ = _column(inputs)
        logits = intercept + slope * x_ - math.log(total_count)
        return D.NegativeBinomial(torch.full_like(x_, total_count), logits=logits)

    description = (
        f"y ~ NegativeBinomial with mean exp({intercept} + {slope}x) and total_count "
        f"{total_count} (a gamma-Poisson mixture); x ~ U(0, 1)"
    )
    return _toy(
        x, y, law, name, description, total_count=total_count, intercept=intercept, slope=slope
    )


def positive_skewed(
    n: int = 1000,
    seed: int = 0,
    *,
    concentration: float = 2.0,
    intercept: float = 0.0,
    slope: float = 1.0,
) -> ToyData:
    r"""Positive, right-skewed targets: a gamma law with a log-linear mean.

    .. math::

        x \sim \mathcal U(0, 1), \qquad \mu(x) = e^{a + bx}, \qquad
        y \mid x \sim \text{Gamma}(k, \text{rate} = k/\mu(x)),

    so :math:`E[y \mid x] = \mu(x)` and the coefficient of variation is :math:`1/\sqrt k`
    (:math:`k` = ``concentration``; :math:`k = 1` is the exponential law). A gamma GLM with log
    link recovers :math:`a, b`; least squares on :math:`\log y` does not (it estimates
    :math:`E[\log y] = \log\mu + \psi(k) - \log k`). Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    concentration : float
        The shape :math:`k`.
    intercept, slope : float
        :math:`a` and :math:`b` of the log mean.

    Returns
    -------
    ToyData
        ``law(x)`` is ``Gamma(k, k / μ(x))``.

    Examples
    --------
    >>> import math
    >>> from cebook.data import positive_skewed
    >>> data = positive_skewed(n=200, seed=0, concentration=3.0)
    >>> bool((data.y > 0).all())
    True
    >>> round(float(data.law(0.0).mean), 4), round(float(data.law(1.0).mean), 4) == round(math.e, 4)
    (1.0, True)
    """
    name = "positive_skewed"
    rng = _rng(seed, name)
    _check_n(n, name)
    if not concentration > 0:
        raise ValueError(f"{name}: concentration must be positive, got {concentration!r}")
    x = _uniform_x(rng, n, 0.0, 1.0)
    mean = np.exp(intercept + slope * x)
    y = rng.gamma(shape=concentration, scale=mean / concentration)
    y = np.maximum(y, np.finfo(np.float32).tiny)  # keep float32 targets inside (0, ∞)

    def law(inputs: torch.Tensor) -> D.Gamma:
        x_ = _column(inputs)
        k = torch.full_like(x_, concentration)
        return D.Gamma(k, k * torch.exp(-(intercept + slope * x_)))

    description = f"y ~ Gamma(shape {concentration}, mean exp({intercept} + {slope}x)); x ~ U(0, 1)"
    return _toy(
        x, y, law, name, description, concentration=concentration, intercept=intercept, slope=slope
    )


def unit_interval(
    n: int = 1000,
    seed: int = 0,
    *,
    precision: float = 20.0,
    intercept: float = -1.5,
    slope: float = 3.0,
) -> ToyData:
    r"""Targets in (0, 1): a beta law whose mean follows a logistic curve (beta regression).

    .. math::

        x \sim \mathcal U(0, 1), \qquad \mu(x) = \sigma(a + bx), \qquad
        y \mid x \sim \text{Beta}(\mu\phi,\, (1 - \mu)\phi),

    so :math:`E[y \mid x] = \mu(x)` and :math:`\operatorname{Var}[y \mid x] = \mu(1-\mu)/(1+\phi)`
    (:math:`\phi` = ``precision``). Draws are clipped to :math:`[10^{-6}, 1 - 10^{-6}]` so that no
    float32 target lands on 0 or 1. Used in
    https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    precision : float
        The precision :math:`\phi = \alpha + \beta`.
    intercept, slope : float
        :math:`a` and :math:`b` of the logit of the mean.

    Returns
    -------
    ToyData
        ``law(x)`` is ``Beta(μφ, (1 − μ)φ)``.

    Examples
    --------
    >>> from cebook.data import unit_interval
    >>> data = unit_interval(n=300, seed=0)
    >>> bool(((data.y > 0) & (data.y < 1)).all())
    True
    >>> round(float(data.law(0.5).mean), 4)
    0.5
    """
    name = "unit_interval"
    rng = _rng(seed, name)
    _check_n(n, name)
    if not precision > 0:
        raise ValueError(f"{name}: precision must be positive, got {precision!r}")
    x = _uniform_x(rng, n, 0.0, 1.0)
    mu = 1 / (1 + np.exp(-(intercept + slope * x)))
    y = np.clip(rng.beta(mu * precision, (1 - mu) * precision), 1e-6, 1 - 1e-6)

    def law(inputs: torch.Tensor) -> D.Beta:
        x_ = _column(inputs)
        mu_ = torch.sigmoid(intercept + slope * x_)
        return D.Beta(mu_ * precision, (1 - mu_) * precision)

    description = (
        f"y ~ Beta with mean sigmoid({intercept} + {slope}x) and precision {precision}; x ~ U(0, 1)"
    )
    return _toy(x, y, law, name, description, precision=precision, intercept=intercept, slope=slope)


def correlated_2d(
    n: int = 1000,
    seed: int = 0,
    *,
    scales: tuple[float, float] = (0.3, 0.2),
    max_correlation: float = 0.8,
) -> ToyData:
    r"""Two-dimensional Gaussian targets whose correlation changes sign with the input.

    .. math::

        x \sim \mathcal U(-1, 1), \qquad
        y \mid x \sim \mathcal N\!\left(\begin{pmatrix} x \\ x/2 \end{pmatrix},
        \begin{pmatrix} \sigma_1^2 & \rho\sigma_1\sigma_2 \\
        \rho\sigma_1\sigma_2 & \sigma_2^2 \end{pmatrix}\right), \qquad
        \rho(x) = \rho_{\max}\, x,

    so the noise ellipse tilts one way for :math:`x < 0` and the other for :math:`x > 0`. The
    Cholesky factor is :math:`L = \begin{pmatrix}\sigma_1 & 0 \\ \rho\sigma_2 &
    \sigma_2\sqrt{1-\rho^2}\end{pmatrix}`. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/mahalanobis.html.

    Parameters
    ----------
    n : int
        Number of examples.
    seed : int
        Seed of the private generator.
    scales : tuple of float
        The standard deviations :math:`\sigma_1, \sigma_2`.
    max_correlation : float
        :math:`\rho_{\max}` in (-1, 1).

    Returns
    -------
    ToyData
        ``y`` has shape ``(n, 2)``; ``law(x)`` is a ``MultivariateNormal`` of batch shape ``(m,)``
        and event shape ``(2,)``.

    Examples
    --------
    >>> from cebook.data import correlated_2d
    >>> data = correlated_2d(n=100, seed=0)
    >>> data.y.shape
    torch.Size([100, 2])
    >>> cov = data.law(1.0).covariance_matrix
    >>> round(float(cov[0, 1] / (cov[0, 0] * cov[1, 1]).sqrt()), 4)
    0.8
    """
    name = "correlated_2d"
    rng = _rng(seed, name)
    _check_n(n, name)
    if not -1 < max_correlation < 1:
        raise ValueError(f"{name}: max_correlation must be in (-1, 1), got {max_correlation!r}")
    s1, s2 = (float(s) for s in scales)
    x = _uniform_x(rng, n, -1.0, 1.0)
    rho = max_correlation * x
    z = rng.standard_normal((n, 2))
    y1 = x + s1 * z[:, 0]
    y2 = 0.5 * x + s2 * (rho * z[:, 0] + np.sqrt(1 - rho**2) * z[:, 1])
    y = np.stack([y1, y2], axis=-1)

    def law(inputs: torch.Tensor) -> D.MultivariateNormal:
        x_ = _column(inputs)
        rho_ = max_correlation * x_
        loc = torch.stack([x_, 0.5 * x_], dim=-1)
        zero = torch.zeros_like(x_)
        scale_tril = torch.stack(
            [
                torch.stack([torch.full_like(x_, s1), zero], dim=-1),
                torch.stack([rho_ * s2, s2 * torch.sqrt(1 - rho_**2)], dim=-1),
            ],
            dim=-2,
        )
        return D.MultivariateNormal(loc, scale_tril=scale_tril)

    description = (
        f"y ~ N((x, x/2), Σ) with standard deviations ({s1}, {s2}) and correlation "
        f"{max_correlation}·x; x ~ U(-1, 1)"
    )
    return _toy(x, y, law, name, description, scale1=s1, scale2=s2, max_correlation=max_correlation)


# --------------------------------------------------------------------------------------------
# real data shipped inside installed packages


def _import(module: str, package: str, caller: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{caller} needs {package}, which ships the data set; install it with "
            f"`pip install 'cebook[data]'` (or `pip install {package}`)"
        ) from error


def _real(
    x: np.ndarray,
    y: np.ndarray,
    feature_names: list[str],
    target_name: str,
    description: str,
    standardize: bool,
    extra: dict[str, torch.Tensor] | None = None,
    y_dtype: torch.dtype = torch.float32,
) -> RealData:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    extra = dict(extra or {})
    if standardize:
        mean, std = x.mean(axis=0), x.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        x = (x - mean) / std
        extra["x_mean"], extra["x_std"] = _tensor(mean), _tensor(std)
    return RealData(
        x=_tensor(x),
        y=_tensor(y) if y_dtype == torch.float32 else torch.from_numpy(np.array(y)).to(y_dtype),
        feature_names=list(feature_names),
        target_name=target_name,
        description=description,
        extra=extra,
    )


def _statsmodels_frame(name: str, caller: str) -> Any:
    _import("statsmodels", "statsmodels", caller)
    datasets = importlib.import_module(f"statsmodels.datasets.{name}")
    return datasets.load_pandas().data


def load_engel(*, standardize: bool = False) -> RealData:
    r"""Engel's food expenditure data (statsmodels): 235 Belgian working-class households, 1857.

    ``x`` is the annual household income and ``y`` the annual food expenditure, both in Belgian
    francs; the spread of ``y`` grows with income, the classic example for quantile regression
    (Koenker & Bassett 1982). Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html and
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Parameters
    ----------
    standardize : bool
        Centre and scale the columns of ``x`` (the mean and standard deviation go to ``extra``).

    Returns
    -------
    RealData
        ``x`` of shape ``(235, 1)`` (income), ``y`` of shape ``(235,)`` (food expenditure).

    Examples
    --------
    >>> from cebook.data import load_engel
    >>> data = load_engel()
    >>> data.feature_names, data.target_name
    (['income'], 'foodexp')
    """
    frame = _statsmodels_frame("engel", "load_engel")
    return _real(
        frame[["income"]].to_numpy(),
        frame["foodexp"].to_numpy(),
        ["income"],
        "foodexp",
        "Engel (1857): annual household income and food expenditure of 235 Belgian "
        "working-class households, in Belgian francs (statsmodels.datasets.engel)",
        standardize,
    )


def load_strikes(*, standardize: bool = False) -> RealData:
    r"""Kennan's strike durations (statsmodels): 62 US manufacturing strikes, 1968-1976.

    ``y`` is the duration of a strike in days, ``x`` an index of industrial production
    (deviation from trend) when it began; positive, skewed durations for gamma and exponential
    regression (Kennan 1985). Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Parameters
    ----------
    standardize : bool
        Centre and scale the columns of ``x``.

    Returns
    -------
    RealData
        ``x`` of shape ``(62, 1)``, ``y`` of shape ``(62,)``.

    Examples
    --------
    >>> from cebook.data import load_strikes
    >>> data = load_strikes()
    >>> data.x.shape, bool((data.y > 0).all())
    (torch.Size([62, 1]), True)
    """
    frame = _statsmodels_frame("strikes", "load_strikes")
    return _real(
        frame[["iprod"]].to_numpy(),
        frame["duration"].to_numpy(),
        ["iprod"],
        "duration",
        "Kennan (1985): duration in days of 62 US manufacturing strikes (1968-1976) and "
        "unanticipated industrial production when each began (statsmodels.datasets.strikes)",
        standardize,
    )


def load_randhie(*, standardize: bool = False) -> RealData:
    r"""The RAND Health Insurance Experiment (statsmodels): 20,190 person-years of doctor visits.

    ``y`` (``mdvis``) is the number of outpatient visits to a doctor in a year, a count with far
    more spread than a Poisson law allows; ``x`` holds nine covariates (log coinsurance rate,
    individual-deductible indicator, log participation incentive payment, log maximum dollar
    expenditure, physical limitation, number of chronic diseases, self-rated health). The
    reference fits are statsmodels' Poisson GLM and ``NegativeBinomial`` (Cameron & Trivedi).
    Used in https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Parameters
    ----------
    standardize : bool
        Centre and scale the columns of ``x``.

    Returns
    -------
    RealData
        ``x`` of shape ``(20190, 9)``, ``y`` of shape ``(20190,)``.

    Examples
    --------
    >>> from cebook.data import load_randhie
    >>> data = load_randhie()
    >>> data.x.shape, data.feature_names[:3]
    (torch.Size([20190, 9]), ['lncoins', 'idp', 'lpi'])
    """
    frame = _statsmodels_frame("randhie", "load_randhie")
    names = ["lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"]
    return _real(
        frame[names].to_numpy(),
        frame["mdvis"].to_numpy(),
        names,
        "mdvis",
        "RAND Health Insurance Experiment: yearly outpatient doctor visits (mdvis) and nine "
        "covariates for 20,190 person-years (statsmodels.datasets.randhie)",
        standardize,
    )


def load_star98(*, standardize: bool = False) -> RealData:
    r"""California STAR test results, 1998 (statsmodels): proportions of pupils above the median.

    ``y`` is, for each of 303 school districts, the fraction of grade-8 maths pupils scoring above
    the national median, ``NABOVE / (NABOVE + NBELOW)``, in (0, 1) — a target for beta
    regression (statsmodels' ``BetaModel``) or a binomial GLM; ``x`` holds the 20 district
    covariates statsmodels lists (low income, ethnic shares, teacher experience, spending, ...,
    and their interactions). The counts are in ``extra["n_above"]`` and ``extra["n_below"]``.
    Used in https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    Parameters
    ----------
    standardize : bool
        Centre and scale the columns of ``x`` (their scales differ by orders of magnitude).

    Returns
    -------
    RealData
        ``x`` of shape ``(303, 20)``, ``y`` of shape ``(303,)``.

    Examples
    --------
    >>> from cebook.data import load_star98
    >>> data = load_star98()
    >>> data.x.shape, bool(((data.y > 0) & (data.y < 1)).all())
    (torch.Size([303, 20]), True)
    """
    frame = _statsmodels_frame("star98", "load_star98")
    names = [c for c in frame.columns if c not in ("NABOVE", "NBELOW")]
    above, below = frame["NABOVE"].to_numpy(), frame["NBELOW"].to_numpy()
    return _real(
        frame[names].to_numpy(),
        above / (above + below),
        names,
        "NABOVE / (NABOVE + NBELOW)",
        "California Standardized Testing and Reporting (STAR) 1998: fraction of grade-8 maths "
        "pupils above the national median in 303 districts (statsmodels.datasets.star98)",
        standardize,
        extra={"n_above": _tensor(above), "n_below": _tensor(below)},
    )


def load_diabetes(*, standardize: bool = False) -> RealData:
    r"""scikit-learn's diabetes data: disease progression after one year for 442 patients.

    ``x`` holds ten baseline variables (age, sex, BMI, blood pressure, six blood serum
    measurements), already centred and scaled by scikit-learn (each column has Euclidean norm 1);
    ``y`` is a quantitative measure of disease progression (Efron et al. 2004). Used in
    https://cebook.github.io/cross-entropy-regression/book/foundations/model_law.html.

    Parameters
    ----------
    standardize : bool
        Rescale the columns of ``x`` to unit standard deviation.

    Returns
    -------
    RealData
        ``x`` of shape ``(442, 10)``, ``y`` of shape ``(442,)``.

    Examples
    --------
    >>> from cebook.data import load_diabetes
    >>> data = load_diabetes()
    >>> data.x.shape, data.feature_names[:3]
    (torch.Size([442, 10]), ['age', 'sex', 'bmi'])
    """
    datasets = _import("sklearn.datasets", "scikit-learn", "load_diabetes")
    bunch = datasets.load_diabetes()
    return _real(
        bunch.data,
        bunch.target,
        list(bunch.feature_names),
        "progression",
        "Efron et al. (2004) diabetes data: ten baseline variables and disease progression one "
        "year later for 442 patients (sklearn.datasets.load_diabetes)",
        standardize,
    )


def load_digits() -> RealData:
    r"""scikit-learn's handwritten digits: 1,797 images of 8×8 grey pixels, scaled to [0, 1].

    ``x`` holds the 64 pixel intensities divided by 16 (their maximum), so that they can serve as
    targets in [0, 1] for binary cross-entropy, the continuous Bernoulli and the beta law (about
    half the pixels are exactly 0 and a few exactly 1); ``y`` holds the class labels 0-9 as int64.
    Used in https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    Returns
    -------
    RealData
        ``x`` float32 of shape ``(1797, 64)`` in [0, 1], ``y`` int64 of shape ``(1797,)``.

    Examples
    --------
    >>> from cebook.data import load_digits
    >>> data = load_digits()
    >>> data.x.shape, float(data.x.max()), data.y.dtype
    (torch.Size([1797, 64]), 1.0, torch.int64)
    """
    datasets = _import("sklearn.datasets", "scikit-learn", "load_digits")
    bunch = datasets.load_digits()
    return _real(
        bunch.data / 16.0,
        bunch.target,
        [f"pixel_{i // 8}_{i % 8}" for i in range(64)],
        "digit",
        "UCI optical recognition of handwritten digits: 1,797 8×8 images, pixel intensities "
        "0-16 divided by 16 (sklearn.datasets.load_digits)",
        False,
        y_dtype=torch.int64,
    )
