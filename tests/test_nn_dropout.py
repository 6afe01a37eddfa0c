"""Inverted dropout: keep fraction, scale, identity at test time, mask reuse, bad input."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib.gradcheck import numerical_gradient_array, rel_error
from lablib.nn import dropout_backward, dropout_forward

seeds = st.integers(0, 2**32 - 1)
rates = st.floats(0.05, 0.9)


@settings(max_examples=20, deadline=None)
@given(rates, seeds)
def test_keep_fraction_and_scale(rate, seed):
    n = 20_000
    x = np.random.default_rng(seed).uniform(0.5, 2.0, size=(100, n // 100))
    out, (mask, scale) = dropout_forward(x, rate, train=True, rng=np.random.default_rng(seed + 1))
    # each unit kept independently with probability 1 - rate: within 5 binomial standard deviations
    sd = np.sqrt(rate * (1 - rate) / n)
    assert abs(mask.mean() - (1 - rate)) < 5 * sd
    np.testing.assert_array_equal(out != 0, mask)  # x has no zeros
    np.testing.assert_allclose(out[mask], x[mask] / (1 - rate), rtol=1e-15)
    assert scale == pytest.approx(1 / (1 - rate), rel=1e-15)


def test_expectation_is_preserved():
    rate, x = 0.3, np.full((500, 400), 2.0)
    out, _ = dropout_forward(x, rate, train=True, rng=np.random.default_rng(0))
    # mean of 200000 iid draws of 2 * Bernoulli(0.7) / 0.7: sd = 2 * sqrt(0.3 / 0.7) / sqrt(200000)
    assert abs(out.mean() - 2.0) < 5 * 2 * np.sqrt(0.3 / 0.7) / np.sqrt(x.size)


def test_mask_follows_the_documented_draw():
    x, rate = np.ones((3, 4)), 0.4
    _, (mask, _) = dropout_forward(x, rate, train=True, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(mask, np.random.default_rng(7).random((3, 4)) >= rate)


@settings(max_examples=20, deadline=None)
@given(st.floats(0.0, 0.9), seeds)
def test_identity_at_test_time(rate, seed):
    x = np.random.default_rng(seed).normal(size=(3, 5))
    out, cache = dropout_forward(x, rate, train=False)
    assert cache is None
    np.testing.assert_array_equal(out, x)
    dout = np.ones((3, 5))
    np.testing.assert_array_equal(dropout_backward(dout, cache), dout)


def test_rate_zero_is_the_identity_in_train_mode_and_needs_no_rng():
    x = np.array([[1.0, -2.0]])
    out, cache = dropout_forward(x, 0.0, train=True)
    np.testing.assert_array_equal(out, x)
    assert cache is None


@settings(max_examples=20, deadline=None)
@given(rates, seeds)
def test_backward_reuses_the_forward_mask(rate, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    _, cache = dropout_forward(x, rate, train=True, rng=rng)
    mask = cache[0]
    np.testing.assert_allclose(dropout_backward(dout, cache), np.where(mask, dout / (1 - rate), 0.0), rtol=1e-15)


def test_given_mask_by_hand_and_gradient_check():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, False], [False, True]])
    out, cache = dropout_forward(x, 0.5, train=True, mask=mask)
    np.testing.assert_array_equal(out, [[2.0, 0.0], [0.0, 8.0]])
    dout = np.array([[1.0, -1.0], [0.5, 3.0]])
    dx = dropout_backward(dout, cache)
    np.testing.assert_array_equal(dx, [[2.0, 0.0], [0.0, 6.0]])
    num = numerical_gradient_array(lambda z: dropout_forward(z, 0.5, train=True, mask=mask)[0], x.copy(), dout)
    assert rel_error(dx, num) < 1e-7


def test_does_not_touch_the_global_rng():
    before = np.random.get_state()[1].copy()
    dropout_forward(np.ones((5, 5)), 0.5, train=True, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_bad_input():
    x = np.ones((2, 3))
    rng = np.random.default_rng(0)
    for rate in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
            dropout_forward(x, rate, train=True, rng=rng)
    with pytest.raises(TypeError, match="rate must be a real number"):
        dropout_forward(x, "0.5", train=True, rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        dropout_forward(x, 0.5, train=True)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        dropout_forward(x, 0.5, train=True, rng=0)
    with pytest.raises(TypeError, match="train must be True or False"):
        dropout_forward(x, 0.5, train=1, rng=rng)
    with pytest.raises(TypeError, match="mask must be a boolean numpy array"):
        dropout_forward(x, 0.5, train=True, mask=np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"mask must have the shape of x \(2, 3\)"):
        dropout_forward(x, 0.5, train=True, mask=np.ones((3, 2), dtype=bool))
    with pytest.raises(ValueError, match="x must be finite"):
        dropout_forward(np.array([np.nan]), 0.5, train=True, rng=rng)
    _, cache = dropout_forward(x, 0.5, train=True, rng=rng)
    with pytest.raises(ValueError, match=r"dout must have the shape of the forward input \(2, 3\)"):
        dropout_backward(np.ones((3, 2)), cache)


# ----------------------------------------------------------------------------- the non-inverted form
def exact_expectation(x, rate, inverted):
    """E[train-mode output] computed exactly: the sum over all 2^n keep masks of P(mask) * output(mask)."""
    n = x.size
    total = np.zeros_like(x)
    for bits in range(2**n):
        mask = np.array([(bits >> i) & 1 for i in range(n)], dtype=bool).reshape(x.shape)
        prob = (1 - rate) ** mask.sum() * rate ** (n - mask.sum())
        total += prob * dropout_forward(x, rate, train=True, mask=mask, inverted=inverted)[0]
    return total


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.75])
def test_both_forms_give_the_same_expected_activations(rate):
    x = np.array([[1.5, -2.0, 0.25], [3.0, 0.0, -0.5]])
    inverted = exact_expectation(x, rate, True)
    plain = exact_expectation(x, rate, False)
    # Each form's expected training activation is its own test-time activation...
    np.testing.assert_allclose(inverted, dropout_forward(x, rate, train=False)[0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(plain, dropout_forward(x, rate, train=False, inverted=False)[0], rtol=1e-13,
                               atol=1e-15)
    # ... and the two forms agree up to the factor keep = 1 - rate that the next layer's weights absorb.
    np.testing.assert_allclose(plain, (1 - rate) * inverted, rtol=1e-13, atol=1e-15)
    W = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(dropout_forward(x, rate, train=False, inverted=False)[0] @ W,
                               x @ ((1 - rate) * W), rtol=1e-14)


def test_non_inverted_by_hand_and_gradient_check():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, False], [False, True]])
    out, cache = dropout_forward(x, 0.25, train=True, mask=mask, inverted=False)
    np.testing.assert_array_equal(out, [[1.0, 0.0], [0.0, 4.0]])  # no scaling in training
    dout = np.array([[1.0, -1.0], [0.5, 3.0]])
    np.testing.assert_array_equal(dropout_backward(dout, cache), [[1.0, 0.0], [0.0, 3.0]])
    out, cache = dropout_forward(x, 0.25, train=False, inverted=False)
    np.testing.assert_array_equal(out, 0.75 * x)  # scaled by keep at test time
    np.testing.assert_array_equal(dropout_backward(dout, cache), 0.75 * dout)
    for train in (True, False):
        fwd = lambda z: dropout_forward(z, 0.25, train=train, mask=mask, inverted=False)[0]  # noqa: E731
        _, cache = dropout_forward(x, 0.25, train=train, mask=mask, inverted=False)
        assert rel_error(dropout_backward(dout, cache), numerical_gradient_array(fwd, x.copy(), dout)) < 1e-7
    out, cache = dropout_forward(x, 0.0, train=False, inverted=False)
    assert out is x and cache is None


def test_non_inverted_keeps_each_unit_with_probability_keep():
    rate, x = 0.3, np.full((400, 500), 2.0)
    out, (mask, scale) = dropout_forward(x, rate, train=True, rng=np.random.default_rng(1), inverted=False)
    assert scale == 1.0 and set(np.unique(out)) == {0.0, 2.0}
    assert abs(out.mean() - 2.0 * 0.7) < 5 * 2 * np.sqrt(0.3 * 0.7) / np.sqrt(x.size)


def test_backward_names_a_bad_cache():
    for cache in ("junk", (1, 2, 3), [np.ones(2), 1.0]):
        with pytest.raises(TypeError, match="cache must be the cache returned by dropout_forward"):
            dropout_backward(np.ones(2), cache)
    with pytest.raises(TypeError, match="inverted must be True or False"):
        dropout_forward(np.ones(2), 0.5, train=False, inverted="no")
