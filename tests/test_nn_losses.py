"""Softmax, log-softmax, softmax cross-entropy and MSE: closed forms, properties, gradient checks."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lablib.gradcheck import numerical_gradient, rel_error
from lablib.nn import log_softmax, mse, softmax, softmax_cross_entropy

logit_rows = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 6)),
                    elements=st.floats(-50, 50, allow_nan=False))


def test_softmax_closed_form():
    x = np.log([1.0, 2.0, 3.0])
    np.testing.assert_allclose(softmax(x), [1 / 6, 2 / 6, 3 / 6], rtol=1e-15)
    np.testing.assert_allclose(log_softmax(x), np.log([1 / 6, 2 / 6, 3 / 6]), rtol=1e-15)
    # along axis 0: each column normalised
    X = np.log([[1.0, 1.0], [3.0, 1.0]])
    np.testing.assert_allclose(softmax(X, axis=0), [[0.25, 0.5], [0.75, 0.5]], rtol=1e-15)


def test_softmax_huge_logits_do_not_overflow():
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        p = softmax(np.array([1000.0, 0.0, -1000.0]))
        lp = log_softmax(np.array([1000.0, 0.0]))
        loss, dlogits = softmax_cross_entropy(np.array([[1e4, -1e4]]), np.array([1]))
    np.testing.assert_array_equal(p, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(lp, [0.0, -1000.0])  # log(1 + e^-1000) rounds to 0
    assert loss == 2e4
    np.testing.assert_array_equal(dlogits, [[1.0, -1.0]])


@settings(max_examples=40, deadline=None)
@given(logit_rows, st.floats(-100, 100))
def test_softmax_rows_sum_to_one_and_ignore_a_constant_shift(x, c):
    p = softmax(x)
    assert p.shape == x.shape
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(softmax(x + c), p, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(np.exp(log_softmax(x)), p, rtol=1e-13, atol=1e-300)


@settings(max_examples=40, deadline=None)
@given(logit_rows, st.integers(0, 2**32 - 1))
def test_cross_entropy_is_mean_of_negative_log_softmax(logits, seed):
    n, c = logits.shape
    y = np.random.default_rng(seed).integers(0, c, size=n)
    loss, dlogits = softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(-np.mean(log_softmax(logits)[np.arange(n), y]), rel=1e-13, abs=1e-15)
    onehot = np.eye(c)[y]
    np.testing.assert_allclose(dlogits, (softmax(logits) - onehot) / n, rtol=1e-13, atol=1e-16)
    # each row of the gradient sums to 0 (the shift invariance)
    np.testing.assert_allclose(dlogits.sum(axis=1), 0.0, atol=1e-15)


def test_cross_entropy_closed_forms():
    # uniform logits: p = 1/C, loss = log C
    loss, dlogits = softmax_cross_entropy(np.zeros((2, 4)), np.array([1, 3]))
    assert loss == pytest.approx(math.log(4), rel=1e-15)
    np.testing.assert_allclose(dlogits, (0.25 - np.eye(4)[[1, 3]]) / 2, rtol=1e-15)
    # two classes, logits (a, 0): loss = log(1 + e^-a), dlogits = (sigma(a) - 1, 1 - sigma(a))
    a = 1.3
    loss, dlogits = softmax_cross_entropy(np.array([[a, 0.0]]), np.array([0]))
    s = 1 / (1 + math.exp(-a))
    assert loss == pytest.approx(math.log1p(math.exp(-a)), rel=1e-15)
    np.testing.assert_allclose(dlogits, [[s - 1, 1 - s]], rtol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_entropy_gradient_check(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, size=(5, 4))
    y = rng.integers(0, 4, size=5)
    _, dlogits = softmax_cross_entropy(logits, y)
    assert rel_error(dlogits, numerical_gradient(lambda z: softmax_cross_entropy(z, y)[0], logits)) < 1e-7


def test_mse_closed_form_and_gradient_check():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    loss, dpred = mse(pred, np.zeros((2, 2)))
    assert loss == (1 + 4 + 9 + 16) / 4
    np.testing.assert_array_equal(dpred, pred / 2)   # 2 (pred - 0) / 4
    rng = np.random.default_rng(4)
    p, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert rel_error(mse(p, t)[1], numerical_gradient(lambda z: mse(z, t)[0], p)) < 1e-7


def test_inputs_are_not_modified():
    logits, y = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([0, 1])
    before = logits.copy()
    softmax(logits), log_softmax(logits), softmax_cross_entropy(logits, y), mse(logits, before)
    np.testing.assert_array_equal(logits, before)


def test_bad_input():
    logits = np.zeros((3, 4))
    with pytest.raises(TypeError, match="y must be an integer array"):
        softmax_cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"y must be in \[0, 4\)"):
        softmax_cross_entropy(logits, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match=r"y must be in \[0, 4\)"):
        softmax_cross_entropy(logits, np.array([0, -1, 2]))
    with pytest.raises(ValueError, match="y must have 3 labels"):
        softmax_cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="logits must be 2-D"):
        softmax_cross_entropy(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match="logits must have at least one row"):
        softmax_cross_entropy(np.zeros((0, 4)), np.array([], dtype=int))
    with pytest.raises(ValueError, match="logits must be finite"):
        softmax_cross_entropy(np.full((3, 4), np.nan), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 2\)"):
        softmax(logits, axis=2)
    with pytest.raises(TypeError, match="axis must be an integer"):
        log_softmax(logits, axis=1.0)
    with pytest.raises(ValueError, match="x must have at least 1 dimension"):
        softmax(3.0)
    with pytest.raises(ValueError, match="x must have at least one entry along axis"):
        softmax(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="x must be finite"):
        softmax([1.0, np.inf])
    with pytest.raises(ValueError, match=r"target must have the shape of pred \(3, 4\)"):
        mse(logits, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="pred must not be empty"):
        mse(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="target must be finite"):
        mse([1.0], [np.nan])
