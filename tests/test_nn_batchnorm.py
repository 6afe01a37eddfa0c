"""Batch norm: closed forms, running statistics, side effects, gradient checks, bad input."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib.gradcheck import numerical_gradient_array, rel_error
from lablib.nn import (
    COURSE_BATCHNORM,
    KERAS_BATCHNORM,
    TORCH_BATCHNORM,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_init,
)


def test_init():
    state = batchnorm_init(3)
    np.testing.assert_array_equal(state["running_mean"], np.zeros(3))
    np.testing.assert_array_equal(state["running_var"], np.ones(3))
    assert state["running_mean"].dtype == state["running_var"].dtype == np.float64


def test_train_step_by_hand():
    # column [1, 3]: mean 2, biased var 1, unbiased var 2
    x = np.array([[1.0], [3.0]])
    gamma, beta = np.array([2.0]), np.array([0.5])
    state = batchnorm_init(1)
    out, _ = batchnorm_forward(x, gamma, beta, state, train=True, momentum=0.9, eps=0.25)
    np.testing.assert_allclose(out, [[2 * -1 / math.sqrt(1.25) + 0.5], [2 * 1 / math.sqrt(1.25) + 0.5]], rtol=1e-15)
    np.testing.assert_allclose(state["running_mean"], [0.9 * 0 + 0.1 * 2], rtol=1e-15)
    np.testing.assert_allclose(state["running_var"], [0.9 * 1 + 0.1 * 1], rtol=1e-15)
    state = batchnorm_init(1)
    batchnorm_forward(x, gamma, beta, state, train=True, momentum=0.9, eps=0.25, unbiased_running_var=True)
    np.testing.assert_allclose(state["running_var"], [0.9 * 1 + 0.1 * 2], rtol=1e-15)
    np.testing.assert_allclose(state["running_mean"], [0.2], rtol=1e-15)


def test_test_mode_uses_running_stats():
    state = {"running_mean": np.array([1.0, -2.0]), "running_var": np.array([3.0, 0.5])}
    x = np.array([[2.0, 0.0], [0.0, -2.0], [4.0, 1.0]])
    gamma, beta = np.array([1.5, -1.0]), np.array([0.0, 2.0])
    out, _ = batchnorm_forward(x, gamma, beta, state, train=False, eps=1.0)
    expected = gamma * (x - [1.0, -2.0]) / np.sqrt(np.array([3.0, 0.5]) + 1.0) + beta
    np.testing.assert_allclose(out, expected, rtol=1e-15)
    # one example is fine in test mode
    out1, _ = batchnorm_forward(x[:1], gamma, beta, state, train=False, eps=1.0)
    np.testing.assert_allclose(out1, expected[:1], rtol=1e-15)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 8), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_train_output_has_batch_mean_beta_and_std_gamma(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(3, 5, size=(n, d))
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    eps = 1e-5
    out, _ = batchnorm_forward(x, gamma, beta, batchnorm_init(d), train=True, eps=eps)
    var = x.var(axis=0)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), gamma * np.sqrt(var / (var + eps)), rtol=1e-10)


def test_state_arrays_are_replaced_not_mutated():
    state = batchnorm_init(2)
    old_mean, old_var = state["running_mean"], state["running_var"]
    x = np.array([[1.0, 2.0], [3.0, 5.0]])
    x_before = x.copy()
    batchnorm_forward(x, np.ones(2), np.zeros(2), state, train=True)
    assert state["running_mean"] is not old_mean and state["running_var"] is not old_var
    np.testing.assert_array_equal(old_mean, [0.0, 0.0])
    np.testing.assert_array_equal(old_var, [1.0, 1.0])
    np.testing.assert_array_equal(x, x_before)
    mean, var = state["running_mean"], state["running_var"]
    batchnorm_forward(x, np.ones(2), np.zeros(2), state, train=False)
    assert state["running_mean"] is mean and state["running_var"] is var


def test_running_averages_converge_to_the_stationary_statistics():
    # constant batches: the running mean tends to the batch mean, geometrically with factor momentum
    x = np.array([[1.0], [5.0]])  # mean 3, biased var 4, unbiased var 8
    state = batchnorm_init(1)
    for _ in range(20):
        batchnorm_forward(x, np.ones(1), np.zeros(1), state, train=True, **TORCH_BATCHNORM)
    np.testing.assert_allclose(state["running_mean"], 3 * (1 - 0.9**20), rtol=1e-13)
    np.testing.assert_allclose(state["running_var"], 8 + (1 - 8) * 0.9**20, rtol=1e-13)


def test_presets():
    assert TORCH_BATCHNORM == {"momentum": 0.9, "eps": 1e-5, "unbiased_running_var": True}
    assert KERAS_BATCHNORM == {"momentum": 0.99, "eps": 1e-3, "unbiased_running_var": False}
    assert COURSE_BATCHNORM == {"momentum": 0.99, "eps": 1e-3, "unbiased_running_var": False, "average_std": True,
                                "init_from_first_batch": True}


def _gradient_check(train, seed, options):
    rng = np.random.default_rng(seed)
    n, d = 6, 4
    x = rng.normal(2, 3, size=(n, d))
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    dout = rng.normal(size=(n, d))
    state = {"running_mean": rng.normal(size=d), "running_var": rng.uniform(0.5, 2, size=d)}

    def fresh():
        return {**{k: v.copy() for k, v in state.items()}, "num_batches_tracked": 3}

    def forward(x_, gamma_, beta_):
        return batchnorm_forward(x_, gamma_, beta_, fresh(), train=train, **options)[0]

    _, cache = batchnorm_forward(x, gamma, beta, fresh(), train=train, **options)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert rel_error(dx, numerical_gradient_array(lambda z: forward(z, gamma, beta), x, dout)) < 1e-7
    assert rel_error(dgamma, numerical_gradient_array(lambda z: forward(x, z, beta), gamma, dout)) < 1e-7
    assert rel_error(dbeta, numerical_gradient_array(lambda z: forward(x, gamma, z), beta, dout)) < 1e-7


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("options", [KERAS_BATCHNORM, TORCH_BATCHNORM], ids=["keras", "torch"])
def test_gradient_check(train, seed, options):
    _gradient_check(train, seed, options)


def test_backward_closed_form_in_test_mode():
    state = {"running_mean": np.array([1.0]), "running_var": np.array([3.0])}
    _, cache = batchnorm_forward(np.array([[0.0], [2.0]]), np.array([2.0]), np.array([1.0]), state,
                                 train=False, eps=1.0)
    dx, dgamma, dbeta = batchnorm_backward(np.array([[1.0], [3.0]]), cache)
    np.testing.assert_allclose(dx, [[1.0], [3.0]], rtol=1e-15)           # gamma / sqrt(3 + 1) = 1
    np.testing.assert_allclose(dgamma, [1 * -0.5 + 3 * 0.5], rtol=1e-15)  # x_hat = (x - 1) / 2
    np.testing.assert_allclose(dbeta, [4.0], rtol=1e-15)


def test_bad_input():
    state = batchnorm_init(3)
    x, g, b = np.ones((4, 3)), np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match="x must have at least 2 rows in train mode"):
        batchnorm_forward(np.ones((1, 3)), g, b, state, train=True)
    with pytest.raises(ValueError, match="x must be 2-D"):
        batchnorm_forward(np.ones(3), g, b, state, train=False)
    with pytest.raises(ValueError, match="x must be finite"):
        batchnorm_forward(np.full((4, 3), np.nan), g, b, state, train=True)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3\)"):
        batchnorm_forward(x, np.ones(2), b, state, train=True)
    with pytest.raises(ValueError, match=r"beta must have shape \(3\)"):
        batchnorm_forward(x, g, np.zeros(4), state, train=True)
    with pytest.raises(TypeError, match="state must be the dict made by batchnorm_init"):
        batchnorm_forward(x, g, b, {"running_mean": np.zeros(3)}, train=True)
    with pytest.raises(ValueError, match=r'state\["running_var"\] must have shape \(3\)'):
        batchnorm_forward(x, g, b, {"running_mean": np.zeros(3), "running_var": np.ones(2)}, train=True)
    with pytest.raises(TypeError, match=r'state\["running_mean"\] must be a float64 numpy array'):
        batchnorm_forward(x, g, b, {"running_mean": [0.0] * 3, "running_var": np.ones(3)}, train=True)
    with pytest.raises(ValueError, match=r'state\["running_var"\] must be >= 0'):
        batchnorm_forward(x, g, b, {"running_mean": np.zeros(3), "running_var": -np.ones(3)}, train=False)
    with pytest.raises(TypeError, match="train must be True or False"):
        batchnorm_forward(x, g, b, state, train="yes")
    with pytest.raises(TypeError, match="unbiased_running_var must be True or False"):
        batchnorm_forward(x, g, b, state, train=True, unbiased_running_var=1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]"):
        batchnorm_forward(x, g, b, state, train=True, momentum=1.5)
    for eps in (0.0, -1e-5):
        with pytest.raises(ValueError, match="eps must be > 0"):
            batchnorm_forward(x, g, b, state, train=True, eps=eps)
    with pytest.raises(TypeError, match="num_features must be an integer"):
        batchnorm_init(3.0)
    with pytest.raises(ValueError, match="num_features must be >= 1"):
        batchnorm_init(0)
    _, cache = batchnorm_forward(x, g, b, state, train=True)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(4, 3\)"):
        batchnorm_backward(np.ones((3, 4)), cache)


# ----------------------------------------------------------------------------- the course's running average
def course_running_average(batches, alpha):
    """Slides, eqs. 19-20, written out: the first batch sets (mu_hat, sigma_hat); later ones average them with
    weight alpha on the NEW batch; sigma is the (biased) standard deviation of the batch."""
    mu_hat = sigma_hat = None
    for j, x in enumerate(batches):
        mu = np.mean(x, axis=0)
        sigma = np.sqrt(np.mean((x - mu) ** 2, axis=0))
        if j == 0:
            mu_hat, sigma_hat = mu, sigma
        else:
            mu_hat = alpha * mu + (1 - alpha) * mu_hat
            sigma_hat = alpha * sigma + (1 - alpha) * sigma_hat
    return mu_hat, sigma_hat


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.5, 1.0])
def test_course_preset_follows_eqs_19_20(alpha):
    rng = np.random.default_rng(3)
    d, eps = 4, COURSE_BATCHNORM["eps"]
    offset, scale = rng.normal(0, 3, size=d), rng.uniform(0.5, 4, size=d)
    batches = [offset + scale * rng.normal(size=(n, d)) for n in (8, 5, 16, 3, 7)]
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    options = {**COURSE_BATCHNORM, "momentum": 1 - alpha}
    state = batchnorm_init(d)
    for j, x in enumerate(batches):
        batchnorm_forward(x, gamma, beta, state, train=True, **options)
        mu_hat, sigma_hat = course_running_average(batches[: j + 1], alpha)
        np.testing.assert_allclose(state["running_mean"], mu_hat, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(np.sqrt(state["running_var"]), sigma_hat, rtol=1e-14)
        assert state["num_batches_tracked"] == j + 1
    x_test = offset + scale * rng.normal(size=(6, d))
    out, _ = batchnorm_forward(x_test, gamma, beta, state, train=False, **options)
    np.testing.assert_allclose(out, gamma * (x_test - mu_hat) / np.sqrt(sigma_hat**2 + eps) + beta, rtol=1e-13)


def test_course_preset_differs_from_keras_and_torch_in_the_running_statistics_only():
    x1, x2 = np.array([[1.0], [5.0]]), np.array([[0.0], [2.0], [4.0]])  # mu 3, 2; biased var 4, 8/3
    course, keras, torch = batchnorm_init(1), batchnorm_init(1), batchnorm_init(1)
    outs = []
    for state, options in ((course, COURSE_BATCHNORM), (keras, KERAS_BATCHNORM), (torch, TORCH_BATCHNORM)):
        out1, _ = batchnorm_forward(x1, np.ones(1), np.zeros(1), state, train=True, **{**options, "eps": 1e-3})
        out2, _ = batchnorm_forward(x2, np.ones(1), np.zeros(1), state, train=True, **{**options, "eps": 1e-3})
        outs.append((out1, out2))
    for out1, out2 in outs[1:]:  # train mode normalises with the batch statistics in all three
        np.testing.assert_array_equal(out1, outs[0][0])
        np.testing.assert_array_equal(out2, outs[0][1])
    # course: the first batch sets (3, 2); then 0.99 * old + 0.01 * new, on sigma
    np.testing.assert_allclose(course["running_mean"], [0.99 * 3 + 0.01 * 2], rtol=1e-15)
    np.testing.assert_allclose(np.sqrt(course["running_var"]), [0.99 * 2 + 0.01 * np.sqrt(8 / 3)], rtol=1e-15)
    # Keras: from (0, 1), biased variance
    np.testing.assert_allclose(keras["running_mean"], [0.99 * (0.01 * 3) + 0.01 * 2], rtol=1e-15)
    np.testing.assert_allclose(keras["running_var"], [0.99 * (0.99 + 0.01 * 4) + 0.01 * 8 / 3], rtol=1e-15)
    # torch: from (0, 1), momentum 0.1 on the new value, unbiased variance (8 and 4)
    np.testing.assert_allclose(torch["running_mean"], [0.9 * 0.3 + 0.1 * 2], rtol=1e-15)
    np.testing.assert_allclose(torch["running_var"], [0.9 * (0.9 + 0.1 * 8) + 0.1 * 4], rtol=1e-15)


def test_average_std_and_first_batch_options_separately():
    x = np.array([[1.0], [5.0]])  # mu 3, sigma 2
    state = batchnorm_init(1)
    batchnorm_forward(x, np.ones(1), np.zeros(1), state, train=True, momentum=0.5, average_std=True)
    np.testing.assert_allclose(state["running_var"], [(0.5 * 1 + 0.5 * 2) ** 2], rtol=1e-15)
    state = batchnorm_init(1)
    batchnorm_forward(x, np.ones(1), np.zeros(1), state, train=True, momentum=0.5, init_from_first_batch=True,
                      unbiased_running_var=True)
    np.testing.assert_allclose(state["running_var"], [8.0], rtol=1e-15)  # the unbiased variance, not averaged
    np.testing.assert_allclose(state["running_mean"], [3.0], rtol=1e-15)
    before = dict(state)
    batchnorm_forward(x, np.ones(1), np.zeros(1), state, train=False, **COURSE_BATCHNORM)  # test mode: no count
    assert state["num_batches_tracked"] == 1 and state["running_var"] is before["running_var"]


@pytest.mark.parametrize("train", [True, False])
def test_gradient_check_course_preset(train):
    _gradient_check(train, 4, COURSE_BATCHNORM)


def test_course_preset_bad_state_and_cache():
    x, g, b = np.ones((4, 3)), np.ones(3), np.zeros(3)
    hand_made = {"running_mean": np.zeros(3), "running_var": np.ones(3)}
    with pytest.raises(TypeError, match=r'state\["num_batches_tracked"\] is needed by init_from_first_batch'):
        batchnorm_forward(x, g, b, hand_made, train=True, **COURSE_BATCHNORM)
    batchnorm_forward(x, g, b, hand_made, train=True, **KERAS_BATCHNORM)  # the other presets need no count
    with pytest.raises(ValueError, match=r'state\["num_batches_tracked"\] must be >= 0'):
        batchnorm_forward(x, g, b, {**batchnorm_init(3), "num_batches_tracked": -1}, train=True)
    with pytest.raises(TypeError, match="average_std must be True or False"):
        batchnorm_forward(x, g, b, batchnorm_init(3), train=True, average_std="yes")
    for cache in (None, "junk", (1, 2)):
        with pytest.raises(TypeError, match="cache must be the cache returned by batchnorm_forward"):
            batchnorm_backward(np.ones((4, 3)), cache)
    with pytest.raises(ValueError, match="x must have at least one row"):
        batchnorm_forward(np.ones((0, 3)), g, b, batchnorm_init(3), train=False)
    with pytest.raises(ValueError, match="x is too large"):
        batchnorm_forward(np.array([[1e200], [-1e200]]), np.ones(1), np.zeros(1), batchnorm_init(1), train=True)
