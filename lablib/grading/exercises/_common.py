"""Small helpers shared by the exercise definitions."""
from __future__ import annotations

import itertools

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


def significant(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (1.0507009873554805, 5 -> 1.0507)."""
    return float(f"{value:.{digits - 1}e}")


def rounded_constants(make, constants: dict, digits=range(2, 12)) -> tuple:
    """The "rounded constants" family of a mistake: (label, make(*rounded)) for every way of rounding each
    constant to some number of significant ``digits`` or keeping it exact (not all exact). ``constants`` maps a
    display name to the exact value, in the order ``make`` takes them."""
    options = [[(None, value)] + [(significant(value, d), significant(value, d)) for d in digits
                                   if significant(value, d) != value]
               for value in constants.values()]
    variants = []
    for combo in itertools.product(*options):
        if all(shown is None for shown, _ in combo):
            continue
        label = ", ".join(f"{name} = {shown:.12g}" for name, (shown, _) in zip(constants, combo) if shown is not None)
        variants.append((f"your output matches {label}", make(*(value for _, value in combo))))
    return tuple(variants)


def has_entry(case, attr, predicate) -> bool:
    """Does the array (or number) ``case.<attr>`` have an entry satisfying ``predicate``?"""
    value = getattr(case, attr, None)
    if value is None:
        return False
    return bool(np.any(predicate(np.asarray(value, dtype=float))))


def epoch_values(rng, defaults: dict, hparams: dict, start: float, tie_unit, random_values, tie_values, what: str):
    """A per-epoch sequence (plateau_step's metrics, early_stopping_step's losses): (every hyperparameter, the values,
    a label). ``random_values(rng, patience, min_delta, start)`` makes the usual sequence; with ``tie_unit``,
    ``tie_values(patience, min_delta, start, tie_unit)`` makes one with exact ties (numbers exact in binary)."""
    full = defaults | hparams
    if tie_unit is None:
        values = random_values(rng, full["patience"], full["min_delta"], start)
    else:
        values = tie_values(full["patience"], full["min_delta"], start, tie_unit)
    suffix = f" ({what} exactly at best - min_delta: ties)" if tie_unit is not None else ""
    return full, values, suffix
