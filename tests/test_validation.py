"""Tests of the validation switch and of the argument layer shared by losses, metrics and bins."""

import math
import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import distributions as D

import cebook
from cebook import bins as B
from cebook import losses as L
from cebook import metrics as M


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


# ------------------------------------------------------------------------------------------------
# The shared argument layer (cebook/_validation.py): one rule for losses, metrics and bins

nan, inf = math.nan, math.inf
F64 = torch.float64
MESSAGE = re.compile(r"^[A-Za-z_.]+: [A-Za-z_0-9' ]+ must be .+, got .+$")


def _t(*values, dtype=None):
    return torch.tensor(values, dtype=dtype)


BAD_VALUES = [
    (lambda: L.gaussian_nll(_t(0.0), _t(-1.0), _t(0.0)), "gaussian_nll: scale must be > 0, got -1"),
    (lambda: L.poisson_nll(2.0, _t(0.5)), "poisson_nll: target must be a non-negative integer"),
    (
        lambda: M.crps_gaussian(_t(0.0), 1.0, _t(nan)),
        "crps_gaussian: target must be finite, got nan",
    ),
    (lambda: M.crps_gaussian(_t(nan), 1.0, _t(0.0)), "crps_gaussian: loc must be finite, got nan"),
    (
        lambda: M.crps_laplace(0.0, 1.0, _t(1.0, nan)),
        "crps_laplace: target must be finite, got nan",
    ),
    (lambda: M.crps_laplace(_t(inf), 1.0, _t(0.0)), "crps_laplace: loc must be finite, got inf"),
    (lambda: M.crps_laplace(0.0, _t(0.0), _t(0.0)), "crps_laplace: scale must be > 0, got 0"),
    (
        lambda: M.crps_ensemble(_t(0.0, nan).reshape(1, 2), _t(0.0)),
        "crps_ensemble: samples must be finite, got nan",
    ),
    (
        lambda: M.crps_ensemble(torch.zeros(2, 3), _t(0.0, nan)),
        "crps_ensemble: target must be finite, got nan",
    ),
    (lambda: M.coverage(0.0, 1.0, _t(0.5, nan)), "coverage: target must be finite, got nan"),
    (lambda: M.coverage(_t(nan), 1.0, _t(0.5)), "coverage: lower must be a number (not NaN), got"),
    (lambda: B.mu_law_encode(_t(1.5)), "mu_law_encode: x must be in [-1, 1], got 1.5"),
    (lambda: B.Bins.uniform(0.0, 1.0, 4).index(_t(nan)), "Bins.index: y must be a number"),
    (
        lambda: B.Bins.uniform(0.0, 1.0, 4).hl_gauss(_t(0.5), _t(-1.0)),
        "Bins.hl_gauss: sigma must be > 0, got -1",
    ),
    (
        lambda: B.Bins.uniform(0.0, 1.0, 4).density_nll(torch.zeros(1, 4), _t(2.0)),
        "Bins.density_nll: target must be within the bins' range [0, 1], got 2",
    ),
]


@pytest.mark.parametrize("case", range(len(BAD_VALUES)))
def test_one_message_format_for_losses_metrics_and_bins(case):
    call, start = BAD_VALUES[case]
    with pytest.raises(ValueError) as info:
        call()
    text = str(info.value)
    assert text.startswith(start)
    assert MESSAGE.match(text), text


def test_metrics_gain_the_losses_finiteness_checks_and_no_nan_slips_through():
    # Before: crps_* returned NaN and coverage counted a NaN target as a miss (0.5).
    with pytest.raises(ValueError, match="coverage: target must be finite"):
        M.coverage(0.0, 1.0, _t(0.5, nan))
    assert M.coverage(-inf, _t(1.0, 1.0), _t(0.5, 2.0)).item() == 0.5  # infinite ends: one-sided
    with cebook.validation(False):  # off: no data check, no sync
        assert torch.isnan(M.crps_gaussian(0.0, 1.0, _t(nan)))


@pytest.mark.parametrize(
    ("params", "target", "hint"),
    [
        ((torch.zeros(4, 1), torch.ones(4)), torch.zeros(4), "pred.squeeze(-1)"),
        ((torch.zeros(4), torch.ones(4)), torch.zeros(4, 1), "target.squeeze(-1)"),
    ],
)
def test_shape_hint_names_the_side_with_the_extra_dimension(params, target, hint):
    for call in (
        lambda: L.gaussian_nll(*params, target),
        lambda: M.crps_gaussian(*params, target),
        lambda: M.coverage(*params, target),
    ):
        with pytest.raises(ValueError, match=re.escape(hint)) as info:
            call()
        assert "broadcast to (4, 4), not to the target's shape" in str(info.value)


def test_one_promotion_rule_python_numbers_take_the_promoted_dtype():
    loc64, y32 = torch.zeros(3, dtype=F64), torch.tensor([0.1, 0.5, 2.0])
    exact = M.crps_gaussian(loc64, torch.tensor(0.1, dtype=F64), y32.to(F64), reduction="none")
    got = M.crps_gaussian(loc64, 0.1, y32, reduction="none")  # before: 0.1 cast to float32
    assert got.dtype == F64
    assert torch.equal(got, exact)
    assert L.gaussian_nll(loc64, 0.1, y32).dtype == F64
    assert M.coverage(loc64 - 1, 1.0, y32).dtype == F64
    assert M.crps_ensemble(torch.zeros(3, 2, dtype=F64), y32).dtype == F64
    assert M.crps_gaussian(torch.tensor([0, 1]), 1, torch.tensor([1, 2])).dtype == torch.float32


def test_tensors_on_different_devices_raise_a_value_error_naming_both():
    with pytest.raises(ValueError, match=r"gaussian_nll: target must be on the device of loc \(m"):
        L.gaussian_nll(torch.zeros(3, device="meta"), 1.0, torch.zeros(3))
    # 0-dim tensors mix with any device, as in torch
    out = L.gaussian_nll(torch.zeros(3), torch.tensor(1.0), torch.zeros(3))
    assert out.device.type == "cpu"


@pytest.mark.parametrize(
    "call",
    [
        lambda: L.gaussian_nll(0.0, True, torch.zeros(2)),
        lambda: L.student_t_nll(True, 0.0, 1.0, torch.zeros(2)),
        lambda: L.poisson_nll(True, torch.zeros(2)),
        lambda: M.crps_gaussian(0.0, True, torch.zeros(2)),
        lambda: M.coverage(0.0, True, torch.zeros(2)),
        lambda: B.mu_law_encode(True),
        lambda: B.Bins.uniform(0.0, 1.0, 4).hl_gauss(torch.zeros(2), True),
    ],
)
def test_bools_are_rejected_as_numbers_everywhere(call):
    for enabled in (True, False):
        with cebook.validation(enabled):
            with pytest.raises(ValueError, match="must be a real number or tensor, got True"):
                call()


def test_complex_inputs_are_rejected():
    z = torch.zeros(2, dtype=torch.complex64)
    with pytest.raises(ValueError, match="gaussian_nll: target must be real, got a tensor of dt"):
        L.gaussian_nll(0.0, 1.0, z)
    with pytest.raises(ValueError, match="crps_gaussian: loc must be real"):
        M.crps_gaussian(z, 1.0, torch.zeros(2))
    with pytest.raises(ValueError, match="categorical_nll: logits must be real"):
        L.categorical_nll(torch.zeros(2, 3, dtype=torch.complex64), torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda y: L.gaussian_nll(0.0, -1.0, y), "gaussian_nll: scale must be > 0, got -1"),
        (lambda y: L.gaussian_nll(0.0, 0.0, y), "gaussian_nll: scale must be > 0, got 0"),
        (lambda y: L.gaussian_nll(0.0, inf, y), "gaussian_nll: scale must be finite, got inf"),
        (lambda y: L.laplace_nll(0.0, -2.0, y), "laplace_nll: scale must be > 0, got -2"),
        (lambda y: L.student_t_nll(-1.0, 0.0, 1.0, y), "student_t_nll: df must be > 0, got -1"),
        (lambda y: L.student_t_nll(3.0, 0.0, 0.0, y), "student_t_nll: scale must be > 0, got 0"),
        (lambda y: L.gamma_nll(2.0, -1.0, y + 1), "gamma_nll: rate must be > 0, got -1"),
        (lambda y: L.pinball_loss(y, y, 1.5), "pinball_loss: quantile must be in (0, 1), got 1.5"),
        (lambda y: L.gmm_nll(torch.zeros(2), 0.0, -1.0, y), "gmm_nll: scale must be > 0, got -1"),
        (lambda y: M.crps_gaussian(0.0, -1.0, y), "crps_gaussian: scale must be > 0, got -1"),
        (lambda y: M.crps_laplace(nan, 1.0, y), "crps_laplace: loc must be finite, got nan"),
    ],
)
def test_python_number_arguments_are_checked_with_validation_off(call, message):
    # they cost nothing; before, gaussian_nll(..., scale=-1.0) raised math's "math domain error"
    with cebook.validation(False):
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            call(torch.zeros(3))


EMPTY = {
    "gaussian_nll": lambda y, r: L.gaussian_nll(torch.zeros(0), 1.0, y, reduction=r),
    "gaussian_nll tensor scale": lambda y, r: L.gaussian_nll(0.0, torch.ones(0), y, reduction=r),
    "laplace_nll": lambda y, r: L.laplace_nll(0.0, 1.0, y, reduction=r),
    "student_t_nll": lambda y, r: L.student_t_nll(3.0, 0.0, 1.0, y, reduction=r),
    "poisson_nll": lambda y, r: L.poisson_nll(1.0, y, reduction=r),
    "bernoulli_nll": lambda y, r: L.bernoulli_nll(0.0, y, reduction=r),
    "pinball_loss": lambda y, r: L.pinball_loss(0.0, y, 0.3, reduction=r),
    "asymmetric_laplace_nll": lambda y, r: L.asymmetric_laplace_nll(0.0, 1.0, 0.3, y, reduction=r),
    "mvn_nll": lambda y, r: L.mvn_nll(
        torch.zeros(2), torch.eye(2), y.reshape(0, 1).expand(0, 2), reduction=r
    ),
    "categorical_nll": lambda y, r: L.categorical_nll(torch.zeros(0, 3), y.long(), reduction=r),
    "gmm_nll": lambda y, r: L.gmm_nll(torch.zeros(2), torch.zeros(2), 1.0, y, reduction=r),
    "crps_gaussian": lambda y, r: M.crps_gaussian(0.0, 1.0, y, reduction=r),
    "crps_laplace": lambda y, r: M.crps_laplace(0.0, 1.0, y, reduction=r),
    "crps_ensemble": lambda y, r: M.crps_ensemble(torch.zeros(0, 4), y, reduction=r),
    "Bins.density_nll": lambda y, r: B.Bins.uniform(0.0, 1.0, 4).density_nll(
        torch.zeros(0, 4), y, reduction=r
    ),
}


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_empty_inputs_one_behaviour_everywhere(name):
    call, y = EMPTY[name], torch.zeros(0)
    for enabled in (True, False):  # a shape check: free, made whatever the switch says
        with cebook.validation(enabled):
            with pytest.raises(ValueError, match=r"must be non-empty for reduction='mean', got sh"):
                call(y, "mean")
            assert call(y, "sum").item() == 0.0
            assert call(y, "none").numel() == 0


def test_coverage_of_an_empty_target_raises_like_a_mean():
    with pytest.raises(ValueError, match=r"^coverage: target must be non-empty, got shape \(0,\)$"):
        M.coverage(0.0, 1.0, torch.zeros(0))


def test_mvn_with_an_empty_event_raises():
    with pytest.raises(ValueError, match=r"mvn_nll: target must have an event dimension of size"):
        L.mvn_nll(torch.zeros(3, 0), torch.zeros(3, 0, 0), torch.zeros(3, 0))


def test_categorical_never_treats_minus_100_as_ignore_index():
    logits, target = torch.zeros(2, 3), torch.tensor([-100, 1])
    with pytest.raises(ValueError, match="class index in"):
        L.categorical_nll(logits, target)
    with cebook.validation(False):  # before: the -100 was skipped and the mean taken over one
        with pytest.raises(IndexError):
            L.categorical_nll(logits, target)


def test_interval_coverage_refuses_discrete_laws():
    with pytest.raises(ValueError, match=r"interval_coverage: dist must be a continuous law, got"):
        M.interval_coverage(D.Poisson(torch.full((4,), 2.0)), torch.tensor([0.0, 1, 2, 3]), [0.5])


def test_reduction_and_decode_method_are_one_exported_alias():
    assert cebook.Reduction is L.Reduction is M.Reduction is B.Reduction
    assert cebook.DecodeMethod is B.DecodeMethod
    assert "Reduction" in cebook.__all__ and "DecodeMethod" in cebook.__all__


def test_compiling_with_validation_on_gives_the_cebook_hint_not_dynamo_tolist_error():
    y = torch.randn(8)

    def step(loc):
        return L.gaussian_nll(loc, 1.0, y) + L.poisson_nll(loc.exp(), y.abs().round())

    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True, backend="eager")
    with pytest.raises(Exception, match=r"wrap the compiled step in `with cebook.validation\(Fa"):
        compiled(torch.zeros(8))
    torch._dynamo.reset()
    with cebook.validation(False):
        torch.testing.assert_close(compiled(torch.zeros(8)), step(torch.zeros(8)))
    # Without fullgraph, dynamo runs the checked call eagerly: still validated, still right.
    torch._dynamo.reset()
    loose = torch.compile(lambda loc, t: L.gaussian_nll(loc, 1.0, t), backend="eager")
    torch.testing.assert_close(loose(torch.zeros(8), y), L.gaussian_nll(torch.zeros(8), 1.0, y))
    with pytest.raises(ValueError, match="gaussian_nll: target must be finite, got nan"):
        loose(torch.zeros(8), torch.full((8,), nan))
    torch._dynamo.reset()


def test_vmap_with_validation_on_gives_the_same_hint():
    y = torch.randn(4, 3)
    with pytest.raises(ValueError, match=r"wrap the compiled step in `with cebook.validation"):
        torch.func.vmap(lambda loc, t: L.gaussian_nll(loc, 1.0, t))(torch.zeros(4, 3), y)
    with cebook.validation(False):
        out = torch.func.vmap(lambda loc, t: L.gaussian_nll(loc, 1.0, t))(torch.zeros(4, 3), y)
    assert out.shape == (4,)
    # torch.func.grad reads data fine: validation stays on there
    grad = torch.func.grad(lambda loc: L.gaussian_nll(loc, 1.0, y[0]))(torch.zeros(3))
    torch.testing.assert_close(grad, -y[0] / 3)


def test_fit_checks_the_first_epoch_then_runs_without_syncs(monkeypatch):
    import cebook._validation as V

    calls = []
    real_raise_first = V._Checks.raise_first

    def counting(self):
        calls.append(self.fn)
        return real_raise_first(self)

    monkeypatch.setattr(V._Checks, "raise_first", counting)
    seen = []

    def loss_fn(out, y):
        seen.append(cebook.validation_enabled())
        return L.gaussian_nll(out.squeeze(-1), 1.0, y)

    x, y = torch.randn(32, 1), torch.randn(32)
    model = torch.nn.Linear(1, 1)
    cebook.fit(
        model,
        loss_fn,
        x,
        y,
        epochs=5,
        batch_size=8,
        device="cpu",
        progress=False,
        validation=(x, y),
    )
    # epoch 0: 4 training batches and the validation pass, checked; epochs 1-4: unchecked
    assert seen == [True] * 5 + [False] * 20
    assert calls == ["gaussian_nll"] * 5
    assert cebook.validation_enabled() is True  # the caller's setting is restored
    with cebook.validation(False):
        cebook.fit(model, loss_fn, x, y, epochs=2, device="cpu", progress=False)
        assert cebook.validation_enabled() is False
    assert len(calls) == 5


def test_fit_raises_on_bad_data_in_the_first_epoch_and_restores_the_setting():
    x, y = torch.randn(16, 1), torch.randn(16)  # negative targets: outside the gamma law's support
    model = torch.nn.Linear(1, 1)

    def loss_fn(out, y):
        return L.gamma_nll(2.0, out.squeeze(-1).exp(), y)

    with pytest.raises(ValueError, match="gamma_nll: target must be > 0"):
        cebook.fit(model, loss_fn, x, y, epochs=3, device="cpu", progress=False)
    assert cebook.validation_enabled() is True


def test_fit_never_reads_data_back_after_the_first_epoch():
    # The meta-device proof (tests/test_losses.py): meta tensors hold no data, so any read-back
    # after the first epoch would raise. Epoch 0 runs on real data; then the loss is fed meta
    # tensors, which only works if nothing is synchronised.
    x, y = torch.randn(8, 1), torch.randn(8)
    model = torch.nn.Linear(1, 1)
    epoch = []

    def loss_fn(out, y):
        epoch.append(cebook.validation_enabled())
        if not cebook.validation_enabled():
            meta = L.gaussian_nll(torch.zeros(8, device="meta"), 1.0, torch.zeros(8, device="meta"))
            assert meta.device.type == "meta"
        return L.gaussian_nll(out.squeeze(-1), 1.0, y)

    cebook.fit(model, loss_fn, x, y, epochs=3, device="cpu", progress=False)
    assert epoch == [True, False, False]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0, 1, 2, 3]), max_size=4), min_size=1, max_size=4))
def test_broadcast_shapes_agrees_with_torch(shapes):
    # cebook's own broadcast rule (torch's costs ~0.5 ms a call) against torch.broadcast_shapes
    from cebook._validation import _broadcast_shapes

    try:
        expected = tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        expected = None
    assert _broadcast_shapes(*shapes) == expected


def test_gmm_and_categorical_name_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"gmm_nll: shapes logits \(4, 3\), loc \(4, 2\)"):
        L.gmm_nll(torch.zeros(4, 3), torch.zeros(4, 2), torch.ones(4, 3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"categorical_nll: logits \(4, 3\) \(classes last\)"):
        L.categorical_nll(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
