"""cebook: cross-entropy for regression, in PyTorch.

Pick a model law for the target, take its negative log-likelihood: that is a cross-entropy.
:mod:`cebook.losses` holds one such loss per law, :mod:`cebook.heads` the networks' output layers
that produce the laws' parameters, :mod:`cebook.bins` regression by classification,
:mod:`cebook.metrics` proper scores and calibration, :mod:`cebook.data` data sets whose true law
is known, and :mod:`cebook.plot` the book's figures (it needs ``pip install 'cebook[plot]'``).

The submodules load on first use (PEP 562), so ``import cebook`` stays cheap and
``cebook.losses.gaussian_nll`` works without an ``import cebook.losses``:

>>> import cebook, torch
>>> round(cebook.losses.gaussian_nll(0.0, 1.0, torch.zeros(3)).item(), 4)  # log(2 pi) / 2
0.9189

``cebook.Reduction`` (``Literal["mean", "sum", "none"]``, the ``reduction`` of every loss and
score) and ``cebook.DecodeMethod`` (the ``method`` of ``Bins.decode``) type a mode held in a
variable; :mod:`cebook.losses`, :mod:`cebook.metrics` and :mod:`cebook.bins` export the same
objects.

Importing the package has no side effects: it seeds nothing, filters no warning, switches no
matplotlib backend and touches no network.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cebook._validation import (
    DecodeMethod,
    Reduction,
    set_validation,
    validation,
    validation_enabled,
)
from cebook.train import History, device, fit, seed, seed_offset

if TYPE_CHECKING:  # the type checker sees the submodules as attributes, as at run time
    from cebook import bins as bins
    from cebook import data as data
    from cebook import heads as heads
    from cebook import losses as losses
    from cebook import metrics as metrics
    from cebook import plot as plot

__all__ = [
    "DecodeMethod",
    "History",
    "Reduction",
    "device",
    "fit",
    "seed",
    "seed_offset",
    "set_validation",
    "validation",
    "validation_enabled",
]
__version__ = "0.1.0"

# Loaded by __getattr__ on first access; they are not in __all__, so a star import loads none.
_SUBMODULES = frozenset({"bins", "data", "heads", "losses", "metrics", "plot"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"cebook.{name}")
    raise AttributeError(f"module 'cebook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
