import numpy as np
import pytest

from lablib import _validate as v


def test_as_float_array_converts_numeric_and_rejects_the_rest():
    assert v.as_float_array([1, 2], "x").dtype == np.float64
    assert v.as_float_array(np.float32(0.5), "x").dtype == np.float64
    for bad in ([True, False], np.array(["a"]), np.array([1j]), np.array([object()])):
        with pytest.raises(TypeError, match="x must be a real numeric array"):
            v.as_float_array(bad, "x")
    with pytest.raises(ValueError, match=r"x must be finite, got nan at index \(1, 0\)"):
        v.as_float_array([[0.0], [np.nan]], "x")
    with pytest.raises(ValueError, match=r"x must be 2-D, got shape \(3,\)"):
        v.as_float_array([1, 2, 3], "x", ndim=2)
    assert np.isinf(v.as_float_array([np.inf], "x", finite=False)[0])


@pytest.mark.parametrize("check, value, message", [
    (v.check_positive, 0, "lr must be > 0"),
    (v.check_positive, -1e-3, "lr must be > 0"),
    (v.check_positive, float("nan"), "lr must be finite"),
    (v.check_nonnegative, -1, "lr must be >= 0"),
    (v.check_rate, 1.0, r"lr must be in \[0, 1\)"),
    (v.check_rate, -0.1, r"lr must be in \[0, 1\)"),
    (v.check_fraction, 1, r"lr must be in \[0, 1\)"),
])
def test_scalar_checks_name_the_argument(check, value, message):
    with pytest.raises(ValueError, match=message):
        check(value, "lr")


def test_scalar_checks_reject_non_numbers():
    for check in (v.check_positive, v.check_rate):
        with pytest.raises(TypeError, match="lr must be a real number"):
            check("0.1", "lr")
        with pytest.raises(TypeError, match="lr must be a real number"):
            check(True, "lr")
    with pytest.raises(TypeError, match="n must be an integer"):
        v.check_int(2.0, "n")
    with pytest.raises(ValueError, match="n must be >= 1"):
        v.check_int(0, "n", minimum=1)


def test_shape_rng_and_label_checks():
    with pytest.raises(ValueError, match=r"W must have shape \(3, any\), got \(2, 3\)"):
        v.check_shape(np.ones((2, 3)), (3, None), "W")
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        v.check_rng(np.random.RandomState(0))
    with pytest.raises(TypeError, match="y must be an integer array"):
        v.check_labels(np.array([0.0, 1.0]), "y")
    with pytest.raises(ValueError, match=r"y must be in \[0, 3\)"):
        v.check_labels(np.array([0, 3]), "y", n_classes=3)
