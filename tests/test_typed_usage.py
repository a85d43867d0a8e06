"""tests/typed_usage.py is checked by ``mypy --strict`` in ``make lint``; here it must also run."""

import pytest
import torch

import cebook
from tests import typed_usage


def test_the_typed_usage_file_runs():
    typed_usage.main()


def test_fit_without_a_device_trains_on_cebook_device(monkeypatch):
    # fit's `device` parameter shadows the module's device(): fit must still call the function
    monkeypatch.setenv("CEBOOK_DEVICE", "meta")
    with pytest.raises(ValueError, match=r"device: CEBOOK_DEVICE='meta' is not available"):
        cebook.fit(torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, torch.zeros(2, 1),
                   torch.zeros(2, 1), epochs=1, progress=False)  # fmt: skip


def test_fit_refuses_a_model_that_is_not_a_module():
    with pytest.raises(ValueError, match="fit: model must be a torch.nn.Module, got function"):
        cebook.fit(lambda x: x, torch.nn.functional.mse_loss, torch.zeros(2, 1),
                   torch.zeros(2, 1), progress=False)  # fmt: skip
