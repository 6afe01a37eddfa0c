"""Dense layer: hand-computed values, gradient checks, shapes, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib.gradcheck import numerical_gradient_array, rel_error
from lablib.nn import dense_backward, dense_forward
from lablib.nn.dense import _dense_backward, _dense_forward

X = np.array([[1.0, 2.0], [3.0, 4.0]])
W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
B = np.array([0.5, -1.0, 2.0])


def test_forward_by_hand():
    out, _ = dense_forward(X, W, B)
    # rows of X times columns of W: [1+4, 0+2, -1+0] and [3+8, 0+4, -3+0], plus b
    np.testing.assert_array_equal(out, [[5.5, 1.0, 1.0], [11.5, 3.0, -1.0]])


def test_backward_by_hand():
    _, cache = dense_forward(X, W, B)
    dx, dW, db = dense_backward(np.ones((2, 3)), cache)
    np.testing.assert_array_equal(db, [2.0, 2.0, 2.0])            # column sums of dout
    np.testing.assert_array_equal(dW, [[4.0] * 3, [6.0] * 3])     # column sums of X, repeated
    np.testing.assert_array_equal(dx, [[0.0, 3.0], [0.0, 3.0]])   # row sums of W


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_check(seed):
    rng = np.random.default_rng(seed)
    x, Wr, b = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    dout = rng.normal(size=(4, 3))
    _, cache = dense_forward(x, Wr, b)
    dx, dW, db = dense_backward(dout, cache)
    assert rel_error(dx, numerical_gradient_array(lambda z: dense_forward(z, Wr, b)[0], x, dout)) < 1e-7
    assert rel_error(dW, numerical_gradient_array(lambda z: dense_forward(x, z, b)[0], Wr, dout)) < 1e-7
    assert rel_error(db, numerical_gradient_array(lambda z: dense_forward(x, Wr, z)[0], b, dout)) < 1e-7


def test_need_dx_false_skips_dx_only():
    rng = np.random.default_rng(5)
    _, cache = dense_forward(rng.normal(size=(3, 2)), rng.normal(size=(2, 4)), np.zeros(4))
    dout = rng.normal(size=(3, 4))
    dx, dW, db = dense_backward(dout, cache, need_dx=False)
    _, dW_full, db_full = dense_backward(dout, cache)
    assert dx is None
    np.testing.assert_array_equal(dW, dW_full)
    np.testing.assert_array_equal(db, db_full)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_shapes_and_kernels_agree(n, d, m, seed):
    rng = np.random.default_rng(seed)
    x, Wr, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    out, cache = dense_forward(x, Wr, b)
    assert out.shape == (n, m)
    dx, dW, db = dense_backward(np.ones((n, m)), cache)
    assert (dx.shape, dW.shape, db.shape) == ((n, d), (d, m), (m,))
    np.testing.assert_array_equal(_dense_forward(x, Wr, b)[0], out)
    for a, k in zip((dx, dW, db), _dense_backward(np.ones((n, m)), cache)):
        np.testing.assert_array_equal(a, k)


def test_integer_input_is_accepted_as_float64():
    out, _ = dense_forward([[1, 2]], [[1], [1]], [0])
    assert out.dtype == np.float64 and out[0, 0] == 3.0


def test_bad_input():
    x, Wr, b = np.ones((4, 3)), np.ones((3, 2)), np.ones(2)
    with pytest.raises(ValueError, match=r"W must have shape \(D, M\).*pass W\.T"):
        dense_forward(x, Wr.T, b)
    with pytest.raises(ValueError, match=r"x looks transposed: pass x\.T"):
        dense_forward(np.ones((3, 4)), Wr, b)
    with pytest.raises(ValueError, match="W must have shape"):
        dense_forward(x, np.ones((5, 2)), b)
    with pytest.raises(ValueError, match=r"b must have shape \(M,\) = \(2,\)"):
        dense_forward(x, Wr, np.ones(3))
    with pytest.raises(ValueError, match="x must be 2-D"):
        dense_forward(np.ones(3), Wr, b)
    with pytest.raises(ValueError, match="b must be 1-D"):
        dense_forward(x, Wr, np.ones((1, 2)))
    with pytest.raises(ValueError, match="x must be finite"):
        dense_forward(np.full((4, 3), np.nan), Wr, b)
    with pytest.raises(ValueError, match="W must be finite"):
        dense_forward(x, np.full((3, 2), np.inf), b)
    with pytest.raises(TypeError, match="W must be a real numeric array"):
        dense_forward(x, np.ones((3, 2), dtype=bool), b)
    _, cache = dense_forward(x, Wr, b)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward output \(4, 2\).*dout\.T"):
        dense_backward(np.ones((2, 4)), cache)
    with pytest.raises(ValueError, match="dout must be finite"):
        dense_backward(np.full((4, 2), np.nan), cache)
