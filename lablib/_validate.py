"""Argument checks shared by every lablib module.

Each check either returns the validated value or raises with a message that names
the argument and says what was expected. Nothing is coerced silently: real numeric
input is converted to float64 (lossless for bool-free ints, float16/32/64); complex,
object, string and boolean arrays are rejected.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "as_float_array",
    "check_finite",
    "check_shape",
    "check_positive",
    "check_nonnegative",
    "check_rate",
    "check_fraction",
    "check_int",
    "check_rng",
    "check_labels",
    "check_cache",
    "check_choice",
    "check_flag",
]


def _describe(x) -> str:
    if isinstance(x, np.ndarray):
        return f"array of dtype {x.dtype} and shape {x.shape}"
    if isinstance(x, (tuple, list, dict)):
        return f"{type(x).__name__} of length {len(x)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def as_float_array(x, name: str, *, ndim: int | None = None, finite: bool = True) -> np.ndarray:
    """Return ``x`` as a float64 ndarray, or raise naming ``name``.

    Accepts Python numbers, lists and real numeric arrays (ints and floats).
    Rejects bool, complex, object and string data (TypeError), a wrong number of
    dimensions (ValueError) and, unless ``finite=False``, NaN or inf (ValueError).
    """
    arr = np.asarray(x)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be a real numeric array (int or float), got {_describe(x)}")
    arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if finite:
        check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> np.ndarray:
    """Raise ValueError naming ``name`` and the first bad index if ``arr`` has NaN or inf."""
    # A finite sum proves every element finite in one pass without a temporary; only a
    # non-finite sum (NaN/inf inside, or a huge-but-finite overflow) needs the elementwise test.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return arr
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(np.atleast_1d(arr)))[0]
        idx = tuple(int(i) for i in bad) if np.ndim(arr) else ()
        value = np.atleast_1d(arr)[tuple(bad)]
        raise ValueError(f"{name} must be finite, got {value} at index {idx}")
    return arr


def check_shape(arr: np.ndarray, shape: tuple, name: str) -> np.ndarray:
    """Raise ValueError unless ``arr.shape`` matches ``shape`` (None matches any size)."""
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    return arr


def _real_scalar(value, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_positive(value, name: str) -> float:
    """A finite real number > 0 (learning rates, eps, decay steps, ...)."""
    value = _real_scalar(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_nonnegative(value, name: str) -> float:
    """A finite real number >= 0."""
    value = _real_scalar(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_rate(value, name: str) -> float:
    """A probability in [0, 1) such as a dropout rate (the probability of dropping a unit)."""
    value = _real_scalar(value, name)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def check_fraction(value, name: str, *, low_open: bool = False, high_open: bool = True) -> float:
    """A number in [0, 1) by default (momentum and decay coefficients); bounds configurable."""
    value = _real_scalar(value, name)
    lo_ok = value > 0 if low_open else value >= 0
    hi_ok = value < 1 if high_open else value <= 1
    if not (lo_ok and hi_ok):
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return value


def check_int(value, name: str, *, minimum: int | None = None) -> int:
    """An integer (Python or numpy, not bool) >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_rng(rng, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator``; lablib never falls back to the global RNG."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{name} must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), got {_describe(rng)}"
        )
    return rng


def check_labels(y, name: str, *, n: int | None = None, n_classes: int | None = None) -> np.ndarray:
    """Integer class labels, 1-D, optionally of length ``n`` and in ``[0, n_classes)``."""
    arr = np.asarray(y)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array of class labels, got {_describe(y)}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per row), got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must have {n} labels (one per row of the inputs), got {arr.shape[0]}")
    if n_classes is not None and arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} must be in [0, {n_classes}), got values in [{arr.min()}, {arr.max()}]")
    return arr


def check_cache(cache, made_by: str, *, length: int, name: str = "cache") -> tuple:
    """The tuple a forward function returned as its cache (``length`` entries), or a TypeError naming ``name``."""
    if not isinstance(cache, tuple) or len(cache) != length:
        raise TypeError(f"{name} must be the cache returned by {made_by} (a tuple of {length}), got {_describe(cache)}")
    return cache


def check_choice(value, name: str, choices: tuple):
    """One of ``choices`` (strings), or a ValueError (TypeError for a non-string) naming ``name``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, choices))}, got {_describe(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_flag(value, name: str) -> bool:
    """True or False (Python or numpy bool; not 0/1, not a string)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)
