"""Tests of cebook.heads: shapes, constraints under extreme inputs, initial values, agreement of
each head's distribution with its loss, and recovery of known laws by training (against the truth
and against scipy's and numpy's maximum-likelihood estimates)."""

import inspect
import math

import numpy as np
import pytest
import scipy.stats as st
import torch
import torch.nn.functional as F
from torch import distributions as D

import cebook
from cebook import heads, losses


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _targets(kind, shape, seed=0):
    g = _gen(seed)
    if kind == "real":
        return torch.randn(shape, generator=g)
    if kind == "positive":
        return torch.rand(shape, generator=g) * 3 + 0.05
    if kind == "count":
        return torch.randint(0, 8, shape, generator=g).float()
    if kind == "binary":
        return torch.randint(0, 2, shape, generator=g).float()
    if kind == "closed_unit":
        return torch.rand(shape, generator=g)
    if kind == "open_unit":
        return torch.rand(shape, generator=g) * 0.98 + 0.01
    raise AssertionError(kind)


# name: (factory(in_features, out_features), loss, target kind, indices of positive params)
ELEMENTWISE = {
    "gaussian": (lambda i, o: heads.GaussianHead(i, o), "gaussian_nll", "real", [1]),
    "gaussian_exp": (
        lambda i, o: heads.GaussianHead(i, o, link="exp"),
        "gaussian_nll",
        "real",
        [1],
    ),
    "laplace": (lambda i, o: heads.LaplaceHead(i, o), "laplace_nll", "real", [1]),
    "lognormal": (lambda i, o: heads.LogNormalHead(i, o), "lognormal_nll", "positive", [1]),
    "student_t": (
        lambda i, o: heads.StudentTHead(i, o, df_min=2.0),
        "student_t_nll",
        "real",
        [0, 2],
    ),
    "student_t_fixed": (
        lambda i, o: heads.StudentTHead(i, o, df=3.0),
        "student_t_nll",
        "real",
        [0, 2],
    ),
    "exponential": (
        lambda i, o: heads.ExponentialHead(i, o),
        "exponential_nll",
        "positive",
        [0],
    ),
    "exponential_softplus": (
        lambda i, o: heads.ExponentialHead(i, o, link="softplus"),
        "exponential_nll",
        "positive",
        [0],
    ),
    "gamma": (lambda i, o: heads.GammaHead(i, o), "gamma_nll", "positive", [0, 1]),
    "gamma_softplus": (
        lambda i, o: heads.GammaHead(i, o, link="softplus"),
        "gamma_nll",
        "positive",
        [0, 1],
    ),
    "poisson": (lambda i, o: heads.PoissonHead(i, o), "poisson_nll", "count", [0]),
    "poisson_softplus": (
        lambda i, o: heads.PoissonHead(i, o, link="softplus"),
        "poisson_nll",
        "count",
        [0],
    ),
    "negative_binomial": (
        lambda i, o: heads.NegativeBinomialHead(i, o),
        "negative_binomial_nll",
        "count",
        [0],
    ),
    "bernoulli": (lambda i, o: heads.BernoulliHead(i, o), "bernoulli_nll", "binary", []),
    "continuous_bernoulli": (
        lambda i, o: heads.ContinuousBernoulliHead(i, o),
        "continuous_bernoulli_nll",
        "closed_unit",
        [],
    ),
    "beta": (lambda i, o: heads.BetaHead(i, o), "beta_nll", "open_unit", [0, 1]),
}


def _randomise(head, std=1.0, seed=0):
    with torch.no_grad():
        head.linear.weight.copy_(torch.randn(head.linear.weight.shape, generator=_gen(seed)) * std)


# --- shapes ---


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("out_features", [None, 3])
@pytest.mark.parametrize("batch", [(5,), (2, 5)])
def test_elementwise_shapes(name, out_features, batch):
    factory, _, _, _ = ELEMENTWISE[name]
    head = factory(4, out_features)
    params = head(torch.randn(*batch, 4, generator=_gen(1)))
    assert isinstance(params, tuple)
    expected = batch if out_features is None else (*batch, out_features)
    assert all(p.shape == expected for p in params)
    assert head.distribution(*params).batch_shape == expected


def test_structured_shapes():
    from cebook.bins import Bins

    h = torch.randn(2, 5, 4, generator=_gen(2))
    loc, scale_tril = heads.MVNHead(4, dim=3)(h)
    assert loc.shape == (2, 5, 3) and scale_tril.shape == (2, 5, 3, 3)
    logits, loc, scale = heads.GMMHead(4, n_components=6)(h)
    assert logits.shape == loc.shape == scale.shape == (2, 5, 6)
    (logits,) = heads.CategoricalHead(4, Bins.uniform(0.0, 1.0, 7))(h)
    assert logits.shape == (2, 5, 7)
    (logits,) = heads.CategoricalHead(4, 9)(h)
    assert logits.shape == (2, 5, 9)
    with pytest.raises(ValueError, match="last dimension 4"):
        heads.GaussianHead(4)(torch.randn(5, 3))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="GaussianHead: in_features must be a positive int"):
        heads.GaussianHead(0)
    with pytest.raises(ValueError, match="init_scale must exceed min_scale"):
        heads.GaussianHead(3, min_scale=1.0, init_scale=0.5)
    with pytest.raises(ValueError, match="link must be"):
        heads.PoissonHead(3, link="identity")
    with pytest.raises(ValueError, match="init_loc must have n_components=3"):
        heads.GMMHead(3, 3, init_loc=[0.0, 1.0])


# --- the parameters' order is the losses' order ---


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_distribution_arguments_are_named_like_the_loss(name):
    factory, loss_name, _, _ = ELEMENTWISE[name]
    loss_params = list(inspect.signature(getattr(losses, loss_name)).parameters)
    dist_params = list(inspect.signature(factory(2, None).distribution).parameters)
    assert loss_params[: len(dist_params)] == dist_params
    assert loss_params[len(dist_params)] == "target"


def test_structured_heads_are_named_like_their_losses():
    from cebook.bins import Bins

    for head, loss_name in [
        (heads.MVNHead(2, 2), "mvn_nll"),
        (heads.GMMHead(2, 2), "gmm_nll"),
        (heads.CategoricalHead(2, Bins.uniform(0.0, 1.0, 3)), "categorical_nll"),
    ]:
        loss_params = list(inspect.signature(getattr(losses, loss_name)).parameters)
        dist_params = list(inspect.signature(head.distribution).parameters)
        assert loss_params[: len(dist_params) + 1] == [*dist_params, "target"]


# --- distribution(...).log_prob equals minus the loss ---


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("out_features", [None, 3])
def test_log_prob_equals_minus_nll(name, out_features):
    factory, loss_name, kind, _ = ELEMENTWISE[name]
    head = factory(4, out_features)
    _randomise(head, std=0.5)
    params = head(torch.randn(16, 4, generator=_gen(3)))
    shape = (16,) if out_features is None else (16, out_features)
    y = _targets(kind, shape, seed=4)
    nll = getattr(losses, loss_name)(*params, y, reduction="none")
    log_prob = head.distribution(*params).log_prob(y)
    torch.testing.assert_close(nll, -log_prob, rtol=1e-5, atol=1e-5)


def test_structured_log_prob_equals_minus_nll():
    from cebook.bins import Bins

    h = torch.randn(16, 4, generator=_gen(5))
    mvn = heads.MVNHead(4, 3)
    _randomise(mvn, std=0.5)
    params = mvn(h)
    y = torch.randn(16, 3, generator=_gen(6))
    torch.testing.assert_close(
        losses.mvn_nll(*params, y, reduction="none"), -mvn.distribution(*params).log_prob(y)
    )
    gmm = heads.GMMHead(4, 4)
    _randomise(gmm, std=0.5)
    params = gmm(h)
    y = torch.randn(16, generator=_gen(7))
    torch.testing.assert_close(
        losses.gmm_nll(*params, y, reduction="none"), -gmm.distribution(*params).log_prob(y)
    )
    cat = heads.CategoricalHead(4, Bins.uniform(0.0, 1.0, 5))
    (logits,) = cat(h)
    k = torch.randint(0, 5, (16,), generator=_gen(8))
    torch.testing.assert_close(
        losses.categorical_nll(logits, k, reduction="none"), -cat.distribution(logits).log_prob(k)
    )


# --- constraints hold for extreme inputs ---


class _validating:
    def __enter__(self):
        self.previous = D.Distribution._validate_args
        D.Distribution.set_default_validate_args(True)

    def __exit__(self, *exc):
        D.Distribution.set_default_validate_args(self.previous)


@pytest.mark.parametrize("name", ELEMENTWISE)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_constraints_hold_for_extreme_inputs(name, sign):
    factory, _, _, positive = ELEMENTWISE[name]
    head = factory(4, 2)
    _randomise(head, std=1.0, seed=9)
    h = sign * 1e4 * torch.randn(64, 4, generator=_gen(10)).abs()
    params = head(h)
    for i, p in enumerate(params):
        assert bool(torch.isfinite(p).all()), f"parameter {i} not finite"
        if i in positive:
            assert bool((p > 0).all()), f"parameter {i} not positive"
    with _validating():
        head.distribution(*params)  # torch checks each parameter's constraint
    sum(p.sum() for p in params).backward()
    assert bool(torch.isfinite(head.linear.weight.grad).all())


def test_structured_constraints_hold_for_extreme_inputs():
    h = 1e4 * torch.randn(64, 4, generator=_gen(11))
    mvn = heads.MVNHead(4, 3)
    _randomise(mvn, seed=12)
    loc, scale_tril = mvn(h)
    assert bool(torch.isfinite(scale_tril).all())
    assert torch.equal(scale_tril, scale_tril.tril())
    assert bool((scale_tril.diagonal(dim1=-2, dim2=-1) >= 1e-3).all())
    with _validating():
        mvn.distribution(loc, scale_tril)
    gmm = heads.GMMHead(4, 3)
    _randomise(gmm, seed=13)
    logits, loc, scale = gmm(h)
    assert bool(torch.isfinite(logits).all()) and bool((scale >= 1e-3).all())
    with _validating():
        gmm.distribution(logits, loc, scale)


def test_floors_bound_positive_parameters_from_below():
    h = -1e4 * torch.ones(8, 4)
    head = heads.GaussianHead(4, min_scale=0.05)
    with torch.no_grad():
        head.linear.weight.fill_(1.0)
    assert torch.allclose(head(h)[1], torch.full((8,), 0.05))
    rate_head = heads.PoissonHead(4, min_rate=1e-4)
    with torch.no_grad():
        rate_head.linear.weight.fill_(1.0)
    assert torch.allclose(rate_head(h)[0], torch.full((8,), 1e-4))


# --- initial values ---


def test_softplus_inverse():
    for v in [1e-6, 0.3, 1.0, 5.0, 100.0]:
        assert float(F.softplus(torch.tensor(heads.softplus_inverse(v), dtype=torch.float64))) == (
            pytest.approx(v, rel=1e-12)
        )
    assert heads.softplus_inverse(1.0) == pytest.approx(math.log(math.e - 1))
    with pytest.raises(ValueError):
        heads.softplus_inverse(0.0)


def test_initial_values_are_the_requested_ones_for_every_input():
    h = torch.randn(32, 4, generator=_gen(14)) * 3

    def const(t, value):
        return torch.allclose(t, torch.full_like(t, value), rtol=1e-5, atol=1e-6)

    assert const(heads.GaussianHead(4, init_scale=2.0)(h)[1], 2.0)
    assert const(heads.GaussianHead(4, init_scale=2.0, link="exp")(h)[1], 2.0)
    assert const(heads.LaplaceHead(4, 2, init_scale=0.5)(h)[1], 0.5)
    assert const(heads.LogNormalHead(4)(h)[1], 1.0)
    df, _, scale = heads.StudentTHead(4, init_df=7.0, df_min=2.0)(h)
    assert const(df, 7.0) and const(scale, 1.0)
    assert const(heads.ExponentialHead(4, init_rate=3.0)(h)[0], 3.0)
    assert const(heads.PoissonHead(4, init_rate=4.0, link="softplus")(h)[0], 4.0)
    concentration, rate = heads.GammaHead(4, init_mean=2.0, init_concentration=3.0)(h)
    assert const(concentration, 3.0) and const(concentration / rate, 2.0)
    assert const(heads.NegativeBinomialHead(4, init_total_count=5.0)(h)[0], 5.0)
    a, b = heads.BetaHead(4, init_precision=6.0)(h)
    assert const(a + b, 6.0)
    a, b = heads.BetaHead(4)(torch.zeros(3, 4))
    assert const(a, 1.0) and const(b, 1.0)  # the uniform law
    _, scale_tril = heads.MVNHead(4, 3, init_scale=0.5)(h)
    assert torch.allclose(scale_tril, 0.5 * torch.eye(3).expand(32, 3, 3), atol=1e-6)
    logits, loc, scale = heads.GMMHead(4, 3, init_scale=0.2)(torch.zeros(2, 4))
    assert const(logits, 0.0) and const(scale, 0.2)
    assert torch.allclose(loc[0], torch.tensor([-1.0, 0.0, 1.0]))


def test_zero_initialised_rows_still_learn():
    head = heads.GaussianHead(4)
    h = torch.randn(16, 4, generator=_gen(15))
    loc, scale = head(h)
    losses.gaussian_nll(loc, scale, torch.randn(16, generator=_gen(16))).backward()
    assert float(head.linear.weight.grad[1].abs().sum()) > 0


# --- training recovers known laws ---


def _fit(head, loss, x, y, epochs, lr):
    return cebook.fit(
        head, loss, x, y, epochs=epochs, lr=lr, device="cpu", progress=False
    )  # full batch


def test_gaussian_head_recovers_a_heteroscedastic_linear_law():
    n = 4000
    g = _gen(20)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    sigma = torch.exp(-1.0 + 1.0 * x[:, 0])
    y = 1.0 + 2.0 * x[:, 0] + sigma * torch.randn(n, generator=g)
    torch.manual_seed(0)
    head = heads.GaussianHead(1, link="exp")
    _fit(head, lambda out, t: losses.gaussian_nll(*out, t), x, y, epochs=500, lr=0.05)
    w, b = head.linear.weight.detach()[:, 0], head.linear.bias.detach()
    # standard errors are about 0.01-0.02: tolerances of 5-6 of them
    assert float(w[0]) == pytest.approx(2.0, abs=0.08) and float(b[0]) == pytest.approx(
        1.0, abs=0.05
    )
    assert float(w[1]) == pytest.approx(1.0, abs=0.1) and float(b[1]) == pytest.approx(
        -1.0, abs=0.1
    )


def test_poisson_head_is_a_poisson_glm():
    n = 4000
    g = _gen(21)
    x = torch.rand(n, 1, generator=g) * 2 - 1
    y = torch.poisson(torch.exp(0.5 + 1.2 * x[:, 0]), generator=g)
    torch.manual_seed(0)
    head = heads.PoissonHead(1)
    _fit(head, lambda out, t: losses.poisson_nll(*out, t), x, y, epochs=400, lr=0.05)
    slope, intercept = float(head.linear.weight.detach()[0, 0]), float(head.linear.bias.detach()[0])
    assert slope == pytest.approx(1.2, abs=0.1) and intercept == pytest.approx(0.5, abs=0.06)
    # the same numbers as statsmodels' Poisson GLM with log link (the maximum-likelihood fit)
    import statsmodels.api as sm

    design = sm.add_constant(x.double().numpy())
    glm = sm.GLM(y.double().numpy(), design, family=sm.families.Poisson()).fit()
    assert [intercept, slope] == pytest.approx(list(glm.params), abs=2e-3)


def test_mvn_head_recovers_the_sample_covariance_and_the_correlation():
    n = 4000
    g = _gen(22)
    cov = torch.tensor([[1.0, 0.7 * 0.5], [0.7 * 0.5, 0.25]])
    y = torch.tensor([1.0, -1.0]) + torch.randn(n, 2, generator=g) @ torch.linalg.cholesky(cov).T
    ones = torch.ones(n, 1)
    torch.manual_seed(0)
    head = heads.MVNHead(1, 2)
    _fit(head, lambda out, t: losses.mvn_nll(*out, t), ones, y, epochs=600, lr=0.05)
    with torch.no_grad():
        loc, scale_tril = head(ones[:1])
    sigma = (scale_tril[0] @ scale_tril[0].T).numpy()
    mle = np.cov(y.numpy().T, bias=True)  # the Gaussian maximum-likelihood covariance
    np.testing.assert_allclose(sigma, mle, atol=0.01)
    np.testing.assert_allclose(loc[0].numpy(), y.mean(0).numpy(), atol=0.01)
    rho = sigma[0, 1] / math.sqrt(sigma[0, 0] * sigma[1, 1])
    assert rho == pytest.approx(0.7, abs=0.03)  # standard error (1 - rho²)/sqrt(n) = 0.008


def test_gmm_head_finds_two_modes():
    n = 4000
    g = _gen(23)
    first = torch.rand(n, generator=g) < 0.3
    y = torch.where(
        first, -2.0 + 0.5 * torch.randn(n, generator=g), 1.5 + 0.3 * torch.randn(n, generator=g)
    )
    ones = torch.ones(n, 1)
    torch.manual_seed(0)
    head = heads.GMMHead(1, 2)
    _fit(head, lambda out, t: losses.gmm_nll(*out, t), ones, y, epochs=600, lr=0.05)
    logits, loc, scale = (p[0].detach() for p in head(ones[:1]))
    order = loc.argsort()
    weights = logits.softmax(-1)[order]
    assert loc[order].tolist() == pytest.approx([-2.0, 1.5], abs=0.06)
    assert scale[order].tolist() == pytest.approx([0.5, 0.3], abs=0.04)
    assert weights.tolist() == pytest.approx([0.3, 0.7], abs=0.03)


@pytest.mark.parametrize("law", ["gamma", "beta"])
def test_constant_heads_reach_scipys_maximum_likelihood(law):
    n = 3000
    rng = np.random.default_rng(24)
    if law == "gamma":
        sample = rng.gamma(shape=2.5, scale=0.8, size=n)
        head, loss = heads.GammaHead(1), losses.gamma_nll
        a, _, scale = st.gamma.fit(sample, floc=0)
        expected = (a, 1 / scale)
    else:
        sample = rng.beta(2.0, 5.0, size=n)
        head, loss = heads.BetaHead(1), losses.beta_nll
        a, b, _, _ = st.beta.fit(sample, floc=0, fscale=1)
        expected = (a, b)
    y = torch.tensor(sample, dtype=torch.float32)
    ones = torch.ones(n, 1)
    torch.manual_seed(0)
    _fit(head, lambda out, t: loss(*out, t), ones, y, epochs=800, lr=0.05)
    with torch.no_grad():
        got = [float(p[0]) for p in head(ones[:1])]
    assert got == pytest.approx(list(expected), rel=0.01)


def test_categorical_head_learns_the_bin_frequencies():
    from cebook.bins import Bins

    bins = Bins.uniform(0.0, 1.0, 5)
    probs = torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1])
    k = torch.multinomial(probs, 3000, replacement=True, generator=_gen(25))
    ones = torch.ones(3000, 1)
    head = heads.CategoricalHead(1, bins)
    torch.manual_seed(0)
    _fit(head, lambda out, t: losses.categorical_nll(*out, t), ones, k, epochs=400, lr=0.05)
    with torch.no_grad():
        (logits,) = head(ones[:1])
    frequencies = torch.bincount(k, minlength=5).float() / 3000  # the maximum-likelihood answer
    torch.testing.assert_close(logits.softmax(-1)[0], frequencies, atol=2e-3, rtol=0)
    mean = float(head.decode(logits, method="mean")[0])
    assert mean == pytest.approx(float((frequencies * bins.centers).sum()), abs=1e-4)


def _cb_mean_mp(z):
    import mpmath

    with mpmath.workdps(50):
        z = mpmath.mpf(z)
        return 0.5 if z == 0 else float(1 / (1 - mpmath.exp(-z)) - 1 / z)


def _cb_cdf_mp(z, y):
    import mpmath

    with mpmath.workdps(50):
        z, y = mpmath.mpf(z), mpmath.mpf(min(max(y, 0.0), 1.0))
        return float(y) if z == 0 else float(mpmath.expm1(z * y) / mpmath.expm1(z))


CB_LOGITS = [-1e4, -200.0, -40.0, -16.5, -3.0, -0.6, -0.5, -0.4, -0.051, -0.049, -1e-3, -1e-7]
CB_LOGITS = CB_LOGITS + [0.0] + [-z for z in reversed(CB_LOGITS)]


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-14), (torch.float32, 3e-7)])
def test_continuous_bernoulli_mean_and_cdf_against_mpmath(dtype, tol):
    z = torch.tensor(CB_LOGITS, dtype=dtype)
    want = torch.tensor([_cb_mean_mp(v) for v in z.tolist()], dtype=torch.float64)
    got = heads.ContinuousBernoulliHead.mean(z)
    assert got.dtype == dtype
    torch.testing.assert_close(got.double(), want, rtol=0, atol=tol)
    eps = torch.finfo(dtype).eps
    for y in (-0.5, 0.0, 1e-3, 0.3, 0.5, 0.999, 1.0, 2.0):
        value = torch.full_like(z, y)  # the reference gets the same rounded y
        want = torch.tensor(
            [_cb_cdf_mp(a, b) for a, b in zip(z.tolist(), value.tolist(), strict=True)],
            dtype=torch.float64,
        )
        got = heads.ContinuousBernoulliHead.cdf(z, value).double()
        # e^{z (y - 1)} inherits the rounding of the product: relative error ~ eps |z|
        bound = tol + 4 * eps * (1 + z.double().abs()) * want
        assert ((got - want).abs() <= bound).all(), (y, got, want)


def test_continuous_bernoulli_mean_agrees_with_torch_where_torch_is_accurate():
    z = torch.linspace(-8.0, 8.0, 161, dtype=torch.float64)
    law = D.ContinuousBernoulli(logits=z)
    torch.testing.assert_close(heads.ContinuousBernoulliHead.mean(z), law.mean, rtol=0, atol=1e-9)
    y = torch.rand(161, dtype=torch.float64, generator=_gen(3))
    torch.testing.assert_close(
        heads.ContinuousBernoulliHead.cdf(z, y), law.cdf(y), rtol=0, atol=1e-9
    )
    # and where it is not: torch's float32 mean saturates at |z| ~ 16, the exact one does not
    far = torch.tensor(40.0)
    assert abs(heads.ContinuousBernoulliHead.mean(far).item() - (1 - 1 / 40)) < 1e-7
    assert D.ContinuousBernoulli(logits=far).mean.item() < 0.94


def test_continuous_bernoulli_mean_and_cdf_have_finite_gradients():
    z = torch.tensor(CB_LOGITS, requires_grad=True)
    y = torch.full_like(z, 0.3)
    (
        heads.ContinuousBernoulliHead.mean(z).sum() + heads.ContinuousBernoulliHead.cdf(z, y).sum()
    ).backward()
    assert torch.isfinite(z.grad).all()
    z64 = torch.tensor([-2.0, -0.03, 0.3, 5.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(heads.ContinuousBernoulliHead.mean, (z64,))
    y64 = torch.tensor([0.2, 0.5, 0.7, 0.9], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: heads.ContinuousBernoulliHead.cdf(t, y64), (z64,))


# --- dtypes, typing and documented layouts ---

STRUCTURED = {
    "mvn": lambda i: heads.MVNHead(i, dim=2),
    "gmm": lambda i: heads.GMMHead(i, n_components=3),
    "categorical": lambda i: heads.CategoricalHead(i, 5),
}
ALL_HEADS = {
    **{name: (lambda i, f=factory: f(i, None)) for name, (factory, *_) in ELEMENTWISE.items()},
    **STRUCTURED,
}


@pytest.mark.parametrize("name", ALL_HEADS)
def test_features_of_another_dtype_raise_a_value_error_naming_both(name):
    head = ALL_HEADS[name](4)
    head_name = type(head).__name__
    # what torch.from_numpy gives: float64 features into a float32 head
    with pytest.raises(ValueError) as error:
        head(torch.zeros(3, 4, dtype=torch.float64))
    assert str(error.value) == (
        f"{head_name}: features must have the dtype of the head's parameters, torch.float32, "
        "got torch.float64; convert them with features.to(torch.float32) or the head with "
        "head.to(torch.float64)"
    )
    with pytest.raises(ValueError, match=rf"^{head_name}: .* got torch.int64"):
        head(torch.zeros(3, 4, dtype=torch.long))
    # the two cures in the message work
    assert head(torch.zeros(3, 4, dtype=torch.float64).to(torch.float32))[0].dtype == torch.float32
    assert head.to(torch.float64)(torch.zeros(3, 4, dtype=torch.float64))[0].dtype == torch.float64


def test_autocast_may_still_mix_dtypes():
    # mixed precision casts inside nn.Linear: the dtype check must not stand in its way
    head = heads.GaussianHead(4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loc, scale = head(torch.randn(3, 4))
    assert loc.dtype == torch.bfloat16 and bool((scale > 0).all())


def test_the_typed_call_is_nn_modules_call():
    # __call__ is declared for type checkers only: hooks and torch.compile see nn.Module's call
    for name, factory in ALL_HEADS.items():
        assert type(factory(2)).__call__ is torch.nn.Module.__call__, name
    head = heads.PoissonHead(2)
    head.register_forward_hook(lambda module, args, out: (out[0] * 0 + 7.0,))
    assert head(torch.zeros(1, 2))[0].item() == 7.0


@pytest.mark.parametrize("out_features", [None, 3])
def test_negative_binomial_rows_are_total_count_then_logits(out_features):
    head = heads.NegativeBinomialHead(4, out_features, min_total_count=1e-3)
    _randomise(head, seed=5)
    h = torch.randn(6, 4, generator=_gen(6))
    w = out_features or 1
    weight, bias = head.linear.weight.detach(), head.linear.bias.detach()
    raw_total_count = h @ weight[:w].T + bias[:w]  # rows [0, w), as the docstring says
    logits = h @ weight[w:].T + bias[w:]  # rows [w, 2w)
    shape = (6,) if out_features is None else (6, out_features)
    total_count_out, logits_out = head(h)
    assert torch.allclose(total_count_out, (F.softplus(raw_total_count) + 1e-3).reshape(shape))
    assert torch.allclose(logits_out, logits.reshape(shape))


def test_student_t_head_documents_its_df_min_default():
    default = inspect.signature(heads.StudentTHead).parameters["df_min"].default
    doc = " ".join(inspect.getdoc(heads.StudentTHead).split())
    assert f"df_min : float Lower bound of learned degrees of freedom (default ``{default}``" in doc
    assert f"By default (``df_min={default}``)" in doc
    # the default lets the data choose nu < 2 (infinite variance); df_min=2 keeps it finite
    raw = torch.full((1, 1), -50.0)
    for df_min, finite in [(default, False), (2.0, True)]:
        head = heads.StudentTHead(1, df_min=df_min)
        with torch.no_grad():
            head.linear.weight.fill_(1.0)
            params = head(raw)
        assert bool(head.distribution(*params).variance.isfinite().all()) == finite, df_min
