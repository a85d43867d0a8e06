r"""Negative log-likelihoods: one cross-entropy per model law.

Pick a law for the target, take its negative log-likelihood, and you have a cross-entropy: the
average of ``X_nll(*params, target)`` over a data set is the cross-entropy between the data's
empirical distribution and the model law. Every function here follows one convention.

* **Signature.** ``X_nll(*params, target, *, reduction="mean")``: the law's parameters in the order
  :mod:`torch.distributions` takes them, then the target. ``reduction`` is ``"mean"`` (over every
  element), ``"sum"`` or ``"none"`` (one value per target element, or per event for
  :func:`mvn_nll` and per example for :func:`categorical_nll`).
* **Full negative log-likelihood in nats.** All constants are kept, so that
  ``X_nll(*params, target, reduction="none")`` equals
  ``-torch.distributions.X(*params).log_prob(target)`` and values compare across laws and chapters.
  A density can exceed 1, so a continuous law's NLL can be negative: that is not a bug.
* **Scale, not variance.** Every ``scale`` is a standard deviation (or the Laplace/Student-t scale),
  as in :mod:`torch.distributions`; :func:`torch.nn.functional.gaussian_nll_loss` takes a variance.
* **Strict shapes.** Parameters may be Python numbers or tensors and may broadcast against each
  other, but the broadcast of the parameters and the target must be the target's shape (without
  its event or class dimension for :func:`mvn_nll`, :func:`categorical_nll` and :func:`gmm_nll`).
  Anything else -- the classic ``(N, 1)`` prediction against an ``(N,)`` target -- raises
  ``ValueError`` naming both shapes. Shapes are checked whatever the validation switch says: the
  check reads no data and costs nothing on the device.
* **Validation.** While :func:`cebook.validation_enabled` is true (the default), a target outside
  the law's support or an invalid parameter raises ``ValueError`` naming the function, the
  argument and an offending value, e.g. ``gamma_nll: target must be > 0, got -1.5``. This costs
  one host-device synchronisation per call (all of a call's checks are read back together).
  ``cebook.set_validation(False)`` or ``with cebook.validation(False):`` skips it: the losses
  then run no data-dependent Python branch and never synchronise, so a training step compiles
  whole with ``torch.compile(..., fullgraph=True)``; with validation on, compiling or vmapping a
  loss raises a ``ValueError`` that says so. Python-number arguments (``scale=-1.0``, a
  ``bool``) are checked whatever the switch says: that costs nothing.
* **Empty inputs.** ``reduction="mean"`` of an empty target raises ``ValueError`` (the mean of
  nothing is undefined); ``"sum"`` gives 0 and ``"none"`` an empty tensor.
* **Device and dtype.** The result has the floating dtype of the tensors passed (promoted, or the
  default dtype if none is floating; Python numbers take that dtype) and lives on their device
  (a non-CPU one wins over a 0-dim CPU tensor; tensors with dimensions on two devices raise
  ``ValueError``). Complex inputs are refused. :mod:`cebook.metrics` and :mod:`cebook.bins`
  follow the same rules, with one exception: half-precision inputs (``float16``, ``bfloat16``)
  are upcast to ``float32``, and the result is computed and returned in ``float32``, as
  :func:`torch.nn.functional.cross_entropy` is under autocast (their gradients come back in the
  inputs' dtype). A log-likelihood has terms of very different sizes (``lgamma``, a squared
  residual over a tiny scale) that half precision rounds by whole nats or overflows:
  ``gaussian_nll`` of a float16 residual of 10 at scale 1e-3 would be ``inf``.
* **Speed.** Where a law reduces to a fused PyTorch kernel, the function calls it: a Gaussian with
  a Python-number scale is :func:`~torch.nn.functional.mse_loss`, a Laplace with a Python-number
  scale is :func:`~torch.nn.functional.l1_loss`, the Bernoulli law is
  :func:`~torch.nn.functional.binary_cross_entropy_with_logits` and the categorical law is
  :func:`~torch.nn.functional.cross_entropy`, with the constants added after the reduction.

The chapters of the book derive each loss; every docstring names its chapter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from cebook._validation import (
    Reduction,
    _as_tensors,
    _broadcast_shapes,
    _broadcast_to_target,
    _check_kind,
    _check_nonempty,
    _check_number,
    _check_reduction,
    _Checks,
    _is_number,
    _reduce,
    _shape,
    _spec,
    count,
    nonnegative,
    positive,
    real,
    unit_closed,
    unit_open,
    validation_enabled,
)

__all__ = [
    "gaussian_nll",
    "mvn_nll",
    "laplace_nll",
    "student_t_nll",
    "exponential_nll",
    "gamma_nll",
    "lognormal_nll",
    "poisson_nll",
    "negative_binomial_nll",
    "bernoulli_nll",
    "continuous_bernoulli_nll",
    "beta_nll",
    "categorical_nll",
    "gmm_nll",
    "pinball_loss",
    "asymmetric_laplace_nll",
    "Reduction",
]

TensorLike = Tensor | float

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)
_HALF_LOG_PI = 0.5 * math.log(math.pi)

# Continuous Bernoulli: log C(eta) = log(eta / tanh(eta / 2)) = log 2 + sum_k c_k eta^(2k) for
# |eta| < _CB_SERIES_BELOW. The truncation error at the boundary is below 2e-19, and the exact
# branch's float32 gradient is still accurate to ~1e-6 there (its 1/eta terms cancel).
_CB_SERIES_BELOW = 0.1
_CB_SERIES = (
    1.0 / 12.0,
    -7.0 / 1440.0,
    31.0 / 90720.0,
    -127.0 / 4838400.0,
    73.0 / 34214400.0,
)

# Student-t: g(df) = log(df) / 2 + log Gamma(df / 2) - log Gamma((df + 1) / 2)
#                   = log(2) / 2 + sum_k c_k t^(2k - 1),  t = 2 / df  (Stirling),
# summed for df >= _STUDENT_SERIES_FROM; c_1 = 1/8, then the coefficients below.
_STUDENT_SERIES_FROM = 64.0
_STUDENT_SERIES = (-1.0 / 192.0, 1.0 / 640.0, -17.0 / 14336.0, 31.0 / 18432.0)

# Stirling: log Gamma(z) = (z - 1/2) log z - z + log(2 pi) / 2 + corr(z), with
# corr(z) = sum_k B_2k / (2k (2k - 1) z^(2k - 1)) summed for z >= _STIRLING_FROM (truncation error
# below 1e-12 there) and computed from lgamma below it.
_STIRLING_FROM = 10.0
_STIRLING = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0)


# ------------------------------------------------------------------------------------------------
# Helpers: reduction, conversion, shapes, validation
# ------------------------------------------------------------------------------------------------


# Each law's arguments in its function's order, with their constraints (torch.distributions'
# arg_constraints and support in one declaration); _Spec.prepare converts them, checks the shapes
# always, Python numbers always and tensor values in one batched check while validation is on.
_GAUSSIAN = _spec("gaussian_nll", loc=real, scale=positive, target=real)
_LAPLACE = _spec("laplace_nll", loc=real, scale=positive, target=real)
_STUDENT_T = _spec("student_t_nll", df=positive, loc=real, scale=positive, target=real)
_EXPONENTIAL = _spec("exponential_nll", rate=positive, target=nonnegative)
_GAMMA = _spec("gamma_nll", concentration=positive, rate=positive, target=positive)
_LOGNORMAL = _spec("lognormal_nll", loc=real, scale=positive, target=positive)
_POISSON = _spec("poisson_nll", rate=positive, target=count)
_NEGATIVE_BINOMIAL = _spec("negative_binomial_nll", total_count=positive, logits=real, target=count)
_BERNOULLI = _spec("bernoulli_nll", logits=real, target=unit_closed)
_CONTINUOUS_BERNOULLI = _spec("continuous_bernoulli_nll", logits=real, target=unit_closed)
_BETA = _spec("beta_nll", concentration1=positive, concentration0=positive, target=unit_open)
_PINBALL = _spec("pinball_loss", target_is="target", pred=real, target=real, quantile=unit_open)
_ASYMMETRIC_LAPLACE = _spec(
    "asymmetric_laplace_nll", loc=real, scale=positive, quantile=unit_open, target=real
)

# F.cross_entropy ignores the targets equal to its ignore_index (-100 by default): an index no
# target can hold, so that a -100 with validation off fails in torch instead of being skipped.
_NO_IGNORE_INDEX = torch.iinfo(torch.long).min


# ------------------------------------------------------------------------------------------------
# Numerical helpers: ordinary differentiable tensor operations (so double backward, torch.func and
# torch.compile see through them); each branch of a torch.where gets clamped inputs, so that the
# unused one never produces an inf or a NaN that would poison the gradient.
# ------------------------------------------------------------------------------------------------


def _stirling_corr(z: Tensor) -> Tensor:
    r""":math:`\log\Gamma(z) - (z - \tfrac12)\log z + z - \tfrac12\log 2\pi`, for :math:`z > 0`.

    The remainder of Stirling's formula: it tends to 0 like :math:`1/(12z)`, while the terms it
    is the difference of grow like :math:`z\log z`. Summed as its asymptotic series for
    :math:`z \ge 10` (to :math:`z^{-7}` in float64, error below 1e-12; to :math:`z^{-3}` in
    float32 and narrower, error below 1e-8), computed from ``lgamma`` below. The in-place
    operations act only on fresh results that autograd does not save.
    """
    small = z.clamp(max=_STIRLING_FROM)
    direct = torch.lgamma(small)
    direct.sub_((small - 0.5) * torch.log(small)).add_(small).sub_(_HALF_LOG_2PI)
    w = z.clamp(min=_STIRLING_FROM).reciprocal()
    w2 = w * w
    coefs = _STIRLING if torch.finfo(z.dtype).bits > 32 else _STIRLING[:2]
    series = w2 * coefs[-1]
    for c in reversed(coefs[1:-1]):
        series.add_(c).mul_(w2)
    series.add_(coefs[0]).mul_(w)
    return torch.where(z < _STIRLING_FROM, direct, series)


def _log_beta_rest(
    a: Tensor, b: Tensor, n: Tensor, log_a: Tensor, log_b: Tensor, log_n: Tensor
) -> Tensor:
    r""":math:`\log B(a, b) - a\log\frac an - b\log\frac bn - \tfrac12\log 2\pi`, :math:`n = a + b`.

    What is left of :math:`\log\Gamma(a) + \log\Gamma(b) - \log\Gamma(n)` once the terms of
    size :math:`a\log a` are taken out: :math:`\tfrac12\log\frac{n}{ab}` and Stirling's
    remainders, none of which cancel. Shared by :func:`beta_nll` and
    :func:`negative_binomial_nll` (through :math:`\log B(r, y + 1)`).
    """
    return 0.5 * (log_n - log_a - log_b) + (
        _stirling_corr(a) + _stirling_corr(b) - _stirling_corr(n)
    )


def _near_one(ratio: Tensor) -> tuple[Tensor, Tensor]:
    """Where ``ratio`` is in (1/16, 16), and ``ratio`` clamped to that interval."""
    return (ratio > 1.0 / 16.0) & (ratio < 16.0), ratio.clamp(1.0 / 16.0, 16.0)


def _shape_deviance(shape: Tensor, ratio: Tensor, log_ratio: Tensor) -> Tensor:
    r""":math:`k\,(r - 1 - \log r) \ge 0` for a shape :math:`k` and a ratio :math:`r > 0`.

    Near :math:`r = 1`, where the value is :math:`k(r-1)^2/2`, ``r - 1`` is exact and ``log(r)``
    accurate: no digits are lost however large :math:`k`. Far from 1 (:math:`r \notin (1/16, 16)`,
    where :math:`r` may underflow and :math:`k/r` overflow in the gradient) the terms no longer
    cancel and ``log_ratio``, the same logarithm summed from the inputs' logs, is used.
    """
    near, r = _near_one(ratio)
    dev_near = shape * ((r - 1.0) - torch.log(r))
    dev_far = shape * ((ratio - 1.0) - log_ratio)
    return torch.where(near, dev_near, dev_far)


def _student_series(t: Tensor | float, coefs: Sequence[float]) -> Tensor | float:
    """The Student-t normaliser's Stirling series in ``t = 2 / df`` (Tensor or Python float)."""
    t2 = t * t
    series = t2 * coefs[-1]
    for c in reversed(coefs[:-1]):
        series = (series + c) * t2
    out: Tensor | float = (series + 0.125) * t + 0.5 * _LOG_2
    return out


def _student_log_norm(df: Tensor) -> Tensor:
    r""":math:`g(\nu) = \tfrac12\log\nu + \log\Gamma(\tfrac\nu2) - \log\Gamma(\tfrac{\nu+1}2)`.

    The two log-gamma terms grow like :math:`\nu\log\nu` while :math:`g \to \tfrac12\log 2`:
    in float32 the direct difference loses a quarter of a nat at :math:`\nu = 10^6`. For
    :math:`\nu \ge 64` the Stirling series :math:`g = \tfrac12\log 2 + \sum_k c_k t^{2k-1}`,
    :math:`t = 2/\nu`, is summed instead (to :math:`t^9` in float64, error below 1e-19; to
    :math:`t^3` in float32 and narrower, error below 1e-10).
    """
    small = df.clamp(max=_STUDENT_SERIES_FROM)
    half = 0.5 * small
    direct = torch.lgamma(half) - torch.lgamma(half + 0.5) + 0.5 * torch.log(small)
    # float32: the t^5 term is below 1e-10 for t <= 1/32, so one coefficient is enough
    coefs = _STUDENT_SERIES if torch.finfo(df.dtype).bits > 32 else _STUDENT_SERIES[:1]
    series = _student_series(2.0 / df.clamp(min=_STUDENT_SERIES_FROM), coefs)
    return torch.where(df >= _STUDENT_SERIES_FROM, series, direct)


def _student_log_norm_grad(df: Tensor) -> Tensor:
    r""":math:`g'(\nu) = \frac{1}{2\nu} + \tfrac12\psi(\tfrac\nu2) - \tfrac12\psi(\tfrac{\nu+1}2)`.

    For :math:`\nu \ge 64`, the derivative of the series of :func:`_student_log_norm`:
    :math:`g'(\nu) = -\tfrac{t^2}{2} \sum_k (2k - 1)\, c_k t^{2k-2}`, :math:`t = 2/\nu`.
    """
    small = df.clamp(max=_STUDENT_SERIES_FROM)
    half = 0.5 * small
    direct = 0.5 * (torch.digamma(half) - torch.digamma(half + 0.5) + small.reciprocal())
    coefs = _STUDENT_SERIES if torch.finfo(df.dtype).bits > 32 else _STUDENT_SERIES[:1]
    t = 2.0 / df.clamp(min=_STUDENT_SERIES_FROM)
    t2 = t * t
    # coefs[j] multiplies t^(2j + 3): its derivative in t is (2j + 3) coefs[j] t^(2j + 2)
    d = (2 * len(coefs) + 1) * coefs[-1] * t2
    for j in reversed(range(len(coefs) - 1)):
        d = (d + (2 * j + 3) * coefs[j]) * t2
    series = -0.5 * t2 * (d + 0.125)
    return torch.where(df >= _STUDENT_SERIES_FROM, series, direct)


def _student_t_value(df: Tensor, loc: Tensor, scale: Tensor, target: Tensor) -> Tensor:
    z = (target - loc) / scale
    return (
        (0.5 * df + 0.5) * torch.log1p(z.square() / df) + torch.log(scale) + _student_log_norm(df)
    )


def _student_t_partials(
    needs: Sequence[bool], df: Tensor, loc: Tensor, scale: Tensor, target: Tensor
) -> tuple[Tensor | None, ...]:
    # of (df + 1) / 2 log(1 + z^2 / df) + log scale + g(df), z = (y - loc) / scale:
    # d/dy = (df + 1) z / (scale (df + z^2)) = -d/dloc, d/dscale = (1 - (y - loc) d/dy) / scale
    z = (target - loc) / scale
    z2 = z.square()
    dy = (df + 1.0) * z / (scale * (df + z2))
    return (
        0.5 * (torch.log1p(z2 / df) - (df + 1.0) * z2 / (df * (df + z2)))
        + _student_log_norm_grad(df)
        if needs[0]
        else None,
        -dy if needs[1] else None,
        (1.0 - dy * (target - loc)) / scale if needs[2] else None,
        dy if needs[3] else None,
    )


def _closed_form(
    value: Callable[..., Tensor],
    partials: Callable[..., tuple[Tensor | None, ...]],
) -> Callable[..., Tensor]:
    """An elementwise loss with its first derivatives in closed form, as one autograd node.

    ``value(*inputs)`` computes the loss (here, the numerically stable forms with their branches
    and series), without recording a graph; ``partials(needs, *inputs)`` returns the derivative
    with respect to each input for which ``needs`` is true (``None`` for the others), written with
    ordinary differentiable operations. Autograd then differentiates the few operations of the
    partials instead of the many of the stable value: a forward and backward pass is 1.2 to 1.8
    times faster (``benchmarks/losses.py``). Higher derivatives (double backward,
    ``torch.func.hessian``) and ``vmap`` go through the partials; under ``torch.compile`` the
    value is differentiated as it is written. The inputs are broadcast to one shape first, so
    every partial has the shape of the value.
    """

    class _Loss(torch.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(*inputs: Tensor) -> Tensor:
            return value(*inputs)

        @staticmethod
        def setup_context(ctx: Any, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            ctx.save_for_backward(*inputs)
            ctx.save_for_forward(*inputs)

        @staticmethod
        def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
            derivs = partials(ctx.needs_input_grad, *ctx.saved_tensors)
            return tuple(None if d is None else grad * d for d in derivs)

        @staticmethod
        def jvp(ctx: Any, *tangents: Tensor | None) -> Tensor:
            derivs = partials(tuple(t is not None for t in tangents), *ctx.saved_tensors)
            terms = [
                d * t
                for d, t in zip(derivs, tangents, strict=True)
                if d is not None and t is not None
            ]
            out = terms[0]
            for term in terms[1:]:
                out = out + term
            return out

    def apply(*inputs: Tensor) -> Tensor:
        if torch.compiler.is_compiling():
            # dynamo cannot trace a Function with a jvp; inductor fuses the value's operations
            # anyway, and autograd differentiates them
            return value(*inputs)
        return cast(Tensor, _Loss.apply(*torch.broadcast_tensors(*inputs)))  # type: ignore[no-untyped-call]

    return apply


_STUDENT_T_FN = _closed_form(_student_t_value, _student_t_partials)


# ------------------------------------------------------------------------------------------------
# Real-valued targets
# ------------------------------------------------------------------------------------------------


def gaussian_nll(
    loc: TensorLike,
    scale: TensorLike,
    target: Tensor,
    *,
    beta: float = 0.0,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the normal law :math:`\mathcal N(\mu, \sigma^2)`.

    .. math::

        -\log q(y \mid \mu, \sigma)
        = \frac{(y - \mu)^2}{2\sigma^2} + \log\sigma + \tfrac12 \log 2\pi .

    With ``beta`` :math:`= \beta > 0` each element is multiplied by the constant (no gradient)
    :math:`\operatorname{stopgrad}(\sigma)^{2\beta}`, the β-NLL of Seitzer et al. (2022): β = 0 is
    the plain NLL, β = 1 gives the mean the gradient of :math:`\tfrac12`\ MSE, β = 0.5 is their
    recommendation against variance collapse. This β is a weighting exponent of the Gaussian loss,
    unrelated to the beta law of targets in (0, 1), whose NLL is :func:`beta_nll`.

    Parameters
    ----------
    loc : Tensor or float
        Mean :math:`\mu`.
    scale : Tensor or float
        Standard deviation :math:`\sigma > 0` (**not** the variance that
        :func:`torch.nn.functional.gaussian_nll_loss` takes).
    target : Tensor
        Observations :math:`y`; ``loc`` and ``scale`` must broadcast to its shape.
    beta : float
        β-NLL exponent, ``>= 0`` (default 0: the plain NLL); Seitzer et al.'s β-NLL weighting,
        not the beta law (that is :func:`beta_nll`).
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape for ``reduction="none"``.

    Raises
    ------
    ValueError
        On a shape mismatch, a bad ``reduction`` or ``beta``; with validation on, also on a
        non-finite ``loc`` or ``target`` or a ``scale`` that is not finite and > 0.

    Notes
    -----
    Equals ``-torch.distributions.Normal(loc, scale).log_prob(target)``. With a unit scale the
    loss is :math:`\tfrac12\,\mathrm{MSE} + \tfrac12\log 2\pi`: minimising the MSE is maximum
    likelihood under a Gaussian law with a fixed variance. A Python-number ``scale`` runs the fused
    :func:`torch.nn.functional.mse_loss`. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/foundations/model_law.html
    (fixed scale) and
    https://cebook.github.io/cross-entropy-regression/book/continuous/heteroscedastic.html
    (learned scale, β-NLL).

    References
    ----------
    M. Seitzer, A. Tavakoli, D. Antic, G. Martius, "On the pitfalls of heteroscedastic
    uncertainty estimation with probabilistic neural networks", ICLR 2022.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import gaussian_nll
    >>> loc, y = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 1.0])
    >>> round(float(gaussian_nll(loc, 1.0, y)), 4)  # = 0.5 * MSE + 0.5 * log(2 pi)
    0.9814
    >>> gaussian_nll(loc, torch.tensor([1.0, 2.0]), y, reduction="none")
    tensor([1.0439, 1.6121])
    >>> gaussian_nll(loc.unsqueeze(-1), 1.0, y)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: gaussian_nll: shapes loc (2, 1), scale () and target (2,) broadcast to (2, 2), ...
    """
    fn = "gaussian_nll"
    if not _is_number(beta):
        raise ValueError(f"{fn}: beta must be a Python number, got {type(beta).__name__}")
    _check_number(fn, "beta", beta, nonnegative)
    if _is_number(scale):
        sigma = float(scale)
        loc_t, target_t = _GAUSSIAN.prepare(reduction, loc, scale, target, keep=("scale",))
        if loc_t.shape != target_t.shape:
            loc_t = loc_t.expand(target_t.shape)
        weight = sigma ** (2.0 * beta) if beta != 0.0 else 1.0
        sq = F.mse_loss(loc_t, target_t, reduction=reduction)
        const = math.log(sigma) + _HALF_LOG_2PI
        if reduction == "sum":
            const = const * target_t.numel()
        return (sq * (weight / (2.0 * sigma * sigma))) + const * weight
    loc_t, scale_t, target_t = _GAUSSIAN.prepare(reduction, loc, scale, target)
    z = (target_t - loc_t) / scale_t
    part = 0.5 * z.square() + torch.log(scale_t)
    if beta == 0.0:
        return _reduce(part, reduction, fn, _HALF_LOG_2PI)
    power = 2.0 * beta
    weight = scale_t.detach()
    if power == 2.0:
        weight = weight.square()
    elif power != 1.0:
        weight = weight**power
    return _reduce((part + _HALF_LOG_2PI) * weight, reduction, fn)


def _mahalanobis_sq(scale_tril: Tensor, diag: Tensor, diff: Tensor) -> Tensor:
    """Squared norm of ``x`` solving ``scale_tril @ x = diff`` (event dimension last)."""
    d = diff.shape[-1]
    if d <= 8:
        # Forward substitution unrolled over the (static) event dimension: elementwise kernels
        # over the batch, faster than one tiny triangular solve per example.
        cols = list(diff.unbind(-1))
        total: Tensor | None = None
        for i in range(d):
            x_i = cols[i] / diag[..., i]
            total = x_i.square() if total is None else total + x_i.square()
            for j in range(i + 1, d):
                cols[j] = cols[j] - scale_tril[..., j, i] * x_i
        assert total is not None  # d >= 1: mvn_nll refuses an empty event
        return total
    if scale_tril.dim() == 2:
        flat = diff.reshape(-1, d).mT
        sol = torch.linalg.solve_triangular(scale_tril, flat, upper=False).mT.reshape(diff.shape)
    else:
        sol = torch.linalg.solve_triangular(scale_tril, diff.unsqueeze(-1), upper=False)
        sol = sol.squeeze(-1)
    out: Tensor = sol.square().sum(-1)
    return out


def mvn_nll(
    loc: TensorLike,
    scale_tril: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the multivariate normal law :math:`\mathcal N(\mu, LL^\top)`.

    .. math::

        -\log q(y \mid \mu, L)
        = \tfrac12 \lVert L^{-1}(y - \mu) \rVert^2 + \sum_{i=1}^{d} \log L_{ii}
          + \tfrac d2 \log 2\pi ,

    where :math:`\lVert L^{-1}(y-\mu)\rVert^2 = (y-\mu)^\top \Sigma^{-1} (y-\mu)` is the squared
    Mahalanobis distance and :math:`\sum_i \log L_{ii} = \tfrac12 \log\det\Sigma`.

    Parameters
    ----------
    loc : Tensor or float
        Mean, shape ``(..., d)``.
    scale_tril : Tensor
        Cholesky factor :math:`L` of the covariance :math:`\Sigma = LL^\top`: lower triangular
        with a positive diagonal, shape ``(..., d, d)``.
    target : Tensor
        Observations, shape ``(..., d)`` (event dimension last).
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per event: shape ``target.shape[:-1]``. ``"mean"`` averages
        over events (not over the ``d`` coordinates).

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target.shape[:-1]``.

    Raises
    ------
    ValueError
        On mismatched shapes (the batch shapes of ``loc`` and ``scale_tril`` must broadcast to
        ``target.shape[:-1]`` and their event sizes must be ``d``); with validation on, also on a
        non-finite input, a ``scale_tril`` that is not lower triangular or has a diagonal entry
        that is not > 0.

    Notes
    -----
    Equals ``-torch.distributions.MultivariateNormal(loc, scale_tril=scale_tril)
    .log_prob(target)``. For ``d <= 8`` the triangular solve is unrolled into elementwise
    operations over the batch. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/mahalanobis.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import mvn_nll
    >>> L = torch.tensor([[1.0, 0.0], [0.5, 2.0]])
    >>> y = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    >>> mvn_nll(torch.zeros(2), L, y, reduction="none")
    tensor([3.0623, 2.5310])
    """
    fn = "mvn_nll"
    _check_reduction(reduction, fn)
    loc_t, tril_t, target_t = _as_tensors(fn, loc=loc, scale_tril=scale_tril, target=target)
    if target_t.dim() < 1 or target_t.shape[-1] == 0:
        raise ValueError(
            f"{fn}: target must have an event dimension of size d >= 1 (shape (..., d)), got "
            f"shape {_shape(target_t.shape)}"
        )
    d = target_t.shape[-1]
    if tril_t.dim() < 2 or tril_t.shape[-2:] != (d, d):
        raise ValueError(
            f"{fn}: scale_tril must have shape (..., {d}, {d}) for target "
            f"{_shape(target_t.shape)}, got {_shape(tril_t.shape)}"
        )
    if loc_t.dim() > 0 and loc_t.shape[-1] != d:
        raise ValueError(
            f"{fn}: loc must have shape (..., {d}) for target {_shape(target_t.shape)}, "
            f"got {_shape(loc_t.shape)}"
        )
    _broadcast_to_target(
        fn,
        [("loc batch", loc_t.shape[:-1]), ("scale_tril batch", tril_t.shape[:-2])],
        target_t.shape[:-1],
        "target batch",
    )
    _check_nonempty(fn, reduction, target_t.shape[:-1], "target batch")
    if validation_enabled():
        diag = tril_t.diagonal(dim1=-2, dim2=-1)
        checks = _Checks(fn).finite("loc", loc_t).finite("scale_tril", tril_t)
        checks.add(
            "scale_tril must be lower triangular, got {} above the diagonal",
            tril_t,
            torch.triu(tril_t, 1) == 0,
        )
        checks.add("scale_tril's diagonal must be > 0", diag, diag > 0)
        checks.finite("target", target_t).raise_first()
    diag = tril_t.diagonal(dim1=-2, dim2=-1)
    part = 0.5 * _mahalanobis_sq(tril_t, diag, target_t - loc_t) + diag.log().sum(-1)
    if part.shape != target_t.shape[:-1]:
        part = part.expand(target_t.shape[:-1])
    return _reduce(part, reduction, fn, d * _HALF_LOG_2PI)


def laplace_nll(
    loc: TensorLike,
    scale: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the Laplace law with location :math:`\mu` and scale :math:`b`.

    .. math::

        -\log q(y \mid \mu, b) = \frac{\lvert y - \mu \rvert}{b} + \log 2b .

    Parameters
    ----------
    loc : Tensor or float
        Location :math:`\mu` (the law's median).
    scale : Tensor or float
        Scale :math:`b > 0` (the standard deviation is :math:`\sqrt2\, b`).
    target : Tensor
        Observations; ``loc`` and ``scale`` must broadcast to its shape.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a non-finite
        ``loc`` or ``target`` or a ``scale`` that is not finite and > 0.

    Notes
    -----
    Equals ``-torch.distributions.Laplace(loc, scale).log_prob(target)``. With a fixed scale the
    loss is the mean absolute error up to a factor and a constant, so the MAE fits the conditional
    median; a Python-number ``scale`` runs the fused :func:`torch.nn.functional.l1_loss`.
    Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import laplace_nll
    >>> loc, y = torch.tensor([0.0, 1.0]), torch.tensor([0.5, 3.0])
    >>> round(float(laplace_nll(loc, 1.0, y)), 4)  # = MAE + log 2
    1.9431
    """
    fn = "laplace_nll"
    if _is_number(scale):
        b = float(scale)
        loc_t, target_t = _LAPLACE.prepare(reduction, loc, scale, target, keep=("scale",))
        if loc_t.shape != target_t.shape:
            loc_t = loc_t.expand(target_t.shape)
        const = math.log(2.0 * b)
        if reduction == "sum":
            const = const * target_t.numel()
        return F.l1_loss(loc_t, target_t, reduction=reduction) * (1.0 / b) + const
    loc_t, scale_t, target_t = _LAPLACE.prepare(reduction, loc, scale, target)
    part = (target_t - loc_t).abs() / scale_t + torch.log(scale_t)
    return _reduce(part, reduction, fn, _LOG_2)


def student_t_nll(
    df: TensorLike,
    loc: TensorLike,
    scale: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of Student's t law with ``df`` :math:`=\nu` degrees of freedom.

    .. math::

        -\log q(y \mid \nu, \mu, \sigma)
        = \frac{\nu + 1}{2} \log\Bigl(1 + \frac{z^2}{\nu}\Bigr) + \log\sigma
          + \tfrac12 \log \nu\pi + \log\Gamma\bigl(\tfrac\nu2\bigr)
          - \log\Gamma\bigl(\tfrac{\nu+1}2\bigr),
        \qquad z = \frac{y - \mu}{\sigma}.

    Parameters
    ----------
    df : Tensor or float
        Degrees of freedom :math:`\nu > 0` (the variance is finite only for :math:`\nu > 2`).
    loc : Tensor or float
        Location :math:`\mu`.
    scale : Tensor or float
        Scale :math:`\sigma > 0` (not the standard deviation, which is
        :math:`\sigma\sqrt{\nu/(\nu-2)}`).
    target : Tensor
        Observations; the parameters must broadcast to its shape.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a non-finite
        ``loc`` or ``target``, or a ``df`` or ``scale`` that is not finite and > 0.

    Notes
    -----
    Equals ``-torch.distributions.StudentT(df, loc, scale).log_prob(target)``. The loss grows
    only logarithmically in :math:`\lvert y - \mu\rvert`, so outliers pull the fit far less than
    under the Gaussian law (its limit as :math:`\nu\to\infty`). A Python-number ``df`` folds the
    log-gamma terms into a constant. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import student_t_nll
    >>> y = torch.tensor([0.0, 10.0])
    >>> student_t_nll(3.0, torch.zeros(2), 1.0, y, reduction="none")
    tensor([1.0009, 8.0731])
    """
    fn = "student_t_nll"
    if _is_number(df):
        nu = float(df)
        loc_t, scale_t, target_t = _STUDENT_T.prepare(
            reduction, df, loc, scale, target, keep=("df",)
        )
        z = (target_t - loc_t) / scale_t
        part = (0.5 * (nu + 1.0)) * torch.log1p(z.square() * (1.0 / nu)) + torch.log(scale_t)
        if nu >= _STUDENT_SERIES_FROM:
            log_norm = float(_student_series(2.0 / nu, _STUDENT_SERIES))
        else:
            log_norm = 0.5 * math.log(nu) + math.lgamma(0.5 * nu) - math.lgamma(0.5 * nu + 0.5)
        return _reduce(part, reduction, fn, log_norm + _HALF_LOG_PI)
    df_t, loc_t, scale_t, target_t = _STUDENT_T.prepare(reduction, df, loc, scale, target)
    part = _STUDENT_T_FN(df_t, loc_t, scale_t, target_t)
    return _reduce(part, reduction, fn, _HALF_LOG_PI)


# ------------------------------------------------------------------------------------------------
# Positive targets
# ------------------------------------------------------------------------------------------------


def exponential_nll(
    rate: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the exponential law with rate :math:`\lambda`.

    .. math::

        -\log q(y \mid \lambda) = \lambda y - \log \lambda , \qquad y \ge 0 .

    Parameters
    ----------
    rate : Tensor or float
        Rate :math:`\lambda > 0` (the mean is :math:`1/\lambda`).
    target : Tensor
        Non-negative observations (0 is allowed); ``rate`` must broadcast to its shape.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a ``rate`` that
        is not finite and > 0 or a ``target`` that is not finite and >= 0.

    Notes
    -----
    Equals ``-torch.distributions.Exponential(rate).log_prob(target)``: the loss
    :math:`f(x)\,y - \log f(x)` of a network :math:`f` that outputs the rate. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import exponential_nll
    >>> exponential_nll(torch.tensor([0.5, 2.0]), torch.tensor([1.0, 0.0]), reduction="none")
    tensor([ 1.1931, -0.6931])
    """
    fn = "exponential_nll"
    rate_t, target_t = _EXPONENTIAL.prepare(reduction, rate, target)
    return _reduce(rate_t * target_t - torch.log(rate_t), reduction, fn)


def _gamma_value(alpha: Tensor, rate: Tensor, target: Tensor) -> Tensor:
    # Mean/shape form, mu = alpha / rate: -log q = alpha (r - 1 - log r) + log y
    # + [lgamma(alpha) - alpha log alpha + alpha], r = y / mu, the bracket by Stirling. The direct
    # formula subtracts terms of size alpha log alpha: in float32 it cannot tell y = 0.99 from 1.01
    # at alpha = rate = 1e4.
    log_y, log_alpha = torch.log(target), torch.log(alpha)
    ratio = target * (rate / alpha)
    dev = _shape_deviance(alpha, ratio, log_y + torch.log(rate) - log_alpha)
    return dev + log_y - 0.5 * log_alpha + _stirling_corr(alpha)


def _gamma_partials(
    needs: Sequence[bool], alpha: Tensor, rate: Tensor, target: Tensor
) -> tuple[Tensor | None, ...]:
    # of beta y - (alpha - 1) log y - alpha log beta + lgamma(alpha)
    return (
        torch.digamma(alpha) - torch.log(rate) - torch.log(target) if needs[0] else None,
        target - alpha / rate if needs[1] else None,
        rate - (alpha - 1.0) / target if needs[2] else None,
    )


_GAMMA_FN = _closed_form(_gamma_value, _gamma_partials)


def gamma_nll(
    concentration: TensorLike,
    rate: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the gamma law with shape :math:`\alpha` and rate :math:`\beta`.

    .. math::

        -\log q(y \mid \alpha, \beta)
        = \beta y - (\alpha - 1) \log y - \alpha \log\beta + \log\Gamma(\alpha) ,
        \qquad y > 0 .

    Parameters
    ----------
    concentration : Tensor or float
        Shape :math:`\alpha > 0`.
    rate : Tensor or float
        Rate :math:`\beta > 0` (the mean is :math:`\alpha/\beta`, the variance
        :math:`\alpha/\beta^2`).
    target : Tensor
        Positive observations; the parameters must broadcast to its shape.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a parameter or a
        ``target`` that is not finite and > 0.

    Notes
    -----
    Equals ``-torch.distributions.Gamma(concentration, rate).log_prob(target)``. The target must
    be strictly positive: at :math:`y = 0` the density is 0 or infinite unless
    :math:`\alpha = 1` (PyTorch accepts 0; with validation off this function returns ``inf`` or
    ``nan`` there). The loss is computed in the mean/shape form
    :math:`\alpha\,(r - 1 - \log r) + \log y + \tfrac12\log(2\pi/\alpha) + c(\alpha)`,
    :math:`r = y\beta/\alpha = y/\text{mean}`, with :math:`c` Stirling's remainder of
    :math:`\log\Gamma(\alpha)`: unlike the direct formula (and PyTorch's), it stays accurate in
    float32 for a large shape (to about 1e-5 nats at :math:`\alpha = 10^4`; in float32 the error
    grows like :math:`\alpha\lvert r - 1\rvert \cdot 10^{-7}`, the effect of rounding the target).
    Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import gamma_nll
    >>> round(float(gamma_nll(2.0, 1.0, torch.tensor([1.0, 3.0]))), 4)
    1.4507
    >>> gamma_nll(2.0, 1.0, torch.tensor([-1.5]))
    Traceback (most recent call last):
        ...
    ValueError: gamma_nll: target must be > 0, got -1.5
    """
    fn = "gamma_nll"
    alpha_t, rate_t, target_t = _GAMMA.prepare(reduction, concentration, rate, target)
    part = _GAMMA_FN(alpha_t, rate_t, target_t)
    return _reduce(part, reduction, fn, _HALF_LOG_2PI)


def lognormal_nll(
    loc: TensorLike,
    scale: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the log-normal law: :math:`\log y \sim \mathcal N(\mu,\sigma^2)`.

    .. math::

        -\log q(y \mid \mu, \sigma)
        = \frac{(\log y - \mu)^2}{2\sigma^2} + \log\sigma + \tfrac12\log 2\pi + \log y ,
        \qquad y > 0 .

    Parameters
    ----------
    loc : Tensor or float
        Mean :math:`\mu` of :math:`\log y` (the median of :math:`y` is :math:`e^\mu`).
    scale : Tensor or float
        Standard deviation :math:`\sigma > 0` of :math:`\log y`.
    target : Tensor
        Positive observations :math:`y` (not their logarithm).
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a non-finite
        ``loc``, a ``scale`` or ``target`` that is not finite and > 0.

    Notes
    -----
    Equals ``-torch.distributions.LogNormal(loc, scale).log_prob(target)``: the Gaussian NLL of
    :math:`\log y` plus the Jacobian term :math:`\log y`. Fitting the MSE on :math:`\log y`
    estimates the median :math:`e^\mu`, not the mean :math:`e^{\mu + \sigma^2/2}`. Derived in
    chapter https://cebook.github.io/cross-entropy-regression/book/continuous/positive.html.

    Examples
    --------
    >>> import math
    >>> import torch
    >>> from cebook.losses import lognormal_nll
    >>> y = torch.tensor([1.0, math.e])
    >>> lognormal_nll(torch.zeros(2), 1.0, y, reduction="none")
    tensor([0.9189, 2.4189])
    """
    fn = "lognormal_nll"
    loc_t, scale_t, target_t = _LOGNORMAL.prepare(reduction, loc, scale, target)
    log_y = torch.log(target_t)
    z = (log_y - loc_t) / scale_t
    part = 0.5 * z.square() + torch.log(scale_t) + log_y
    return _reduce(part, reduction, fn, _HALF_LOG_2PI)


# ------------------------------------------------------------------------------------------------
# Counts
# ------------------------------------------------------------------------------------------------


def poisson_nll(
    rate: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the Poisson law with rate (mean) :math:`\lambda`.

    .. math::

        -\log q(y \mid \lambda) = \lambda - y \log \lambda + \log y!\, ,
        \qquad y \in \{0, 1, 2, \dots\} .

    Parameters
    ----------
    rate : Tensor or float
        Rate :math:`\lambda > 0`, the mean **not** its logarithm (PyTorch's
        :func:`~torch.nn.functional.poisson_nll_loss` takes the log-rate by default).
    target : Tensor
        Counts (any dtype, integer-valued); ``rate`` must broadcast to its shape.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a ``rate`` that
        is not finite and > 0 or a ``target`` that is not a non-negative integer.

    Notes
    -----
    Equals ``-torch.distributions.Poisson(rate).log_prob(target)``, with the exact
    :math:`\log y! = \log\Gamma(y + 1)`, not the Stirling approximation that
    ``poisson_nll_loss(full=True)`` adds for :math:`y > 1` only. A rate of 0 (allowed by PyTorch)
    is rejected: the gradient of :math:`y\log\lambda` is undefined there. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import poisson_nll
    >>> y = torch.tensor([5.0], dtype=torch.float64)
    >>> round(float(poisson_nll(3.0, y)), 10)  # exact log 5!, unlike poisson_nll_loss(full=True)
    2.2944302994
    """
    fn = "poisson_nll"
    rate_t, target_t = _POISSON.prepare(reduction, rate, target)
    part = rate_t - target_t * torch.log(rate_t) + torch.lgamma(target_t + 1.0)
    return _reduce(part, reduction, fn)


def _negative_binomial_value(count: Tensor, logits: Tensor, target: Tensor) -> Tensor:
    # With s = y + 1 and n = r + s, lgamma(r) + lgamma(y + 1) - lgamma(r + y) is
    # log B(r, s) + log(r + y); in the mean/precision form of log B (as in beta_nll):
    # -log q = r psi(n (1 - p) / r) + s psi(n p / s) + log p + log(r + y)
    #          + (log 2 pi + log n - log r - log s) / 2 + corr(r) + corr(s) - corr(n),
    # psi(x) = x - 1 - log x. The direct formula subtracts log-gammas of size r log r and y log y:
    # 0.8 nats lost in float32 at r = 1e6, mean 5, and a nat at r = y = 1e6.
    s = target + 1.0
    n = count + s
    log_n, log_r, log_s = torch.log(n), torch.log(count), torch.log(s)
    # logsigmoid, not -softplus: F.softplus returns x itself above x = 20, dropping e^-x
    log_p, log_1mp = F.logsigmoid(logits), F.logsigmoid(-logits)
    # s psi(n p / s) + log p, with -y log p far from n p = s (no 1e4 - 1e4 at logits of -1e4)
    mean_p = n * torch.sigmoid(logits)
    near, x = _near_one(mean_p / s)
    count_term = torch.where(
        near,
        s * ((x - 1.0) - torch.log(x)) + log_p,
        (mean_p - s) - s * (log_n - log_s) - target * log_p,
    )
    return (
        _shape_deviance(count, n * torch.sigmoid(-logits) / count, log_n + log_1mp - log_r)
        + count_term
        + torch.log(count + target)
        + _log_beta_rest(count, s, n, log_r, log_s, log_n)
    )


def _negative_binomial_partials(
    needs: Sequence[bool], count: Tensor, logits: Tensor, target: Tensor
) -> tuple[Tensor | None, ...]:
    # of (r + y) softplus(eta) - y eta - lgamma(r + y) + lgamma(r) + lgamma(y + 1)
    dig_n = torch.digamma(count + target) if needs[0] or needs[2] else None
    return (
        F.softplus(logits) - dig_n + torch.digamma(count)
        if dig_n is not None and needs[0]
        else None,
        # r sigma(eta) - y sigma(-eta), not (r + y) sigma(eta) - y, which cancels for large y
        count * torch.sigmoid(logits) - target * torch.sigmoid(-logits) if needs[1] else None,
        F.softplus(-logits) - dig_n + torch.digamma(target + 1.0)
        if dig_n is not None and needs[2]
        else None,
    )


_NEGATIVE_BINOMIAL_FN = _closed_form(_negative_binomial_value, _negative_binomial_partials)


def negative_binomial_nll(
    total_count: TensorLike,
    logits: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the negative binomial law, in PyTorch's convention.

    With :math:`r` = ``total_count`` and :math:`p = \operatorname{sigmoid}(\eta)`, :math:`\eta` =
    ``logits``, the law counts the successes before the :math:`r`-th failure, each trial a success
    with probability :math:`p`:

    .. math::

        -\log q(y \mid r, \eta)
        = (r + y)\,\operatorname{softplus}(\eta) - y\,\eta
          - \log\Gamma(r + y) + \log\Gamma(r) + \log y!\, .

    Its mean is :math:`r e^\eta` and its variance :math:`\text{mean}\,(1 + e^\eta)`: a Poisson law
    with extra variance (over-dispersion).

    Parameters
    ----------
    total_count : Tensor or float
        Number of failures :math:`r > 0` (need not be an integer).
    logits : Tensor or float
        Log-odds :math:`\eta` of success. Caution: ``scipy.stats.nbinom(n, p)`` uses
        :math:`p` = the *failure* probability, i.e. ``nbinom(total_count, sigmoid(-logits))``.
    target : Tensor
        Counts; the parameters must broadcast to its shape.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a
        ``total_count`` that is not finite and > 0, non-finite ``logits`` or a ``target`` that
        is not a non-negative integer.

    Notes
    -----
    Equals ``-torch.distributions.NegativeBinomial(total_count, logits=logits).log_prob(target)``.
    The log-gamma terms are summed in the mean/precision form of :func:`beta_nll` (through
    :math:`\log B(r, y + 1)`) instead of subtracting large log-gammas, so the loss stays accurate
    in float32 near the Poisson limit :math:`r \to \infty` (to about 1e-5 nats at
    :math:`r = 10^6`, mean 5, where PyTorch's is off by 0.8 nats) and for large
    counts. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/counts.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import negative_binomial_nll
    >>> y = torch.tensor([0.0, 2.0, 7.0])
    >>> negative_binomial_nll(2.0, 0.0, y, reduction="none")  # r = 2, p = 1/2
    tensor([1.3863, 1.6740, 4.1589])
    """
    fn = "negative_binomial_nll"
    count_t, logits_t, target_t = _NEGATIVE_BINOMIAL.prepare(reduction, total_count, logits, target)
    part = _NEGATIVE_BINOMIAL_FN(count_t, logits_t, target_t)
    return _reduce(part, reduction, fn, _HALF_LOG_2PI)


# ------------------------------------------------------------------------------------------------
# Targets in [0, 1]
# ------------------------------------------------------------------------------------------------


def bernoulli_nll(
    logits: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Binary cross-entropy on logits: the Bernoulli law's NLL, with soft targets allowed.

    With :math:`p = \operatorname{sigmoid}(\eta)`:

    .. math::

        \ell(\eta, y) = -y \log p - (1 - y) \log(1 - p)
        = \operatorname{softplus}(\eta) - y\,\eta , \qquad y \in [0, 1] .

    Parameters
    ----------
    logits : Tensor or float
        Log-odds :math:`\eta` (any real number; a network's raw output).
    target : Tensor
        Targets in :math:`[0, 1]`: labels 0/1 or soft targets such as pixel intensities.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The loss in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on non-finite
        ``logits`` or a ``target`` outside :math:`[0, 1]`.

    Notes
    -----
    For :math:`y \in \{0, 1\}` this equals
    ``-torch.distributions.Bernoulli(logits=logits).log_prob(target)``. For a soft target it is
    the cross-entropy between Bernoulli(:math:`y`) and Bernoulli(:math:`p`), minimised at
    :math:`p = y` where it equals the binary entropy :math:`H(y)`, not 0; it is not the
    log-likelihood of a normalised density on :math:`[0, 1]` (see
    :func:`continuous_bernoulli_nll` and :func:`beta_nll`). Runs the fused
    :func:`torch.nn.functional.binary_cross_entropy_with_logits`. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html
    (and https://cebook.github.io/cross-entropy-regression/book/foundations/logits.html for logits).

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import bernoulli_nll
    >>> round(float(bernoulli_nll(torch.tensor([0.0]), torch.tensor([0.5]))), 7)  # log 2
    0.6931472
    >>> y = torch.tensor([0.3])  # the minimum, at sigmoid(logit) = y, is H(0.3), not 0
    >>> round(float(bernoulli_nll(torch.logit(y), y)), 6)
    0.610864
    """
    logits_t, target_t = _BERNOULLI.prepare(reduction, logits, target)
    if logits_t.shape != target_t.shape:
        logits_t = logits_t.expand(target_t.shape)
    return F.binary_cross_entropy_with_logits(logits_t, target_t, reduction=reduction)


def _cb_log_norm(logits: Tensor) -> Tensor:
    r"""Log normaliser :math:`\log C = \log(\eta / \tanh(\eta/2))` of the continuous Bernoulli."""
    a = logits.abs()
    small = a < _CB_SERIES_BELOW
    # Exact branch, fed values >= the threshold only so that no NaN leaks into the gradient.
    a_big = a.clamp(min=_CB_SERIES_BELOW)
    exact = torch.log(a_big) - torch.log(torch.tanh(0.5 * a_big))
    # Taylor series in s = eta^2 near eta = 0 (lambda = 1/2), fed small values only; squared
    # from eta, not |eta|, whose second derivative autograd takes as 0 at eta = 0.
    s = logits.clamp(-_CB_SERIES_BELOW, _CB_SERIES_BELOW).square()
    series = s * _CB_SERIES[-1]
    for c in reversed(_CB_SERIES[:-1]):
        series = (series + c) * s
    return torch.where(small, series + _LOG_2, exact)


def continuous_bernoulli_nll(
    logits: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the continuous Bernoulli law on :math:`[0, 1]`.

    The density :math:`q(y \mid \lambda) = C(\lambda)\, \lambda^y (1 - \lambda)^{1 - y}`,
    :math:`\lambda = \operatorname{sigmoid}(\eta)`, is the Bernoulli pmf normalised over
    :math:`[0, 1]`, so its NLL is the binary cross-entropy minus :math:`\log C`:

    .. math::

        -\log q(y \mid \eta) = \operatorname{softplus}(\eta) - y\,\eta - \log C(\eta),
        \qquad C(\eta) = \frac{2 \operatorname{artanh}(1 - 2\lambda)}{1 - 2\lambda}
        = \frac{\eta}{\tanh(\eta / 2)} ,

    with :math:`C(0) = 2`. Near :math:`\eta = 0` (:math:`\lambda = \tfrac12`, where the closed form
    is 0/0) :math:`\log C = \log 2 + \eta^2/12 - 7\eta^4/1440 + \dots` is summed as a series
    (for :math:`\lvert\eta\rvert < 0.1`, to :math:`\eta^{10}`); elsewhere
    :math:`\log C = \log\lvert\eta\rvert - \log\tanh(\lvert\eta\rvert/2)`, finite for any finite
    logit.

    Parameters
    ----------
    logits : Tensor or float
        Log-odds :math:`\eta` of the shape parameter :math:`\lambda` (:math:`\lambda` is **not**
        the law's mean).
    target : Tensor
        Targets in :math:`[0, 1]`, the end points included.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on non-finite
        ``logits`` or a ``target`` outside :math:`[0, 1]`.

    Notes
    -----
    Equals ``-torch.distributions.ContinuousBernoulli(logits=logits).log_prob(target)``; PyTorch
    computes :math:`\log C` from the probabilities, which saturate for large logits, while this
    function computes it from the logits (finite and accurate for logits of :math:`\pm 10^4` in
    float32). Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    References
    ----------
    G. Loaiza-Ganem, J. P. Cunningham, "The continuous Bernoulli: fixing a pervasive error in
    variational autoencoders", NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import continuous_bernoulli_nll
    >>> y = torch.tensor([0.0, 0.3, 1.0])
    >>> continuous_bernoulli_nll(torch.zeros(3), y, reduction="none")  # uniform law at lambda = 1/2
    tensor([0., 0., 0.])
    >>> lam = torch.tensor(0.2)  # log C(0.2) = 0.8374599
    >>> round(float(continuous_bernoulli_nll(torch.logit(lam), torch.tensor(0.0))), 6)
    -0.614316
    """
    logits_t, target_t = _CONTINUOUS_BERNOULLI.prepare(reduction, logits, target)
    if logits_t.shape != target_t.shape:
        logits_t = logits_t.expand(target_t.shape)
    log_norm = _cb_log_norm(logits_t)
    if reduction == "none":
        bce = F.binary_cross_entropy_with_logits(logits_t, target_t, reduction="none")
        return bce - log_norm
    bce = F.binary_cross_entropy_with_logits(logits_t, target_t, reduction=reduction)
    return bce - (log_norm.mean() if reduction == "mean" else log_norm.sum())


def _beta_value(a: Tensor, b: Tensor, target: Tensor) -> Tensor:
    # Mean/precision form, n = a + b: -log q = a psi(y n / a) + b psi((1 - y) n / b)
    # + log y(1 - y) + (log 2 pi + log n - log a - log b) / 2 + corr(a) + corr(b) - corr(n),
    # psi(r) = r - 1 - log r (Stirling for the three log-gammas). The direct formula subtracts
    # terms of size a log a: half a nat lost in float32 at a = b = 5e5.
    n = a + b
    log_y, log_1my = torch.log(target), torch.log1p(-target)
    log_n, log_a, log_b = torch.log(n), torch.log(a), torch.log(b)
    return (
        _shape_deviance(a, target * (n / a), log_y + log_n - log_a)
        + _shape_deviance(b, (1.0 - target) * (n / b), log_1my + log_n - log_b)
        + (log_y + log_1my)
        + _log_beta_rest(a, b, n, log_a, log_b, log_n)
    )


def _beta_partials(
    needs: Sequence[bool], a: Tensor, b: Tensor, target: Tensor
) -> tuple[Tensor | None, ...]:
    # of lgamma(a) + lgamma(b) - lgamma(a + b) - (a - 1) log y - (b - 1) log(1 - y)
    dig_n = torch.digamma(a + b) if needs[0] or needs[1] else None
    return (
        torch.digamma(a) - dig_n - torch.log(target) if dig_n is not None and needs[0] else None,
        torch.digamma(b) - dig_n - torch.log1p(-target) if dig_n is not None and needs[1] else None,
        (b - 1.0) / (1.0 - target) - (a - 1.0) / target if needs[2] else None,
    )


_BETA_FN = _closed_form(_beta_value, _beta_partials)


def beta_nll(
    concentration1: TensorLike,
    concentration0: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the beta law :math:`\mathrm{Beta}(\alpha, \beta)` on (0, 1).

    This is the law of a target in (0, 1); it is not Seitzer et al.'s β-NLL, the Gaussian loss
    weighted by :math:`\sigma^{2\beta}` (``gaussian_nll(..., beta=...)``).

    .. math::

        -\log q(y \mid \alpha, \beta)
        = -(\alpha - 1)\log y - (\beta - 1) \log(1 - y)
          + \log\Gamma(\alpha) + \log\Gamma(\beta) - \log\Gamma(\alpha + \beta) ,
        \qquad 0 < y < 1 .

    Parameters
    ----------
    concentration1 : Tensor or float
        :math:`\alpha > 0` (the weight of 1; the mean is :math:`\alpha / (\alpha + \beta)`).
    concentration0 : Tensor or float
        :math:`\beta > 0` (the weight of 0).
    target : Tensor
        Targets in the **open** interval (0, 1); clip data on the edges first, e.g.
        ``y.clamp(1e-4, 1 - 1e-4)``.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a concentration
        that is not finite and > 0 or a ``target`` outside (0, 1).

    Notes
    -----
    Equals ``-torch.distributions.Beta(concentration1, concentration0).log_prob(target)``.
    Validation rejects the end points 0 and 1, where the density is 0 or infinite unless a
    concentration is 1 (PyTorch accepts them; with validation off this function returns ``inf``
    or ``nan`` there). The loss is computed in the mean/precision form
    :math:`\alpha\,\psi(y/m) + \beta\,\psi((1-y)/(1-m)) + \log y(1-y)
    + \tfrac12\log(2\pi n/\alpha\beta) + \dots`, :math:`n = \alpha+\beta`, :math:`m = \alpha/n`,
    :math:`\psi(r) = r - 1 - \log r`, with Stirling's remainders for the log-gamma terms:
    unlike the direct formula (and PyTorch's), it stays accurate in float32 for large
    concentrations (to about 1e-4 nats at :math:`\alpha + \beta = 10^6`). Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/unit_interval/bce.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import beta_nll
    >>> y = torch.tensor([0.5, 0.9])
    >>> beta_nll(2.0, 2.0, y, reduction="none")
    tensor([-0.4055,  0.6162])
    """
    fn = "beta_nll"
    a_t, b_t, target_t = _BETA.prepare(reduction, concentration1, concentration0, target)
    part = _BETA_FN(a_t, b_t, target_t)
    return _reduce(part, reduction, fn, _HALF_LOG_2PI)


# ------------------------------------------------------------------------------------------------
# Classes, mixtures, quantiles
# ------------------------------------------------------------------------------------------------


def categorical_nll(
    logits: Tensor,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Categorical cross-entropy on logits, with class indices or class probabilities.

    With :math:`p = \operatorname{softmax}(\eta)` over the :math:`K` classes (last dimension):

    .. math::

        \ell(\eta, c) = -\log p_c = \operatorname{logsumexp}_k \eta_k - \eta_c
        \quad\text{(index } c\text{)}, \qquad
        \ell(\eta, t) = -\sum_{k=1}^{K} t_k \log p_k \quad\text{(probabilities } t\text{)}.

    Parameters
    ----------
    logits : Tensor
        Unnormalised log-probabilities, shape ``(..., K)`` (classes **last**, unlike
        :func:`torch.nn.functional.cross_entropy`, which wants them second).
    target : Tensor
        Either integer class indices in :math:`[0, K-1]` of shape ``(...)``, or (floating)
        class probabilities of shape ``(..., K)`` that sum to 1: one-hot, two-hot, HL-Gauss or
        label-smoothed targets. The dtype decides: integer means indices.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per example: shape ``(...)``.

    Returns
    -------
    Tensor
        The cross-entropy in nats: a scalar, or shape ``(...)``.

    Raises
    ------
    ValueError
        On mismatched shapes (``logits.shape[:-1]`` must broadcast to the examples' shape) or a
        bad ``reduction``; with validation on, also on non-finite ``logits``, an index outside
        :math:`[0, K-1]`, or probabilities outside :math:`[0, 1]` or whose sum is not 1.

    Notes
    -----
    With indices it equals ``-torch.distributions.Categorical(logits=logits).log_prob(target)``;
    with probabilities it is the cross-entropy :math:`H(t, p)`, minimised at :math:`p = t` where it
    equals the entropy of :math:`t`. Runs the fused :func:`torch.nn.functional.cross_entropy`.
    Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/foundations/logits.html;
    for regression over bins see
    https://cebook.github.io/cross-entropy-regression/book/classification/bins.html
    and https://cebook.github.io/cross-entropy-regression/book/classification/soft_targets.html.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import categorical_nll
    >>> logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> categorical_nll(logits, torch.tensor([0, 2]), reduction="none")
    tensor([0.1698, 1.0986])
    >>> probs = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    >>> categorical_nll(logits, probs, reduction="none")
    tensor([1.1698, 1.0986])
    """
    fn = "categorical_nll"
    _check_reduction(reduction, fn)
    if not isinstance(logits, Tensor) or logits.dim() < 1:
        raise ValueError(f"{fn}: logits must be a tensor of shape (..., K) with classes last")
    if not isinstance(target, Tensor):
        raise ValueError(f"{fn}: target must be a tensor of class indices or probabilities")
    _check_kind(fn, "logits", logits)
    k = logits.shape[-1]
    if not target.is_floating_point():
        if target.dtype == torch.bool or target.is_complex():
            raise ValueError(f"{fn}: target indices must be integers, got dtype {target.dtype}")
        (logits_t,) = _as_tensors(fn, logits=logits)
        shape = target.shape
        desc = f"logits {_shape(logits.shape)} (classes last)"
        batch = _broadcast_shapes(logits.shape[:-1], shape)
        if batch is None or batch != tuple(shape):
            raise ValueError(
                f"{fn}: {desc} and index target {_shape(shape)}: the logits without their class "
                f"dimension, {_shape(logits.shape[:-1])}, must broadcast to the target's shape; "
                "cebook never broadcasts silently"
            )
        _check_nonempty(fn, reduction, shape)
        if validation_enabled():
            checks = _Checks(fn).finite("logits", logits_t)
            checks.add(
                f"target must be a class index in [0, {k - 1}]",
                target,
                (target >= 0) & (target < k),
            )
            checks.raise_first()
        if logits_t.shape[:-1] != shape:
            logits_t = logits_t.expand(*shape, k)
        out = F.cross_entropy(
            logits_t.reshape(-1, k),
            target.reshape(-1).long(),
            reduction=reduction,
            ignore_index=_NO_IGNORE_INDEX,
        )
        return out.reshape(shape) if reduction == "none" else out
    logits_t, target_t = _as_tensors(fn, logits=logits, target=target)
    shape = target_t.shape
    if target_t.dim() < 1 or shape[-1] != k:
        raise ValueError(
            f"{fn}: a floating target holds class probabilities and must have shape (..., {k}) "
            f"like logits {_shape(logits.shape)}, got {_shape(shape)}; pass class indices as an "
            "integer tensor"
        )
    _broadcast_to_target(fn, [("logits", logits_t.shape)], shape)
    _check_nonempty(fn, reduction, shape[:-1])
    if validation_enabled():
        sums = target_t.sum(-1)
        tol = math.sqrt(torch.finfo(target_t.dtype).eps) * max(1.0, math.sqrt(k))
        checks = _Checks(fn).finite("logits", logits_t)
        checks.add(
            "target probabilities must be in [0, 1]",
            target_t,
            (target_t >= 0) & (target_t <= 1),
        )
        checks.add(
            "target probabilities must sum to 1 over the last dimension, got a sum of {}",
            sums,
            (sums - 1.0).abs() <= tol,
        )
        checks.raise_first()
    if logits_t.shape != shape:
        logits_t = logits_t.expand(shape)
    out = F.cross_entropy(logits_t.reshape(-1, k), target_t.reshape(-1, k), reduction=reduction)
    return out.reshape(shape[:-1]) if reduction == "none" else out


def gmm_nll(
    logits: Tensor,
    loc: TensorLike,
    scale: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of a mixture of :math:`K` normal laws (a mixture density network).

    With mixture weights :math:`\pi = \operatorname{softmax}(\eta)` over the last dimension:

    .. math::

        -\log q(y) = -\log \sum_{k=1}^{K} \pi_k\, \mathcal N(y \mid \mu_k, \sigma_k^2)
        = -\operatorname{logsumexp}_k \Bigl[\log\pi_k - \frac{(y - \mu_k)^2}{2\sigma_k^2}
          - \log\sigma_k - \tfrac12 \log 2\pi\Bigr].

    Parameters
    ----------
    logits : Tensor
        Mixture logits :math:`\eta`, shape ``(..., K)`` (components last).
    loc : Tensor or float
        Component means, broadcastable to ``(..., K)``.
    scale : Tensor or float
        Component standard deviations (> 0), broadcastable to ``(..., K)``.
    target : Tensor
        Observations, shape ``(...)`` = the parameters' shape without the component dimension.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On mismatched shapes or a bad ``reduction``; with validation on, also on non-finite
        ``logits``, ``loc`` or ``target`` or a ``scale`` that is not finite and > 0.

    Notes
    -----
    Equals ``-MixtureSameFamily(Categorical(logits=logits), Normal(loc, scale)).log_prob(target)``
    (``torch.distributions``). Computed with ``log_softmax`` and ``logsumexp``, so it stays finite
    when every component is far from the target. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/classification/mixtures.html.

    References
    ----------
    C. M. Bishop, "Mixture density networks", Technical report NCRG/94/004, Aston University,
    1994.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import gmm_nll
    >>> logits = torch.zeros(2, 2)  # two equally likely components at -1 and +1
    >>> loc = torch.tensor([[-1.0, 1.0], [-1.0, 1.0]])
    >>> gmm_nll(logits, loc, 0.5, torch.tensor([1.0, 0.0]), reduction="none")
    tensor([0.9186, 2.2258])
    """
    fn = "gmm_nll"
    _check_reduction(reduction, fn)
    if not isinstance(logits, Tensor) or logits.dim() < 1:
        raise ValueError(f"{fn}: logits must be a tensor of shape (..., K) with components last")
    logits_t, loc_t, scale_t, target_t = _as_tensors(
        fn, logits=logits, loc=loc, scale=scale, target=target
    )
    named = [("logits", logits_t.shape), ("loc", loc_t.shape), ("scale", scale_t.shape)]
    params_shape = _broadcast_shapes(*[s for _, s in named])
    if params_shape is None:
        desc = ", ".join(f"{name} {_shape(s)}" for name, s in named)
        raise ValueError(f"{fn}: shapes {desc} do not broadcast together")
    _broadcast_to_target(
        fn, [("parameters without their component dimension", params_shape[:-1])], target_t.shape
    )
    _check_nonempty(fn, reduction, target_t.shape)
    for name, value in (("loc", loc), ("scale", scale)):
        if _is_number(value):
            _check_number(fn, name, float(value), positive if name == "scale" else real)
    if validation_enabled():
        checks = _Checks(fn).finite("logits", logits_t).finite("loc", loc_t)
        checks.positive("scale", scale_t).finite("target", target_t).raise_first()
    z = (target_t.unsqueeze(-1) - loc_t) / scale_t
    log_joint = torch.log_softmax(logits_t, -1) - 0.5 * z.square() - torch.log(scale_t)
    part = -torch.logsumexp(log_joint, -1)
    if part.shape != target_t.shape:
        part = part.expand(target_t.shape)
    return _reduce(part, reduction, fn, _HALF_LOG_2PI)


def pinball_loss(
    pred: TensorLike,
    target: Tensor,
    quantile: TensorLike,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Pinball (quantile, check) loss of a prediction of the ``quantile``-th quantile.

    .. math::

        \rho_\tau(y - \hat y) = \max\bigl(\tau (y - \hat y),\ (\tau - 1)(y - \hat y)\bigr)
        = \tfrac12 \lvert y - \hat y\rvert + \bigl(\tau - \tfrac12\bigr)(y - \hat y) .

    Up to constants it is the NLL of the asymmetric Laplace law with unit scale and location
    :math:`\hat y`: :math:`-\log q(y) = \rho_\tau(y - \hat y) - \log \tau(1-\tau)`. Its expected
    value is minimised by the :math:`\tau`-quantile of :math:`y`; at :math:`\tau = \tfrac12` it is
    half the absolute error.

    Parameters
    ----------
    pred : Tensor or float
        Predicted quantile :math:`\hat y`.
    target : Tensor
        Observations :math:`y`; ``pred`` and ``quantile`` must broadcast to its shape (for
        several quantiles per example, give ``target`` the quantile dimension too, e.g.
        ``y.unsqueeze(-1).expand_as(pred)``).
    quantile : Tensor or float
        Level :math:`\tau \in (0, 1)`.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The loss: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a non-finite
        ``pred`` or ``target`` or a ``quantile`` outside (0, 1).

    Notes
    -----
    Not a full log-likelihood (it has no normalising constant, in nats or otherwise), hence its
    name, and its arguments are not in the house order (the target is not last): its sibling
    :func:`asymmetric_laplace_nll` ``(loc, scale, quantile, target)`` is the full NLL, with the
    target last. ``quantile=0.5`` as a Python number runs the fused
    :func:`torch.nn.functional.l1_loss`. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    References
    ----------
    R. Koenker, G. Bassett, "Regression quantiles", Econometrica 46(1), 1978.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import pinball_loss
    >>> y = torch.tensor([1.0, 3.0])
    >>> pinball_loss(torch.tensor([2.0, 2.0]), y, 0.9, reduction="none")
    tensor([0.1000, 0.9000])
    """
    fn = "pinball_loss"
    if _is_number(quantile):
        tau = float(quantile)
        pred_t, target_t = _PINBALL.prepare(reduction, pred, target, quantile, keep=("quantile",))
        if pred_t.shape != target_t.shape:
            pred_t = pred_t.expand(target_t.shape)
        if tau == 0.5:
            return 0.5 * F.l1_loss(pred_t, target_t, reduction=reduction)
        diff = target_t - pred_t
        return _reduce(diff * (tau - (diff < 0).to(diff.dtype)), reduction, fn)
    pred_t, target_t, q_t = _PINBALL.prepare(reduction, pred, target, quantile)
    diff = target_t - pred_t
    return _reduce(diff * (q_t - (diff < 0).to(diff.dtype)), reduction, fn)


def asymmetric_laplace_nll(
    loc: TensorLike,
    scale: TensorLike,
    quantile: TensorLike,
    target: Tensor,
    *,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Negative log-likelihood of the asymmetric Laplace law, its ``quantile``-quantile at ``loc``.

    .. math::

        -\log q(y \mid \mu, b, \tau) = \frac{\rho_\tau(y - \mu)}{b} + \log b
        - \log \tau(1 - \tau),
        \qquad \rho_\tau(u) = u\,\bigl(\tau - \mathbb{1}[u < 0]\bigr) .

    The full NLL behind :func:`pinball_loss` (:math:`\rho_\tau`), in the house order: the law's
    parameters, then the target. With a fixed scale, minimising it is minimising the pinball loss,
    so ``loc`` learns the :math:`\tau`-quantile; a learned ``scale`` makes values comparable, in
    nats, with the other laws' NLLs.

    Parameters
    ----------
    loc : Tensor or float
        Location :math:`\mu`: the law's :math:`\tau`-quantile (it has mass :math:`\tau` below).
    scale : Tensor or float
        Scale :math:`b > 0`.
    quantile : Tensor or float
        Level :math:`\tau \in (0, 1)`.
    target : Tensor
        Observations; the parameters must broadcast to its shape.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one value per element of ``target``.

    Returns
    -------
    Tensor
        The NLL in nats: a scalar, or ``target``'s shape.

    Raises
    ------
    ValueError
        On a shape mismatch or a bad ``reduction``; with validation on, also on a non-finite
        ``loc`` or ``target``, a ``scale`` that is not finite and > 0, or a ``quantile`` outside
        (0, 1).

    Notes
    -----
    Equals ``-scipy.stats.laplace_asymmetric(kappa, loc, s).logpdf(target)`` with
    :math:`\kappa = \sqrt{\tau / (1 - \tau)}` and :math:`s = b / \sqrt{\tau (1 - \tau)}`
    (PyTorch has no such law). At :math:`\tau = \tfrac12` it is :func:`laplace_nll` with scale
    :math:`2b`. Derived in chapter
    https://cebook.github.io/cross-entropy-regression/book/continuous/robust.html.

    References
    ----------
    K. Yu, R. A. Moyeed, "Bayesian quantile regression", Statistics & Probability Letters 54(4),
    2001.

    Examples
    --------
    >>> import torch
    >>> from cebook.losses import asymmetric_laplace_nll
    >>> y = torch.tensor([1.0, 3.0])
    >>> asymmetric_laplace_nll(2.0, 1.0, 0.9, y, reduction="none")
    tensor([2.5079, 3.3079])
    """
    fn = "asymmetric_laplace_nll"
    loc_t, scale_t, q_t, target_t = _ASYMMETRIC_LAPLACE.prepare(
        reduction, loc, scale, quantile, target
    )
    diff = target_t - loc_t
    part = (
        diff * (q_t - (diff < 0).to(diff.dtype)) / scale_t
        + torch.log(scale_t)
        - (torch.log(q_t) + torch.log1p(-q_t))
    )
    return _reduce(part, reduction, fn)
