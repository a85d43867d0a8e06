"""Running a chapter: the device, the seed and a small training loop.

Every chapter of the book calls :func:`device` and :func:`fit`, so the same code runs on a laptop's
CPU, on Apple silicon and on a CUDA GPU.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import torch
from torch import nn

from cebook._validation import set_validation, validation_enabled

__all__ = ["device", "seed", "seed_offset", "fit", "History"]


def device() -> torch.device:
    """Return the device the book's code runs on: CUDA, then Apple MPS, then the CPU.

    The environment variable ``CEBOOK_DEVICE`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``)
    overrides the choice, for instance to force the CPU on a machine with a GPU. Every chapter of
    the book calls it once, in its set-up cell.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``CEBOOK_DEVICE`` names no device, or a device this machine does not have.

    Examples
    --------
    >>> import cebook
    >>> cebook.device().type in {"cpu", "cuda", "mps"}
    True
    """
    override = os.environ.get("CEBOOK_DEVICE", "").strip()
    if override:
        try:
            chosen = torch.device(override)
        except RuntimeError as error:
            raise ValueError(f"device: CEBOOK_DEVICE={override!r} is not a device name") from error
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }
        if not available.get(chosen.type, False):
            raise ValueError(f"device: CEBOOK_DEVICE={override!r} is not available on this machine")
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _default_device() -> torch.device:
    # fit's ``device`` parameter shadows :func:`device`; this reads the module's (at call time, so
    # that a replaced ``cebook.train.device``, as tests/devsim.py installs, is the one used).
    return device()


def seed_offset() -> int:
    """Return ``CEBOOK_SEED_OFFSET`` as an int (0 when unset), the shift :func:`seed` adds.

    Raises
    ------
    ValueError
        If the variable is set to anything but a non-negative integer.

    Examples
    --------
    >>> import os, cebook
    >>> cebook.seed_offset() == int(os.environ.get("CEBOOK_SEED_OFFSET", "0") or 0)
    True
    """
    text = os.environ.get("CEBOOK_SEED_OFFSET", "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise ValueError(f"seed: CEBOOK_SEED_OFFSET must be a non-negative integer, got {text!r}")
    return int(text)


def seed(n: int) -> int:
    """Seed Python's, NumPy's and PyTorch's global generators (all CUDA devices included).

    The seed used is ``n + CEBOOK_SEED_OFFSET`` (the environment variable, 0 when unset), and it is
    returned, so that data generators and ``torch.Generator`` objects can be seeded with it too:
    ``s = cebook.seed(0); data = cebook.data.heteroscedastic_sine(seed=s)``. Setting the variable
    reruns a whole chapter on other draws and other initial weights, which is how a reader checks
    that its claims do not hang on one seed: ``CEBOOK_SEED_OFFSET=3 make test``.

    Call it at the top of a notebook; importing :mod:`cebook` seeds nothing. Every chapter of the
    book calls it before each experiment.

    Parameters
    ----------
    n : int
        The chapter's seed, a non-negative int.

    Returns
    -------
    int
        The seed actually used, ``n + CEBOOK_SEED_OFFSET``.

    Raises
    ------
    ValueError
        If ``n`` is not a non-negative int, or ``CEBOOK_SEED_OFFSET`` is not a non-negative integer.

    Examples
    --------
    >>> import cebook, torch
    >>> s = cebook.seed(0); a = torch.rand(2)
    >>> s = cebook.seed(0); b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"seed: n must be a non-negative int, got {n!r}")
    n += seed_offset()
    random.seed(n)
    np.random.seed(n % 2**32)
    torch.manual_seed(n)
    return n


def _batches(
    n: int, batch_size: int | None, shuffle: bool, dev: torch.device
) -> list[torch.Tensor | None]:
    """The index of each mini-batch of an epoch; ``[None]`` for the whole set."""
    if batch_size is None or batch_size >= n:
        return [None]
    order = torch.randperm(n, device=dev) if shuffle else torch.arange(n, device=dev)
    return list(order.split(batch_size))


class History(list[float]):
    """The mean training loss of each epoch (a list of float), as :func:`fit` returns it.

    Attributes
    ----------
    validation : list of float
        The validation loss after each epoch; empty when :func:`fit` got no ``validation`` set.
    best_epoch : int or None
        The epoch (0-based) whose parameters the model holds at the end when a validation set was
        given: the one with the lowest validation loss. ``None`` otherwise.

    Examples
    --------
    >>> import cebook
    >>> history = cebook.History([3.0, 2.0, 1.0], [2.5, 1.5, 1.7], best_epoch=1)
    >>> history[-1], history.validation[history.best_epoch]
    (1.0, 1.5)
    """

    def __init__(self, train: list[float], validation: list[float], best_epoch: int | None):
        super().__init__(train)
        self.validation = validation
        self.best_epoch = best_epoch


_Output = TypeVar("_Output")


def fit(
    model: Callable[[torch.Tensor], _Output],
    loss_fn: Callable[[_Output, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 1000,
    lr: float = 1e-2,
    batch_size: int | None = None,
    weight_decay: float = 0.0,
    optimizer: torch.optim.Optimizer | None = None,
    schedule: str = "constant",
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` by minimising ``loss_fn(model(x), y)`` and return the loss history.

    The model and the data are moved to ``device`` (by default :func:`cebook.device`). Each epoch
    visits the data once, in shuffled mini-batches of ``batch_size`` (the whole set when ``None``),
    with Adam (its fused kernel on a CPU or a CUDA device) unless ``optimizer`` is given. The
    losses are kept on the device and read back once, at the end, so the loop never waits for the
    GPU between steps. For that, the first epoch runs with the caller's validation setting (so a
    target outside a law's support or an invalid parameter raises there, at the cost of one
    synchronisation per call of a :mod:`cebook.losses` function) and the later epochs with
    validation off; the caller's setting is restored when ``fit`` returns or raises. Every
    chapter of the book trains its models with it.

    Two options make the model it returns a converged one rather than the last step of a run that
    may still oscillate: ``schedule="cosine"`` decays the learning rate to zero over the epochs,
    and ``validation=(x_val, y_val)`` keeps the parameters of the epoch with the lowest validation
    loss (early stopping without stopping: the run goes on, the best state is restored at the end).

    Parameters
    ----------
    model : nn.Module
        Maps ``x`` to whatever ``loss_fn`` expects (a tensor, or a tuple of a law's parameters).
        (Annotated as a callable so that a type checker passes its output type to ``loss_fn``.)
    loss_fn : callable
        ``loss_fn(output, y)`` returns a scalar tensor, for instance
        ``lambda out, y: cebook.losses.gaussian_nll(*out, y)``. Under ``mypy --strict`` that
        lambda type-checks when ``model`` is a head of :mod:`cebook.heads` (whose call is typed);
        an ``nn.Sequential`` returns ``Any``, so give ``loss_fn`` annotated parameters instead.
    x, y : Tensor
        Inputs and targets; their first dimension indexes the examples.
    epochs : int
        Number of passes over the data.
    lr, weight_decay : float
        Adam's learning rate and (L2) weight decay, used when ``optimizer`` is ``None``.
    optimizer : torch.optim.Optimizer, optional
        An optimiser already built over ``model.parameters()``; ``torch.optim.LBFGS`` works too
        (each step passes it a closure).
    schedule : {"constant", "cosine"}
        The learning rate over the epochs: constant, or a cosine decay from its initial value to
        zero at the last epoch (stepped once per epoch; it scales the optimiser's own rate).
    validation : tuple of Tensor, optional
        ``(x_val, y_val)``: evaluated with ``loss_fn`` after every epoch, in ``eval`` mode and
        without gradients; at the end the model gets back the parameters and buffers of the epoch
        with the lowest validation loss. The best state is tracked on the device with no host
        synchronisation.
    device : torch.device or str, optional
        Where to train; :func:`cebook.device` when ``None``.
    progress : bool
        Show a ``tqdm`` bar on standard error. The book removes standard-error output from its
        pages, so the bar helps in JupyterLab and does not litter the rendered chapters.

    Returns
    -------
    History
        A list of the mean training loss of each epoch (length ``epochs``), with the attributes
        ``validation`` (the validation loss of each epoch) and ``best_epoch``.

    Raises
    ------
    ValueError
        On a ``model`` that is not an ``nn.Module``, a non-positive ``epochs`` or ``batch_size``,
        an unknown ``schedule``, inputs that are not tensors, or ``x`` and ``y`` (or the two
        validation tensors) of different lengths.

    Examples
    --------
    >>> import torch, cebook
    >>> _ = cebook.seed(0)
    >>> x = torch.linspace(-1, 1, 64).unsqueeze(-1)
    >>> y = 3 * x
    >>> model = torch.nn.Linear(1, 1)
    >>> history = cebook.fit(model, torch.nn.functional.mse_loss, x, y, epochs=300, lr=0.1,
    ...                      device="cpu", progress=False)
    >>> history[-1] < 1e-4
    True
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"fit: model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"fit: batch_size must be a positive int or None, got {batch_size!r}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"fit: schedule must be 'constant' or 'cosine', got {schedule!r}")
    _check_pair(x, y, "x", "y")
    if validation is not None:
        if not isinstance(validation, tuple) or len(validation) != 2:
            raise ValueError(
                f"fit: validation must be a tuple (x_val, y_val), got {type(validation).__name__}"
            )
        _check_pair(*validation, "x_val", "y_val")
    dev = torch.device(device) if device is not None else _default_device()
    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    if optimizer is None:
        params = list(model.parameters())
        # Adam's fused kernel, where there is one: a step is one call per parameter instead of a
        # dozen small operations, about 20 % of a step of the book's small networks.
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
        optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=fused)
    scheduler = None
    if schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
        )
    n = x.shape[0]
    history = torch.zeros(epochs, device=dev)
    val_history = torch.zeros(epochs if validation is not None else 0, device=dev)
    if validation is not None:
        x_val, y_val = validation[0].to(dev), validation[1].to(dev)
        # The best epoch's state, one flat copy per dtype: a `where` per dtype an epoch, not one
        # per tensor (the small networks' epochs are short enough for that to count).
        state = _StateByDtype(model)
        best_state = state.values()
        best_loss = torch.full((), math.inf, device=dev)
        best_epoch = torch.zeros((), dtype=torch.long, device=dev)
    epoch_range: Any = range(epochs)
    if progress:
        from tqdm import tqdm

        epoch_range = tqdm(epoch_range, desc="fit", leave=False, mininterval=0.5)
    model.train()
    checked = validation_enabled()  # the first epoch checks, the others never synchronise
    try:
        for epoch in epoch_range:
            if epoch == 1:
                set_validation(False)
            total = torch.zeros((), device=dev)
            for index in _batches(n, batch_size, True, dev):
                # the whole set as it is (no copy), a mini-batch gathered
                xb, yb = (x, y) if index is None else (x[index], y[index])

                def closure(xb: torch.Tensor = xb, yb: torch.Tensor = yb) -> torch.Tensor:
                    optimizer.zero_grad(set_to_none=True)
                    loss = loss_fn(model(xb), yb)
                    loss.backward()
                    return loss

                # A closure serves every optimiser, L-BFGS (which re-evaluates the loss)
                # included. Each returns the closure's loss, a tensor (torch annotates the closure
                # as -> float).
                loss = cast(torch.Tensor, optimizer.step(closure))  # type: ignore[arg-type]
                total = total + loss.detach() * len(yb)
            history[epoch] = total / n
            if scheduler is not None:
                scheduler.step()
            if validation is not None:
                model.eval()
                with torch.no_grad():
                    val_loss = loss_fn(model(x_val), y_val).detach().reshape(())
                    val_history[epoch] = val_loss
                    # NaN never improves; the comparison stays on the device (no sync).
                    better = val_loss < best_loss
                    best_loss = torch.where(better, val_loss, best_loss)
                    best_epoch = torch.where(better, epoch, best_epoch)
                    best_state = [
                        torch.where(better, now, best)
                        for now, best in zip(state.values(), best_state, strict=True)
                    ]
                model.train()
    finally:
        set_validation(checked)
    model.eval()
    if validation is None:
        return History(history.cpu().tolist(), [], None)
    with torch.no_grad():
        state.load(best_state)
    return History(history.cpu().tolist(), val_history.cpu().tolist(), int(best_epoch.item()))


class _StateByDtype:
    """A model's parameters and buffers, read and written as one flat tensor per dtype (and device,
    for a model split across devices)."""

    def __init__(self, model: nn.Module) -> None:
        groups: dict[tuple[torch.dtype, torch.device], list[torch.Tensor]] = {}
        for value in model.state_dict(keep_vars=True).values():
            groups.setdefault((value.dtype, value.device), []).append(value.detach())
        self.groups = list(groups.values())

    def values(self) -> list[torch.Tensor]:
        """A flat copy of each group's values."""
        return [torch.cat([t.reshape(-1) for t in group]) for group in self.groups]

    def load(self, flats: list[torch.Tensor]) -> None:
        """Write flat values (as :meth:`values` returns them) back into the model, in place."""
        for group, flat in zip(self.groups, flats, strict=True):
            for t, part in zip(group, flat.split([t.numel() for t in group]), strict=True):
                t.copy_(part.view_as(t))


def _check_pair(x: object, y: object, x_name: str, y_name: str) -> None:
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise ValueError(
            f"fit: {x_name} and {y_name} must be tensors, got {type(x).__name__} and "
            f"{type(y).__name__}"
        )
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"fit: {x_name} and {y_name} must have the same number of examples, got "
            f"{x_name}.shape={tuple(x.shape)} and {y_name}.shape={tuple(y.shape)}"
        )
