"""The switch for argument validation, shared by every module of :mod:`cebook`.

Validation is on by default. With it off, the losses run no data-dependent Python branch and no
host-device synchronisation, so a training step that calls them compiles whole with
``torch.compile(..., fullgraph=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

_enabled = True


def set_validation(enabled: bool) -> None:
    """Turn validation of shapes, supports and parameters on or off for the whole process.

    Parameters
    ----------
    enabled : bool
        ``True`` (the default state) checks every call and raises ``ValueError`` on bad input;
        ``False`` skips the checks for speed.

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


def _show(values: torch.Tensor, limit: int = 5) -> str:
    """A short text of the first few ``values`` (already selected), for error messages."""
    flat = values.detach().reshape(-1).cpu()
    shown = ", ".join(f"{v:.6g}" for v in flat[:limit].tolist())
    more = f", ... ({flat.numel()} values)" if flat.numel() > limit else ""
    return f"[{shown}{more}]"


def _check_reduction(reduction: str, caller: str) -> None:
    """Refuse a ``reduction`` other than "mean", "sum" or "none", naming ``caller``."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{caller}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(values: torch.Tensor, reduction: str, caller: str) -> torch.Tensor:
    """Apply ``reduction`` ("mean", "sum" or "none"), naming ``caller`` on a bad value."""
    _check_reduction(reduction, caller)
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values
