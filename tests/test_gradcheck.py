"""lablib.gradcheck against closed-form derivatives and hand-computed relative errors."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lablib.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

finite = st.floats(-1e3, 1e3, allow_nan=False)


def test_numerical_gradient_of_cubic_sum_matches_closed_form():
    x = np.random.default_rng(0).normal(size=(3, 4))
    grad = numerical_gradient(lambda z: np.sum(z**3), x)
    # central differences of z^3 have error exactly h^2 (the third derivative is 6)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=0, atol=2e-9)


def test_numerical_gradient_error_is_order_h_squared():
    x = np.array([0.3, -1.2, 2.0])
    exact = np.exp(x)
    err_big = np.abs(numerical_gradient(lambda z: np.sum(np.exp(z)), x, h=1e-3) - exact)
    err_small = np.abs(numerical_gradient(lambda z: np.sum(np.exp(z)), x, h=1e-4) - exact)
    # truncation error h^2 / 6 * exp(x): 100 times smaller for a 10 times smaller h
    np.testing.assert_allclose(err_big, 1e-6 / 6 * exact, rtol=1e-3)
    assert np.all(err_small < err_big / 50)


def test_numerical_gradient_restores_x_and_works_through_a_closure():
    W = np.random.default_rng(1).normal(size=(2, 3))
    before = W.copy()
    grad = numerical_gradient(lambda _: np.sum(W**2), W)  # CS231n style: f reads W itself
    np.testing.assert_array_equal(W, before)
    np.testing.assert_allclose(grad, 2 * before, rtol=1e-9)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])
    calls = []

    def f(z):
        calls.append(z.copy())
        if len(calls) == 2:
            raise RuntimeError("boom")
        return float(z.sum())

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_gradient_array_of_elementwise_square():
    rng = np.random.default_rng(2)
    x, dout = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    grad = numerical_gradient_array(lambda z: z**2, x, dout)
    np.testing.assert_allclose(grad, 2 * x * dout, rtol=1e-8, atol=1e-10)


def test_numerical_gradient_array_of_matrix_product():
    rng = np.random.default_rng(3)
    x, A, dout = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    grad = numerical_gradient_array(lambda z: z @ A, x, dout)
    np.testing.assert_allclose(grad, dout @ A.T, rtol=1e-8, atol=1e-10)


def test_numerical_gradient_array_when_f_returns_x_itself():
    # f returns a view of the array being perturbed: each output must be used before x moves again
    x, dout = np.array([1.0, -2.0, 3.0]), np.array([0.5, 2.0, -1.0])
    np.testing.assert_allclose(numerical_gradient_array(lambda z: z, x, dout), dout, rtol=1e-9)


def test_rel_error_hand_values():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 3.0]) == pytest.approx(1 / 5)
    assert rel_error([[0.0, 4.0]], [[0.0, 2.0]]) == pytest.approx(2 / 6)
    # the denominator is floored at 1e-8
    assert rel_error([0.0], [1e-10]) == pytest.approx(1e-10 / 1e-8)
    assert rel_error(3.0, 1.0) == pytest.approx(0.5)


@settings(max_examples=50, deadline=None)
@given(arrays(np.float64, (2, 3), elements=finite), arrays(np.float64, (2, 3), elements=finite))
def test_rel_error_is_symmetric_and_in_0_1(a, b):
    e = rel_error(a, b)
    assert e == rel_error(b, a)
    assert 0.0 <= e <= 1.0


def test_bad_input():
    x = np.zeros(3)
    with pytest.raises(ValueError, match="b must have the shape of a"):
        rel_error(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="a must be finite"):
        rel_error([np.nan], [1.0])
    with pytest.raises(ValueError, match="a must not be empty"):
        rel_error([], [])
    with pytest.raises(TypeError, match="f must be callable"):
        numerical_gradient(3.0, x)
    with pytest.raises(TypeError, match="x must be a float64 numpy array"):
        numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(TypeError, match="x must be a float64 numpy array"):
        numerical_gradient(np.sum, [1.0, 2.0])
    for h in (0.0, -1e-5):
        with pytest.raises(ValueError, match="h must be > 0"):
            numerical_gradient(np.sum, x, h=h)
    with pytest.raises(ValueError, match="f must return a scalar"):
        numerical_gradient(lambda z: z, x)
    with pytest.raises(ValueError, match="dout must have the shape of f"):
        numerical_gradient_array(lambda z: z, x, np.zeros(4))
    with pytest.raises(ValueError, match="dout must be finite"):
        numerical_gradient_array(lambda z: z, x, [1.0, np.inf, 0.0])
