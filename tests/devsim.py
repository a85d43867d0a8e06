"""Run a chapter as if ``cebook.device()`` were a GPU, on a machine without one.

CI has no GPU, yet every chapter must run unchanged on CUDA. The mistakes that break a chapter
there are few and mechanical: a tensor on the device meets a CPU tensor in one operation, goes to
NumPy (or Matplotlib, SciPy, ...) without ``.cpu()``, or is filled from a CPU random generator.
This module finds them on the CPU. :func:`install` makes ``cebook.device()`` return
``torch.device("cpu", 0)``, a CPU device that stands for the GPU, and tracks, through a
``TorchFunctionMode``, which tensors live "on the device": those moved there (``.to(dev)``,
``Module.to(dev)``), created there (``device=dev``) or computed from such tensors. Whatever the
real GPU would refuse is recorded; :func:`check` raises if anything was.

``python tests/devsim.py NOTEBOOK ...`` adds a first cell that installs the simulation and a last
cell that checks it to each notebook (in place); ``make chapters`` runs every chapter so.
It is a simulation: it catches device mixing, not differences of numerics between devices.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path

import torch
from torch import nn
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from torch.overrides import TorchFunctionMode

DEV = torch.device("cpu", 0)  # stands for the GPU
findings: list[str] = []

# Reading a value back (``.item()``, ``float(t)``, ...) is fine on a GPU.
_READS = {"item", "tolist", "__float__", "__int__", "__bool__", "__index__", "__len__", "dim"}
_READS |= {"size", "numel", "__hash__", "_has_compatible_shallow_copy_type"}
_INDEXING = {"__getitem__", "__setitem__", "index_put_", "index_put", "_index_put_impl_"}


def _tensors(tree: object, out: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """The tensors in nested tuples, lists and dicts (what torch functions take and return)."""
    out = [] if out is None else out
    if isinstance(tree, torch.Tensor):
        out.append(tree)
    elif isinstance(tree, (list, tuple)):
        for item in tree:
            _tensors(item, out)
    elif isinstance(tree, dict):
        for item in tree.values():
            _tensors(item, out)
    return out


def on_device(t: object) -> bool:
    return isinstance(t, torch.Tensor) and bool(t.__dict__.get("_on_device", False))


def _mark(t: object, value: bool) -> None:
    if isinstance(t, torch.Tensor):
        t.__dict__["_on_device"] = value


def _is_dev(device: object) -> bool | None:
    """True for the simulated GPU, False for the CPU, None if ``device`` names no device."""
    if isinstance(device, str):
        try:
            device = torch.device(device)
        except RuntimeError:
            return None
    if isinstance(device, torch.device):
        return device.type == "cpu" and device.index == 0
    return None


def _report(kind: str, detail: str) -> None:
    frames = traceback.extract_stack()[:-2]
    if any("/torch/optim/" in f.filename for f in frames):
        return  # optimiser internals follow the parameters; they are right on a GPU
    user = [f for f in frames if "site-packages" not in f.filename and f.filename != __file__]
    where = f"{user[-1].filename}:{user[-1].lineno}: {user[-1].line}" if user else "?"
    line = f"[{kind}] {detail}\n    at {where}"
    if line not in findings:
        findings.append(line)


class _DeviceMode(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        owner = getattr(func, "__self__", None)
        if owner is torch._C.TensorBase.device:  # ``t.device`` names the simulated GPU
            return DEV if on_device(args[0]) else func(*args, **kwargs)
        if type(owner).__name__ == "getset_descriptor":  # t.T, t.grad, t.real, ...
            out = func(*args, **kwargs)
            if isinstance(out, torch.Tensor) and out is not args[0] and on_device(args[0]):
                _mark(out, True)
            return out
        if name in ("__array__", "numpy") and on_device(args[0]):
            _report("NUMPY", f"{name} of a device tensor of shape {tuple(args[0].shape)}")
        printed = name in ("__repr__", "__str__") or (name == "__format__" and args[0].dim() > 0)
        if printed and on_device(args[0]):
            _report("REPR", "printing a device tensor shows device='cuda:0'")
        if name in _READS or name in ("__array__", "numpy", "__repr__", "__str__", "__format__"):
            return func(*args, **kwargs)
        if name in ("to", "cpu") and args and isinstance(args[0], torch.Tensor):
            return self._move(func, name, args, kwargs)
        if name == "cuda":
            _report("CUDA", "an explicit .cuda(): use cebook.device()")
        tensors = _tensors((args, kwargs))
        here = [t for t in tensors if on_device(t)]
        cpu = [t for t in tensors if not on_device(t) and t.dim() > 0]  # 0-dim CPU is fine
        if name in _INDEXING:
            self._check_indexing(name, args, tensors)
        elif name == "copy_":
            pass  # copy_ moves data between devices
        elif here and cpu:
            _report("MIX", f"{name}: device {[tuple(t.shape) for t in here][:3]} with CPU "
                    f"{[tuple(t.shape) for t in cpu][:3]}")  # fmt: skip
        target = _is_dev(kwargs["device"]) if "device" in kwargs else None
        generator = kwargs.get("generator")
        if generator is not None:
            makes = target if target is not None else bool(here)
            if bool(getattr(generator, "on_device", False)) != makes:
                _report("GENERATOR", f"{name}: the generator and the tensor are on other devices")
        out = func(*args, **kwargs)
        new = target if target is not None else (True if here else None)
        if new is not None:
            for o in _tensors(out):
                if not any(o is t for t in tensors):
                    _mark(o, new)
                elif name.endswith("_"):
                    _mark(o, new)  # in place on a device tensor
        return out

    @staticmethod
    def _move(func, name, args, kwargs):
        src = args[0]
        target: bool | None = False if name == "cpu" else None
        for a in list(args[1:]) + list(kwargs.values()):
            if isinstance(a, torch.Tensor):
                target = on_device(a)
            elif _is_dev(a) is not None:
                target = _is_dev(a)
        out = func(*args, **kwargs)
        if target is None:  # a dtype change stays where it is
            target = on_device(src)
        if out is src and target != on_device(src):
            out = out.view_as(out)  # a real move returns a new tensor
        _mark(out, target)
        return out

    @staticmethod
    def _check_indexing(name, args, tensors):
        base = args[0]
        if on_device(base):
            # CPU index tensors are allowed on a GPU; a CPU value of dim > 0 is not
            value = args[2] if name == "__setitem__" and len(args) > 2 else None
            if isinstance(value, torch.Tensor) and not on_device(value) and value.dim() > 0:
                _report(
                    "MIX", f"{name}: CPU value of shape {tuple(value.shape)} into a device tensor"
                )
        elif base.dim() > 0:
            if any(on_device(t) and t is not base for t in tensors):
                _report("MIX", f"{name}: device index or value into a CPU tensor")


class _Generator(torch.Generator):
    """``torch.Generator(dev)`` is a CPU generator that knows it stands for a GPU one."""

    def __new__(cls, device="cpu"):
        return super().__new__(cls, "cpu")

    def __init__(self, device="cpu"):
        self.on_device = bool(_is_dev(device))

    @property
    def device(self):
        return DEV if self.on_device else torch.device("cpu")


_module_to = nn.Module.to


def _tracked_module_to(self, *args, **kwargs):
    out = _module_to(self, *args, **kwargs)
    device = torch._C._nn._parse_to(*args, **kwargs)[0]
    if device is not None:
        for t in [*self.parameters(), *self.buffers()]:
            _mark(t, bool(_is_dev(device)))
    return out


_untracked: list[torch._C.DisableTorchFunction] = []


def _untrack_step(optimizer, args, kwargs):
    # An optimiser updates each parameter where it lives, as it would on a GPU; tracking its
    # many small operations would make most of the simulation's cost.
    _untracked.append(torch._C.DisableTorchFunction())
    _untracked[-1].__enter__()


def _track_again(optimizer, args, kwargs):
    _untracked.pop().__exit__(None, None, None)


def install() -> None:
    """Make ``cebook.device()`` the simulated GPU and start tracking."""
    import cebook
    import cebook.train

    register_optimizer_step_pre_hook(_untrack_step)
    register_optimizer_step_post_hook(_track_again)
    nn.Module.to = _tracked_module_to
    nn.Module.cpu = lambda self: _tracked_module_to(self, "cpu")
    cebook.device = cebook.train.device = lambda: DEV
    torch.Generator = _Generator
    _DeviceMode().__enter__()


def check() -> None:
    """Raise ``AssertionError`` listing what a GPU would have refused, if anything."""
    assert not findings, "on a GPU this would fail:\n" + "\n".join(findings)


def _inject(path: Path) -> None:
    here = str(Path(__file__).resolve().parent)
    notebook = json.loads(path.read_text())

    def cell(source, tag):
        return {"cell_type": "code", "id": f"devsim-{tag}", "metadata": {}, "outputs": [],
                "execution_count": None, "source": source}  # fmt: skip

    first = f"import sys\nsys.path.insert(0, {here!r})\nimport devsim\ndevsim.install()"
    notebook["cells"] = [
        cell(first, "install"),
        *notebook["cells"],
        cell("devsim.check()", "check"),
    ]
    path.write_text(json.dumps(notebook))


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        _inject(Path(argument))
