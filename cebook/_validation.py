"""The switch for argument validation, shared by every module of :mod:`cebook`.

Validation is on by default. With it off, the losses run no data-dependent Python branch and no
host-device synchronisation, so a training step that calls them compiles whole with
``torch.compile(..., fullgraph=True)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
