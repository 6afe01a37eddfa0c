"""Batch norm: closed forms, running statistics, side effects, gradient checks, bad input."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib.gradcheck import numerical_gradient_array, rel_error
from lablib.nn import KERAS_BATCHNORM, TORCH_BATCHNORM, batchnorm_backward, batchnorm_forward, batchnorm_init


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


def _gradient_check(train, seed, options):
    rng = np.random.default_rng(seed)
    n, d = 6, 4
    x = rng.normal(2, 3, size=(n, d))
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    dout = rng.normal(size=(n, d))
    state = {"running_mean": rng.normal(size=d), "running_var": rng.uniform(0.5, 2, size=d)}

    def forward(x_, gamma_, beta_):
        fresh = {k: v.copy() for k, v in state.items()}
        return batchnorm_forward(x_, gamma_, beta_, fresh, train=train, **options)[0]

    _, cache = batchnorm_forward(x, gamma, beta, {k: v.copy() for k, v in state.items()}, train=train, **options)
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
