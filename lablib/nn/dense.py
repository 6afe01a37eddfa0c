"""Fully connected (dense, affine) layer: out = x @ W + b.

Shapes: x (N, D), W (D, M), b (M,), out (N, M). Weights are stored (in, out) as in
Keras' ``Dense.kernel``; torch's ``nn.Linear.weight`` is the transpose (out, in).
"""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_cache, check_flag

__all__ = ["dense_forward", "dense_backward"]


def dense_forward(x, W, b):
    """out = x @ W + b for x (N, D), W (D, M), b (M,); returns (out, cache)."""
    x = as_float_array(x, "x", ndim=2)
    W = as_float_array(W, "W", ndim=2)
    b = as_float_array(b, "b", ndim=1)
    if W.shape[0] != x.shape[1]:
        hint = ""
        if W.shape[1] == x.shape[1]:
            hint = "; W looks transposed (torch's Linear.weight is (out, in)): pass W.T"
        elif x.shape[0] == W.shape[0]:
            hint = "; x looks transposed: pass x.T (one example per row)"
        raise ValueError(
            f"W must have shape (D, M) with D = x.shape[1] = {x.shape[1]}, got W of shape {W.shape}"
            f" for x of shape {x.shape}{hint}"
        )
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b must have shape (M,) = ({W.shape[1]},) to match W of shape {W.shape}, got {b.shape}")
    return _dense_forward(x, W, b)


def _dense_forward(x, W, b):
    out = x @ W
    out += b
    return out, (x, W)


def dense_backward(dout, cache, *, need_dx=True):
    """Gradients of out = x @ W + b: dx = dout @ W.T, dW = x.T @ dout, db = sum_n dout[n].

    Returns (dx, dW, db); dx is None when ``need_dx`` is False (the input layer, where
    dx is never used).
    """
    check_cache(cache, "dense_forward", length=2)
    x, W = cache
    if not (isinstance(x, np.ndarray) and isinstance(W, np.ndarray) and x.ndim == W.ndim == 2):
        raise TypeError("cache must be the cache returned by dense_forward, (x, W) with two 2-D arrays")
    dout = as_float_array(dout, "dout", ndim=2)
    want = (x.shape[0], W.shape[1])
    if dout.shape != want:
        hint = "; dout looks transposed: pass dout.T" if dout.shape == want[::-1] else ""
        raise ValueError(f"dout must have the shape of the forward output {want}, got {dout.shape}{hint}")
    return _dense_backward(dout, cache, need_dx=check_flag(need_dx, "need_dx"))


def _dense_backward(dout, cache, *, need_dx=True):
    x, W = cache
    dx = dout @ W.T if need_dx else None
    return dx, x.T @ dout, dout.sum(axis=0)
