"""The argument layer shared by every module of :mod:`cebook`: the validation switch, argument
conversion, shape checks, batched value checks and the reduction.

Validation is on by default. With it off, the losses run no data-dependent Python branch and no
host-device synchronisation, so a training step that calls them compiles whole with
``torch.compile(..., fullgraph=True)``.

One set of rules serves :mod:`cebook.losses`, :mod:`cebook.metrics` and :mod:`cebook.bins`:

* **Conversion** (:func:`_as_tensors`). Floating tensors promote as in torch's type promotion
  (``float32`` with ``float64`` gives ``float64``); integer and bool tensors and Python numbers
  take that floating dtype (the default dtype when no tensor is floating); everything lands on the
  device of the tensors, a non-CPU device winning over the CPU. Tensors are never moved: two
  tensors with dimensions on different devices raise ``ValueError`` naming both (0-dim tensors
  mix with any device, as in torch). Complex dtypes and ``bool`` Python values are refused.
* **Messages.** Every error reads ``"<function>: <argument> must be <condition>, got <value>"``.
* **Shapes** (:func:`_broadcast_to_target`). The parameters may broadcast against each other, but
  their broadcast with the target must be the target's shape. Checked always: it reads no data.
* **Python numbers** are checked always, whatever the switch says: they cost nothing.
* **Tensor values** (:class:`_Checks`) are checked while validation is on, all of a call's checks
  reduced together and read back in one host-device synchronisation.
* **Empty inputs.** ``reduction="mean"`` of an empty target raises (a shape check, free); ``"sum"``
  gives 0 and ``"none"`` an empty tensor.
* **Compilation.** With validation on, a check reached while :func:`torch.compile` traces raises
  ``ValueError`` telling to wrap the compiled step in ``cebook.validation(False)``: the checks read
  data back to the host, which a compiled graph cannot do. Without ``fullgraph=True`` dynamo then
  runs the call eagerly, checks included; with ``fullgraph=True`` it reports the error (inside its
  own ``Unsupported`` message). Under :func:`torch.func.vmap` the same hint replaces torch's
  "Cannot access data pointer" error.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

__all__ = ["DecodeMethod", "Reduction", "set_validation", "validation", "validation_enabled"]

Reduction = Literal["mean", "sum", "none"]
"""The ``reduction`` argument of every loss and score: ``"mean"``, ``"sum"`` or ``"none"``."""

DecodeMethod = Literal["mean", "mode", "interpolate"]
"""The ``method`` argument of :meth:`cebook.bins.Bins.decode`."""

_enabled = True


def set_validation(enabled: bool) -> None:
    """Turn validation of shapes, supports and parameters on or off for the whole process.

    Parameters
    ----------
    enabled : bool
        ``True`` (the default state) checks every call and raises ``ValueError`` on bad input;
        ``False`` skips the checks of tensor values for speed (shapes and Python-number arguments
        are checked always: that costs nothing).

    Examples
    --------
    >>> import cebook
    >>> cebook.set_validation(False)
    >>> cebook.validation_enabled()
    False
    >>> cebook.set_validation(True)
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise ValueError(f"set_validation: enabled must be a bool, got {enabled!r}")
    _enabled = enabled


def validation_enabled() -> bool:
    """Return whether validation is currently on.

    Examples
    --------
    >>> import cebook
    >>> cebook.validation_enabled()
    True
    """
    return _enabled


@contextmanager
def validation(enabled: bool) -> Iterator[None]:
    """Switch validation on or off inside a ``with`` block, then restore the previous state.

    Examples
    --------
    >>> import cebook
    >>> with cebook.validation(False):
    ...     cebook.validation_enabled()
    False
    >>> cebook.validation_enabled()
    True
    """
    previous = _enabled
    set_validation(enabled)
    try:
        yield
    finally:
        set_validation(previous)


# ------------------------------------------------------------------------------------------------
# Formatting


def _fmt(value: object) -> str:
    """One value for a message: floats to 6 significant digits, the rest as ``repr``."""
    if isinstance(value, bool):
        return repr(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    return repr(value)


def _show(values: Tensor, limit: int = 5) -> str:
    """A short text of the first few ``values`` (already selected), for error messages."""
    flat = values.detach().reshape(-1).cpu()
    shown = ", ".join(f"{v:.6g}" for v in flat[:limit].tolist())
    more = f", ... ({flat.numel()} values)" if flat.numel() > limit else ""
    return f"[{shown}{more}]"


def _work_dtype(device: torch.device) -> torch.dtype:
    """float64 for sensitive sums and integrals, except where the device has none (Apple MPS)."""
    return torch.float32 if device.type == "mps" else torch.float64


def _shape(shape: Sequence[int]) -> str:
    return str(tuple(shape))


# ------------------------------------------------------------------------------------------------
# Conversion


def _is_number(value: object) -> bool:
    """A real Python number (``bool`` is not one)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_kind(fn: str, name: str, value: object) -> None:
    """Refuse ``bool`` Python values and complex tensors or numbers."""
    if isinstance(value, bool):
        raise ValueError(f"{fn}: {name} must be a real number or tensor, got {value!r}")
    if isinstance(value, complex):
        raise ValueError(f"{fn}: {name} must be real, got {value!r}")
    if isinstance(value, Tensor) and value.is_complex():
        raise ValueError(f"{fn}: {name} must be real, got a tensor of dtype {value.dtype}")


# Half-precision inputs are computed in float32 (cebook.losses' module docstring says why).
_HALF = (torch.float16, torch.bfloat16)


def _promotion(
    fn: str, names: Iterable[str], values: Iterable[object]
) -> tuple[torch.dtype, torch.device | None]:
    """The package's one promotion rule, for the named values of one call.

    The floating dtypes promote (float32 for half-precision inputs, the default dtype when no
    value is a floating tensor), and a non-CPU device is preferred. Raises the ``ValueError`` of
    :func:`_check_kind`, and one when two tensors with dimensions lie on different devices
    (0-dim tensors mix with any device, as in torch).
    """
    dtype: torch.dtype | None = None
    device: torch.device | None = None
    first: tuple[str, torch.device] | None = None
    for name, v in zip(names, values, strict=True):
        if isinstance(v, Tensor):
            if v.is_floating_point():
                if dtype is None:
                    dtype = v.dtype
                elif v.dtype != dtype:
                    dtype = torch.promote_types(dtype, v.dtype)
            elif v.is_complex():
                _check_kind(fn, name, v)
            dev = v.device
            if device is None or (device.type == "cpu" and dev.type != "cpu"):
                device = dev
            if v.dim() > 0:
                if first is None:
                    first = (name, dev)
                elif dev != first[1]:
                    raise ValueError(
                        f"{fn}: {name} must be on the device of {first[0]} ({first[1]}), got {dev}"
                    )
        elif not _is_number(v):
            _check_kind(fn, name, v)
    if dtype is None:
        return torch.get_default_dtype(), device
    return (torch.float32 if dtype in _HALF else dtype), device


def _as_tensors(fn: str, **named: object) -> list[Tensor]:
    """The named values as tensors of one floating dtype on one device (:func:`_promotion`).

    A tensor already of that dtype and device is returned as it is (no copy).
    """
    dtype, device = _promotion(fn, named.keys(), named.values())
    return [
        (value if value.dtype == dtype else value.to(dtype))
        if isinstance(value, Tensor)
        else _from_value(fn, name, value, dtype, device)
        for name, value in named.items()
    ]


def _from_value(
    fn: str, name: str, value: object, dtype: torch.dtype, device: torch.device | None
) -> Tensor:
    """A number or a nested list of numbers as a tensor; a ValueError for anything else."""
    try:
        return torch.as_tensor(value, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"{fn}: {name} must be a number, a tensor or a nested list of numbers, got "
            f"{type(value).__name__}"
        ) from None


# ------------------------------------------------------------------------------------------------
# Shapes, reduction, empty inputs


def _broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...] | None:
    """The shape the given shapes broadcast to, or ``None`` when they do not broadcast together.

    ``torch.broadcast_shapes`` gives the same answer (and raises instead of returning ``None``), but
    costs about half a millisecond a call on a CPU: more than a small network's loss itself.
    """
    out: list[int] = []
    for shape in shapes:
        shape = tuple(shape)
        if len(shape) > len(out):
            out[:0] = [1] * (len(shape) - len(out))
        for i, size in enumerate(shape, start=len(out) - len(shape)):
            if size != out[i]:
                if out[i] == 1:
                    out[i] = size
                elif size != 1:
                    return None
    return tuple(out)


def _broadcast_to_target(
    fn: str,
    named: Sequence[tuple[str, Sequence[int]]],
    target_shape: Sequence[int],
    target_name: str = "target",
) -> None:
    """Raise unless broadcasting the named shapes with ``target_shape`` gives ``target_shape``.

    The hint matches the side with the extra dimension: a parameter of shape ``(N, 1)`` against a
    target ``(N,)`` suggests ``pred.squeeze(-1)``, a target ``(N, 1)`` against parameters ``(N,)``
    suggests ``target.squeeze(-1)``.
    """
    target_shape = tuple(target_shape)
    if all(tuple(s) == target_shape or len(s) == 0 for _, s in named):
        return  # the common case, decided without building any message
    desc = ", ".join(f"{name} {_shape(s)}" for name, s in named)
    desc += f" and {target_name} {_shape(target_shape)}"
    shape = _broadcast_shapes(*[s for _, s in named], target_shape)
    if shape is None:
        raise ValueError(f"{fn}: shapes {desc} do not broadcast together")
    if tuple(shape) == target_shape:
        return
    params_dim = max((len(s) for _, s in named), default=0)
    if params_dim > len(target_shape):
        hint = (
            "e.g. pred.squeeze(-1) for an (N, 1) prediction and an (N,) target"
            if len(target_shape) >= 1
            else "a parameter has more dimensions than the target"
        )
    else:
        hint = "e.g. target.squeeze(-1) for an (N, 1) target and an (N,) prediction"
    raise ValueError(
        f"{fn}: shapes {desc} broadcast to {_shape(shape)}, not to the {target_name}'s shape "
        f"{_shape(target_shape)}; cebook never broadcasts silently: reshape the parameters or "
        f"the {target_name} ({hint})"
    )


def _check_reduction(reduction: object, fn: str) -> None:
    """Refuse a ``reduction`` other than "mean", "sum" or "none", naming ``fn``."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_nonempty(fn: str, reduction: str, shape: Sequence[int], name: str = "target") -> None:
    """``reduction="mean"`` of nothing is undefined: raise (free, the shape is on the host)."""
    if reduction == "mean" and math.prod(shape) == 0:
        raise ValueError(
            f"{fn}: {name} must be non-empty for reduction='mean', got shape {_shape(shape)} "
            "(reduction='sum' gives 0, 'none' an empty tensor)"
        )


def _reduce(value: Tensor, reduction: str, fn: str, const: float = 0.0) -> Tensor:
    """Reduce ``value`` and add the constant ``const`` to every element (after the reduction)."""
    _check_reduction(reduction, fn)
    if reduction == "mean":
        _check_nonempty(fn, reduction, value.shape)
        out = value.mean()
    elif reduction == "sum":
        out = value.sum()
        const = const * value.numel()
    else:
        out = value
    return out + const if const != 0.0 else out


# ------------------------------------------------------------------------------------------------
# Value checks


@dataclass(frozen=True)
class _Constraint:
    """A requirement on an argument's values: the condition's text, a mask of the valid tensor
    values and a test of a Python number; ``finite_inf`` says "finite" for an infinite value."""

    condition: str
    mask: Callable[[Tensor], Tensor]
    number: Callable[[float], bool]
    finite_inf: bool = False


real = _Constraint("finite", torch.isfinite, math.isfinite)
positive = _Constraint(
    "> 0", lambda v: (v > 0) & (v < math.inf), lambda v: 0 < v < math.inf, finite_inf=True
)
nonnegative = _Constraint(
    ">= 0", lambda v: (v >= 0) & (v < math.inf), lambda v: 0 <= v < math.inf, finite_inf=True
)
unit_closed = _Constraint("in [0, 1]", lambda v: (v >= 0) & (v <= 1), lambda v: 0 <= v <= 1)
unit_open = _Constraint("in (0, 1)", lambda v: (v > 0) & (v < 1), lambda v: 0 < v < 1)
not_nan = _Constraint("a number (not NaN)", lambda v: ~torch.isnan(v), lambda v: not math.isnan(v))
count = _Constraint(
    "a non-negative integer (a count)",
    lambda v: (v >= 0) & (v == torch.floor(v)) & (v < math.inf),
    lambda v: 0 <= v < math.inf and v == math.floor(v),
)


def _check_number(fn: str, name: str, value: float, constraint: _Constraint) -> None:
    """Check a Python-number argument, always (no tensor involved, nothing to synchronise)."""
    if not constraint.number(float(value)):
        condition = constraint.condition
        if constraint.finite_inf and value == math.inf:
            condition = "finite"
        raise ValueError(f"{fn}: {name} must be {condition}, got {_fmt(float(value))}")


def _compile_hint(fn: str) -> str:
    return (
        f"{fn}: validation reads the data back to the host, which a compiled or vmapped function "
        "cannot do; wrap the compiled step in `with cebook.validation(False):` (or call "
        "cebook.set_validation(False)); shapes and Python-number arguments are still checked"
    )


class _Checks:
    """Collect a call's value checks; raise for the first failing one, with one sync.

    Each check holds the values and a boolean mask of the valid ones. The fast path reduces every
    mask with ``all`` and reads the flags back in one host-device synchronisation; only when a
    check fails does the slow path find an offending value and describe it. Build it only while
    :func:`validation_enabled` is true.
    """

    def __init__(self, fn: str) -> None:
        self.fn = fn
        self.items: list[tuple[str, _Constraint | None, str, Tensor, Tensor]] = []

    def add(self, requirement: str, values: Tensor, ok: Tensor) -> _Checks:
        """``requirement`` reads "<argument> must be <condition>" (a ``{}`` in it takes the
        offending value, else ", got <value>" follows); ``ok`` marks the valid values."""
        self.items.append(("", None, requirement, values, ok))
        return self

    def check(self, name: str, values: Tensor, constraint: _Constraint) -> _Checks:
        requirement = f"{name} must be {constraint.condition}"
        self.items.append((name, constraint, requirement, values, constraint.mask(values)))
        return self

    def finite(self, name: str, values: Tensor) -> _Checks:
        return self.check(name, values, real)

    def positive(self, name: str, values: Tensor) -> _Checks:
        return self.check(name, values, positive)

    def raise_first(self) -> None:
        if not self.items:
            return
        if torch.compiler.is_compiling():
            raise ValueError(_compile_hint(self.fn))
        device = self.items[0][4].device
        stacked = torch.stack([ok.all().to(device) for *_, ok in self.items])
        try:
            flags = stacked.tolist()
        except RuntimeError:
            if torch._C._functorch.peek_interpreter_stack() is not None:
                raise ValueError(_compile_hint(self.fn)) from None
            raise
        for flag, (name, constraint, requirement, values, ok) in zip(
            flags, self.items, strict=True
        ):
            if not flag:
                bad = ~ok
                offending = values.expand(bad.shape)[bad][0].item()
                if constraint is not None and constraint.finite_inf and offending == math.inf:
                    requirement = f"{name} must be finite"
                if "{}" in requirement:
                    raise ValueError(f"{self.fn}: " + requirement.format(_fmt(offending)))
                raise ValueError(f"{self.fn}: {requirement}, got {_fmt(offending)}")


# ------------------------------------------------------------------------------------------------
# The declarative layer: one call per function


@dataclass(frozen=True)
class _Spec:
    """A function's arguments in order, each with its constraint (``None``: no value check),
    the last one the target. :meth:`prepare` converts, checks the shapes and the values, and
    returns the tensors (the names in ``keep`` that are Python numbers are checked and left out).
    """

    fn: str
    args: tuple[tuple[str, _Constraint | None], ...]
    target: str = ""

    def prepare(self, reduction: str, *values: object, keep: tuple[str, ...] = ()) -> list[Tensor]:
        # Written for a small Python overhead (it runs on every call, validation on or off).
        fn = self.fn
        if reduction != "mean" and reduction != "sum" and reduction != "none":
            _check_reduction(reduction, fn)
        args = self.args
        if len(values) != len(args):
            raise TypeError(f"{fn}: expected {len(args)} arguments, got {len(values)}")
        dtype, device = _promotion(fn, (name for name, _ in args), values)
        tensors: list[Tensor] = []
        shapes: list[tuple[str, Sequence[int]]] = []
        checked: list[tuple[str, Tensor, _Constraint]] = []
        target_name = self.target or args[-1][0]
        target: Tensor | None = None
        for (name, constraint), v in zip(args, values, strict=False):
            if isinstance(v, Tensor):
                t = v if v.dtype == dtype else v.to(dtype)
                if constraint is not None:
                    checked.append((name, t, constraint))
            elif _is_number(v):
                if constraint is not None:
                    _check_number(fn, name, float(v), constraint)  # type: ignore[arg-type]
                if name in keep:
                    shapes.append((name, ()))
                    continue
                t = torch.as_tensor(v, dtype=dtype, device=device)
            else:
                t = _from_value(fn, name, v, dtype, device)  # a nested list of numbers
                if constraint is not None:
                    checked.append((name, t, constraint))
            tensors.append(t)
            if name == target_name:
                target = t
            else:
                shapes.append((name, t.shape))
        assert target is not None  # the target is never a kept number
        _broadcast_to_target(fn, shapes, target.shape, target_name)
        if reduction == "mean" and target.numel() == 0:
            _check_nonempty(fn, reduction, target.shape, target_name)
        if _enabled and checked:
            checks = _Checks(fn)
            for name, t, constraint in checked:
                checks.check(name, t, constraint)
            checks.raise_first()
        return tensors


def _spec(fn: str, target_is: str = "", **args: _Constraint | None) -> _Spec:
    """``_spec("gaussian_nll", loc=real, scale=positive, target=real)``: the arguments in the
    function's order, the target last unless ``target_is`` names another."""
    return _Spec(fn, tuple(args.items()), target_is)
