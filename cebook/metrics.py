r"""Proper scores, calibration and the information quantities between two laws.

Training minimises one proper scoring rule, the negative log-likelihood (the log score); this
module holds the others the book reports, and the tools to check calibration.

* The **continuous ranked probability score** :math:`\operatorname{CRPS}(F, y) =
  \int (F(z) - \mathbb 1\{y \le z\})^2\,dz = \mathbb E|X - y| - \tfrac12 \mathbb E|X - X'|`
  (Gneiting & Raftery 2007) has the target's units and reduces to the absolute error for a point
  forecast: :func:`crps_gaussian`, :func:`crps_laplace` (closed forms) and
  :func:`crps_ensemble` (exact for the empirical law of samples).
* **Calibration**: the probability integral transform :func:`pit` (uniform when the law is
  right), :func:`coverage` of an interval, and :func:`interval_coverage` (observed against
  nominal coverage of central intervals, the reliability diagram of
  :func:`cebook.plot.reliability_diagram`).
* **Cross-entropy and KL divergence** between two :mod:`torch.distributions` laws,
  :func:`cross_entropy` and :func:`kl`, in closed form where torch registers one and by numerical
  integration (or exact summation for discrete laws) otherwise.

Used in
https://cebook.github.io/cross-entropy-regression/book/foundations/cross_entropy.html,
https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html,
https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html
and https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

References
----------
.. [1] T. Gneiting and A. E. Raftery, "Strictly proper scoring rules, prediction, and
   estimation", JASA 102(477):359-378, 2007.
.. [2] T. Gneiting, A. E. Raftery, A. H. Westveld and T. Goldman, "Calibrated probabilistic
   forecasting using ensemble model output statistics and minimum CRPS estimation", Monthly
   Weather Review 133:1098-1118, 2005.
.. [3] A. Jordan, F. Krüger and S. Lerch, "Evaluating probabilistic forecasts with scoringRules",
   Journal of Statistical Software 90(12), 2019.
.. [4] C. A. T. Ferro, "Fair scores for ensemble forecasts", QJRMS 140:1917-1923, 2014.
.. [5] M. Takahasi and M. Mori, "Double exponential formulas for numerical integration", Publ.
   RIMS 9:721-741, 1974.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import distributions as D

from cebook._validation import (
    Reduction,
    _as_tensors,
    _broadcast_shapes,
    _broadcast_to_target,
    _check_nonempty,
    _check_reduction,
    _Checks,
    _reduce,
    _show,
    _spec,
    _work_dtype,
    not_nan,
    positive,
    real,
    validation_enabled,
)

__all__ = [
    "crps_gaussian",
    "crps_laplace",
    "crps_ensemble",
    "pit",
    "coverage",
    "interval_coverage",
    "cross_entropy",
    "kl",
    "Reduction",
]

Method = Literal["auto", "closed_form", "numerical"]
Number = torch.Tensor | float

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------------------------
# helpers


_CRPS_GAUSSIAN = _spec("crps_gaussian", loc=real, scale=positive, target=real)
_CRPS_LAPLACE = _spec("crps_laplace", loc=real, scale=positive, target=real)


# --------------------------------------------------------------------------------------------
# CRPS


def crps_gaussian(
    loc: Number, scale: Number, target: Number, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    r"""Continuous ranked probability score of a normal law :math:`\mathcal N(\mu, \sigma^2)`.

    .. math::

        \operatorname{CRPS}(\mathcal N(\mu, \sigma^2), y)
        = \sigma\left[z\,(2\Phi(z) - 1) + 2\varphi(z) - \frac{1}{\sqrt\pi}\right],
        \qquad z = \frac{y - \mu}{\sigma}

    (Gneiting et al. 2005). It has the target's units; as :math:`\sigma \to 0` it tends to the
    absolute error :math:`|y - \mu|`. Lower is better. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html
    and https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Parameters
    ----------
    loc, scale : Tensor or float
        Mean and standard deviation (``scale > 0``); they broadcast to the target's shape.
    target : Tensor or float
        Observed values.
    reduction : {"mean", "sum", "none"}
        How to reduce over the examples.

    Returns
    -------
    Tensor
        The score, shape of ``target`` for ``"none"``, else a scalar.

    Raises
    ------
    ValueError
        If the parameters do not broadcast to the target's shape exactly, on
        ``reduction="mean"`` of an empty target, on a Python-number ``scale`` that is not
        finite and > 0; with validation on, also on a non-finite ``loc`` or ``target`` or a
        tensor ``scale`` that is not finite and > 0.

    Examples
    --------
    >>> import torch
    >>> from cebook.metrics import crps_gaussian
    >>> crps_gaussian(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0]),
    ...               torch.tensor([0.0, 1.0]), reduction="none")
    tensor([0.2337, 0.6024])
    """
    caller = "crps_gaussian"
    loc, scale, target = _CRPS_GAUSSIAN.prepare(reduction, loc, scale, target)
    z = (target - loc) / scale
    pdf = _INV_SQRT_2PI * torch.exp(-0.5 * z * z)
    # z (2 Phi(z) - 1) = z erf(z / sqrt 2): no cancellation in the tails.
    score = scale * (z * torch.erf(z / math.sqrt(2.0)) + 2.0 * pdf - _INV_SQRT_PI)
    return _reduce(score, reduction, caller)


def crps_laplace(
    loc: Number, scale: Number, target: Number, *, reduction: Reduction = "mean"
) -> torch.Tensor:
    r"""Continuous ranked probability score of a Laplace law with location :math:`\mu` and scale
    :math:`b`.

    .. math::

        \operatorname{CRPS}(\operatorname{Laplace}(\mu, b), y)
        = |y - \mu| + b\,e^{-|y - \mu|/b} - \frac{3b}{4}

    (Jordan, Krüger & Lerch 2019; NGBoost's ``LaplaceCRPScore``). Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Parameters
    ----------
    loc, scale : Tensor or float
        Location and scale :math:`b > 0` (the variance is :math:`2b^2`); they broadcast to the
        target's shape.
    target : Tensor or float
        Observed values.
    reduction : {"mean", "sum", "none"}
        How to reduce over the examples.

    Returns
    -------
    Tensor
        The score, shape of ``target`` for ``"none"``, else a scalar.

    Raises
    ------
    ValueError
        If the parameters do not broadcast to the target's shape exactly, on
        ``reduction="mean"`` of an empty target, on a Python-number ``scale`` that is not
        finite and > 0; with validation on, also on a non-finite ``loc`` or ``target`` or a
        tensor ``scale`` that is not finite and > 0.

    Examples
    --------
    >>> import torch
    >>> from cebook.metrics import crps_laplace
    >>> crps_laplace(0.0, 1.0, torch.tensor([0.0, 2.0]), reduction="none")
    tensor([0.2500, 1.3853])
    """
    caller = "crps_laplace"
    loc, scale, target = _CRPS_LAPLACE.prepare(reduction, loc, scale, target)
    error = (target - loc).abs()
    score = error + scale * torch.exp(-error / scale) - 0.75 * scale
    return _reduce(score, reduction, caller)


def crps_ensemble(
    samples: torch.Tensor,
    target: Number,
    *,
    fair: bool = False,
    reduction: Reduction = "mean",
) -> torch.Tensor:
    r"""Exact CRPS of the empirical law of an ensemble (samples in the last dimension).

    For the :math:`M` members sorted, :math:`x_{(1)} \le \dots \le x_{(M)}`,

    .. math::

        \operatorname{CRPS}(\hat F_M, y)
        = \frac1M \sum_{i} |x_{(i)} - y|
          - \frac{1}{M^2} \sum_{i} (2i - M - 1)\, x_{(i)},

    the identity :math:`\mathbb E|X - y| - \frac12 \mathbb E|X - X'|` with the pairwise term
    summed by ranks: :math:`O(M \log M)` time and :math:`O(M)` memory per target, no
    :math:`M \times M` matrix. By default this is the score of the **empirical distribution**
    of the samples (what ``properscoring.crps_ensemble`` computes); ``fair=True`` divides the
    pairwise term by :math:`M(M - 1)` instead of :math:`M^2` (Ferro 2014), an unbiased estimate
    of the CRPS of the law the samples were drawn from. With one member the plain score is the
    absolute error. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html and
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Parameters
    ----------
    samples : Tensor
        Shape ``(..., M)``.
    target : Tensor or float
        Shape ``(...)``; ``samples.shape[:-1]`` must broadcast to it.
    fair : bool
        Use the fair (unbiased) pairwise term; needs :math:`M \ge 2`.
    reduction : {"mean", "sum", "none"}
        How to reduce over the targets.

    Returns
    -------
    Tensor
        The score, shape ``(...)`` for ``"none"``, else a scalar.

    Raises
    ------
    ValueError
        If the shapes do not match, ``fair=True`` with a single member, or on
        ``reduction="mean"`` of an empty target; with validation on, also on non-finite
        samples or targets.

    Examples
    --------
    >>> import torch
    >>> from cebook.metrics import crps_ensemble
    >>> crps_ensemble(torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([1.5]))  # 5/6 - 4/9
    tensor(0.3889)
    >>> crps_ensemble(torch.tensor([[3.0]]), torch.tensor([1.0]))  # the absolute error
    tensor(2.)
    """
    caller = "crps_ensemble"
    _check_reduction(reduction, caller)
    if not isinstance(samples, torch.Tensor) or samples.dim() == 0:
        raise ValueError(f"{caller}: samples must be a tensor of shape (..., M), got {samples!r}")
    samples, target = _as_tensors(caller, samples=samples, target=target)
    _broadcast_to_target(
        caller, [("samples without their ensemble dimension", samples.shape[:-1])], target.shape
    )
    m = samples.shape[-1]
    if m < 1 or (fair and m < 2):
        raise ValueError(
            f"{caller}: samples must hold at least {2 if fair else 1} ensemble members in its last "
            f"dimension, got {m}"
        )
    _check_nonempty(caller, reduction, target.shape)
    if validation_enabled():
        _Checks(caller).finite("samples", samples).finite("target", target).raise_first()
    if samples.shape[:-1] != target.shape:
        samples = samples.expand(*target.shape, m)
    # Centre on the target: the rank weights sum to zero, so the shift cancels in the pairwise
    # term and the sums stay small.
    centred, _ = torch.sort(samples - target.to(samples.dtype).unsqueeze(-1), dim=-1)
    ranks = torch.arange(1, m + 1, dtype=centred.dtype, device=centred.device)
    weights = 2.0 * ranks - m - 1.0
    absolute = centred.abs().mean(dim=-1)
    pairwise = (centred * weights).sum(dim=-1) / (m * (m - 1) if fair else m * m)
    return _reduce(absolute - pairwise, reduction, caller)


# --------------------------------------------------------------------------------------------
# calibration


def _check_dist(dist: object, name: str, caller: str) -> D.Distribution:
    if not isinstance(dist, D.Distribution):
        raise ValueError(
            f"{caller}: {name} must be a torch.distributions.Distribution, got {type(dist)}"
        )
    return dist


def _scalar_event(dist: D.Distribution, name: str, caller: str) -> None:
    if dist.event_shape != torch.Size():
        raise ValueError(
            f"{caller}: {name} must be a law of scalars (event_shape ()), got "
            f"{type(dist).__name__} with event_shape {tuple(dist.event_shape)}"
        )


def pit(
    dist: D.Distribution, target: Number, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    r"""Probability integral transform :math:`u = F(y)` of each target under its predicted law.

    If the predicted laws are the true ones, the :math:`u` are uniform on :math:`[0, 1]`; a
    U-shaped histogram means over-confident laws, a hump under-confident ones (draw it with
    :func:`cebook.plot.pit_histogram`). This is ``dist.cdf(target)``; for continuous scalar
    laws that torch gives no ``cdf`` (``StudentT``, ``Beta``, ...), the CDF is computed by
    double-exponential quadrature of the density in float64 (about 10 correct digits for float64
    laws, 6 for float32 ones).

    For a discrete law on :math:`0, 1, 2, \dots` (Poisson, negative binomial, binomial,
    Bernoulli, geometric, categorical) :math:`F(y)` is not uniform even under the true law, so
    the **randomised PIT** is returned: :math:`u = F(y - 1) + V\,p(y)` with :math:`V` uniform on
    :math:`[0, 1]` (drawn from ``generator``), uniform when the law is right (Czado, Gneiting &
    Held 2009). :math:`F(y - 1)` is the sum of the probabilities below :math:`y`: the time grows
    with the largest target. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html and
    https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Parameters
    ----------
    dist : torch.distributions.Distribution
        The predicted laws, scalar events, batch shape broadcasting to the target's shape.
    target : Tensor or float
        Observed values, in the law's support.
    generator : torch.Generator, optional
        Source of :math:`V` for discrete laws, for reproducible values; unused for continuous
        laws.

    Returns
    -------
    Tensor
        Values in :math:`[0, 1]`, the target's shape.

    Raises
    ------
    ValueError
        If ``dist`` is not a law of scalars (or is discrete with a support that does not start
        at 0), the batch shape does not broadcast to the target's shape exactly, or (validation
        on) a target lies outside the support.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal, StudentT
    >>> from cebook.metrics import pit
    >>> pit(Normal(torch.zeros(3), 1.0), torch.tensor([-1.0, 0.0, 1.96]))
    tensor([0.1587, 0.5000, 0.9750])
    >>> pit(StudentT(torch.tensor(3.0)), torch.tensor(1.0))  # no cdf in torch: by quadrature
    tensor(0.8045)
    >>> from torch.distributions import Poisson  # discrete: u is uniform on [F(y - 1), F(y)]
    >>> seeded = torch.Generator().manual_seed(0)
    >>> pit(Poisson(torch.tensor(2.0)), torch.tensor(0.0), generator=seeded)
    tensor(0.0672)
    """
    caller = "pit"
    dist = _check_dist(dist, "dist", caller)
    _scalar_event(dist, "dist", caller)
    support = _support(dist)
    if support.is_discrete and getattr(support, "lower_bound", 0) != 0:
        raise ValueError(
            f"{caller}: {type(dist).__name__} is discrete with support {support}; the randomised "
            "PIT needs a support 0, 1, 2, ..."
        )
    dtype, device = _dist_dtype_device(dist)
    if not isinstance(target, torch.Tensor):
        target = torch.as_tensor(target, dtype=dtype, device=device)
    _broadcast_to_target(caller, [("dist batch", dist.batch_shape)], target.shape)
    if validation_enabled():
        inside = support.check(target).expand(target.shape)
        requirement = f"target must be in the support of {type(dist).__name__}"
        _Checks(caller).add(requirement, target.expand(target.shape), inside).raise_first()
    if support.is_discrete:
        return _randomised_pit(dist, target, generator, dtype)
    try:
        return dist.cdf(target)
    except NotImplementedError:
        return _numerical_cdf(dist, target).to(target.dtype)


def _randomised_pit(
    dist: D.Distribution,
    target: torch.Tensor,
    generator: torch.Generator | None,
    dtype: torch.dtype,
) -> torch.Tensor:
    # class indices (long) are compared and returned in the law's dtype
    values = target if target.is_floating_point() else target.to(dtype)
    below = torch.zeros_like(values)  # F(y - 1) = sum of p(k) over k = 0, ..., y - 1
    top = int(values.max()) if values.numel() else 0
    step = max(1, 2**22 // max(1, values.numel()))  # memory of one chunk: 2**22 values
    for start in range(0, top, step):
        k = torch.arange(start, min(start + step, top), dtype=values.dtype, device=values.device)
        k = k.view(-1, *([1] * values.dim())).expand(-1, *values.shape)
        mass = dist.log_prob(k.to(target.dtype)).exp().to(values.dtype)
        below = below + torch.where(k < values, mass, torch.zeros_like(mass)).sum(0)
    at = dist.log_prob(target).exp().to(values.dtype)
    where = generator.device if generator is not None else values.device
    v = torch.rand(values.shape, generator=generator, dtype=values.dtype, device=where)
    return (below + v.to(values.device) * at).clamp(0.0, 1.0)  # sums may overshoot 1 by rounding


def coverage(lower: Number, upper: Number, target: Number) -> torch.Tensor:
    r"""Fraction of targets inside their interval :math:`[\ell, u]` (ends included).

    For the :math:`\alpha`-quantile and :math:`(1 - \alpha)`-quantile of calibrated laws the
    expected coverage is :math:`1 - 2\alpha`. Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html,
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html
    and https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Parameters
    ----------
    lower, upper : Tensor or float
        The interval's ends; they broadcast to the target's shape.
    target : Tensor or float
        Observed values.

    Returns
    -------
    Tensor
        A 0-dim tensor in :math:`[0, 1]`, in the floating dtype of the inputs and on their device,
        like every score of this module (``float(...)`` or ``.item()`` gives a number).

    Raises
    ------
    ValueError
        If the shapes do not match or ``target`` is empty; with validation on, also on a NaN end,
        a ``target`` that is not finite, or ``lower > upper`` somewhere (infinite ends are fine:
        one-sided intervals).

    Examples
    --------
    >>> import torch
    >>> from cebook.metrics import coverage
    >>> coverage(torch.tensor([0.0, 0.0, 0.0, 0.0]), 1.0, torch.tensor([0.5, 1.0, 1.5, -0.1]))
    tensor(0.5000)
    """
    caller = "coverage"
    lower, upper, target = _COVERAGE.prepare("none", lower, upper, target)
    if target.numel() == 0:  # a mean of nothing: the losses' rule for reduction="mean"
        raise ValueError(f"{caller}: target must be non-empty, got shape {tuple(target.shape)}")
    if validation_enabled():
        lower_, upper_ = lower.expand(target.shape), upper.expand(target.shape)
        _Checks(caller).add(
            "lower must be <= upper, got lower {} above its upper end", lower_, lower_ <= upper_
        ).raise_first()
    inside = (target >= lower) & (target <= upper)
    return inside.to(target.dtype).mean()


_COVERAGE = _spec("coverage", lower=not_nan, upper=not_nan, target=real)


def interval_coverage(
    dist: D.Distribution, target: Number, levels: torch.Tensor | Sequence[float]
) -> torch.Tensor:
    r"""Observed coverage of the central intervals of nominal coverage ``levels``: the points of
    a reliability diagram.

    The central interval of level :math:`\alpha` runs from the :math:`(1 - \alpha)/2` to the
    :math:`(1 + \alpha)/2` quantile; a target lies inside it exactly when its PIT
    :math:`u = F(y)` satisfies :math:`|u - \tfrac12| \le \alpha/2`, so no quantile function is
    needed. Calibrated laws give observed :math:`\approx` nominal; points below the diagonal
    mean intervals too narrow (over-confidence). Plot with
    :func:`cebook.plot.reliability_diagram`. Continuous laws only: a discrete law raises
    ``ValueError`` (its PIT is randomised, see :func:`pit`). Used in
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html.

    Parameters
    ----------
    dist : torch.distributions.Distribution
        The predicted laws (as for :func:`pit`).
    target : Tensor or float
        Observed values.
    levels : Tensor or sequence of float
        Nominal coverages in :math:`(0, 1]`.

    Returns
    -------
    Tensor
        Observed coverages, shape ``(len(levels),)``, on the target's device.

    Raises
    ------
    ValueError
        As :func:`pit`, if ``dist`` is discrete, or if a level lies outside :math:`(0, 1]`.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal
    >>> from cebook.metrics import interval_coverage
    >>> y = torch.tensor([-2.0, -0.5, 0.1, 0.3, 1.2])
    >>> interval_coverage(Normal(0.0, torch.ones(5)), y, [0.5, 0.9])
    tensor([0.6000, 0.8000])
    """
    caller = "interval_coverage"
    dist = _check_dist(dist, "dist", caller)
    if _support(dist).is_discrete:
        raise ValueError(
            f"{caller}: dist must be a continuous law, got {type(dist).__name__} (discrete): its "
            "PIT is randomised; call pit(dist, target, generator=...) and count the values in "
            "[(1 - level) / 2, (1 + level) / 2] for a reproducible answer"
        )
    u = pit(dist, target)
    levels_ = torch.as_tensor(levels, dtype=u.dtype, device=u.device).reshape(-1)
    if levels_.numel() == 0 or not bool(((levels_ > 0) & (levels_ <= 1)).all()):
        raise ValueError(f"{caller}: levels must be in (0, 1], got {_show(levels_, 10)}")
    distance = (u.detach().reshape(-1) - 0.5).abs()
    inside = distance.unsqueeze(0) <= levels_.unsqueeze(-1) / 2
    return inside.to(u.dtype).mean(dim=-1)


# --------------------------------------------------------------------------------------------
# cross-entropy and KL


def cross_entropy(p: D.Distribution, q: D.Distribution, *, method: Method = "auto") -> torch.Tensor:
    r"""Cross-entropy :math:`H(p, q) = -\mathbb E_{y \sim p}[\log q(y)]` in nats.

    For densities it is a *differential* cross-entropy (it can be negative); the average
    negative log-likelihood of a model :math:`q` on data from :math:`p` estimates it.
    :math:`H(p, q) = H(p) + \operatorname{KL}(p \,\|\, q)`, and that is the closed form used when
    torch knows both ``p.entropy()`` and ``kl_divergence(p, q)``. Otherwise:

    * discrete ``p`` with finite support (``Categorical``, ``Bernoulli``, ``Binomial``): exact
      sum over the support; ``Poisson``, ``Geometric``, ``NegativeBinomial``: sum truncated 40
      standard deviations above the mean (the rest is below float64's resolution);
    * continuous ``p``: double-exponential (tanh-sinh, exp-sinh, sinh-sinh) quadrature of
      :math:`-p \log q` in float64 over ``p``'s support, halving the step until two estimates
      agree to about 1e-10 relative (1e-6 for float32 laws: torch evaluates ``log_prob`` in the
      parameters' dtype), with a ``RuntimeWarning`` if they still differ by more than 1e-7
      (1e-4) at the finest step. It handles heavy tails and
      integrable singularities at the ends of the support (a Gamma with shape below 1).

    Gradients flow through both laws' ``log_prob``. If ``q`` gives zero density where ``p`` has
    mass the result is ``inf``. Used in
    https://cebook.github.io/cross-entropy-regression/book/foundations/cross_entropy.html.

    Parameters
    ----------
    p, q : torch.distributions.Distribution
        Laws of scalars (or any pair with a closed form), batch shapes broadcasting together;
        both discrete or both continuous.
    method : {"auto", "closed_form", "numerical"}
        ``"auto"`` uses the closed form when there is one; the others force a method
        (``"closed_form"`` raises if there is none).

    Returns
    -------
    Tensor
        Shape ``broadcast(p.batch_shape, q.batch_shape)``.

    Raises
    ------
    ValueError
        If the arguments are not distributions, their batch shapes do not broadcast, one is
        discrete and the other continuous, or no method applies.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal, StudentT
    >>> from cebook.metrics import cross_entropy
    >>> p, q = Normal(0.0, 1.0), Normal(1.0, 2.0)
    >>> cross_entropy(p, q)  # log(2 sqrt(2 pi)) + (1 + 1) / (2 * 4)
    tensor(1.8621)
    >>> cross_entropy(p, q, method="numerical")
    tensor(1.8621)
    >>> cross_entropy(StudentT(torch.tensor(4.0)), q)  # torch registers no KL: by quadrature
    tensor(1.9871)
    """
    caller = "cross_entropy"
    _check_dist(p, "p", caller)
    _check_dist(q, "q", caller)
    _check_method(method, caller)
    _broadcast(p.batch_shape, q.batch_shape, caller)
    if method != "numerical":
        try:
            closed: torch.Tensor = p.entropy() + D.kl_divergence(p, q)
            return closed
        except NotImplementedError:
            if method == "closed_form":
                raise ValueError(
                    f"{caller}: no closed form for {type(p).__name__} against "
                    f"{type(q).__name__} (torch needs p.entropy() and a registered KL)"
                ) from None
    return _numerical_expectation(p, q, kind="cross_entropy", caller=caller)


def kl(p: D.Distribution, q: D.Distribution, *, method: Method = "auto") -> torch.Tensor:
    r"""Kullback-Leibler divergence :math:`\operatorname{KL}(p \,\|\, q) = \mathbb E_{y \sim p}
    [\log p(y) - \log q(y)] = H(p, q) - H(p) \ge 0` in nats.

    ``torch.distributions.kl_divergence`` when torch registers the pair; otherwise the same
    exact sums and quadrature as :func:`cross_entropy`, applied to
    :math:`p(\log p - \log q)`. Unlike the cross-entropy it does not depend on the units of
    :math:`y`, and it is 0 exactly when the laws agree. Used in
    https://cebook.github.io/cross-entropy-regression/book/foundations/cross_entropy.html.

    Parameters
    ----------
    p, q : torch.distributions.Distribution
        As for :func:`cross_entropy`.
    method : {"auto", "closed_form", "numerical"}
        As for :func:`cross_entropy`.

    Returns
    -------
    Tensor
        Shape ``broadcast(p.batch_shape, q.batch_shape)``.

    Raises
    ------
    ValueError
        As :func:`cross_entropy`.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Gamma, LogNormal, Normal
    >>> from cebook.metrics import kl
    >>> kl(Normal(0.0, 1.0), Normal(1.0, 1.0))  # (mu_p - mu_q)^2 / 2
    tensor(0.5000)
    >>> kl(Gamma(2.0, 1.0), LogNormal(0.5, 0.8))  # by quadrature
    tensor(0.0499)
    """
    caller = "kl"
    _check_dist(p, "p", caller)
    _check_dist(q, "q", caller)
    _check_method(method, caller)
    _broadcast(p.batch_shape, q.batch_shape, caller)
    if method != "numerical":
        try:
            divergence: torch.Tensor = D.kl_divergence(p, q)
            return divergence
        except NotImplementedError:
            if method == "closed_form":
                raise ValueError(
                    f"{caller}: torch registers no KL for {type(p).__name__} against "
                    f"{type(q).__name__}"
                ) from None
    return _numerical_expectation(p, q, kind="kl", caller=caller)


def _check_method(method: str, caller: str) -> None:
    if method not in ("auto", "closed_form", "numerical"):
        raise ValueError(
            f"{caller}: method must be 'auto', 'closed_form' or 'numerical', got {method!r}"
        )


def _broadcast(a: torch.Size, b: torch.Size, caller: str) -> torch.Size:
    shape = _broadcast_shapes(a, b)
    if shape is None:
        raise ValueError(f"{caller}: batch shapes {tuple(a)} and {tuple(b)} do not broadcast")
    return torch.Size(shape)


# --------------------------------------------------------------------------------------------
# numerical integration (double-exponential quadrature) and exact sums


def _support(dist: D.Distribution) -> D.constraints.Constraint:
    support = dist.support
    # MixtureSameFamily wraps its components' support.
    while isinstance(support, D.constraints.MixtureSameFamilyConstraint):
        support = support.base_constraint
    if support is None:
        raise ValueError(f"{type(dist).__name__} declares no support")
    return support


def _dist_dtype_device(dist: D.Distribution) -> tuple[torch.dtype, torch.device]:
    for attempt in (lambda: dist.mean, lambda: dist.base_dist.mean):  # type: ignore[attr-defined]
        try:
            value = attempt()
        except (NotImplementedError, AttributeError):
            continue
        if isinstance(value, torch.Tensor):
            return value.dtype, value.device
    for value in vars(dist).values():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.dtype, value.device
    return torch.get_default_dtype(), torch.device("cpu")


def _bounds(
    support: D.constraints.Constraint,
    shape: Sequence[int],
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The support's lower and upper bounds (±inf where open-ended), broadcast to ``shape``."""
    if isinstance(support, type(D.constraints.boolean)):
        low, high = 0.0, 1.0
    else:
        low = getattr(support, "lower_bound", -math.inf)
        high = getattr(support, "upper_bound", math.inf)

    def full(v: float) -> torch.Tensor:
        return torch.as_tensor(v, dtype=dtype, device=device).detach().broadcast_to(shape)

    return full(low), full(high)


def _location_scale(
    dist: D.Distribution,
    shape: Sequence[int],
    dtype: torch.dtype,
    device: torch.device,
    *,
    moments_only: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A centre and a positive scale per batch element, to place the quadrature nodes."""
    centre: torch.Tensor | None = None
    scale: torch.Tensor | None = None
    if not moments_only:
        try:
            probs = torch.tensor([0.25, 0.5, 0.75], dtype=dtype, device=device)
            probs = probs.reshape(3, *([1] * len(dist.batch_shape)))
            with torch.no_grad():
                quartiles = dist.icdf(probs.to(_dist_dtype_device(dist)[0]))
            quartiles = quartiles.to(dtype)
            centre, scale = quartiles[1], (quartiles[2] - quartiles[0]) / 1.349
        except (NotImplementedError, ValueError, RuntimeError, TypeError, AttributeError):
            centre = scale = None
    if centre is None:
        with torch.no_grad():
            try:
                centre = dist.mean.to(dtype)
                scale = dist.stddev.to(dtype)
            except NotImplementedError:
                centre = torch.zeros((), dtype=dtype, device=device)
                scale = torch.ones((), dtype=dtype, device=device)
            for name, value, default in (("loc", centre, 0.0), ("scale", scale, 1.0)):
                fallback = getattr(dist, name, default)
                fallback = torch.as_tensor(fallback, dtype=dtype, device=device).detach()
                if name == "loc":
                    centre = torch.where(torch.isfinite(value), value, fallback)
                else:
                    scale = torch.where(torch.isfinite(value), value, fallback)
    assert centre is not None and scale is not None  # set together above
    centre = centre.detach().broadcast_to(shape)
    scale = scale.detach().broadcast_to(shape)
    centre = torch.where(torch.isfinite(centre), centre, torch.zeros_like(centre))
    scale = torch.where(torch.isfinite(scale) & (scale > 0), scale, torch.ones_like(scale))
    return centre, scale


def _inner_point(
    support: D.constraints.Constraint,
    shape: Sequence[int],
    dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:
    """A point inside ``support`` per batch element, to stand in for points outside it."""
    low, high = _bounds(support, shape, dtype, device)
    point = torch.zeros(shape, dtype=dtype, device=device)
    point = torch.where(torch.isfinite(low), low + 1.0, point)
    point = torch.where(torch.isfinite(high), high - 1.0, point)
    both = torch.isfinite(low) & torch.isfinite(high)
    middle = low if support.is_discrete else 0.5 * (low + high)
    return torch.where(both, middle, point)


def _log_prob(dist: D.Distribution, x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """``dist.log_prob(x)`` with ``-inf`` outside the support (no validation error)."""
    support = _support(dist)
    inside = support.check(x)
    safe = torch.where(inside, x, _inner_point(support, shape, x.dtype, x.device))
    value = dist.log_prob(safe).to(x.dtype)
    return torch.where(inside, value, torch.full_like(value, -math.inf))


# |t| range of the double-exponential nodes: they come within 1e-300 of a finite bound (nodes that
# underflow onto it or overflow to infinity are dropped).
_T_MAX = 6.75
_H0 = 0.5
_MIN_LEVEL = 4  # step 1/32 at least
_MAX_LEVEL = 8  # step 1/512 at most (7169 nodes per interval)
_TOL = 1e-10  # target relative change between two levels (float64 laws)
_WARN = {True: 1e-7, False: 1e-4}  # warn above these (float64 laws, float32 laws)


def _tolerance(dtype: torch.dtype) -> float:
    # torch evaluates log_prob in the parameters' dtype: float32 laws allow ~7 digits, not 10.
    return _TOL if dtype == torch.float64 else 1e-6


def _nodes(
    t: torch.Tensor,
    low: torch.Tensor,
    high: torch.Tensor,
    centre: torch.Tensor,
    scale: torch.Tensor,
    law_dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes ``x`` and weights ``dx/dt`` of the double-exponential maps, per batch element:
    tanh-sinh on finite intervals, exp-sinh on half-lines, sinh-sinh on the real line.

    Returns ``(x, w)`` of shape ``(len(t), *low.shape)``; dropped nodes have ``w = 0`` and ``x``
    at the centre. Each element only pays for its own map."""
    shape = low.shape
    low, high = low.reshape(-1), high.reshape(-1)
    centre, scale = centre.reshape(-1), scale.reshape(-1)
    t = t.reshape(-1, 1)
    half_pi_cosh = 0.5 * math.pi * torch.cosh(t)
    u = 0.5 * math.pi * torch.sinh(t)

    def tame(weight: torch.Tensor, *values: torch.Tensor) -> list[torch.Tensor]:
        # Where a map under- or overflows, give the node weight 0 and harmless values. Nodes stay
        # within 1e100 scales of the centre, so that squares in log_prob stay finite (an
        # infinite log-density times a zero mass would make the gradient NaN).
        keep = torch.isfinite(weight) & (weight > 0)
        for v in values:
            keep = keep & (v.abs() <= 1e100)
        zero = torch.zeros_like(weight)
        return [torch.where(keep, weight, zero)] + [torch.where(keep, v, zero) for v in values]

    # tanh-sinh on [a, b]: the distance to the nearer end, computed directly (no cancellation)
    e = torch.exp(-2.0 * u.abs())
    w_finite, d_finite = tame(2.0 * e / (1.0 + e) ** 2 * half_pi_cosh, e / (1.0 + e))
    # exp-sinh on [a, inf) or (-inf, b]
    g = torch.exp(u)
    w_half, g = tame(g * half_pi_cosh, g)
    # sinh-sinh on the real line
    w_real, sinh_u = tame(torch.cosh(u) * half_pi_cosh, torch.sinh(u))

    finite_low, finite_high = torch.isfinite(low), torch.isfinite(high)
    kinds = {
        "finite": finite_low & finite_high,
        "up": finite_low & ~finite_high,
        "down": ~finite_low & finite_high,
        "real": ~finite_low & ~finite_high,
    }
    x = centre.expand(t.shape[0], -1)
    w = None
    for kind, members in kinds.items():
        index = torch.nonzero(members).reshape(-1)
        if index.numel() == 0:
            continue
        whole = index.numel() == low.numel()  # the usual case: one map for every element
        if whole:
            a, b, c, s = low, high, centre, scale
        else:
            a, b, c, s = low[index], high[index], centre[index], scale[index]
        if kind == "finite":
            distance = (b - a) * d_finite
            x_k = torch.where(t < 0, a + distance, b - distance)
            w_k = (b - a) * w_finite
        elif kind == "up":
            x_k, w_k = a + s * g, s * w_half
        elif kind == "down":
            x_k, w_k = b - s * g, s * w_half
        else:
            x_k, w_k = c + s * sinh_u, s * w_real
        # Nodes that round onto a bound in the laws' dtype (where log_prob is evaluated) drop.
        x_law = x_k if law_dtype == x_k.dtype else x_k.to(law_dtype).to(x_k.dtype)
        valid = (x_law > a) & (x_law < b) & (w_k > 0)
        x_k, w_k = torch.where(valid, x_k, c), torch.where(valid, w_k, 0.0)
        if whole:
            return x_k.reshape(-1, *shape), w_k.reshape(-1, *shape)
        w = torch.zeros_like(x) if w is None else w
        x, w = x.index_copy(1, index, x_k), w.index_copy(1, index, w_k)
    w = torch.zeros_like(x) if w is None else w
    return x.reshape(-1, *shape), w.reshape(-1, *shape)


def _quadrature(
    integrand: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    low: torch.Tensor,
    high: torch.Tensor,
    centre: torch.Tensor,
    scale: torch.Tensor,
    caller: str,
    law_dtype: torch.dtype,
) -> torch.Tensor:
    """Integral over ``[low, high]`` per batch element, by the trapezoid rule in the
    double-exponential variable, halving the step until two estimates agree.

    ``integrand(x, log_w)`` returns the weighted values :math:`w f(x)` at the nodes, given the
    log-weights (``-inf`` for dropped nodes), so that a huge density times a tiny weight is
    formed in log space and never overflows."""
    dtype, device = low.dtype, low.device
    # Half-line scale: the distance from the bound to the centre, if the centre is inside.
    gap = torch.where(torch.isfinite(low), centre - low, high - centre)
    scale = torch.where(torch.isfinite(gap) & (gap > 0), gap, scale)
    n0 = math.ceil(_T_MAX / _H0)
    tol = _tolerance(law_dtype)

    def level_sum(t: torch.Tensor) -> torch.Tensor:
        x, w = _nodes(t, low, high, centre, scale, law_dtype)
        return integrand(x, torch.log(w)).sum(dim=0)

    h = _H0
    total = h * level_sum(torch.arange(-n0, n0 + 1, dtype=dtype, device=device) * h)
    previous = total
    change = torch.full_like(total, math.inf)
    for level in range(1, _MAX_LEVEL + 1):
        h = h / 2
        k_max = n0 * 2**level  # the new nodes: odd multiples of h inside [-T, T]
        odd = torch.arange(-(k_max - 1), k_max, 2, dtype=dtype, device=device) * h
        total = 0.5 * previous + h * level_sum(odd)
        with torch.no_grad():
            # Relative change; equal infinities (q = 0 where p > 0) count as converged.
            change = torch.where(total == previous, 0.0, total - previous).abs()
            change = change / (1.0 + total.abs())
        if level >= _MIN_LEVEL and bool((change <= tol).all()):
            return total
        previous = total
    # Not at the target precision with the finest step (a singularity at a bound that float64
    # cannot resolve, a kink): warn only if the result is clearly off.
    worst = float(change.max()) if change.numel() else 0.0
    if not worst <= _WARN[law_dtype == torch.float64]:
        warnings.warn(
            f"{caller}: the numerical integral did not converge (relative change {worst:.2g} "
            "at the finest step); the result may be inaccurate",
            RuntimeWarning,
            stacklevel=3,
        )
    return total


def _numerical_expectation(
    p: D.Distribution, q: D.Distribution, kind: str, caller: str
) -> torch.Tensor:
    """``E_p[-log q]`` (cross_entropy) or ``E_p[log p - log q]`` (kl) per batch element."""
    _scalar_event(p, "p", caller)
    _scalar_event(q, "q", caller)
    support_p, support_q = _support(p), _support(q)
    if support_p.is_discrete != support_q.is_discrete:
        kinds = {True: "discrete", False: "continuous"}
        raise ValueError(
            f"{caller}: p ({type(p).__name__}) is {kinds[support_p.is_discrete]} and q "
            f"({type(q).__name__}) is {kinds[support_q.is_discrete]}; the cross-entropy between "
            "a probability mass function and a density is not defined"
        )
    dtype_p, device = _dist_dtype_device(p)
    dtype_q = _dist_dtype_device(q)[0]
    out_dtype = torch.promote_types(dtype_p, dtype_q)
    work = _work_dtype(device)
    shape = _broadcast(p.batch_shape, q.batch_shape, caller)

    def value(x: torch.Tensor) -> torch.Tensor:
        log_q = _log_prob(q, x, shape)
        return -log_q if kind == "cross_entropy" else _log_prob(p, x, shape) - log_q

    low, high = _bounds(support_p, shape, work, device)
    if support_p.is_discrete:

        def summand(x: torch.Tensor) -> torch.Tensor:
            mass = torch.exp(_log_prob(p, x, shape))
            return torch.where(mass > 0, mass * value(x), torch.zeros_like(mass))

        return _discrete_sum(p, summand, low, high, shape, work, device, caller).to(out_dtype)
    law_dtype = out_dtype if dtype_q == dtype_p == torch.float64 else torch.float32
    centre_q = _location_scale(q, shape, work, device)[0]
    result = torch.zeros(shape, dtype=work, device=device)
    # E_p[g] = sum_k w_k E_{p_k}[g] for a mixture: one quadrature per component, with nodes
    # placed on that component's mass (a mixture's mean and spread can miss narrow components).
    for log_measure, centre, scale in _pieces(p, shape, work, device):

        def integrand(
            x: torch.Tensor, log_w: torch.Tensor, log_measure: _LogMeasure = log_measure
        ) -> torch.Tensor:
            mass = torch.exp(log_measure(x) + log_w)
            return torch.where(mass > 0, mass * value(x), torch.zeros_like(mass))

        # Far from a bound (50 scales), treat that side as open: the nodes then follow the mass.
        low_ = torch.where(centre - low > 50 * scale, torch.full_like(low, -math.inf), low)
        high_ = torch.where(high - centre > 50 * scale, torch.full_like(high, math.inf), high)
        # Split at p's and q's centres, where Laplace-like densities have their kink: a kink
        # at the end of an interval costs the quadrature nothing, inside it costs digits.
        other = torch.maximum(torch.minimum(centre_q, high), low)
        cut_low, cut_high = torch.minimum(centre, other), torch.maximum(centre, other)
        intervals = [
            torch.stack(values)
            for values in (
                (low_, cut_low, cut_high),
                (cut_low, cut_high, high_),
                (centre, centre, centre),
                (scale, scale, scale),
            )
        ]
        low_i, high_i, centre_i, scale_i = intervals
        integral = _quadrature(integrand, low_i, high_i, centre_i, scale_i, caller, law_dtype)
        result = result + integral.sum(dim=0)
    return result.to(out_dtype)


_LogMeasure = Callable[[torch.Tensor], torch.Tensor]


def _pieces(
    p: D.Distribution, shape: Sequence[int], dtype: torch.dtype, device: torch.device
) -> list[tuple[_LogMeasure, torch.Tensor, torch.Tensor]]:
    """``(log_measure, centre, scale)`` for each piece of ``p``'s measure: ``p`` itself, or the
    weighted components of a ``MixtureSameFamily``."""
    if not isinstance(p, D.MixtureSameFamily):
        centre, scale = _location_scale(p, shape, dtype, device)
        return [(lambda x: _log_prob(p, x, shape), centre, scale)]
    components = p.component_distribution
    log_weights = torch.log_softmax(p.mixture_distribution.logits, dim=-1)
    n_components = log_weights.shape[-1]
    centres, scales = _location_scale(components, components.batch_shape, dtype, device)
    pieces: list[tuple[_LogMeasure, torch.Tensor, torch.Tensor]] = []
    for k in range(n_components):

        def log_measure(x: torch.Tensor, k: int = k) -> torch.Tensor:
            log_comp = _log_prob(components, x.unsqueeze(-1), components.batch_shape)
            return log_weights[..., k].to(x.dtype) + log_comp[..., k]

        pieces.append(
            (log_measure, centres[..., k].broadcast_to(shape), scales[..., k].broadcast_to(shape))
        )
    return pieces


def _discrete_sum(
    p: D.Distribution,
    summand: Callable[[torch.Tensor], torch.Tensor],
    low: torch.Tensor,
    high: torch.Tensor,
    shape: Sequence[int],
    dtype: torch.dtype,
    device: torch.device,
    caller: str,
) -> torch.Tensor:
    """Exact sum over the integers of ``p``'s support (truncated far in an infinite tail)."""
    with torch.no_grad():
        mean, sd = _location_scale(p, shape, dtype, device, moments_only=True)
        # A finite support is summed whole; an infinite tail is cut 40 standard deviations out.
        start = torch.where(torch.isfinite(low), low, torch.floor(mean - 40.0 * sd))
        stop = torch.where(torch.isfinite(high), high, torch.ceil(mean + 40.0 * sd + 40.0))
        length = int((stop - start).max()) + 1 if start.numel() else 1
    if length * max(1, start.numel()) > 50_000_000:
        raise ValueError(
            f"{caller}: the support of {type(p).__name__} to sum over is too large "
            f"({length} values per element)"
        )
    values = start + torch.arange(length, dtype=dtype, device=device).reshape(
        -1, *([1] * len(shape))
    )
    return summand(values).sum(dim=0)


def _numerical_cdf(dist: D.Distribution, target: torch.Tensor) -> torch.Tensor:
    """``P(X <= y)`` by quadrature: the left tail below the centre, one minus the right tail
    above it (so that each integral is small where it matters)."""
    caller = "pit"
    work = _work_dtype(target.device)
    shape = target.shape
    support = _support(dist)
    low, high = _bounds(support, shape, work, target.device)
    centre, scale = _location_scale(dist, shape, work, target.device)
    y = torch.minimum(torch.maximum(target.detach().to(work), low), high)

    def density(x: torch.Tensor, log_w: torch.Tensor) -> torch.Tensor:
        return torch.exp(_log_prob(dist, x, shape) + log_w)

    left_end = torch.minimum(y, centre)
    right_start = torch.maximum(y, centre)
    law_dtype = _dist_dtype_device(dist)[0]
    left = _quadrature(density, low, left_end, centre, scale, caller, law_dtype)
    right = _quadrature(density, right_start, high, centre, scale, caller, law_dtype)
    return torch.where(y < centre, left, 1.0 - right).clamp(0.0, 1.0)
