"""Inverted dropout.

``rate`` is the probability of DROPPING a unit (as in the course, Keras ``Dropout(rate)`` and
torch ``nn.Dropout(p)``). In train mode
    keep = rng.random(x.shape) >= rate        (each unit kept with probability 1 - rate)
    out  = x * keep / (1 - rate)              (so E[out] = x)
At test time (train=False), or when rate == 0, the layer is the identity.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_rate, check_rng

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, rate, *, train, rng=None, mask=None):
    """Inverted dropout; returns (out, cache).

    rng: numpy Generator drawing the keep mask; required only when train and rate > 0 and no mask.
    mask: optional boolean array of x.shape, True = keep (replaces the random draw).
    Identity case (train=False or rate == 0): returns x itself (no copy) and cache None; a
    given mask is then not used.
    """
    x = as_float_array(x, "x")
    rate = check_rate(rate, "rate")
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(f"train must be True or False, got {type(train).__name__} {train!r}")
    if mask is not None:
        if not isinstance(mask, np.ndarray) or mask.dtype != bool:
            raise TypeError(f"mask must be a boolean numpy array (True = keep), got {type(mask).__name__}"
                            + (f" of dtype {mask.dtype}" if isinstance(mask, np.ndarray) else ""))
        if mask.shape != x.shape:
            raise ValueError(f"mask must have the shape of x {x.shape}, got {mask.shape}")
    elif train and rate > 0:
        check_rng(rng, "rng")
    return _dropout_forward(x, rate, train=bool(train), rng=rng, mask=mask)


def _dropout_forward(x, rate, *, train, rng=None, mask=None):
    if not train or rate == 0:
        return x, None
    scale = 1.0 / (1.0 - rate)
    if mask is None:
        out = rng.random(x.shape)
        mask = out >= rate
        np.multiply(x, mask, out=out)  # reuse the uniform draws' buffer
    else:
        out = x * mask
    out *= scale
    return out, (mask, scale)


def dropout_backward(dout, cache):
    """dx = dout * keep / (1 - rate) with the forward pass's mask; dout itself if the forward was the identity."""
    dout = as_float_array(dout, "dout")
    if cache is not None and dout.shape != cache[0].shape:
        raise ValueError(f"dout must have the shape of the forward input {cache[0].shape}, got {dout.shape}")
    return _dropout_backward(dout, cache)


def _dropout_backward(dout, cache):
    if cache is None:
        return dout
    mask, scale = cache
    dx = dout * mask
    dx *= scale
    return dx
