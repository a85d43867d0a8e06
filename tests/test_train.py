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


def test_seed_adds_the_offset_from_the_environment(monkeypatch):
    monkeypatch.setenv("CEBOOK_SEED_OFFSET", "3")
    assert cebook.seed_offset() == 3
    assert cebook.seed(2) == 5
    shifted = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(shifted, torch.rand(3))
    monkeypatch.delenv("CEBOOK_SEED_OFFSET")
    assert cebook.seed(2) == 2


@pytest.mark.parametrize("bad", ["-1", "one", "1.5"])
def test_seed_rejects_a_bad_offset(monkeypatch, bad):
    monkeypatch.setenv("CEBOOK_SEED_OFFSET", bad)
    with pytest.raises(ValueError, match="seed: CEBOOK_SEED_OFFSET must be a non-negative integer"):
        cebook.seed(0)


def _noisy_line(n, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=generator)
    return x, 2.0 * x + 0.5 * torch.randn(n, 1, generator=generator)


def test_fit_cosine_schedule_decays_the_rate_to_zero():
    x, y = _noisy_line(64, 0)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    rates = []

    def loss_fn(out, target):  # called once per step, inside the optimiser's closure
        rates.append(optimizer.param_groups[0]["lr"])
        return torch.nn.functional.mse_loss(out, target)

    cebook.fit(
        model, loss_fn, x, y, epochs=4, optimizer=optimizer, schedule="cosine", device="cpu",
        progress=False,
    )  # fmt: skip
    expected = [0.1 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    assert rates == pytest.approx(expected)


def test_fit_cosine_schedule_settles_where_a_constant_rate_oscillates():
    # Mini-batch Adam at a large constant rate keeps jumping around the least-squares solution;
    # with the cosine decay the last iterate lands on it.
    x, y = _noisy_line(256, 1)
    design = torch.cat([x, torch.ones_like(x)], dim=1)
    solution = torch.linalg.lstsq(design, y).solution.squeeze()
    errors = {}
    for schedule in ("constant", "cosine"):
        torch.manual_seed(0)
        model = torch.nn.Linear(1, 1)
        cebook.fit(
            model, torch.nn.functional.mse_loss, x, y, epochs=200, lr=0.3, batch_size=16,
            schedule=schedule, device="cpu", progress=False,
        )  # fmt: skip
        fitted = torch.cat([model.weight.squeeze(0), model.bias]).detach()
        errors[schedule] = (fitted - solution).abs().max().item()
    assert errors["cosine"] < 0.01 < errors["constant"]


def test_fit_restores_the_state_with_the_lowest_validation_loss():
    # An over-parameterised network on few noisy points overfits; the restored state must be the
    # one of the best validation epoch, and its validation loss the minimum of the history.
    x, y = _noisy_line(20, 2)
    x_val, y_val = _noisy_line(200, 3)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    history = cebook.fit(
        model, torch.nn.functional.mse_loss, x, y, epochs=300, lr=0.05,
        validation=(x_val, y_val), device="cpu", progress=False,
    )  # fmt: skip
    assert len(history) == len(history.validation) == 300
    best = min(range(300), key=history.validation.__getitem__)
    assert history.best_epoch == best < 299
    with torch.no_grad():
        restored = torch.nn.functional.mse_loss(model(x_val), y_val).item()
    assert restored == pytest.approx(history.validation[best], rel=1e-6)
    assert restored < history.validation[-1]
    assert not model.training


class _MixedDtypes(torch.nn.Module):
    """Float32 layers, a BatchNorm (its int64 counter among the buffers) and a float64 gain."""

    def __init__(self):
        super().__init__()
        linear, norm = torch.nn.Linear, torch.nn.BatchNorm1d
        self.body = torch.nn.Sequential(linear(1, 32), norm(32), torch.nn.Tanh(), linear(32, 1))
        self.gain = torch.nn.Parameter(torch.ones((), dtype=torch.float64))

    def forward(self, x):
        return self.body(x) * self.gain.float()


def test_fit_restores_every_parameter_and_buffer_of_the_best_epoch_exactly():
    # The reference: the same run stopped after the best epoch, without a validation set (with a
    # constant rate, its first epochs are those of the longer run, bit for bit).
    x, y = _noisy_line(20, 2)
    x_val, y_val = _noisy_line(200, 3)
    torch.manual_seed(0)
    model = _MixedDtypes()
    history = cebook.fit(
        model, torch.nn.functional.mse_loss, x, y, epochs=200, lr=0.05,
        validation=(x_val, y_val), device="cpu", progress=False,
    )  # fmt: skip
    assert 0 < history.best_epoch < 199  # it overfits: the last epoch is not the best
    torch.manual_seed(0)
    reference = _MixedDtypes()
    cebook.fit(
        reference, torch.nn.functional.mse_loss, x, y, epochs=history.best_epoch + 1, lr=0.05,
        device="cpu", progress=False,
    )  # fmt: skip
    restored, expected = model.state_dict(), reference.state_dict()
    assert restored["body.1.num_batches_tracked"] == history.best_epoch + 1
    for name, value in expected.items():
        assert restored[name].dtype == value.dtype, name
        assert torch.equal(restored[name], value), name


def test_fit_without_validation_has_no_best_epoch():
    x, y = _noisy_line(8, 4)
    history = cebook.fit(
        torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, x, y, epochs=2, device="cpu",
        progress=False,
    )  # fmt: skip
    assert history.validation == [] and history.best_epoch is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"schedule": "linear"}, "fit: schedule must be 'constant' or 'cosine', got 'linear'"),
        ({"validation": torch.zeros(4, 1)}, "fit: validation must be a tuple"),
        (
            {"validation": (torch.zeros(3, 1), torch.zeros(2, 1))},
            r"fit: x_val and y_val must have the same number of examples, got "
            r"x_val.shape=\(3, 1\) and y_val.shape=\(2, 1\)",
        ),
    ],
)
def test_fit_rejects_bad_schedule_and_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cebook.fit(
            torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, torch.zeros(4, 1),
            torch.zeros(4, 1), progress=False, **kwargs,
        )  # fmt: skip


def test_fit_reads_the_module_device_when_called(monkeypatch):
    # tests/devsim.py replaces cebook.train.device; fit must use the replacement, not a copy of
    # the function taken at import.
    calls = []
    monkeypatch.setattr(cebook.train, "device", lambda: calls.append(1) or torch.device("cpu"))
    cebook.fit(
        torch.nn.Linear(1, 1),
        torch.nn.functional.mse_loss,
        torch.ones(4, 1),
        torch.ones(4, 1),
        epochs=1,
        progress=False,
    )
    assert calls == [1]
