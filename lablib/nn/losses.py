"""Softmax, log-softmax and the two training losses: softmax cross-entropy and mean squared error.

Both losses are means over the batch (torch's reduction='mean', Keras' default
'sum_over_batch_size'), so their gradients carry a 1/N (cross-entropy) or 1/size (MSE) factor.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_int, check_labels

__all__ = ["softmax", "log_softmax", "softmax_cross_entropy", "mse"]


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
    return _softmax(x, _check_axis(x, axis))


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


def mse(pred, target):
    """Mean squared error over all elements; returns (loss, dpred).

    loss = (1/S) sum (pred - target)^2,  dpred = 2 (pred - target) / S,  S = pred.size
    (torch MSELoss(reduction='mean'); Keras MeanSquaredError averages over the last axis
    first, which gives the same number).
    """
    pred = as_float_array(pred, "pred")
    target = as_float_array(target, "target")
    if target.shape != pred.shape:
        raise ValueError(f"target must have the shape of pred {pred.shape}, got {target.shape}")
    if pred.size == 0:
        raise ValueError(f"pred must not be empty, got shape {pred.shape}")
    return _mse(pred, target)


def _mse(pred, target):
    diff = pred - target
    loss = float(np.vdot(diff, diff)) / diff.size
    diff *= 2.0 / diff.size
    return loss, diff
