"""Running a chapter: the device, the seed and a small training loop.

Every chapter of the book calls :func:`device` and :func:`fit`, so the same code runs on a laptop's
CPU, on Apple silicon and on a CUDA GPU.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = ["device", "seed", "fit"]


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


def seed(n: int) -> None:
    """Seed Python's, NumPy's and PyTorch's global generators (all CUDA devices included).

    Call it at the top of a notebook; importing :mod:`cebook` seeds nothing. Every chapter of the
    book calls it before each experiment.

    Examples
    --------
    >>> import cebook, torch
    >>> cebook.seed(0); a = torch.rand(2)
    >>> cebook.seed(0); b = torch.rand(2)
    >>> bool(torch.equal(a, b))
    True
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"seed: n must be a non-negative int, got {n!r}")
    random.seed(n)
    np.random.seed(n % 2**32)
    torch.manual_seed(n)


def _batches(
    n: int, batch_size: int | None, shuffle: bool, dev: torch.device
) -> list[torch.Tensor]:
    if batch_size is None or batch_size >= n:
        return [torch.arange(n, device=dev)]
    order = torch.randperm(n, device=dev) if shuffle else torch.arange(n, device=dev)
    return list(order.split(batch_size))


def fit(
    model: nn.Module,
    loss_fn: Callable[[Any, torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 1000,
    lr: float = 1e-2,
    batch_size: int | None = None,
    weight_decay: float = 0.0,
    optimizer: torch.optim.Optimizer | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` by minimising ``loss_fn(model(x), y)`` and return the loss history.

    The model and the data are moved to ``device`` (by default :func:`cebook.device`). Each epoch
    visits the data once, in shuffled mini-batches of ``batch_size`` (the whole set when ``None``),
    with Adam unless ``optimizer`` is given. The loss is summed on the device and read back once,
    at the end, so the loop never waits for the GPU between steps. Every chapter of the book
    trains its models with it.

    Parameters
    ----------
    model : nn.Module
        Maps ``x`` to whatever ``loss_fn`` expects (a tensor, or a tuple of a law's parameters).
    loss_fn : callable
        ``loss_fn(output, y)`` returns a scalar tensor, for instance
        ``lambda out, y: cebook.losses.gaussian_nll(*out, y)``.
    x, y : Tensor
        Inputs and targets; their first dimension indexes the examples.
    epochs : int
        Number of passes over the data.
    lr, weight_decay : float
        Adam's learning rate and (L2) weight decay, used when ``optimizer`` is ``None``.
    optimizer : torch.optim.Optimizer, optional
        An optimiser already built over ``model.parameters()``; ``torch.optim.LBFGS`` works too
        (each step passes it a closure).
    device : torch.device or str, optional
        Where to train; :func:`cebook.device` when ``None``.
    progress : bool
        Show a ``tqdm`` bar on standard error. The book removes standard-error output from its
        pages, so the bar helps in JupyterLab and does not litter the rendered chapters.

    Returns
    -------
    list of float
        The mean training loss of each epoch (length ``epochs``).

    Examples
    --------
    >>> import torch, cebook
    >>> cebook.seed(0)
    >>> x = torch.linspace(-1, 1, 64).unsqueeze(-1)
    >>> y = 3 * x
    >>> model = torch.nn.Linear(1, 1)
    >>> history = cebook.fit(model, torch.nn.functional.mse_loss, x, y, epochs=300, lr=0.1,
    ...                      device="cpu", progress=False)
    >>> history[-1] < 1e-4
    True
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive int, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"fit: batch_size must be a positive int or None, got {batch_size!r}")
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise ValueError(
            f"fit: x and y must be tensors, got {type(x).__name__} and {type(y).__name__}"
        )
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"fit: x and y must have the same number of examples, got x.shape={tuple(x.shape)} "
            f"and y.shape={tuple(y.shape)}"
        )
    dev = torch.device(device) if device is not None else globals()["device"]()
    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = x.shape[0]
    history = torch.zeros(epochs, device=dev)
    epoch_range: Any = range(epochs)
    if progress:
        from tqdm import tqdm

        epoch_range = tqdm(epoch_range, desc="fit", leave=False, mininterval=0.5)
    model.train()
    for epoch in epoch_range:
        total = torch.zeros((), device=dev)
        for index in _batches(n, batch_size, True, dev):

            def closure(index: torch.Tensor = index) -> torch.Tensor:
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[index]), y[index])
                loss.backward()
                return loss

            # A closure serves every optimiser, L-BFGS (which re-evaluates the loss) included.
            loss = optimizer.step(closure)
            total = total + loss.detach() * index.numel()
        history[epoch] = total / n
    model.eval()
    return history.cpu().tolist()
