"""Tests of cebook.train: device selection, seeding and the training loop."""

import math

import pytest
import torch

import cebook


def test_device_defaults_to_an_available_device(monkeypatch):
    monkeypatch.delenv("CEBOOK_DEVICE", raising=False)
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else "mps"
        if torch.backends.mps.is_available()
        else "cpu"
    )
    assert cebook.device().type == expected


def test_device_override(monkeypatch):
    monkeypatch.setenv("CEBOOK_DEVICE", "cpu")
    assert cebook.device() == torch.device("cpu")


def test_device_override_rejects_bad_names(monkeypatch):
    monkeypatch.setenv("CEBOOK_DEVICE", "gpu0")
    with pytest.raises(ValueError, match=r"device: CEBOOK_DEVICE='gpu0' is not a device name"):
        cebook.device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_device_override_rejects_missing_cuda(monkeypatch):
    monkeypatch.setenv("CEBOOK_DEVICE", "cuda")
    with pytest.raises(ValueError, match="not available on this machine"):
        cebook.device()


def test_seed_makes_torch_numpy_and_python_repeatable():
    import random

    import numpy as np

    cebook.seed(123)
    first = (torch.rand(3), np.random.rand(3), random.random())
    cebook.seed(123)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0])
    assert (first[1] == second[1]).all()
    assert first[2] == second[2]


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="seed: n must be a non-negative int"):
        cebook.seed(bad)


def test_fit_recovers_least_squares_solution():
    # Full-batch Adam on the MSE must land on the closed-form least-squares line.
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 1, generator=generator)
    y = 2.0 * x - 1.0 + 0.3 * torch.randn(200, 1, generator=generator)
    design = torch.cat([x, torch.ones_like(x)], dim=1)
    solution = torch.linalg.lstsq(design, y).solution.squeeze()
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    history = cebook.fit(
        model, torch.nn.functional.mse_loss, x, y, epochs=600, lr=0.05, device="cpu", progress=False
    )
    assert len(history) == 600
    assert history[-1] < history[0]
    assert torch.allclose(model.weight.squeeze(), solution[0], atol=1e-3)
    assert torch.allclose(model.bias.squeeze(), solution[1], atol=1e-3)
    residual = y - design @ solution.unsqueeze(-1)
    assert math.isclose(history[-1], residual.pow(2).mean().item(), rel_tol=1e-4)


def test_fit_minibatches_visit_every_example_once_per_epoch():
    # With lr = 0 the parameters never move, so each epoch's mean loss is the full-data loss.
    x = torch.arange(10.0).unsqueeze(-1)
    y = torch.zeros(10, 1)
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.zero_()
    history = cebook.fit(
        model,
        torch.nn.functional.mse_loss,
        x,
        y,
        epochs=3,
        lr=0.0,
        batch_size=3,
        device="cpu",
        progress=False,
    )
    assert history == pytest.approx([x.pow(2).mean().item()] * 3)


def test_fit_passes_tuples_to_the_loss():
    class TwoOutputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(1, 2)

        def forward(self, x):
            out = self.linear(x)
            return out[:, 0], torch.nn.functional.softplus(out[:, 1]) + 1e-3

    def loss_fn(params, y):
        loc, scale = params
        return -torch.distributions.Normal(loc, scale).log_prob(y).mean()

    generator = torch.Generator().manual_seed(1)
    x = torch.zeros(500, 1)
    y = 3.0 + 0.5 * torch.randn(500, generator=generator)
    torch.manual_seed(0)
    model = TwoOutputs()
    cebook.fit(model, loss_fn, x, y, epochs=1500, lr=0.05, device="cpu", progress=False)
    loc, scale = model(x[:1])
    assert loc.item() == pytest.approx(y.mean().item(), abs=1e-2)
    assert scale.item() == pytest.approx(y.std(correction=0).item(), abs=1e-2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "fit: epochs must be a positive int, got 0"),
        ({"batch_size": 0}, "fit: batch_size must be a positive int or None, got 0"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, message):
    model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match=message):
        cebook.fit(
            model, torch.nn.functional.mse_loss, torch.zeros(4, 1), torch.zeros(4, 1), **kwargs
        )


def test_fit_rejects_mismatched_examples():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(ValueError, match=r"x.shape=\(4, 1\) and y.shape=\(5, 1\)"):
        cebook.fit(model, torch.nn.functional.mse_loss, torch.zeros(4, 1), torch.zeros(5, 1))


def test_fit_progress_bar_goes_to_stderr(capsys):
    model = torch.nn.Linear(1, 1)
    cebook.fit(
        model,
        torch.nn.functional.mse_loss,
        torch.zeros(4, 1),
        torch.zeros(4, 1),
        epochs=2,
        device="cpu",
        progress=True,
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "fit" in captured.err


def test_fit_drives_lbfgs():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(100, 2, generator=generator, dtype=torch.float64)
    y = x @ torch.tensor([[1.5], [-0.5]], dtype=torch.float64) + 0.1
    solution = torch.linalg.lstsq(torch.cat([x, torch.ones(100, 1, dtype=torch.float64)], 1), y)
    model = torch.nn.Linear(2, 1).double()
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=50)
    cebook.fit(
        model,
        torch.nn.functional.mse_loss,
        x,
        y,
        epochs=3,
        optimizer=optimizer,
        device="cpu",
        progress=False,
    )
    fitted = torch.cat([model.weight.squeeze(), model.bias])
    assert torch.allclose(fitted, solution.solution.squeeze(), atol=1e-8)
