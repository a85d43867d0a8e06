"""Tests of the validation switch shared by the library."""

import pytest

import cebook


def test_validation_is_on_by_default():
    assert cebook.validation_enabled() is True


def test_set_validation_round_trip():
    cebook.set_validation(False)
    try:
        assert cebook.validation_enabled() is False
    finally:
        cebook.set_validation(True)
    assert cebook.validation_enabled() is True


def test_context_manager_restores_state_even_on_error():
    with pytest.raises(RuntimeError):
        with cebook.validation(False):
            assert cebook.validation_enabled() is False
            raise RuntimeError("boom")
    assert cebook.validation_enabled() is True


def test_context_manager_nests():
    with cebook.validation(False):
        with cebook.validation(True):
            assert cebook.validation_enabled() is True
        assert cebook.validation_enabled() is False
    assert cebook.validation_enabled() is True


def test_set_validation_rejects_non_bool():
    with pytest.raises(ValueError, match="set_validation: enabled must be a bool, got 0"):
        cebook.set_validation(0)
