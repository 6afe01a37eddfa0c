"""Gradient clipping: by value, by norm (per tensor) and by global norm.

``grads`` is one ndarray, or a list, tuple or dict of ndarrays; the result has the same structure and is made
of new arrays (the inputs are never modified). Norms are computed without overflow or underflow (entries of
1e200 or 1e-200 give their true norm, not inf or 0).
"""
from __future__ import annotations

import numpy as np

from ._numeric import l2_norm
from ._validate import _describe, as_float_array, check_positive

__all__ = ["clip_by_value", "clip_by_norm", "clip_by_global_norm"]


def _tensors(grads) -> tuple[list, list[np.ndarray], type]:
    """(keys, float64 arrays, container type); keys are dict keys, list indices, or [None] for one array."""
    if isinstance(grads, np.ndarray):
        keys, kind, items = [None], np.ndarray, [("grads", grads)]
    elif isinstance(grads, (dict, list, tuple)):
        kind = dict if isinstance(grads, dict) else list if isinstance(grads, list) else tuple
        keys = list(grads) if kind is dict else list(range(len(grads)))
        items = [(f"grads[{k!r}]", grads[k]) for k in keys]
    else:
        raise TypeError(f"grads must be an ndarray or a list, tuple or dict of ndarrays, got {_describe(grads)}")
    if not items:
        raise ValueError(f"grads must hold at least one array, got an empty {kind.__name__}")
    for name, g in items:
        # A list of plain numbers would silently mean "many scalar tensors": ask for np.array([...]) instead.
        if not isinstance(g, np.ndarray):
            raise TypeError(f"{name} must be an ndarray (wrap one gradient vector in np.array), got {_describe(g)}")
    return keys, [as_float_array(g, name) for name, g in items], kind


def _rebuild(keys, arrays, kind):
    if kind is dict:
        return dict(zip(keys, arrays))
    if kind is np.ndarray:
        return arrays[0]
    return kind(arrays)


def clip_by_value(grads, clip_value):
    """Clip every element into [-clip_value, clip_value] (Keras ``clipvalue``, torch ``clip_grad_value_``).

    With clip_value=1 the course's [0.9, 100] becomes [0.9, 1.0]: the direction of the gradient changes.
    """
    clip_value = check_positive(clip_value, "clip_value")
    keys, arrays, kind = _tensors(grads)
    return _rebuild(keys, [np.clip(g, -clip_value, clip_value) for g in arrays], kind)


def clip_by_norm(grads, max_norm):
    """Rescale each tensor separately: g <- g * max_norm / max(||g||, max_norm) (||.|| = L2 over all entries).

    Keras ``clipnorm`` / ``tf.clip_by_norm``: a tensor whose norm exceeds max_norm gets norm exactly max_norm,
    direction kept; with max_norm=1 the course's [0.9, 100] becomes [0.00899964, 0.9999595].
    torch's ``clip_grad_norm_`` is different: ONE global norm over all tensors (see ``clip_by_global_norm``)
    and the factor max_norm / (norm + 1e-6), clamped to 1.
    """
    max_norm = check_positive(max_norm, "max_norm")
    keys, arrays, kind = _tensors(grads)
    return _rebuild(keys, [_scaled(g, max_norm, l2_norm(g)) for g in arrays], kind)


def clip_by_global_norm(grads, max_norm):
    """Rescale all tensors by one factor: g <- g * max_norm / max(N, max_norm), N = sqrt(sum of ||g_i||^2).

    Returns ``(clipped, N)`` with N the global norm before clipping, like ``tf.clip_by_global_norm`` and
    Keras ``global_clipnorm``. torch's ``clip_grad_norm_`` uses max_norm / (N + 1e-6) instead (so it shrinks
    by a relative 1e-6/N more), and returns N too.
    """
    max_norm = check_positive(max_norm, "max_norm")
    keys, arrays, kind = _tensors(grads)
    global_norm = l2_norm(*arrays)
    return _rebuild(keys, [_scaled(g, max_norm, global_norm) for g in arrays], kind), global_norm


def _scaled(g: np.ndarray, max_norm: float, norm: float) -> np.ndarray:
    """g * max_norm / max(norm, max_norm): a copy of g when norm <= max_norm."""
    return g * (max_norm / max(norm, max_norm))
