r"""Output layers that turn a network's features into the parameters of a law.

A *head* is the last layer of a regression network: one :class:`torch.nn.Linear` followed by a
*domain map* that sends each raw output into the set of values its parameter may take. A head
returns a **tuple** of the law's parameters in the order the matching loss of
:mod:`cebook.losses` takes them (always a tuple, even of one), so that training reads

>>> import torch
>>> from cebook.heads import GaussianHead
>>> head = GaussianHead(8)
>>> loc, scale = head(torch.randn(5, 8))
>>> loc.shape, scale.shape
(torch.Size([5]), torch.Size([5]))

and ``loss = cebook.losses.gaussian_nll(*head(h), y)``. ``head.distribution(*params)`` gives the
matching :mod:`torch.distributions` object, for sampling, quantiles and plots. The head is
separate from the score (negative log-likelihood, CRPS, ...), as in GluonTS' ``DistributionOutput``
and NGBoost.

Conventions shared by every head:

* ``out_features=None`` gives one scalar target per example: parameters of shape ``(...,)`` for
  features of shape ``(..., in_features)``; an int ``d`` gives ``d`` independent targets per
  example, parameters of shape ``(..., d)``.
* A positive parameter goes through ``softplus(raw) + floor`` with an explicit floor keyword
  (``min_scale``, ``min_rate``, ...). The floor keeps the likelihood finite when the network becomes
  over-confident, the usual cure for variance collapse and ``NaN`` losses.
* Positive parameters start near a sensible value: the bias of their rows is
  :math:`\operatorname{softplus}^{-1}(\text{init} - \text{floor})` (0.5413 for a scale of 1) and
  their weights start at zero, so that every example starts with exactly the initial value
  (a homoscedastic start, as Nix & Weigend recommend for mean--variance networks). The weights move
  from the first step on.
* Rates and means of counts and waiting times use the **log link** by default (``link="exp"``),
  as generalised linear models do, so that a linear head's weights are the GLM's coefficients.
  ``link="softplus"`` gives ``softplus(raw) + floor`` instead (GluonTS' choice). The exponential is
  continued linearly above ``exp(20)`` so that no input makes it overflow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

import torch
import torch.nn.functional as F
from torch import distributions as D
from torch import nn

if TYPE_CHECKING:  # pragma: no cover - imported for annotations only
    from cebook.bins import Bins, DecodeMethod

__all__ = [
    "GaussianHead",
    "LaplaceHead",
    "StudentTHead",
    "ExponentialHead",
    "GammaHead",
    "LogNormalHead",
    "PoissonHead",
    "NegativeBinomialHead",
    "BernoulliHead",
    "ContinuousBernoulliHead",
    "BetaHead",
    "MVNHead",
    "GMMHead",
    "CategoricalHead",
    "softplus_inverse",
]

Link = Literal["exp", "softplus"]

# The tuple of parameters a head returns, e.g. tuple[Tensor, Tensor] for (loc, scale).
_Params = TypeVar("_Params", bound=tuple[torch.Tensor, ...])

# Above this raw value the exponential link continues along its tangent: exp(20) = 4.85e8.
_MAX_LOG = 20.0


def softplus_inverse(value: float) -> float:
    r"""Return the raw value whose softplus is ``value``: :math:`\log(e^{v} - 1)`.

    Heads use it to set the bias of a positive parameter so that it starts at a chosen value.

    Parameters
    ----------
    value : float
        A positive number.

    Returns
    -------
    float

    Examples
    --------
    >>> from cebook.heads import softplus_inverse
    >>> round(softplus_inverse(1.0), 4)
    0.5413
    """
    if not value > 0:
        raise ValueError(f"softplus_inverse: value must be positive, got {value!r}")
    # log(expm1(v)) without overflow for large v: v + log(1 - exp(-v)).
    return float(value + math.log(-math.expm1(-value)))


def _exp_link(raw: torch.Tensor, floor: float) -> torch.Tensor:
    # exp(raw) up to _MAX_LOG, then its tangent line: positive, finite, smooth to first order.
    capped = raw.clamp(max=_MAX_LOG)
    return floor + torch.exp(capped) * (1.0 + (raw - capped))


def _positive(raw: torch.Tensor, floor: float, link: Link) -> torch.Tensor:
    if link == "exp":
        return _exp_link(raw, floor)
    return F.softplus(raw) + floor


def _raw_for(init: float, floor: float, link: Link) -> float:
    # The raw value that makes _positive(raw, floor, link) equal init.
    if link == "exp":
        return math.log(init - floor)
    return softplus_inverse(init - floor)


def _check_int(name: str, value: object, head: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{head}: {name} must be a positive int, got {value!r}")
    return value


def _check_floor_init(
    head: str, floor_name: str, floor: float, init_name: str, init: float
) -> None:
    if not floor >= 0:
        raise ValueError(f"{head}: {floor_name} must be >= 0, got {floor!r}")
    if not init > floor:
        raise ValueError(f"{head}: {init_name} must exceed {floor_name}={floor!r}, got {init!r}")


def _check_link(head: str, link: str) -> Link:
    if link not in ("exp", "softplus"):
        raise ValueError(f"{head}: link must be 'exp' or 'softplus', got {link!r}")
    return link  # type: ignore[return-value]


class _Head(nn.Module, Generic[_Params]):
    """One linear layer whose outputs are split into ``n_params`` blocks of ``out_features``.

    Block ``i`` is rows ``[i * w, (i + 1) * w)`` of ``self.linear`` (``w = out_features``, or 1).
    ``_Params`` is the tuple a head returns; the typed ``__call__`` below passes it on to type
    checkers (``nn.Module.__call__`` returns ``Any``), so ``gaussian_nll(*head(h), y)`` checks.
    """

    if TYPE_CHECKING:

        def __call__(self, features: torch.Tensor) -> _Params: ...

    def __init__(self, in_features: int, out_features: int | None, n_params: int) -> None:
        super().__init__()
        name = type(self).__name__
        self.in_features = _check_int("in_features", in_features, name)
        if out_features is not None:
            _check_int("out_features", out_features, name)
        self.out_features = out_features
        self.n_params = n_params
        self.linear = nn.Linear(in_features, n_params * self._width)

    @property
    def _width(self) -> int:
        return 1 if self.out_features is None else self.out_features

    def _start_at(self, index: int, raw: float | torch.Tensor) -> None:
        """Zero the weights of parameter ``index`` and set its bias to ``raw``."""
        rows = slice(index * self._width, (index + 1) * self._width)
        with torch.no_grad():
            self.linear.weight[rows].zero_()
            self.linear.bias[rows] = torch.as_tensor(raw, dtype=self.linear.bias.dtype)

    def _raw(self, features: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if features.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"{type(self).__name__}: features must have last dimension {self.in_features}, "
                f"got shape {tuple(features.shape)}"
            )
        try:
            out = self.linear(features)
        except RuntimeError as error:  # checked here only: autocast may mix dtypes on purpose
            weight = self.linear.weight
            if features.dtype == weight.dtype:
                raise
            raise ValueError(
                f"{type(self).__name__}: features must have the dtype of the head's parameters, "
                f"{weight.dtype}, got {features.dtype}; convert them with "
                f"features.to({weight.dtype}) or the head with head.to({features.dtype})"
            ) from error
        raw = out.unflatten(-1, (self.n_params, self._width))
        blocks = raw.unbind(-2)
        if self.out_features is None:
            blocks = tuple(block.squeeze(-1) for block in blocks)
        return tuple(blocks)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}"


class _LocScaleHead(_Head[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        *,
        min_scale: float = 1e-3,
        init_scale: float = 1.0,
        link: Link = "softplus",
    ) -> None:
        super().__init__(in_features, out_features, 2)
        name = type(self).__name__
        _check_floor_init(name, "min_scale", min_scale, "init_scale", init_scale)
        self.min_scale = float(min_scale)
        self.link = _check_link(name, link)
        self._start_at(1, _raw_for(init_scale, min_scale, self.link))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, raw_scale = self._raw(features)
        return loc, _positive(raw_scale, self.min_scale, self.link)


class GaussianHead(_LocScaleHead):
    r"""Mean and standard deviation of a normal law, ``(loc, scale)``.

    The parameters of :func:`~cebook.losses.gaussian_nll`.

    ``scale = softplus(raw) + min_scale`` (the standard deviation, not the variance). With
    ``link="exp"`` the raw output is :math:`\log\sigma` instead, i.e. half the
    :math:`s = \log\sigma^2` of Kendall & Gal (2017): ``scale = exp(raw) + min_scale``.
    Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html,
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html and
    https://cebook.github.io/cross-entropy-regression/book/classification/mixtures.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    min_scale : float
        Floor of the standard deviation (default ``1e-3``).
    init_scale : float
        Standard deviation of every example at initialisation (default ``1.0``).
    link : {"softplus", "exp"}
        Map from raw output to scale.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import GaussianHead
    >>> from cebook.losses import gaussian_nll
    >>> head = GaussianHead(4, init_scale=2.0)
    >>> loc, scale = head(torch.randn(3, 4))
    >>> torch.allclose(scale, torch.full((3,), 2.0))
    True
    >>> gaussian_nll(loc, scale, torch.zeros(3)).shape
    torch.Size([])
    >>> head.distribution(loc, scale).batch_shape
    torch.Size([3])
    """

    def distribution(self, loc: torch.Tensor, scale: torch.Tensor) -> D.Normal:
        """Return ``torch.distributions.Normal(loc, scale)``."""
        return D.Normal(loc, scale)


class LaplaceHead(_LocScaleHead):
    r"""Location and scale of a Laplace law, ``(loc, scale)``.

    The parameters of :func:`~cebook.losses.laplace_nll`.

    The scale :math:`b` (the mean absolute deviation; the standard deviation is :math:`\sqrt2 b`)
    is ``softplus(raw) + min_scale``. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    min_scale, init_scale : float
        Floor and initial value of the scale.
    link : {"softplus", "exp"}
        Map from raw output to scale.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import LaplaceHead
    >>> head = LaplaceHead(4, out_features=2)
    >>> loc, scale = head(torch.randn(3, 4))
    >>> loc.shape, bool((scale > 0).all())
    (torch.Size([3, 2]), True)
    >>> head.distribution(loc, scale).mean.shape
    torch.Size([3, 2])
    """

    def distribution(self, loc: torch.Tensor, scale: torch.Tensor) -> D.Laplace:
        """Return ``torch.distributions.Laplace(loc, scale)``."""
        return D.Laplace(loc, scale)


class LogNormalHead(_LocScaleHead):
    r"""Parameters of a log-normal law: ``(loc, scale)`` of :math:`\log y`, for
    :func:`~cebook.losses.lognormal_nll`.

    ``loc`` and ``scale`` are the mean and standard deviation of :math:`\log y`; the median of
    :math:`y` is :math:`e^{\text{loc}}` and its mean :math:`e^{\text{loc} + \text{scale}^2/2}`.
    Used in https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    min_scale, init_scale : float
        Floor and initial value of the scale of :math:`\log y`.
    link : {"softplus", "exp"}
        Map from raw output to scale.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import LogNormalHead
    >>> head = LogNormalHead(4)
    >>> params = head(torch.randn(3, 4))
    >>> head.distribution(*params).support
    GreaterThan(lower_bound=0.0)
    """

    def distribution(self, loc: torch.Tensor, scale: torch.Tensor) -> D.LogNormal:
        """Return ``torch.distributions.LogNormal(loc, scale)``."""
        return D.LogNormal(loc, scale)


class StudentTHead(_Head[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    r"""Degrees of freedom, location and scale of a Student-t law, ``(df, loc, scale)``.

    The parameters of :func:`~cebook.losses.student_t_nll`.

    The degrees of freedom are learned, ``df = df_min + softplus(raw) + 1e-3``, unless ``df`` is a
    number, in which case they stay fixed (and the head returns them as a tensor of ``loc``'s
    shape). By default (``df_min=0.0``) the data choose :math:`\nu` freely, heavy tails included:
    with outliers it may fall below 2 (infinite variance) or 1 (no mean), as it does in
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.
    Pass ``df_min=2.0`` to keep the variance finite, as GluonTS's
    ``StudentTOutput`` does (:math:`\nu = 2 + \operatorname{softplus}`). Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    df : float, optional
        Fixed degrees of freedom; ``None`` (default) learns them per example.
    df_min : float
        Lower bound of learned degrees of freedom (default ``0.0``: none; ``2.0`` keeps the
        variance finite).
    init_df : float
        Initial degrees of freedom when learned (default ``5.0``).
    min_scale, init_scale : float
        Floor and initial value of the scale (the scale is not the standard deviation, which is
        :math:`\text{scale}\sqrt{\nu/(\nu-2)}` for :math:`\nu > 2`).
    link : {"softplus", "exp"}
        Map from raw output to scale.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import StudentTHead
    >>> head = StudentTHead(4, df_min=2.0)
    >>> with torch.no_grad():
    ...     df, loc, scale = head(torch.randn(3, 4))
    >>> bool((df > 2).all()), round(float(df[0]), 3)
    (True, 5.0)
    >>> fixed = StudentTHead(4, df=3.0)
    >>> fixed(torch.randn(3, 4))[0]
    tensor([3., 3., 3.])
    """

    _DF_FLOOR = 1e-3

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        *,
        df: float | None = None,
        df_min: float = 0.0,
        init_df: float = 5.0,
        min_scale: float = 1e-3,
        init_scale: float = 1.0,
        link: Link = "softplus",
    ) -> None:
        learn_df = df is None
        super().__init__(in_features, out_features, 3 if learn_df else 2)
        name = type(self).__name__
        _check_floor_init(name, "min_scale", min_scale, "init_scale", init_scale)
        self.link = _check_link(name, link)
        self.min_scale = float(min_scale)
        self.df = None if df is None else float(df)
        self.df_min = float(df_min)
        if self.df is not None and not self.df > 0:
            raise ValueError(f"{name}: df must be positive, got {df!r}")
        if learn_df:
            _check_floor_init(name, "df_min", df_min, "init_df", init_df)
            self._start_at(0, softplus_inverse(init_df - df_min - self._DF_FLOOR))
        self._start_at(2 if learn_df else 1, _raw_for(init_scale, min_scale, self.link))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        blocks = self._raw(features)
        if self.df is None:
            raw_df, loc, raw_scale = blocks
            df = self.df_min + self._DF_FLOOR + F.softplus(raw_df)
        else:
            loc, raw_scale = blocks
            df = loc.new_full(loc.shape, self.df)
        return df, loc, _positive(raw_scale, self.min_scale, self.link)

    def distribution(self, df: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor) -> D.StudentT:
        """Return ``torch.distributions.StudentT(df, loc, scale)``."""
        return D.StudentT(df, loc, scale)


class _RateHead(_Head[tuple[torch.Tensor]]):
    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        *,
        link: Link = "exp",
        min_rate: float = 1e-6,
        init_rate: float = 1.0,
    ) -> None:
        super().__init__(in_features, out_features, 1)
        name = type(self).__name__
        _check_floor_init(name, "min_rate", min_rate, "init_rate", init_rate)
        self.link = _check_link(name, link)
        self.min_rate = float(min_rate)
        self._start_at(0, _raw_for(init_rate, min_rate, self.link))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor]:
        (raw,) = self._raw(features)
        return (_positive(raw, self.min_rate, self.link),)


class ExponentialHead(_RateHead):
    r"""Rate of an exponential law: ``(rate,)`` for :func:`~cebook.losses.exponential_nll`.

    With the default log link, ``rate = exp(raw) + min_rate``: the loss
    :math:`f(x)\,y - \log f(x)` with :math:`f = \text{rate}`; the mean waiting time is
    ``1 / rate``, so a linear head's weights are minus those of a log-link GLM for the mean.
    ``link="softplus"`` gives ``softplus(raw) + min_rate``. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    link : {"exp", "softplus"}
        Map from raw output to rate (default ``"exp"``, the log link).
    min_rate, init_rate : float
        Floor and initial value of the rate.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import ExponentialHead
    >>> head = ExponentialHead(4, init_rate=0.5)
    >>> (rate,) = head(torch.randn(3, 4))
    >>> torch.allclose(rate, torch.full((3,), 0.5))
    True
    >>> [round(m, 4) for m in head.distribution(rate).mean.tolist()]
    [2.0, 2.0, 2.0]
    """

    def distribution(self, rate: torch.Tensor) -> D.Exponential:
        """Return ``torch.distributions.Exponential(rate)``."""
        return D.Exponential(rate)


class PoissonHead(_RateHead):
    r"""Rate (mean) of a Poisson law: ``(rate,)`` for :func:`~cebook.losses.poisson_nll`.

    With the default log link, ``rate = exp(raw) + min_rate``, so a linear head is a Poisson GLM
    and its weights are the GLM's coefficients (up to the ``1e-6`` floor). PyTorch's
    ``PoissonNLLLoss`` takes the raw (log-rate) output instead; this head returns the rate itself.
    ``link="softplus"`` gives ``softplus(raw) + min_rate`` (GluonTS' choice). Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    link : {"exp", "softplus"}
        Map from raw output to rate (default ``"exp"``, the log link).
    min_rate, init_rate : float
        Floor and initial value of the rate.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import PoissonHead
    >>> head = PoissonHead(4, init_rate=3.0)
    >>> (rate,) = head(torch.randn(2, 4))
    >>> [round(r, 4) for r in rate.tolist()]
    [3.0, 3.0]
    >>> head.distribution(rate).log_prob(torch.tensor([0.0, 5.0])).shape
    torch.Size([2])
    """

    def distribution(self, rate: torch.Tensor) -> D.Poisson:
        """Return ``torch.distributions.Poisson(rate)``."""
        return D.Poisson(rate)


class GammaHead(_Head[tuple[torch.Tensor, torch.Tensor]]):
    r"""Parameters of a gamma law: ``(concentration, rate)`` for :func:`~cebook.losses.gamma_nll`.

    Internally the head predicts the **mean** :math:`\mu` and the shape :math:`k` (concentration),
    as a gamma GLM does, and returns ``rate = k / μ``. With the default log link
    ``μ = exp(raw) + min_mean``, so a linear head's mean weights are the coefficients of a gamma
    GLM with log link; ``k = softplus(raw_k) + min_concentration``. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    link : {"exp", "softplus"}
        Map from raw output to the mean (default ``"exp"``, the log link).
    min_mean, init_mean : float
        Floor and initial value of the mean.
    min_concentration, init_concentration : float
        Floor and initial value of the shape :math:`k` (``1.0``: an exponential law at the start).

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import GammaHead
    >>> head = GammaHead(4, init_mean=2.0, init_concentration=3.0)
    >>> concentration, rate = head(torch.randn(2, 4))
    >>> [round(m, 4) for m in head.distribution(concentration, rate).mean.tolist()]
    [2.0, 2.0]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        *,
        link: Link = "exp",
        min_mean: float = 1e-6,
        init_mean: float = 1.0,
        min_concentration: float = 1e-3,
        init_concentration: float = 1.0,
    ) -> None:
        super().__init__(in_features, out_features, 2)
        name = type(self).__name__
        _check_floor_init(
            name, "min_concentration", min_concentration, "init_concentration", init_concentration
        )
        _check_floor_init(name, "min_mean", min_mean, "init_mean", init_mean)
        self.link = _check_link(name, link)
        self.min_mean = float(min_mean)
        self.min_concentration = float(min_concentration)
        self._start_at(0, softplus_inverse(init_concentration - min_concentration))
        self._start_at(1, _raw_for(init_mean, min_mean, self.link))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_concentration, raw_mean = self._raw(features)
        concentration = F.softplus(raw_concentration) + self.min_concentration
        mean = _positive(raw_mean, self.min_mean, self.link)
        return concentration, concentration / mean

    def distribution(self, concentration: torch.Tensor, rate: torch.Tensor) -> D.Gamma:
        """Return ``torch.distributions.Gamma(concentration, rate)``."""
        return D.Gamma(concentration, rate)


class NegativeBinomialHead(_Head[tuple[torch.Tensor, torch.Tensor]]):
    r"""Parameters of a negative binomial law: ``(total_count, logits)`` for
    :func:`~cebook.losses.negative_binomial_nll`.

    In PyTorch's convention (``probs`` is scipy's :math:`1-p`) the mean is
    ``total_count * exp(logits)`` and the variance ``mean * (1 + mean / total_count)``, so small
    ``total_count`` means strong over-dispersion and ``total_count → ∞`` is the Poisson law.
    ``logits`` is the raw output (log mean minus log total count: a log link);
    ``total_count = softplus(raw) + min_total_count``. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    To read a linear head's coefficients: with ``w = out_features`` (1 when ``None``), rows
    ``[0, w)`` of ``head.linear`` (``weight`` and ``bias``) give the raw ``total_count`` and rows
    ``[w, 2w)`` give ``logits``. While ``total_count``'s weights stay zero (their start), the
    ``logits`` weights are those of a log-link negative binomial GLM for the mean, and its
    intercept is the GLM's minus ``log(total_count)``.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    min_total_count, init_total_count : float
        Floor and initial value of ``total_count``.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import NegativeBinomialHead
    >>> head = NegativeBinomialHead(4, init_total_count=2.0)
    >>> total_count, logits = head(torch.randn(3, 4))
    >>> [round(t, 4) for t in total_count.tolist()]
    [2.0, 2.0, 2.0]
    >>> dist = head.distribution(total_count, logits)
    >>> torch.allclose(dist.mean, total_count * logits.exp())
    True
    >>> h = torch.randn(3, 4)
    >>> torch.allclose(head(h)[1], h @ head.linear.weight[1] + head.linear.bias[1])  # logits row
    True
    """

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        *,
        min_total_count: float = 1e-3,
        init_total_count: float = 1.0,
    ) -> None:
        super().__init__(in_features, out_features, 2)
        name = type(self).__name__
        _check_floor_init(
            name, "min_total_count", min_total_count, "init_total_count", init_total_count
        )
        self.min_total_count = float(min_total_count)
        self._start_at(0, softplus_inverse(init_total_count - min_total_count))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_total_count, logits = self._raw(features)
        return F.softplus(raw_total_count) + self.min_total_count, logits

    def distribution(self, total_count: torch.Tensor, logits: torch.Tensor) -> D.NegativeBinomial:
        """Return ``torch.distributions.NegativeBinomial(total_count, logits=logits)``."""
        return D.NegativeBinomial(total_count, logits=logits)


class BernoulliHead(_Head[tuple[torch.Tensor]]):
    r"""Logits of a Bernoulli law, ``(logits,)``.

    The parameter of :func:`~cebook.losses.bernoulli_nll` (binary cross-entropy).

    The probability is ``sigmoid(logits)``. The loss accepts soft targets in [0, 1] (an
    autoencoder's grey pixels); ``torch.distributions.Bernoulli`` itself only scores 0 and 1.
    Used in https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import BernoulliHead
    >>> head = BernoulliHead(4, out_features=64)
    >>> (logits,) = head(torch.randn(2, 4))
    >>> logits.shape, head.distribution(logits).probs.shape
    (torch.Size([2, 64]), torch.Size([2, 64]))
    """

    def __init__(self, in_features: int, out_features: int | None = None) -> None:
        super().__init__(in_features, out_features, 1)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor]:
        (logits,) = self._raw(features)
        return (logits,)

    def distribution(self, logits: torch.Tensor) -> D.Bernoulli:
        """Return ``torch.distributions.Bernoulli(logits=logits)``."""
        return D.Bernoulli(logits=logits)


class ContinuousBernoulliHead(BernoulliHead):
    r"""Logits of a continuous Bernoulli law, ``(logits,)``.

    The parameter of :func:`~cebook.losses.continuous_bernoulli_nll`.

    The continuous Bernoulli (Loaiza-Ganem & Cunningham 2019) is the normalised version of the
    binary cross-entropy on targets in [0, 1]; its mean is not ``sigmoid(logits)``. Read the mean
    and the distribution function from :meth:`mean` and :meth:`cdf`, which work from the logits:
    ``torch.distributions.ContinuousBernoulli`` clamps :math:`\lambda` to
    :math:`[\epsilon, 1 - \epsilon]`, so its ``mean`` and ``cdf`` are those of a less extreme law
    beyond :math:`|z| \approx 16` in float32 (36 in float64). Used in
    https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import ContinuousBernoulliHead
    >>> head = ContinuousBernoulliHead(4)
    >>> logits = torch.tensor([-1.3863])  # lambda = 0.2
    >>> round(float(ContinuousBernoulliHead.mean(logits)), 4)
    0.388
    >>> z = torch.tensor(40.0)  # far beyond torch's clamp
    >>> round(float(ContinuousBernoulliHead.mean(z)), 4), round(float(head.distribution(z).mean), 4)
    (0.975, 0.9373)
    """

    def distribution(self, logits: torch.Tensor) -> D.ContinuousBernoulli:  # type: ignore[override]
        """Return ``torch.distributions.ContinuousBernoulli(logits=logits)``."""
        return D.ContinuousBernoulli(logits=logits)

    @staticmethod
    def mean(logits: torch.Tensor) -> torch.Tensor:
        r"""The mean :math:`\frac{1}{1 - e^{-z}} - \frac{1}{z}` of the law with logits :math:`z`.

        Exact for every finite logit (:math:`\tfrac12` at :math:`z = 0`, a series near it), with
        finite gradients; same shape, dtype and device as ``logits``.
        """
        # Near 0 the two terms cancel: the series 1/2 + z/12 - z^3/720 + z^5/30240 takes over
        # where its truncation error falls below the cancellation error (eps / |z|).
        near = 0.05 if torch.finfo(logits.dtype).eps < 1e-10 else 0.5
        small = logits.abs() < near
        z = torch.where(small, torch.ones_like(logits), logits)
        z2 = logits * logits
        series = 0.5 + logits * (1 / 12 + z2 * (-1 / 720 + z2 / 30240))
        # 1 / (1 - e^{-z}) as -1 / expm1(-z) for z > 0 and 1 + 1 / expm1(z) for z < 0: no overflow.
        decay = torch.expm1(-z.abs())
        first = torch.where(z > 0, -1 / decay, 1 + 1 / decay)
        return torch.where(small, series, first - 1 / z)

    @staticmethod
    def cdf(logits: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        r"""The distribution function :math:`F(y) = \frac{e^{z y} - 1}{e^{z} - 1}` at ``value``.

        ``value`` is clamped to [0, 1] (:math:`F = 0` below, 1 above); :math:`F(y) = y` at
        :math:`z = 0`. For :math:`z > 0` it is evaluated as
        :math:`e^{z (y - 1)} \frac{1 - e^{-z y}}{1 - e^{-z}}`, which cannot overflow. ``logits``
        and ``value`` broadcast.
        """
        y = value.clamp(0.0, 1.0)
        zero = logits == 0
        z = torch.where(zero, -torch.ones_like(logits), logits)
        down = -z.abs()  # both cases become a ratio of expm1 at a non-positive argument
        ratio = torch.expm1(down * y) / torch.expm1(down)
        scale = torch.exp(z.clamp(min=0) * (y - 1))  # 1 for z < 0
        return torch.where(zero, y, scale * ratio)


class BetaHead(_Head[tuple[torch.Tensor, torch.Tensor]]):
    r"""Concentrations of a beta law, ``(concentration1, concentration0)``.

    The parameters of :func:`~cebook.losses.beta_nll`.

    Internally the head predicts a mean :math:`\mu = \sigma(\text{raw})` and a precision
    :math:`\phi = \operatorname{softplus}(\text{raw}_\phi) + \text{min\_precision}`, as beta
    regression does (Ferrari & Cribari-Neto 2004; statsmodels' ``BetaModel``), and returns
    :math:`\alpha = \mu\phi + \epsilon`, :math:`\beta = (1-\mu)\phi + \epsilon` with
    :math:`\epsilon = \text{min\_concentration}`, so both stay positive for any input. The mean of
    the law is :math:`(\mu\phi + \epsilon)/(\phi + 2\epsilon) \approx \mu`: with a linear head, the
    mean weights are the logit-link coefficients of beta regression. At initialisation
    :math:`\mu = 1/2` and :math:`\phi = 2`: the uniform law. Used in
    https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    out_features : int, optional
        ``None`` for one scalar target per example, ``d`` for ``d`` independent targets.
    min_precision, init_precision : float
        Floor and initial value of the precision :math:`\phi = \alpha + \beta`.
    min_concentration : float
        Added to both concentrations (default ``1e-4``).

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import BetaHead
    >>> head = BetaHead(4)
    >>> a, b = head(torch.zeros(2, 4))
    >>> [round(v, 3) for v in a.tolist()], [round(v, 3) for v in b.tolist()]
    ([1.0, 1.0], [1.0, 1.0])
    >>> [round(m, 4) for m in head.distribution(a, b).mean.tolist()]
    [0.5, 0.5]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        *,
        min_precision: float = 1e-3,
        init_precision: float = 2.0,
        min_concentration: float = 1e-4,
    ) -> None:
        super().__init__(in_features, out_features, 2)
        name = type(self).__name__
        _check_floor_init(name, "min_precision", min_precision, "init_precision", init_precision)
        if not min_concentration >= 0:
            raise ValueError(f"{name}: min_concentration must be >= 0, got {min_concentration!r}")
        self.min_precision = float(min_precision)
        self.min_concentration = float(min_concentration)
        with torch.no_grad():
            self.linear.bias[: self._width].zero_()
        precision = init_precision - 2 * min_concentration
        self._start_at(1, softplus_inverse(precision - min_precision))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_mean, raw_precision = self._raw(features)
        precision = F.softplus(raw_precision) + self.min_precision
        concentration1 = torch.sigmoid(raw_mean) * precision + self.min_concentration
        concentration0 = torch.sigmoid(-raw_mean) * precision + self.min_concentration
        return concentration1, concentration0

    def distribution(self, concentration1: torch.Tensor, concentration0: torch.Tensor) -> D.Beta:
        """Return ``torch.distributions.Beta(concentration1, concentration0)``."""
        return D.Beta(concentration1, concentration0)


class MVNHead(_Head[tuple[torch.Tensor, torch.Tensor]]):
    r"""Mean and Cholesky factor of a multivariate normal law: ``(loc, scale_tril)`` for
    :func:`~cebook.losses.mvn_nll`.

    For a target of dimension :math:`d` the layer has :math:`d + d(d+1)/2` outputs: the mean, the
    diagonal of :math:`L` through ``softplus + min_scale`` (so :math:`L` is a valid Cholesky factor
    of :math:`\Sigma = LL^\top` for every input) and the :math:`d(d-1)/2` entries below it, free.
    :math:`L` starts at ``init_scale`` times the identity. Returns ``loc`` of shape ``(..., d)`` and
    ``scale_tril`` of shape ``(..., d, d)``. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/mahalanobis.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    dim : int
        Dimension :math:`d` of the target.
    min_scale, init_scale : float
        Floor and initial value of the diagonal of :math:`L`.

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import MVNHead
    >>> head = MVNHead(8, dim=3)
    >>> loc, scale_tril = head(torch.randn(5, 8))
    >>> loc.shape, scale_tril.shape
    (torch.Size([5, 3]), torch.Size([5, 3, 3]))
    >>> torch.allclose(scale_tril[0], torch.eye(3))
    True
    >>> head.distribution(loc, scale_tril).event_shape
    torch.Size([3])
    """

    def __init__(
        self, in_features: int, dim: int, *, min_scale: float = 1e-3, init_scale: float = 1.0
    ) -> None:
        name = type(self).__name__
        _check_int("dim", dim, name)
        super().__init__(in_features, dim + dim * (dim + 1) // 2, 1)
        self.dim = dim
        _check_floor_init(name, "min_scale", min_scale, "init_scale", init_scale)
        self.min_scale = float(min_scale)
        rows, cols = torch.tril_indices(dim, dim, offset=-1)
        self._rows: torch.Tensor
        self._cols: torch.Tensor
        self.register_buffer("_rows", rows, persistent=False)
        self.register_buffer("_cols", cols, persistent=False)
        with torch.no_grad():
            self.linear.weight[dim:].zero_()
            self.linear.bias[dim:].zero_()
            self.linear.bias[dim : 2 * dim] = softplus_inverse(init_scale - min_scale)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        (raw,) = self._raw(features)
        d = self.dim
        loc, raw_diag, off = raw[..., :d], raw[..., d : 2 * d], raw[..., 2 * d :]
        scale_tril = torch.diag_embed(F.softplus(raw_diag) + self.min_scale)
        lower = raw.new_zeros(*raw.shape[:-1], d, d)
        lower[..., self._rows, self._cols] = off
        return loc, scale_tril + lower

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, dim={self.dim}"

    def distribution(self, loc: torch.Tensor, scale_tril: torch.Tensor) -> D.MultivariateNormal:
        """Return ``torch.distributions.MultivariateNormal(loc, scale_tril=scale_tril)``."""
        return D.MultivariateNormal(loc, scale_tril=scale_tril)


class GMMHead(_Head[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    r"""Parameters of a mixture of :math:`K` normal laws: ``(logits, loc, scale)`` for
    :func:`~cebook.losses.gmm_nll`, each of shape ``(..., K)``.

    A mixture density network's output layer (Bishop 1994): mixing weights ``softmax(logits)``,
    component means ``loc`` and standard deviations ``softplus(raw) + min_scale``. The biases of the
    means start spread over ``init_loc`` (by default :math:`K` points evenly spaced on [-1, 1]) so
    that the components start apart instead of collapsing onto one another; the logits start equal
    and the scales at ``init_scale``. Used in
    https://cebook.github.io/cross-entropy-regression/book/classification/mixtures.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    n_components : int
        Number of components :math:`K`.
    min_scale, init_scale : float
        Floor and initial value of the components' standard deviations.
    init_loc : sequence of float, optional
        Initial biases of the :math:`K` means (put them where the targets are).

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import GMMHead
    >>> head = GMMHead(8, n_components=3, init_loc=[0.0, 0.5, 1.0], init_scale=0.2)
    >>> logits, loc, scale = head(torch.zeros(4, 8))
    >>> logits.shape, loc[0].tolist()
    (torch.Size([4, 3]), [0.0, 0.5, 1.0])
    >>> head.distribution(logits, loc, scale).batch_shape
    torch.Size([4])
    """

    def __init__(
        self,
        in_features: int,
        n_components: int,
        *,
        min_scale: float = 1e-3,
        init_scale: float = 1.0,
        init_loc: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        name = type(self).__name__
        _check_int("n_components", n_components, name)
        super().__init__(in_features, n_components, 3)
        self.n_components = n_components
        _check_floor_init(name, "min_scale", min_scale, "init_scale", init_scale)
        self.min_scale = float(min_scale)
        if init_loc is None:
            init_loc = torch.linspace(-1.0, 1.0, n_components) if n_components > 1 else [0.0]
        init_loc = torch.as_tensor(init_loc, dtype=torch.float32).flatten()
        if init_loc.numel() != n_components:
            raise ValueError(
                f"{name}: init_loc must have n_components={n_components} values, "
                f"got {init_loc.numel()}"
            )
        with torch.no_grad():
            self.linear.bias[:n_components].zero_()
            self.linear.bias[n_components : 2 * n_components] = init_loc
        self._start_at(2, softplus_inverse(init_scale - min_scale))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        logits, loc, raw_scale = self._raw(features)
        return logits, loc, F.softplus(raw_scale) + self.min_scale

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, n_components={self.n_components}"

    def distribution(
        self, logits: torch.Tensor, loc: torch.Tensor, scale: torch.Tensor
    ) -> D.MixtureSameFamily:
        """Return ``MixtureSameFamily(Categorical(logits=logits), Normal(loc, scale))``."""
        return D.MixtureSameFamily(D.Categorical(logits=logits), D.Normal(loc, scale))


class CategoricalHead(_Head[tuple[torch.Tensor]]):
    r"""Logits over the bins of a discretised target: ``(logits,)`` of shape ``(..., K)``, for
    :func:`~cebook.losses.categorical_nll` or :meth:`cebook.bins.Bins.density_nll`.

    Regression by classification (WaveNet; two-hot, HL-Gauss): the network scores each of the
    :math:`K` bins and the softmax gives their probabilities. ``head.distribution(logits)`` is the
    categorical law over bin *indices*; :meth:`decode` turns logits back into values of the target
    with the bins' :meth:`~cebook.bins.Bins.decode`. Used in
    https://cebook.github.io/cross-entropy-regression/book/classification/bins.html and
    https://cebook.github.io/cross-entropy-regression/book/classification/mixtures.html.

    Parameters
    ----------
    in_features : int
        Size of the features' last dimension.
    bins : Bins or int
        The bins (:class:`cebook.bins.Bins`), or just their number :math:`K` (then :meth:`decode`
        is unavailable).

    Examples
    --------
    >>> import torch
    >>> from cebook.heads import CategoricalHead
    >>> head = CategoricalHead(8, 10)
    >>> (logits,) = head(torch.randn(4, 8))
    >>> logits.shape, head.distribution(logits).sample().shape
    (torch.Size([4, 10]), torch.Size([4]))
    """

    def __init__(self, in_features: int, bins: Bins | int) -> None:
        name = type(self).__name__
        if isinstance(bins, int) and not isinstance(bins, bool):
            n_bins = _check_int("bins", bins, name)
        else:
            n_bins = int(len(bins.centers))  # type: ignore[union-attr]
        super().__init__(in_features, n_bins, 1)
        self.n_bins = n_bins
        self.bins: Bins | None = None if isinstance(bins, int) else bins

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor]:
        (logits,) = self._raw(features)
        return (logits,)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, n_bins={self.n_bins}"

    def distribution(self, logits: torch.Tensor) -> D.Categorical:
        """Return ``torch.distributions.Categorical(logits=logits)`` over bin indices."""
        return D.Categorical(logits=logits)

    def decode(self, logits: torch.Tensor, method: DecodeMethod = "mean") -> torch.Tensor:
        """Return point predictions of the target from ``logits`` with ``bins.decode``.

        Examples
        --------
        >>> import torch
        >>> from cebook.bins import Bins
        >>> from cebook.heads import CategoricalHead
        >>> head = CategoricalHead(2, Bins.uniform(0.0, 1.0, 4))
        >>> logits = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
        >>> head.decode(logits, method="mean")
        tensor([0.5000])
        """
        if self.bins is None:
            raise ValueError("CategoricalHead.decode: the head was built from a number of bins")
        return self.bins.decode(logits, method=method)
