"""Elementwise activations: value, derivative, and CS231n-style forward/backward layers.

For each name in sigmoid, tanh, relu, leaky_relu, elu, selu:
    name(x[, alpha])             the value, elementwise
    name_derivative(x[, alpha])  d name / dx, elementwise (for plots and labs)
    name_forward(x[, alpha])     -> (out, cache)
    name_backward(dout, cache)   -> dx = dout * name'(x)   (alpha travels in the cache)

Derivative at the kink x = 0: the left branch, as torch autograd does
(relu'(0) = 0, leaky_relu'(0) = alpha, elu'(0) = alpha, selu'(0) = lambda * alpha).

Default alphas: leaky_relu alpha=0.01 is torch's ``nn.LeakyReLU(negative_slope=0.01)``;
Keras 3 defaults differ: ``keras.layers.LeakyReLU(negative_slope=0.3)`` and
``keras.activations.leaky_relu(x, negative_slope=0.2)``. elu alpha=1.0 in torch and Keras.

``ACTIVATIONS[name] = (forward, backward)`` holds the checked layer functions,
``ACTIVATION_KERNELS[name]`` the unchecked kernels (same keys, for training loops).
"""
from __future__ import annotations

import numpy as np

from .._validate import _describe, as_float_array, check_cache, check_nonnegative

__all__ = [
    "SELU_LAMBDA", "SELU_ALPHA",
    "sigmoid", "sigmoid_derivative", "sigmoid_forward", "sigmoid_backward",
    "tanh", "tanh_derivative", "tanh_forward", "tanh_backward",
    "relu", "relu_derivative", "relu_forward", "relu_backward",
    "leaky_relu", "leaky_relu_derivative", "leaky_relu_forward", "leaky_relu_backward",
    "elu", "elu_derivative", "elu_forward", "elu_backward",
    "selu", "selu_derivative", "selu_forward", "selu_backward",
    "identity_forward", "identity_backward",
    "ACTIVATIONS", "ACTIVATION_KERNELS",
]


def _elementwise(kernel, x, *args):
    """``kernel`` (written for arrays) on ``x``: an array gives an array, a number gives a float."""
    x = as_float_array(x, "x")
    if x.ndim == 0:
        return float(kernel(x.reshape(1), *args)[0])
    return kernel(x, *args)

# Klambauer et al. (2017), "Self-Normalizing Neural Networks"; the same constants as torch.nn.SELU.
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def _cached_array(cache, made_by: str, *, with_alpha: bool = False) -> np.ndarray:
    """The array a ``*_forward`` kept in its cache (and its alpha), or a TypeError naming ``cache``."""
    if with_alpha:
        check_cache(cache, made_by, length=2)
        cache = cache[0]
    if not isinstance(cache, np.ndarray) or cache.dtype != np.float64:
        raise TypeError(f"cache must be the cache returned by {made_by}, got {_describe(cache)}")
    return cache


def _check_dout(dout, like):
    dout = as_float_array(dout, "dout")
    if dout.shape != like.shape:
        raise ValueError(f"dout must have the shape of the forward input {like.shape}, got {dout.shape}")
    return dout


# ----------------------------------------------------------------------------- sigmoid
def sigmoid(x):
    """sigma(x) = 1 / (1 + exp(-x)); for x < 0 computed as exp(x) / (1 + exp(x)) (no overflow)."""
    return _elementwise(_sigmoid, x)


def _sigmoid(x):
    z = np.abs(x)
    np.negative(z, out=z)
    np.exp(z, out=z)  # exp(-|x|) in (0, 1]: cannot overflow
    out = z + 1.0
    np.reciprocal(out, out=out)  # sigma(|x|)
    np.multiply(out, z, out=out, where=x < 0)  # sigma(x) = exp(x) / (1 + exp(x)) for x < 0
    return out


def sigmoid_derivative(x):
    """sigma'(x) = sigma(x) * (1 - sigma(x))."""
    return _elementwise(_sigmoid_derivative, x)


def _sigmoid_derivative(x):
    s = _sigmoid(x)
    return s * (1.0 - s)


def sigmoid_forward(x):
    """out = sigma(x); cache = out."""
    return _sigmoid_forward(as_float_array(x, "x"))


def _sigmoid_forward(x):
    out = _sigmoid(x)
    return out, out


def sigmoid_backward(dout, cache):
    """dx = dout * out * (1 - out)."""
    return _sigmoid_backward(_check_dout(dout, _cached_array(cache, "sigmoid_forward")), cache)


def _sigmoid_backward(dout, cache):
    dx = 1.0 - cache
    dx *= cache
    dx *= dout
    return dx


# ----------------------------------------------------------------------------- tanh
def tanh(x):
    """tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))."""
    return _elementwise(_tanh, x)


def _tanh(x):
    return np.tanh(x)


def tanh_derivative(x):
    """tanh'(x) = 1 - tanh(x)^2."""
    return _elementwise(_tanh_derivative, x)


def _tanh_derivative(x):
    t = np.tanh(x)
    return 1.0 - t * t


def tanh_forward(x):
    """out = tanh(x); cache = out."""
    return _tanh_forward(as_float_array(x, "x"))


def _tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """dx = dout * (1 - out^2)."""
    return _tanh_backward(_check_dout(dout, _cached_array(cache, "tanh_forward")), cache)


def _tanh_backward(dout, cache):
    dx = cache * cache
    np.subtract(1.0, dx, out=dx)
    dx *= dout
    return dx


# ----------------------------------------------------------------------------- relu
def relu(x):
    """relu(x) = max(x, 0)."""
    return _elementwise(_relu, x)


def _relu(x):
    return np.maximum(x, 0.0)


def relu_derivative(x):
    """relu'(x) = 1 if x > 0 else 0 (0 at x = 0, as torch)."""
    return _elementwise(_relu_derivative, x)


def _relu_derivative(x):
    return (x > 0).astype(np.float64)


def relu_forward(x):
    """out = max(x, 0); cache = x."""
    return _relu_forward(as_float_array(x, "x"))


def _relu_forward(x):
    return _relu(x), x


def relu_backward(dout, cache):
    """dx = dout where x > 0, else 0."""
    return _relu_backward(_check_dout(dout, _cached_array(cache, "relu_forward")), cache)


def _relu_backward(dout, cache):
    return np.where(cache > 0, dout, 0.0)


# ----------------------------------------------------------------------------- leaky relu
def leaky_relu(x, alpha=0.01):
    """leaky_relu(x) = x if x > 0 else alpha * x (alpha >= 0; torch default 0.01, see module doc)."""
    return _elementwise(_leaky_relu, x, check_nonnegative(alpha, "alpha"))


def _leaky_relu(x, alpha=0.01):
    out = x * alpha
    np.copyto(out, x, where=x > 0)
    return out


def leaky_relu_derivative(x, alpha=0.01):
    """leaky_relu'(x) = 1 if x > 0 else alpha (alpha at x = 0, as torch)."""
    return _elementwise(_leaky_relu_derivative, x, check_nonnegative(alpha, "alpha"))


def _leaky_relu_derivative(x, alpha=0.01):
    return np.where(x > 0, 1.0, alpha)


def leaky_relu_forward(x, alpha=0.01):
    """out = leaky_relu(x, alpha); cache = (x, alpha)."""
    return _leaky_relu_forward(as_float_array(x, "x"), check_nonnegative(alpha, "alpha"))


def _leaky_relu_forward(x, alpha=0.01):
    return _leaky_relu(x, alpha), (x, alpha)


def leaky_relu_backward(dout, cache):
    """dx = dout if x > 0 else alpha * dout."""
    return _leaky_relu_backward(_check_dout(dout, _cached_array(cache, "leaky_relu_forward", with_alpha=True)), cache)


def _leaky_relu_backward(dout, cache):
    x, alpha = cache
    dx = dout * alpha
    np.copyto(dx, dout, where=x > 0)
    return dx


# ----------------------------------------------------------------------------- elu
def elu(x, alpha=1.0):
    """elu(x) = x if x > 0 else alpha * (exp(x) - 1) (computed with expm1; alpha >= 0)."""
    return _elementwise(_elu, x, check_nonnegative(alpha, "alpha"))


def _elu(x, alpha=1.0):
    out = np.minimum(x, 0.0)  # exp only of min(x, 0): no overflow for large positive x
    np.expm1(out, out=out)
    out *= alpha
    np.copyto(out, x, where=x > 0)
    return out


def elu_derivative(x, alpha=1.0):
    """elu'(x) = 1 if x > 0 else alpha * exp(x) (alpha at x = 0, as torch)."""
    return _elementwise(_elu_derivative, x, check_nonnegative(alpha, "alpha"))


def _elu_derivative(x, alpha=1.0):
    d = np.minimum(x, 0.0)
    np.exp(d, out=d)
    d *= alpha
    np.copyto(d, 1.0, where=x > 0)
    return d


def elu_forward(x, alpha=1.0):
    """out = elu(x, alpha); cache = (x, alpha)."""
    return _elu_forward(as_float_array(x, "x"), check_nonnegative(alpha, "alpha"))


def _elu_forward(x, alpha=1.0):
    return _elu(x, alpha), (x, alpha)


def elu_backward(dout, cache):
    """dx = dout * elu'(x)."""
    return _elu_backward(_check_dout(dout, _cached_array(cache, "elu_forward", with_alpha=True)), cache)


def _elu_backward(dout, cache):
    x, alpha = cache
    # alpha * exp(x) rather than out + alpha: no cancellation for very negative x.
    dx = _elu_derivative(x, alpha)
    dx *= dout
    return dx


# ----------------------------------------------------------------------------- selu
def selu(x):
    """selu(x) = lambda * (x if x > 0 else alpha * (exp(x) - 1)), lambda = SELU_LAMBDA, alpha = SELU_ALPHA."""
    return _elementwise(_selu, x)


def _selu(x):
    out = _elu(x, SELU_ALPHA)
    out *= SELU_LAMBDA
    return out


def selu_derivative(x):
    """selu'(x) = lambda if x > 0 else lambda * alpha * exp(x) (lambda * alpha at x = 0, as torch)."""
    return _elementwise(_selu_derivative, x)


def _selu_derivative(x):
    d = _elu_derivative(x, SELU_ALPHA)
    d *= SELU_LAMBDA
    return d


def selu_forward(x):
    """out = selu(x); cache = x."""
    return _selu_forward(as_float_array(x, "x"))


def _selu_forward(x):
    return _selu(x), x


def selu_backward(dout, cache):
    """dx = dout * selu'(x)."""
    return _selu_backward(_check_dout(dout, _cached_array(cache, "selu_forward")), cache)


def _selu_backward(dout, cache):
    dx = _selu_derivative(cache)
    dx *= dout
    return dx


# ----------------------------------------------------------------------------- identity
def identity_forward(x):
    """out = x (returned as is, no copy); cache = None. For linear output or linear networks."""
    return _identity_forward(as_float_array(x, "x"))


def _identity_forward(x):
    return x, None


def identity_backward(dout, cache):
    """dx = dout (returned as is); cache is the None identity_forward returned."""
    if cache is not None:
        raise TypeError(f"cache must be the cache returned by identity_forward (None), got {_describe(cache)}")
    return _identity_backward(as_float_array(dout, "dout"), cache)


def _identity_backward(dout, cache):
    return dout


ACTIVATIONS = {
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "relu": (relu_forward, relu_backward),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward),
    "elu": (elu_forward, elu_backward),
    "selu": (selu_forward, selu_backward),
    "identity": (identity_forward, identity_backward),
    "linear": (identity_forward, identity_backward),
}

ACTIVATION_KERNELS = {
    "sigmoid": (_sigmoid_forward, _sigmoid_backward),
    "tanh": (_tanh_forward, _tanh_backward),
    "relu": (_relu_forward, _relu_backward),
    "leaky_relu": (_leaky_relu_forward, _leaky_relu_backward),
    "elu": (_elu_forward, _elu_backward),
    "selu": (_selu_forward, _selu_backward),
    "identity": (_identity_forward, _identity_backward),
    "linear": (_identity_forward, _identity_backward),
}
