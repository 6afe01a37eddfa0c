"""Small helpers shared by the exercise definitions."""
from __future__ import annotations

import numpy as np


def shape_of(name: str, a) -> str:
    """'x = 3.0' for a number, 'x of shape (4, 3)' for an array (labels never show random values)."""
    a = np.asarray(a)
    return f"{name} = {float(a):g}" if a.ndim == 0 else f"{name} of shape {a.shape}"


def other_shape(rng: np.random.Generator, low: tuple, high: tuple, avoid=()) -> tuple:
    """A random shape with sizes in [low, high] per axis, different from every shape in ``avoid``."""
    while True:
        shape = tuple(int(rng.integers(lo, hi + 1)) for lo, hi in zip(low, high))
        if shape not in avoid:
            return shape


def nonzero(rng: np.random.Generator, shape, low=0.5, high=2.0) -> np.ndarray:
    """Random entries with |value| in [low, high] and random signs (never 0)."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def hparams_label(kwargs: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in kwargs.items()) if kwargs else "default hyperparameters"
