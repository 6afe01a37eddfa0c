"""Batch normalisation for fully connected layers (x of shape (N, D), statistics per feature).

Train mode, with the batch mean mu and the biased batch variance var = mean((x - mu)^2):
    x_hat = (x - mu) / sqrt(var + eps),   out = gamma * x_hat + beta
and the running averages used at test time (``momentum`` m = the weight of the OLD value):
    running_mean <- m * running_mean + (1 - m) * mu
    running_var  <- m * running_var  + (1 - m) * var'
where var' = var, or the unbiased var * N / (N - 1) when ``unbiased_running_var``.
Test mode: x_hat = (x - running_mean) / sqrt(running_var + eps).

Two options change what is averaged and how it starts:
* ``average_std=True`` averages the standard deviation sigma = sqrt(var') instead of the variance:
  sigma_hat <- m * sigma_hat + (1 - m) * sigma. The state still holds running_var = sigma_hat^2, so test
  mode is the same formula (sqrt of a float64 square gives back the very same sigma_hat, exactly).
* ``init_from_first_batch=True``: the first train-mode batch SETS the running statistics
  (running_mean = mu_1, running_var = var'_1) instead of averaging them with the initial 0 and 1. The state
  counts the train-mode batches in state["num_batches_tracked"] (made by ``batchnorm_init``).

Presets (pass as ``**preset``):
* ``COURSE_BATCHNORM``, the course's own running average (slides on training DNNs, eqs. 19-20):
      mu_hat_1 = mu_1, sigma_hat_1 = sigma_1;  mu_hat_j = alpha mu_j + (1 - alpha) mu_hat_{j-1},
      sigma_hat_j = alpha sigma_j + (1 - alpha) sigma_hat_{j-1},
  with alpha the weight of the NEW batch, i.e. momentum = 1 - alpha here. The slides fix no alpha or eps;
  the preset takes Keras' values (alpha = 0.01, eps = 1e-3): change them with
  ``{**COURSE_BATCHNORM, "momentum": 1 - alpha}``. It differs from Keras in two ways (the first batch
  initialises instead of being averaged with 0 and 1; sigma is averaged, not the variance) and from
  PyTorch in three (those two, and the biased sigma where PyTorch keeps the unbiased variance); Keras'
  ``momentum`` means what the course's 1 - alpha means, PyTorch's ``momentum`` what alpha means.
  Train-mode outputs and gradients are the same in all three: only the running statistics differ.
* ``TORCH_BATCHNORM``: torch.nn.BatchNorm1d defaults, momentum=0.1 there = the weight of the NEW value,
  i.e. momentum = 0.9 here; eps=1e-5; unbiased running variance; starts from 0 and 1.
* ``KERAS_BATCHNORM``: keras.layers.BatchNormalization defaults, momentum=0.99 (the weight of the OLD
  value, as here), epsilon=1e-3, biased running variance; starts from 0 and 1.
"""
from __future__ import annotations

import numpy as np

from .._validate import (
    _describe,
    as_float_array,
    check_cache,
    check_finite,
    check_flag,
    check_fraction,
    check_int,
    check_positive,
    check_shape,
)

__all__ = ["COURSE_BATCHNORM", "TORCH_BATCHNORM", "KERAS_BATCHNORM", "batchnorm_init", "batchnorm_forward",
           "batchnorm_backward"]

_DEFAULTS = {"momentum": 0.99, "eps": 1e-3, "unbiased_running_var": False, "average_std": False,
             "init_from_first_batch": False}
# torch.nn.BatchNorm1d defaults: momentum=0.1 (new-value weight), eps=1e-5, unbiased running variance.
TORCH_BATCHNORM = {"momentum": 0.9, "eps": 1e-5, "unbiased_running_var": True}
# keras.layers.BatchNormalization defaults: momentum=0.99, epsilon=1e-3, biased running variance.
KERAS_BATCHNORM = {"momentum": 0.99, "eps": 1e-3, "unbiased_running_var": False}
# The course (eqs. 19-20): alpha = 1 - momentum weights the new batch; sigma averaged; first batch initialises.
COURSE_BATCHNORM = {"momentum": 0.99, "eps": 1e-3, "unbiased_running_var": False, "average_std": True,
                    "init_from_first_batch": True}


def batchnorm_init(num_features):
    """Running statistics of a fresh layer: {"running_mean": zeros(D), "running_var": ones(D),
    "num_batches_tracked": 0} (the count of train-mode batches, needed by ``init_from_first_batch``)."""
    d = check_int(num_features, "num_features", minimum=1)
    return {"running_mean": np.zeros(d), "running_var": np.ones(d), "num_batches_tracked": 0}


def _check_state(state, d, need_count):
    if not isinstance(state, dict) or not {"running_mean", "running_var"} <= state.keys():
        raise TypeError(f"state must be the dict made by batchnorm_init({d}), got {_describe(state)}")
    for key in ("running_mean", "running_var"):
        name = f'state["{key}"]'
        arr = state[key]
        if not isinstance(arr, np.ndarray) or arr.dtype != np.float64:
            raise TypeError(f"{name} must be a float64 numpy array (see batchnorm_init), got {_describe(arr)}")
        check_finite(check_shape(arr, (d,), name), name)
    if np.any(state["running_var"] < 0):
        raise ValueError('state["running_var"] must be >= 0')
    if "num_batches_tracked" in state:
        check_int(state["num_batches_tracked"], 'state["num_batches_tracked"]', minimum=0)
    elif need_count:
        raise TypeError('state["num_batches_tracked"] is needed by init_from_first_batch=True (is this the first '
                        f'batch?): make the state with batchnorm_init({d})')


def batchnorm_forward(x, gamma, beta, state, *, train, momentum=0.99, eps=1e-3, unbiased_running_var=False,
                      average_std=False, init_from_first_batch=False):
    """out = gamma * x_hat + beta for x (N, D); returns (out, cache). Equations, options and the
    COURSE/TORCH/KERAS presets are in the module docstring.

    Train mode needs N >= 2 and REPLACES state["running_mean"] and state["running_var"] with
    new arrays and adds 1 to state["num_batches_tracked"] (when present); the old arrays are left
    untouched. Test mode reads them (and needs N >= 1).
    """
    x = as_float_array(x, "x", ndim=2)
    d = x.shape[1]
    if d == 0:
        raise ValueError(f"x must have at least one feature (column), got shape {x.shape}")
    gamma = check_shape(as_float_array(gamma, "gamma", ndim=1), (d,), "gamma")
    beta = check_shape(as_float_array(beta, "beta", ndim=1), (d,), "beta")
    options = {
        "momentum": check_fraction(momentum, "momentum", high_open=False),
        "eps": check_positive(eps, "eps"),
        "unbiased_running_var": check_flag(unbiased_running_var, "unbiased_running_var"),
        "average_std": check_flag(average_std, "average_std"),
        "init_from_first_batch": check_flag(init_from_first_batch, "init_from_first_batch"),
    }
    train = check_flag(train, "train")
    _check_state(state, d, train and options["init_from_first_batch"])
    if x.shape[0] < (2 if train else 1):
        raise ValueError(
            "x must have at least 2 rows in train mode (the batch variance of one example is undefined), "
            f"got shape {x.shape}" if train else f"x must have at least one row, got shape {x.shape}"
        )
    updated = dict(state)
    out, cache = _batchnorm_forward(x, gamma, beta, updated, train=train, **options)
    if not np.all(cache[2] > 0):  # 1 / sqrt(var + eps) is 0 or NaN only when the variance overflowed
        raise ValueError("x is too large: its batch variance overflows float64 (rescale the inputs)")
    state.update(updated)
    return out, cache


def _batchnorm_forward(x, gamma, beta, state, *, train, momentum=0.99, eps=1e-3, unbiased_running_var=False,
                       average_std=False, init_from_first_batch=False):
    if train:
        n = x.shape[0]
        mean = x.mean(axis=0)
        x_hat = x - mean
        var = np.einsum("ij,ij->j", x_hat, x_hat) / n
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat *= inv_std
        if unbiased_running_var:
            var *= n / (n - 1)
        seen = state.get("num_batches_tracked")
        if init_from_first_batch and seen == 0:
            state["running_mean"], state["running_var"] = mean, var
        elif average_std:
            std = momentum * np.sqrt(state["running_var"]) + (1.0 - momentum) * np.sqrt(var)
            state["running_mean"] = momentum * state["running_mean"] + (1.0 - momentum) * mean
            state["running_var"] = std * std
        else:
            state["running_mean"] = momentum * state["running_mean"] + (1.0 - momentum) * mean
            state["running_var"] = momentum * state["running_var"] + (1.0 - momentum) * var
        if seen is not None:
            state["num_batches_tracked"] = seen + 1
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
    check_cache(cache, "batchnorm_forward", length=4)
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
