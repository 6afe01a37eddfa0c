"""Batch normalisation for fully connected layers (x of shape (N, D), statistics per feature).

Train mode, with the batch mean mu and the biased batch variance var = mean((x - mu)^2):
    x_hat = (x - mu) / sqrt(var + eps),   out = gamma * x_hat + beta
    running_mean <- momentum * running_mean + (1 - momentum) * mu
    running_var  <- momentum * running_var  + (1 - momentum) * var'
where var' = var, or the unbiased var * N / (N - 1) when ``unbiased_running_var`` (PyTorch).
Test mode: x_hat = (x - running_mean) / sqrt(running_var + eps).

``momentum`` follows the course and Keras: the weight of the OLD running value. PyTorch's
``BatchNorm1d(momentum=0.1)`` is the weight of the NEW batch value, i.e. momentum = 0.9 here.
The presets reproduce each framework's defaults:
    batchnorm_forward(x, gamma, beta, state, train=True, **TORCH_BATCHNORM)
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_finite, check_fraction, check_int, check_positive, check_shape

__all__ = ["TORCH_BATCHNORM", "KERAS_BATCHNORM", "batchnorm_init", "batchnorm_forward", "batchnorm_backward"]

# torch.nn.BatchNorm1d defaults: momentum=0.1 (new-value weight), eps=1e-5, unbiased running variance.
TORCH_BATCHNORM = {"momentum": 0.9, "eps": 1e-5, "unbiased_running_var": True}
# keras.layers.BatchNormalization defaults: momentum=0.99, epsilon=1e-3, biased running variance.
KERAS_BATCHNORM = {"momentum": 0.99, "eps": 1e-3, "unbiased_running_var": False}


def _check_flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def batchnorm_init(num_features):
    """Running statistics of a fresh layer: {"running_mean": zeros(D), "running_var": ones(D)}."""
    d = check_int(num_features, "num_features", minimum=1)
    return {"running_mean": np.zeros(d), "running_var": np.ones(d)}


def _check_state(state, d):
    if not isinstance(state, dict) or not {"running_mean", "running_var"} <= state.keys():
        raise TypeError(f"state must be the dict made by batchnorm_init({d}), got {type(state).__name__}")
    for key in ("running_mean", "running_var"):
        name = f'state["{key}"]'
        arr = state[key]
        if not isinstance(arr, np.ndarray) or arr.dtype != np.float64:
            raise TypeError(f"{name} must be a float64 numpy array (see batchnorm_init), got {type(arr).__name__}")
        check_finite(check_shape(arr, (d,), name), name)
    if np.any(state["running_var"] < 0):
        raise ValueError('state["running_var"] must be >= 0')


def batchnorm_forward(x, gamma, beta, state, *, train, momentum=0.99, eps=1e-3, unbiased_running_var=False):
    """out = gamma * x_hat + beta for x (N, D); returns (out, cache). See the module doc for x_hat.

    Train mode needs N >= 2 and REPLACES state["running_mean"] and state["running_var"] with
    new arrays (its only side effect; the old arrays are left untouched). Test mode reads them.
    """
    x = as_float_array(x, "x", ndim=2)
    d = x.shape[1]
    gamma = check_shape(as_float_array(gamma, "gamma", ndim=1), (d,), "gamma")
    beta = check_shape(as_float_array(beta, "beta", ndim=1), (d,), "beta")
    _check_state(state, d)
    train = _check_flag(train, "train")
    momentum = check_fraction(momentum, "momentum", high_open=False)
    eps = check_positive(eps, "eps")
    unbiased_running_var = _check_flag(unbiased_running_var, "unbiased_running_var")
    if train and x.shape[0] < 2:
        raise ValueError(
            f"x must have at least 2 rows in train mode (the batch variance of one example is undefined), "
            f"got shape {x.shape}"
        )
    return _batchnorm_forward(x, gamma, beta, state, train=train, momentum=momentum, eps=eps,
                              unbiased_running_var=unbiased_running_var)


def _batchnorm_forward(x, gamma, beta, state, *, train, momentum=0.99, eps=1e-3, unbiased_running_var=False):
    if train:
        n = x.shape[0]
        mean = x.mean(axis=0)
        x_hat = x - mean
        var = np.einsum("ij,ij->j", x_hat, x_hat) / n
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat *= inv_std
        if unbiased_running_var:
            var *= n / (n - 1)
        state["running_mean"] = momentum * state["running_mean"] + (1.0 - momentum) * mean
        state["running_var"] = momentum * state["running_var"] + (1.0 - momentum) * var
    else:
        inv_std = 1.0 / np.sqrt(state["running_var"] + eps)
        x_hat = x - state["running_mean"]
        x_hat *= inv_std
    out = x_hat * gamma
    out += beta
    return out, (x_hat, gamma, inv_std, train)


def batchnorm_backward(dout, cache):
    """Returns (dx, dgamma, dbeta) with dbeta = sum_n dout, dgamma = sum_n dout * x_hat and

    train mode (mu, var depend on x):  dx = gamma / sqrt(var + eps) * (dout - dbeta/N - x_hat * dgamma/N)
    test mode (running stats fixed):   dx = gamma / sqrt(running_var + eps) * dout
    """
    x_hat = cache[0]
    dout = as_float_array(dout, "dout", ndim=2)
    if dout.shape != x_hat.shape:
        raise ValueError(f"dout must have the shape of the forward output {x_hat.shape}, got {dout.shape}")
    return _batchnorm_backward(dout, cache)


def _batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std, train = cache
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dout, x_hat)
    if train:
        n = dout.shape[0]
        dx = x_hat * (-dgamma / n)
        dx += dout
        dx -= dbeta / n
        dx *= gamma * inv_std
    else:
        dx = dout * (gamma * inv_std)
    return dx, dgamma, dbeta
