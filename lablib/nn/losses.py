"""Softmax, log-softmax and the training losses: softmax cross-entropy, squared error (MSE and half MSE).

Cross-entropy is a mean over the batch (torch's reduction='mean', Keras' default 'sum_over_batch_size'),
so its gradient carries a 1/N factor. The squared errors take ``reduction="mean"`` (over all S entries,
gradient factor 1/S) or ``"sum"``.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_choice, check_int, check_labels

__all__ = ["softmax", "log_softmax", "softmax_cross_entropy", "mse", "half_mse"]


def _check_axis(x, axis):
    if x.ndim == 0:
        raise ValueError("x must have at least 1 dimension, got a scalar")
    axis = check_int(axis, "axis")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [{-x.ndim}, {x.ndim}) for x of shape {x.shape}, got {axis}")
    if x.shape[axis] == 0:
        raise ValueError(f"x must have at least one entry along axis {axis}, got shape {x.shape}")
    return axis


def softmax(x, axis=-1):
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x) along ``axis`` (the shift avoids overflow)."""
    x = as_float_array(x, "x")
    axis = _check_axis(x, axis)
    with np.errstate(over="ignore"):  # x - max x = -inf when x spans more than 1.8e308: exp gives the exact 0
        return _softmax(x, axis)


def _softmax(x, axis=-1):
    e = x - x.max(axis=axis, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(x, axis=-1):
    """log softmax(x)_i = (x_i - m) - log sum_j exp(x_j - m), m = max x along ``axis``."""
    x = as_float_array(x, "x")
    return _log_softmax(x, _check_axis(x, axis))


def _log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return shifted


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of softmax(logits) against integer labels; returns (loss, dlogits).

    loss = (1/N) sum_n -log p[n, y_n],  p = softmax(logits, axis=1)
    dlogits = (p - onehot(y)) / N
    logits (N, C) with N >= 1; y (N,) integers in [0, C). Same as torch F.cross_entropy
    and keras SparseCategoricalCrossentropy(from_logits=True).
    """
    logits = as_float_array(logits, "logits", ndim=2)
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"logits must have at least one row and one class, got shape {logits.shape}")
    y = check_labels(y, "y", n=logits.shape[0], n_classes=logits.shape[1])
    return _softmax_cross_entropy(logits, y)


def _softmax_cross_entropy(logits, y):
    n = logits.shape[0]
    rows = np.arange(n)
    probs = logits - logits.max(axis=1, keepdims=True)
    picked = probs[rows, y]  # shifted logits of the true classes
    np.exp(probs, out=probs)
    sums = probs.sum(axis=1)
    loss = float(np.mean(np.log(sums) - picked))
    probs /= sums[:, None]
    probs[rows, y] -= 1.0
    probs /= n
    return loss, probs


def _check_squared_error_args(pred, target, reduction):
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target")
    if target.shape != pred.shape:
        raise ValueError(f"target must have the shape of pred {pred.shape}, got {target.shape}")
    if pred.size == 0:
        raise ValueError(f"pred must not be empty, got shape {pred.shape}")
    return pred, target, check_choice(reduction, "reduction", ("mean", "sum"))


def mse(pred, target, *, reduction="mean"):
    """Mean squared error; returns (loss, dpred). With r = pred - target and S = pred.size:

        "mean":  loss = (1/S) sum r^2,  dpred = 2 r / S   (torch MSELoss(); Keras MeanSquaredError averages
                                                           over the last axis first: the same number)
        "sum":   loss = sum r^2,        dpred = 2 r       (torch MSELoss(reduction="sum"))
    """
    return _mse(*_check_squared_error_args(pred, target, reduction))


def _mse(pred, target, reduction="mean"):
    diff = pred - target
    size = diff.size if reduction == "mean" else 1
    loss = float(np.vdot(diff, diff)) / size
    diff *= 2.0 / size
    return loss, diff


def half_mse(pred, target, *, reduction="mean"):
    """Half squared error, 1/2 ||r||^2 (r = pred - target): the 1/2 cancels the 2 of the derivative.
    Returns (loss, dpred); S = pred.size.

        "mean":  loss = (1/S) sum r^2 / 2,  dpred = r / S   (d2l's squared_loss, (y_hat - y)**2 / 2, averaged;
                                                             = mse / 2, torch 0.5 * MSELoss())
        "sum":   loss = sum r^2 / 2,        dpred = r       (E_total = 1/2 sum (t - out)^2 of the 2-2-2
                                                             network, lablib.backprop; 0.5 * MSELoss(reduction="sum"))
    """
    return _half_mse(*_check_squared_error_args(pred, target, reduction))


def _half_mse(pred, target, reduction="mean"):
    diff = pred - target
    size = diff.size if reduction == "mean" else 1
    loss = 0.5 * float(np.vdot(diff, diff)) / size
    if size != 1:
        diff /= size
    return loss, diff
