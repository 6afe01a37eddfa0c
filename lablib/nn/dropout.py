"""Dropout, inverted (the default, as Keras and PyTorch) or not (the original form of the slides).

``rate`` is the probability of DROPPING a unit (as in the course, Keras ``Dropout(rate)`` and
torch ``nn.Dropout(p)``); keep = 1 - rate. In train mode each unit is kept independently:
    mask = rng.random(x.shape) >= rate        (True with probability keep)

inverted=True (Keras, PyTorch):
    train:  out = x * mask / keep             test:  out = x            (the identity)
inverted=False (no scaling in training; Srivastava et al. 2014, the course slides):
    train:  out = x * mask                    test:  out = keep * x
Both give E[train output] = test output: x for the inverted form, keep * x for the other. Scaling the
activations by keep at test time is the same as scaling the next layer's weights by keep, which is how
the slides put it. A network trained with one form and tested with the other is off by the factor keep.
"""
from __future__ import annotations

import numpy as np

from .._validate import _describe, as_float_array, check_cache, check_flag, check_rate, check_rng

__all__ = ["dropout_forward", "dropout_backward"]


def dropout_forward(x, rate, *, train, rng=None, mask=None, inverted=True):
    """Dropout; returns (out, cache). Equations in the module docstring.

    rng: numpy Generator drawing the keep mask; required only when train and rate > 0 and no mask.
    mask: optional boolean array of x.shape, True = keep (replaces the random draw).
    inverted: True (default) scales by 1/keep in training, False scales by keep at test time.
    Identity case (rate == 0, or test mode of the inverted form): returns x itself (no copy) and
    cache None; a given mask is then not used.
    """
    x = as_float_array(x, "x")
    rate = check_rate(rate, "rate")
    train = check_flag(train, "train")
    inverted = check_flag(inverted, "inverted")
    if mask is not None:
        if not isinstance(mask, np.ndarray) or mask.dtype != bool:
            raise TypeError(f"mask must be a boolean numpy array (True = keep), got {_describe(mask)}")
        if mask.shape != x.shape:
            raise ValueError(f"mask must have the shape of x {x.shape}, got {mask.shape}")
    elif train and rate > 0:
        check_rng(rng, "rng")
    return _dropout_forward(x, rate, train=train, rng=rng, mask=mask, inverted=inverted)


def _dropout_forward(x, rate, *, train, rng=None, mask=None, inverted=True):
    if rate == 0 or (inverted and not train):
        return x, None
    if not train:  # the non-inverted form at test time: every unit, scaled by the keep probability
        keep = 1.0 - rate
        return x * keep, (None, keep)
    scale = 1.0 / (1.0 - rate) if inverted else 1.0
    if mask is None:
        out = rng.random(x.shape)
        mask = out >= rate
        np.multiply(x, mask, out=out)  # reuse the uniform draws' buffer
    else:
        out = x * mask
    if inverted:
        out *= scale
    return out, (mask, scale)


def dropout_backward(dout, cache):
    """dx = dout * mask * scale with the forward pass's mask and scale (1/keep inverted in training, 1 not
    inverted in training, keep for the non-inverted test mode); dout itself if the forward was the identity."""
    dout = as_float_array(dout, "dout")
    if cache is not None:
        check_cache(cache, "dropout_forward", length=2)
        mask = cache[0]
        if mask is not None and (not isinstance(mask, np.ndarray) or dout.shape != mask.shape):
            raise ValueError(f"dout must have the shape of the forward input {np.shape(mask)}, got {dout.shape}")
    return _dropout_backward(dout, cache)


def _dropout_backward(dout, cache):
    if cache is None:
        return dout
    mask, scale = cache
    dx = dout * scale if mask is None else dout * mask
    if mask is not None and scale != 1.0:
        dx *= scale
    return dx
