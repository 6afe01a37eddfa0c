"""lab04, learning-rate schedules: power and exponential scheduling, and reduce-on-plateau.

The schedules are functions of t (steps already taken; a number or a numpy array) compared as "lr(t)".
``plateau_step(metric, lr, state, ...) -> (new_lr, new_state)`` is stepped once per epoch over a sequence of
validation metrics with ``state = {}`` at first (its keys are the student's choice: only the lr is compared,
as "lr after epoch k").
"""
from __future__ import annotations

import numpy as np

from ... import schedules
from ..engine import Case, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import hparams_label, shape_of

# ---------------------------------------------------------------------------------------------------------
# power and exponential scheduling


def _schedule_case(t, lr0, s, **extra):
    label = f"{shape_of('t', t)}, lr0={lr0:g}, s={s:g}" + (f", {hparams_label(extra)}" if extra else "")
    return Case(label=label, t=t, lr0=lr0, s=s, extra=extra)


def _schedule_public(with_c):
    def public():
        c = {"c": 0.5} if with_c else {}
        c2 = {"c": 2.0} if with_c else {}
        return [_schedule_case(10.0, 0.1, 20.0),
                _schedule_case(np.array([0.0, 1.0, 5.0, 20.0, 100.0]), 0.01, 10.0, **c),
                _schedule_case(np.array([0.0, 250.0, 375.0, 1000.0]), 1.0, 250.0, **c2)]
    return public


def _schedule_hidden(with_c):
    def hidden(rng):
        def c():
            return {"c": float(rng.uniform(0.3, 3.0))} if with_c else {}
        return [_schedule_case(float(rng.uniform(1, 100)), float(rng.uniform(1e-3, 0.5)), float(rng.uniform(5, 50))),
                _schedule_case(np.sort(rng.uniform(0, 500, size=int(rng.integers(6, 10)))),
                               float(rng.uniform(1e-3, 0.5)), float(rng.uniform(5, 100)), **c())]
    return hidden


def _drive_schedule(run, fn, c):
    run.record("lr(t)", run.call(fn, c.t, c.lr0, c.s, **c.extra))


def power_schedule(t, lr0, s, c=1.0):
    return schedules.power(lr0, s, c)(t)


def exponential_schedule(t, lr0, s):
    return schedules.exponential(lr0, s)(t)


_SCHEDULE_GUARDS = resolve("lablib.schedules.power", "lablib.schedules.exponential", "lablib.schedules._steps")

POWER_SCHEDULE = Exercise(
    name="power_schedule",
    lab="lab04",
    signature="def power_schedule(t, lr0, s, c=1.0):",
    summary="lr(t) = lr0 / (1 + t/s)**c, elementwise in t (a number or a numpy array of step counts).",
    reference=power_schedule,
    drive=_drive_schedule,
    public_cases=_schedule_public(True),
    hidden_cases=_schedule_hidden(True),
    guarded=_SCHEDULE_GUARDS,
    catalogue=(
        Mistake("(1 + t)/s instead of 1 + t/s", "divide only t by s: lr0 / (1 + t/s)**c (lr(0) = lr0)",
                lambda t, lr0, s, c=1.0: lr0 / ((1 + t) / s) ** c),
        Mistake("t * s instead of t / s", "s is the number of steps it takes to halve the lr (c = 1): 1 + t/s",
                lambda t, lr0, s, c=1.0: lr0 / (1 + t * s) ** c),
        Mistake("c ignored", "raise (1 + t/s) to the power c", lambda t, lr0, s, c=1.0: lr0 / (1 + t / s)),
        Mistake("power on t/s only", "the power c applies to the whole (1 + t/s)",
                lambda t, lr0, s, c=1.0: lr0 / (1 + (t / s) ** c)),
    ),
)

EXPONENTIAL_SCHEDULE = Exercise(
    name="exponential_schedule",
    lab="lab04",
    signature="def exponential_schedule(t, lr0, s):",
    summary="lr(t) = lr0 * 0.1**(t/s) (10 times smaller every s steps, smoothly), elementwise in t (a number or "
            "a numpy array of step counts).",
    reference=exponential_schedule,
    drive=_drive_schedule,
    public_cases=_schedule_public(False),
    hidden_cases=_schedule_hidden(False),
    guarded=_SCHEDULE_GUARDS,
    catalogue=(
        Mistake("t * s instead of t / s", "the exponent is t/s: after s steps the lr is lr0 * 0.1",
                lambda t, lr0, s: lr0 * 0.1 ** (t * s)),
        Mistake("base e instead of 0.1", "the course's exponential schedule uses 0.1**(t/s), not exp(-t/s)",
                lambda t, lr0, s: lr0 * np.exp(-t / s)),
        Mistake("staircase", "do not round t/s down: the lr decays smoothly, 0.1**(t/s) with the real t/s",
                lambda t, lr0, s: lr0 * 0.1 ** np.floor(t / s)),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# reduce-on-plateau (Keras ReduceLROnPlateau, cooldown 0, min_lr 0)


def plateau_step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):
    state = dict(state)
    if "scheduler" not in state:
        state["scheduler"] = schedules.PerformanceScheduler(factor=factor, patience=patience, min_delta=min_delta,
                                                            cooldown=0, min_lr=0.0, convention="keras")
    return state["scheduler"].step(metric, lr), state


def _plateau_metrics(rng, patience, min_delta, start):
    """Segments ordered so that each catalogued mistake first shows in its own place: clear improvements; 2p + 1
    clearly worse epochs (two reductions); a clear improvement; p epochs above the best by less than min_delta
    (bad); a clear improvement; p epochs below the best by less than min_delta (bad too)."""
    metrics, best = [], start

    def improve():
        nonlocal best
        best -= rng.uniform(5, 10) * min_delta
        metrics.append(best)

    improve()
    improve()
    metrics.extend(best + rng.uniform(2, 5, size=2 * patience + 1) * min_delta)
    improve()
    metrics.extend(best + rng.uniform(0.2, 0.9, size=patience) * min_delta)
    improve()
    metrics.extend(best - np.linspace(0.1, 0.9, patience) * min_delta)  # each lower than the previous one
    return np.array(metrics)


def _plateau_case(rng, lr0, start, hparams, hidden=False):
    full = {"factor": 0.1, "patience": 10, "min_delta": 1e-4} | hparams
    metrics = _plateau_metrics(rng, full["patience"], full["min_delta"], start)
    label = f"{len(metrics)} epochs, lr={lr0:g} at first, {hparams_label(hparams)}"
    return Case(label=label, metrics=metrics, lr0=lr0, hparams=hparams)


def _plateau_public():
    rng = np.random.default_rng(12)
    return [_plateau_case(rng, 0.01, 1.0, {}),
            _plateau_case(rng, 0.1, 2.0, {"factor": 0.2, "patience": 3, "min_delta": 0.01}),
            _plateau_case(rng, 1e-3, 0.5, {"factor": 0.3, "patience": 2, "min_delta": 0.05})]


def _plateau_hidden(rng):
    def hparams():
        return {"factor": float(rng.uniform(0.1, 0.4)), "patience": int(rng.integers(4, 7)),
                "min_delta": float(10 ** rng.uniform(-3, -1))}
    return [_plateau_case(rng, float(rng.uniform(1e-3, 0.5)), float(rng.uniform(0.5, 3)), hparams())
            for _ in range(2)]


def _drive_plateau(run, fn, c):
    lr, state = c.lr0, {}
    for k, metric in enumerate(c.metrics, 1):
        lr, state = run.unpack(run.call(fn, float(metric), lr, state, **c.hparams), 2,
                               f"the return value of epoch {k} (new_lr, new_state)")
        run.record(f"lr after epoch {k}", lr)
        run.require(isinstance(state, dict), f"new_state after epoch {k}",
                    f"should be a dict (it is passed back in on the next call), got {type(state).__name__}")


def _plateau_variant(*, late=False, no_reset_after=False, ignore_delta=False, delta_sign=False,
                     keep_wait=False, one_minus=False):
    def step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):
        best, wait = state.get("best", np.inf), state.get("wait", 0)
        threshold = best if ignore_delta else best + min_delta if delta_sign else best - min_delta
        if metric < threshold:
            best, wait = metric, (wait if keep_wait else 0)
        else:
            wait += 1
        if (wait > patience) if late else (wait >= patience):
            lr = lr * ((1 - factor) if one_minus else factor)
            if not no_reset_after:
                wait = 0
        return lr, {"best": best, "wait": wait}
    return step


PLATEAU_STEP = Exercise(
    name="plateau_step",
    lab="lab04",
    signature="def plateau_step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):",
    summary="Keras ReduceLROnPlateau (no cooldown, no min_lr), called once per epoch (state = {} at first): an "
            "epoch improves when metric < best - min_delta (then best = metric, wait = 0), else wait += 1; "
            "when wait >= patience, lr *= factor and wait = 0. Return (new_lr, new_state); only the lr is compared.",
    reference=plateau_step,
    drive=_drive_plateau,
    public_cases=_plateau_public,
    hidden_cases=_plateau_hidden,
    guarded=resolve("lablib.schedules.PerformanceScheduler.step", "lablib.schedules.PerformanceScheduler._improves"),
    catalogue=(
        Mistake("reduced one epoch late", "reduce as soon as wait >= patience (Keras), i.e. after patience bad "
                "epochs; wait > patience is PyTorch's convention", _plateau_variant(late=True)),
        Mistake("wait not reset after a reduction", "after reducing the lr set wait = 0: the next reduction "
                "needs patience more bad epochs", _plateau_variant(no_reset_after=True)),
        Mistake("min_delta ignored", "an improvement smaller than min_delta does not count: improve only when "
                "metric < best - min_delta", _plateau_variant(ignore_delta=True)),
        Mistake("min_delta with the wrong sign", "improve only when metric < best - min_delta (lower by more than "
                "min_delta), not best + min_delta", _plateau_variant(delta_sign=True)),
        Mistake("wait not reset on improvement", "an improvement resets wait to 0: patience counts CONSECUTIVE "
                "bad epochs", _plateau_variant(keep_wait=True)),
        Mistake("lr * (1 - factor)", "the new lr is lr * factor (factor=0.1 makes it 10 times smaller)",
                _plateau_variant(one_minus=True)),
    ),
)

register(POWER_SCHEDULE, EXPONENTIAL_SCHEDULE, PLATEAU_STEP)
