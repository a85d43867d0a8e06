"""The simulated GPU of tests/devsim.py: it flags what a real GPU refuses, and only that."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

PRELUDE = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
import devsim
devsim.install()
import numpy as np, torch, cebook
from torch import nn
from cebook.bins import Bins
dev = cebook.device()
x = torch.linspace(0, 1, 5).unsqueeze(-1)
"""

# Each line runs on a GPU: nothing may be flagged.
FINE = """
xd = x.to(dev)
model = nn.Linear(1, 1).to(dev)
y = model(xd)
y.detach().cpu().numpy()
float(y.sum()); y.sum().item(); xd + torch.tensor(2.0)
xd[torch.tensor([0, 2])]
torch.zeros(3, device=dev) + torch.ones_like(xd[:3, 0])
torch.rand(3, device=dev, generator=torch.Generator(dev).manual_seed(0))
torch.randn(3, generator=torch.Generator().manual_seed(0)).to(dev)
b = Bins.uniform(0.0, 1.0, 4)
b.index(xd[:, 0]); b.two_hot(xd[:, 0]); b.decode(torch.zeros(5, 4, device=dev))
torch.distributions.Normal(xd, 0.1).log_prob(xd)
cebook.fit(nn.Linear(1, 1), torch.nn.functional.mse_loss, x, x, epochs=3, progress=False)
f"{xd.sum():.3f}"
"""

# Each of these fails (or prints device='cuda:0') on a GPU.
HAZARDS = {
    "module not moved": ("nn.Linear(1, 1)(x.to(dev))", "MIX"),
    "numpy of a device tensor": ("np.asarray(x.to(dev))", "NUMPY"),
    "device plus CPU": ("x.to(dev) + torch.ones(5, 1)", "MIX"),
    "CPU generator": ("torch.rand(3, device=dev, generator=torch.Generator())", "GENERATOR"),
    "device generator, CPU tensor": ("torch.rand(3, generator=torch.Generator(dev))", "GENERATOR"),
    "CPU table times device": ("Bins.uniform(0, 1, 4).centers @ torch.zeros(4, device=dev)", "MIX"),
    "device index into CPU": ("torch.arange(5.0)[torch.tensor([1, 2], device=dev)]", "MIX"),
    "printing a device tensor": ("print(x.to(dev))", "REPR"),
    # the optimiser's step runs untracked; tracking resumes after it, parameters still on device
    "CPU input after an optimiser step": (
        "m = nn.Linear(1, 1).to(dev); o = torch.optim.Adam(m.parameters())\n"
        "m(x.to(dev)).sum().backward(); o.step(); m(x)",
        "MIX",
    ),
}


def _run(body):
    code = PRELUDE + body + "\nprint('FINDINGS', len(devsim.findings))\nprint(*devsim.findings)\n"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def findings():
    """What devsim flags for FINE and for each hazard, each run on its own, in one interpreter."""
    bodies = {"fine": FINE} | {name: line for name, (line, _) in HAZARDS.items()}
    out = _run(
        f"import json\nbase = dict(globals())\nresults = {{}}\n"
        f"for name, body in json.loads({json.dumps(json.dumps(bodies))}).items():\n"
        f"    devsim.findings.clear()\n    exec(body, dict(base))\n"
        f"    results[name] = list(devsim.findings)\n"
        f"devsim.findings.clear()\nprint('RESULTS', json.dumps(results))\n"
    )
    return json.loads(out.split("RESULTS ", 1)[1].splitlines()[0])


def test_code_that_runs_on_a_gpu_is_not_flagged(findings):
    assert findings["fine"] == [], findings["fine"]


@pytest.mark.parametrize("name", HAZARDS)
def test_each_gpu_failure_is_flagged(findings, name):
    kind = HAZARDS[name][1]
    assert len(findings[name]) == 1 and f"[{kind}]" in findings[name][0], findings[name]


def test_check_raises_with_the_findings():
    out = _run("np.asarray(x.to(dev))\ntry:\n    devsim.check()\nexcept AssertionError as e:\n"
               "    print('RAISED', 'NUMPY' in str(e))")  # fmt: skip
    assert "RAISED True" in out, out


def test_inject_adds_the_first_and_last_cells(tmp_path):
    notebook = tmp_path / "chapter.ipynb"
    markdown = {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# t"}
    notebook.write_text(json.dumps({"cells": [markdown], "metadata": {}, "nbformat": 4}))
    subprocess.run([sys.executable, str(HERE / "devsim.py"), str(notebook)], check=True)
    cells = json.loads(notebook.read_text())["cells"]
    assert [c["id"] for c in cells] == ["devsim-install", "a", "devsim-check"]
    assert "devsim.install()" in cells[0]["source"] and cells[-1]["source"] == "devsim.check()"
