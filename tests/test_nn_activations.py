"""Activations: closed-form values and derivatives, gradient checks, stability, bad input."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from lablib.gradcheck import numerical_gradient_array, rel_error
from lablib.nn import activations as A

NAMES = ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"]
LAM, ALP = A.SELU_LAMBDA, A.SELU_ALPHA
LN2, LN3 = math.log(2), math.log(3)


def fn(name, kind=""):
    return getattr(A, name + kind)


@pytest.mark.parametrize("name, x, kwargs, value, derivative", [
    ("sigmoid", 0.0, {}, 0.5, 0.25),
    ("sigmoid", LN3, {}, 0.75, 0.75 * 0.25),          # 1 / (1 + 1/3)
    ("sigmoid", -LN3, {}, 0.25, 0.25 * 0.75),
    ("tanh", LN2, {}, 0.6, 1 - 0.36),                  # (2 - 1/2) / (2 + 1/2)
    ("tanh", -LN2, {}, -0.6, 1 - 0.36),
    ("relu", 3.0, {}, 3.0, 1.0),
    ("relu", -2.0, {}, 0.0, 0.0),
    ("leaky_relu", -2.0, {}, -0.02, 0.01),             # default alpha 0.01
    ("leaky_relu", -2.0, {"alpha": 0.3}, -0.6, 0.3),
    ("leaky_relu", 3.0, {"alpha": 0.3}, 3.0, 1.0),
    ("elu", -LN2, {}, -0.5, 0.5),                      # exp(-ln 2) - 1, exp(-ln 2)
    ("elu", -LN2, {"alpha": 2.0}, -1.0, 1.0),
    ("elu", 1.5, {"alpha": 2.0}, 1.5, 1.0),
    ("selu", 1.0, {}, LAM, LAM),
    ("selu", -LN2, {}, -0.5 * LAM * ALP, 0.5 * LAM * ALP),
])
def test_closed_forms(name, x, kwargs, value, derivative):
    assert fn(name)(np.array([x]), **kwargs)[0] == pytest.approx(value, rel=1e-15, abs=1e-16)
    assert fn(name, "_derivative")(np.array([x]), **kwargs)[0] == pytest.approx(derivative, rel=1e-15)


def test_derivative_at_zero_is_the_left_branch():
    zero = np.zeros(1)
    assert A.relu_derivative(zero)[0] == 0.0
    assert A.leaky_relu_derivative(zero, alpha=0.2)[0] == 0.2
    assert A.elu_derivative(zero, alpha=0.5)[0] == 0.5
    assert A.selu_derivative(zero)[0] == pytest.approx(LAM * ALP, rel=1e-15)


def _std_normal_cdf(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


def test_selu_constants_give_the_self_normalising_fixed_point():
    # For z ~ N(0, 1): E[selu(z)] = 0 and E[selu(z)^2] = 1 (Klambauer et al. 2017), with
    # E[z; z>0] = 1/sqrt(2 pi), E[z^2; z>0] = 1/2, E[exp(k z); z<0] = exp(k^2/2) Phi(-k).
    e1, e2 = math.exp(0.5) * _std_normal_cdf(-1), math.exp(2) * _std_normal_cdf(-2)
    mean = LAM * (1 / math.sqrt(2 * math.pi) + ALP * (e1 - 0.5))
    second = LAM**2 * (0.5 + ALP**2 * (e2 - 2 * e1 + 0.5))
    assert abs(mean) < 1e-14
    assert second == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_check_away_from_the_kink(name, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 3.0, size=(4, 5)) * rng.choice([-1.0, 1.0], size=(4, 5))
    dout = rng.normal(size=x.shape)
    kwargs = {"alpha": 0.2} if name in ("leaky_relu", "elu") else {}
    _, cache = fn(name, "_forward")(x, **kwargs)
    dx = fn(name, "_backward")(dout, cache)
    num = numerical_gradient_array(lambda z: fn(name, "_forward")(z, **kwargs)[0], x, dout)
    assert rel_error(dx, num) < 1e-7
    np.testing.assert_allclose(dx, dout * fn(name, "_derivative")(x, **kwargs), rtol=1e-15)


@pytest.mark.parametrize("name", ["leaky_relu", "elu"])
def test_alpha_travels_in_the_cache(name):
    x = np.array([-1.0, 2.0])
    _, cache = fn(name, "_forward")(x, alpha=0.7)
    dx = fn(name, "_backward")(np.ones(2), cache)
    np.testing.assert_allclose(dx, fn(name, "_derivative")(x, alpha=0.7), rtol=1e-15)
    assert dx[0] != fn(name, "_derivative")(x)[0]


def test_no_overflow_for_large_inputs():
    x = np.array([-1000.0, -745.0, -700.0, -30.0, 30.0, 700.0, 1000.0])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        s = A.sigmoid(x)
        for name in NAMES:
            fn(name)(x)
            fn(name, "_derivative")(x)
            _, cache = fn(name, "_forward")(x)
            fn(name, "_backward")(np.ones_like(x), cache)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[-2] == 1.0
    # sigma(-t) = exp(-t) / (1 + exp(-t)): no cancellation in the left tail
    assert s[2] == pytest.approx(math.exp(-700), rel=1e-14)
    assert s[3] == pytest.approx(math.exp(-30) / (1 + math.exp(-30)), rel=1e-15)


small = st.floats(-50, 50, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, array_shapes(max_dims=3, max_side=4), elements=small))
def test_sigmoid_and_tanh_symmetries(x):
    s = A.sigmoid(x)
    assert s.shape == x.shape
    assert np.all((s >= 0) & (s <= 1))
    np.testing.assert_allclose(A.sigmoid(-x), 1 - s, atol=2e-16)
    np.testing.assert_array_equal(A.tanh(-x), -A.tanh(x))
    # tanh(x) = 2 sigmoid(2x) - 1
    np.testing.assert_allclose(A.tanh(x), 2 * A.sigmoid(2 * x) - 1, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, array_shapes(max_dims=3, max_side=4), elements=small), st.sampled_from(NAMES))
def test_layers_keep_shape_and_kernels_match(x, name):
    forward, backward = A.ACTIVATIONS[name]
    kforward, kbackward = A.ACTIVATION_KERNELS[name]
    out, cache = forward(x)
    kout, kcache = kforward(x)
    np.testing.assert_array_equal(out, fn(name)(x))
    np.testing.assert_array_equal(kout, out)
    dout = np.ones_like(x)
    dx = backward(dout, cache)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(kbackward(dout, kcache), dx)


def test_activation_tables():
    assert set(NAMES) <= set(A.ACTIVATIONS)
    assert A.ACTIVATIONS.keys() == A.ACTIVATION_KERNELS.keys()
    for name in ("identity", "linear"):
        forward, backward = A.ACTIVATIONS[name]
        x = np.array([[1.0, -2.0]])
        out, cache = forward(x)
        np.testing.assert_array_equal(out, x)
        np.testing.assert_array_equal(backward(np.array([[3.0, 4.0]]), cache), [[3.0, 4.0]])


def test_bad_input():
    with pytest.raises(ValueError, match="x must be finite"):
        A.relu([1.0, np.nan])
    with pytest.raises(ValueError, match="x must be finite"):
        A.sigmoid_forward([np.inf])
    with pytest.raises(TypeError, match="x must be a real numeric array"):
        A.tanh(np.array([True]))
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        A.leaky_relu([1.0], alpha=-0.1)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        A.elu_forward([1.0], alpha=-1.0)
    with pytest.raises(TypeError, match="alpha must be a real number"):
        A.elu_derivative([1.0], alpha="1")
    for name in NAMES:
        _, cache = fn(name, "_forward")(np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"dout must have the shape of the forward input \(2, 3\)"):
            fn(name, "_backward")(np.ones((3, 2)), cache)
        with pytest.raises(ValueError, match="dout must be finite"):
            fn(name, "_backward")(np.full((2, 3), np.nan), cache)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"])
def test_a_number_gives_a_float_equal_to_the_array_entry(name):
    for fn in (getattr(A, name), getattr(A, f"{name}_derivative")):
        for x in (-1.5, 0.0, 2.0):
            value = fn(x)
            assert type(value) is float
            assert value == fn(np.array([x]))[0]
