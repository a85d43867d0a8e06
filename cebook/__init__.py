"""cebook: cross-entropy for regression, in PyTorch.

Pick a model law for the target, take its negative log-likelihood: that is a cross-entropy.
:mod:`cebook.losses` holds one such loss per law, :mod:`cebook.heads` the networks' output layers
that produce the laws' parameters, :mod:`cebook.bins` regression by classification,
:mod:`cebook.metrics` proper scores and calibration, :mod:`cebook.data` data sets whose true law
is known, and :mod:`cebook.plot` the book's figures.

Importing the package has no side effects: it seeds nothing, filters no warning, switches no
matplotlib backend and touches no network.
"""

from cebook._validation import set_validation, validation, validation_enabled
from cebook.train import History, device, fit, seed, seed_offset

__all__ = [
    "History",
    "device",
    "fit",
    "seed",
    "seed_offset",
    "set_validation",
    "validation",
    "validation_enabled",
]
__version__ = "0.1.0"
