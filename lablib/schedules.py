"""Learning-rate schedules: functions of the step count t, and reduce-on-plateau (performance scheduling).

``power``, ``exponential`` and ``piecewise_constant`` return a callable ``t -> lr`` where t is the number of
steps already taken (0 on the first step, as Keras passes ``optimizer.iterations``), a number or a numpy
array of numbers (then an array comes back). Pass one as ``lr`` to an optimizer in ``lablib.optim``.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_float_array, check_int, check_nonnegative, check_positive

__all__ = ["power", "exponential", "piecewise_constant", "PerformanceScheduler"]


def _steps(t) -> np.ndarray:
    t = as_float_array(t, "t")
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0 (steps already taken), got {t.min()}")
    return t


def _scalar_or_array(values: np.ndarray):
    return float(values) if values.ndim == 0 else values


def _staircase(staircase, s: float):
    """How t is quantised: None (continuous), or (width, exponent) with the schedule read at width*floor(t/width)."""
    if staircase is False or staircase is None:
        return None
    if staircase is True:
        return s
    if isinstance(staircase, (bool, np.bool_)):
        return None if not staircase else s
    return check_positive(staircase, "staircase")


def _decay_steps(t, s: float, width):
    """t/s, or, for a staircase of steps ``width`` wide, width * floor(t/width) / s (floor(t/s) when width is s)."""
    t = _steps(t)
    if width is None:
        return t / s
    if width == s:
        return np.floor(t / s)
    return width * np.floor(t / width) / s


def power(lr0, s, c=1.0, *, staircase=False):
    """Power scheduling: lr(t) = lr0 / (1 + t/s)**c.

    staircase: False (continuous), True (lr0 / (1 + floor(t/s))**c: constant for s steps, then drops), or a
    number of steps d (the curve read at d * floor(t/d): it drops every d steps).
    Keras' InverseTimeDecay(lr0, decay_steps=d, decay_rate=r) is lr0 / (1 + r t/d) = power(lr0, s=d/r, c=1);
    with staircase=True it is lr0 / (1 + r floor(t/d)) = power(lr0, s=d/r, staircase=d) (= power(lr0, s=d,
    staircase=True) when r = 1).
    """
    lr0, s, c = check_positive(lr0, "lr0"), check_positive(s, "s"), check_positive(c, "c")
    width = _staircase(staircase, s)

    def schedule(t):
        return _scalar_or_array(lr0 / (1.0 + _decay_steps(t, s, width)) ** c)

    t_text = "t" if width is None else ("floor(t/s)*s" if width == s else f"floor(t/{width!r})*{width!r}")
    schedule.__doc__ = f"lr(t) = {lr0!r} / (1 + {t_text}/{s!r})**{c!r}"
    return schedule


def exponential(lr0, s, *, decay_rate=0.1, staircase=False):
    """Exponential scheduling: lr(t) = lr0 * decay_rate**(t/s), by default a factor 10 smaller every s steps.

    staircase: False (continuous), True (lr0 * decay_rate**floor(t/s): constant for s steps, then one factor
    decay_rate down), or a number of steps d (the curve read at d * floor(t/d)).
    Keras' ExponentialDecay(lr0, decay_steps=s, decay_rate=r, staircase=...) is exponential(lr0, s,
    decay_rate=r, staircase=...); torch's StepLR(step_size=k, gamma=g), stepped once per epoch t, is
    exponential(lr0, s=k, decay_rate=g, staircase=True) (torch multiplies by g every k epochs, which rounds
    differently in the last bits).
    """
    lr0, s = check_positive(lr0, "lr0"), check_positive(s, "s")
    decay_rate = check_positive(decay_rate, "decay_rate")
    width = _staircase(staircase, s)

    def schedule(t):
        return _scalar_or_array(lr0 * decay_rate ** _decay_steps(t, s, width))

    t_text = "t/s" if width is None else ("floor(t/s)" if width == s else f"floor(t/{width!r})*{width!r}/s")
    schedule.__doc__ = f"lr(t) = {lr0!r} * {decay_rate!r}**({t_text}), s = {s!r}"
    return schedule


def piecewise_constant(boundaries, values):
    """Piecewise constant: values[0] for t <= b[0], values[i] for b[i-1] < t <= b[i], values[-1] for t > b[-1].

    Exactly Keras' PiecewiseConstantDecay(boundaries, values): at a boundary the earlier value still holds, and
    the new value starts at the step after it. (torch's MultiStepLR switches AT its milestone m: use boundary
    m - 1 here to reproduce it.)
    """
    b = as_float_array(boundaries, "boundaries", ndim=1)
    v = as_float_array(values, "values", ndim=1)
    if v.size != b.size + 1:
        raise ValueError(f"values must have len(boundaries) + 1 = {b.size + 1} entries, got {v.size}")
    if np.any(np.diff(b) <= 0):
        raise ValueError(f"boundaries must be strictly increasing, got {b.tolist()}")
    for i, value in enumerate(v):
        check_positive(value, f"values[{i}]")

    def schedule(t):
        return _scalar_or_array(v[np.searchsorted(b, _steps(t), side="left")])

    schedule.__doc__ = f"piecewise constant lr: boundaries {b.tolist()}, values {v.tolist()}"
    return schedule


class PerformanceScheduler:
    """Reduce the learning rate when a validation metric stops improving (performance scheduling).

    Call ``step(metric, lr)`` once per epoch with the epoch's validation metric and the current lr; it returns
    the lr for the next epoch. An epoch improves on ``best`` when (mode "min")

        threshold_mode "abs":  metric < best - min_delta        ("max": metric > best + min_delta)
        threshold_mode "rel":  metric < best * (1 - min_delta)  ("max": metric > best * (1 + min_delta))

    and otherwise counts as a bad epoch (``wait``). A reduction sets lr <- max(lr * factor, min_lr) and starts
    ``cooldown`` epochs during which bad epochs are not counted.

    convention="keras" (default) is keras.callbacks.ReduceLROnPlateau: reduce when wait >= patience (after
    ``patience`` bad epochs), only if lr > min_lr; Keras only has threshold_mode "abs" (its min_delta).
    (Keras compares lr with float32(min_lr); here both are float64.)
    convention="torch" is torch.optim.lr_scheduler.ReduceLROnPlateau with threshold=min_delta: reduce when
    wait > patience (one epoch later than Keras), skip reductions smaller than 1e-8 (torch's eps), and count
    a bad epoch before the cooldown check. torch's own default is threshold_mode="rel".
    The cooldown counts differ too: Keras decrements the counter before judging an epoch, so cooldown=c
    shields c - 1 epochs after a reduction; torch shields c.
    """

    _TORCH_MIN_DECAY = 1e-8  # torch's ``eps``: a reduction smaller than this is ignored

    def __init__(
        self,
        factor=0.1,
        patience=10,
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        mode="min",
        convention="keras",
        threshold_mode="abs",
    ):
        self.factor = check_positive(factor, "factor")
        if self.factor >= 1:
            raise ValueError(f"factor must be in (0, 1), got {self.factor}")
        self.patience = check_int(patience, "patience", minimum=0)
        self.min_delta = check_nonnegative(min_delta, "min_delta")
        self.cooldown = check_int(cooldown, "cooldown", minimum=0)
        self.min_lr = check_nonnegative(min_lr, "min_lr")
        for name, value, allowed in (
            ("mode", mode, ("min", "max")),
            ("convention", convention, ("keras", "torch")),
            ("threshold_mode", threshold_mode, ("abs", "rel")),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        self.mode, self.convention, self.threshold_mode = mode, convention, threshold_mode
        self.reset()

    def reset(self) -> None:
        """Forget the history: best = +inf (mode min) or -inf (max), wait = 0, cooldown_counter = 0."""
        self.best = np.inf if self.mode == "min" else -np.inf
        self.wait = 0  # bad epochs since the last improvement or reduction (torch: num_bad_epochs)
        self.cooldown_counter = 0

    def _improves(self, metric: float) -> bool:
        # Each framework's own arithmetic (metric + d < best in Keras, metric < best - d in torch), so that
        # ties round the same way.
        best, d = self.best, self.min_delta
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return metric < best * (1.0 - d)
            return metric + d < best if self.convention == "keras" else metric < best - d
        if self.threshold_mode == "rel":
            return metric > best * (1.0 + d)
        return metric - d > best if self.convention == "keras" else metric > best + d

    def step(self, metric, lr) -> float:
        """Record one epoch's validation ``metric``; return the learning rate to use next (given current ``lr``)."""
        metric = float(as_float_array(metric, "metric", ndim=0))
        lr = check_positive(lr, "lr")
        if self.convention == "keras":
            if self.cooldown_counter > 0:
                self.cooldown_counter -= 1
                self.wait = 0
            if self._improves(metric):
                self.best, self.wait = metric, 0
            elif self.cooldown_counter == 0:
                self.wait += 1
                if self.wait >= self.patience and lr > self.min_lr:
                    lr = max(lr * self.factor, self.min_lr)
                    self.cooldown_counter, self.wait = self.cooldown, 0
            return lr

        if self._improves(metric):
            self.best, self.wait = metric, 0
        else:
            self.wait += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.wait > self.patience:
            new_lr = max(lr * self.factor, self.min_lr)
            if lr - new_lr > self._TORCH_MIN_DECAY:
                lr = new_lr
            self.cooldown_counter, self.wait = self.cooldown, 0
        return lr

    def __repr__(self) -> str:
        return (
            f"PerformanceScheduler(factor={self.factor}, patience={self.patience}, min_delta={self.min_delta}, "
            f"cooldown={self.cooldown}, min_lr={self.min_lr}, mode={self.mode!r}, convention={self.convention!r}, "
            f"threshold_mode={self.threshold_mode!r}; best={self.best}, wait={self.wait}, "
            f"cooldown_counter={self.cooldown_counter})"
        )
