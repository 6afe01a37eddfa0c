"""Numerical gradients by central differences, to check hand-written backward passes.

    df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2 h)      (error O(h^2))

``x`` is perturbed in place, one entry at a time, and restored afterwards (also if ``f``
raises), so ``f`` may read ``x`` through a closure, as in CS231n. Use float64: in float32
the rounding error ~1e-7 / h swamps the difference.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_float_array, check_positive

__all__ = ["numerical_gradient", "numerical_gradient_array", "rel_error"]


def _check_inputs(f, x, h):
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "x must be a float64 numpy array (it is perturbed in place), got "
            + (f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__)
        )
    return check_positive(h, "h")


def numerical_gradient(f, x, h=1e-5):
    """Gradient of the scalar function f at x: grad_i = (f(x + h e_i) - f(x - h e_i)) / (2h)."""
    h = _check_inputs(f, x, h)
    return _numerical_gradient(f, x, h)


def _numerical_gradient(f, x, h=1e-5):
    def scalar(value):
        if np.ndim(value) != 0:
            raise ValueError(f"f must return a scalar, got shape {np.shape(value)}; "
                             "use numerical_gradient_array for array outputs")
        return float(value)

    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        try:
            x[i] = old + h
            f_plus = scalar(f(x))
            x[i] = old - h
            f_minus = scalar(f(x))
        finally:
            x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    """Gradient at x of sum(f(x) * dout), i.e. the backward pass of an array-valued f given dout."""
    h = _check_inputs(f, x, h)
    dout = as_float_array(dout, "dout")
    return _numerical_gradient_array(f, x, dout, h)


def _numerical_gradient_array(f, x, dout, h=1e-5):
    def weighted_sum(value):
        value = np.asarray(value, dtype=np.float64)
        if value.shape != dout.shape:
            raise ValueError(f"dout must have the shape of f(x) {value.shape}, got {dout.shape}")
        return float(np.vdot(value, dout))

    # Each output is reduced to a number before x moves again, so f may return a view of x.
    return _numerical_gradient(lambda z: weighted_sum(f(z)), x, h)


def rel_error(a, b):
    """max over entries of |a - b| / max(1e-8, |a| + |b|) (CS231n); below ~1e-7 is a pass in float64."""
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"b must have the shape of a {a.shape}, got {b.shape}")
    if a.size == 0:
        raise ValueError("a must not be empty")
    return _rel_error(a, b)


def _rel_error(a, b):
    # Halved (exactly, a power of 2) so that a - b and |a| + |b| cannot overflow near the largest floats.
    a, b = a * 0.5, b * 0.5
    return float(np.max(np.abs(a - b) / np.maximum(0.5e-8, np.abs(a) + np.abs(b))))
