"""lab04, learning-rate schedules: power and exponential scheduling, and reduce-on-plateau.

The schedules are functions of t (steps already taken; a number or a numpy array) compared as "lr(t)".
``plateau_step(metric, lr, state, ...) -> (new_lr, new_state)`` is stepped once per epoch over a sequence of
validation metrics with ``state = {}`` at first (its keys are the student's choice: only the lr is compared,
as "lr after epoch k"). All three are pure: t and state are left unchanged (plateau_step returns a new dict).

Edge cases (``edges`` of each exercise, checked to be among its cases by the tests):
* schedules: t a number, t an array, t = 0 (lr0 exactly), large t (the lr many decades below lr0, so the
  tolerance is relative only), a non-default power c, t/s = 1 exactly.
* plateau_step: improvements by more than min_delta, bad epochs above the best and below it by less than
  min_delta, metric EXACTLY equal to best - min_delta (dyadic numbers, so that every way of writing the test
  computes the same tie: not an improvement), min_delta = 0 with equal metrics, patience 1 and more, two
  reductions in a row (wait reset after a reduction).
"""
from __future__ import annotations

import numpy as np

from ... import schedules
from ..engine import Case, Edge, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import epoch_values, hparams_label, rounded_constants, shape_of

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
                _schedule_case(np.array([0.0, 250.0, 375.0, 1000.0]), 1.0, 250.0, **c2),
                _schedule_case(np.array([0.0, 10.0, 500.0, 1000.0]), 0.5, 10.0)]  # lr down to 1e-100 (exp.)
    return public


def _schedule_hidden(with_c):
    def hidden(rng):
        def c():
            return {"c": float(rng.uniform(0.3, 3.0))} if with_c else {}
        s = float(rng.uniform(5, 20))
        return [_schedule_case(float(rng.uniform(1, 100)), float(rng.uniform(1e-3, 0.5)), float(rng.uniform(5, 50))),
                _schedule_case(np.sort(rng.uniform(0, 500, size=int(rng.integers(6, 10)))),
                               float(rng.uniform(1e-3, 0.5)), float(rng.uniform(5, 100)), **c()),
                _schedule_case(np.concatenate([[0.0, s], np.sort(rng.uniform(20 * s, 60 * s, size=3))]),
                               float(rng.uniform(1e-3, 0.5)), s, **c())]
    return hidden


def _drive_schedule(run, fn, c):
    run.record("lr(t)", run.call(fn, c.t, c.lr0, c.s, **c.extra))


def power_schedule(t, lr0, s, c=1.0):
    return schedules.power(lr0, s, c)(t)


def exponential_schedule(t, lr0, s):
    return schedules.exponential(lr0, s)(t)


def _power_in_place(t, lr0, s, c=1.0):
    t /= s
    t += 1
    return lr0 / t**c


def _exponential_in_place(t, lr0, s):
    t /= s
    return lr0 * 0.1**t


def _exp_with(ln10):
    return lambda t, lr0, s: lr0 * np.exp(-ln10 * np.asarray(t) / s)


def _any_entry(name, predicate):
    return lambda c: bool(np.any(predicate(np.asarray(getattr(c, name), dtype=float), c)))


_SCHEDULE_EDGES = (
    Edge("t a number", lambda c: np.ndim(c.t) == 0),
    Edge("t an array (elementwise, no Python loop or if over t)", lambda c: np.ndim(c.t) == 1),
    Edge("t = 0: lr0 exactly", _any_entry("t", lambda t, c: t == 0)),
    Edge("t/s = 1 exactly", _any_entry("t", lambda t, c: t == c.s)),
    Edge("large t: the lr 10 or more decades below lr0 (relative tolerance only)",
         _any_entry("t", lambda t, c: t / c.s >= 10)),
)
_SCHEDULE_TOLERANCE = ("a power or an exponential of t/s: 0.1**(t/s), 10**(-t/s), exp(-ln10 t/s) and (s/(s+t))**c "
                       "agree to eps·|t/s·ln 10| ≈ 5e-14 relative for t/s <= 100 (3e-14 measured): rtol 1e-11; the lr "
                       "spans up to 100 decades, so the tolerance is relative only (atol 0: a wrong 1e-101 is not "
                       "'about 0')")

_SCHEDULE_GUARDS = resolve("lablib.schedules.power", "lablib.schedules.exponential", "lablib.schedules._steps")

POWER_SCHEDULE = Exercise(
    name="power_schedule",
    lab="lab04",
    signature="def power_schedule(t, lr0, s, c=1.0):",
    summary="lr(t) = lr0 / (1 + t/s)**c, elementwise in t (a number or a numpy array of step counts). Pure: t is "
            "not modified.",
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
        Mistake("t divided in place", "`t /= s` changes the caller's array of step counts: write `t / s`",
                _power_in_place, modifies="t"),
    ),
    rtol=1e-11, atol=0.0, tolerance=_SCHEDULE_TOLERANCE,
    edges=(*_SCHEDULE_EDGES, Edge("a non-default power c", lambda c: c.extra.get("c", 1.0) != 1.0)),
)

EXPONENTIAL_SCHEDULE = Exercise(
    name="exponential_schedule",
    lab="lab04",
    signature="def exponential_schedule(t, lr0, s):",
    summary="lr(t) = lr0 * 0.1**(t/s) (10 times smaller every s steps, smoothly), elementwise in t (a number or "
            "a numpy array of step counts). Pure: t is not modified.",
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
        Mistake("0.1**t / s", "`0.1 ** t / s` is (0.1**t) / s: ** binds tighter than /, so write 0.1 ** (t / s)",
                lambda t, lr0, s: lr0 * 0.1**t / s),
        Mistake("rounded ln 10", "0.1**(t/s) = exp(-ln(10) t/s) needs ln 10 exactly: np.log(10), or write "
                "0.1 ** (t / s) directly", _exp_with(2.3026),
                variants=rounded_constants(_exp_with, {"ln 10": float(np.log(10))}, digits=range(2, 13))),
        Mistake("t divided in place", "`t /= s` changes the caller's array of step counts: write `t / s`",
                _exponential_in_place, modifies="t"),
    ),
    rtol=1e-11, atol=0.0, tolerance=_SCHEDULE_TOLERANCE, edges=_SCHEDULE_EDGES,
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


def _tie_metrics(patience, min_delta, start, u):
    """Dyadic metrics (exact in binary, so every way of writing the test computes the same tie): an improvement,
    then ``patience`` epochs EXACTLY at best - min_delta (ties: bad epochs, one reduction), an improvement by
    min_delta + u, the best itself once and patience - 1 epochs a little above it (one more reduction)."""
    best = start - 2 * min_delta - 4 * u
    metrics = [start, best] + [best - min_delta] * patience
    best -= min_delta + u
    metrics += [best] + [best] + [best + k * u for k in range(1, patience)]
    return np.array(metrics)


def _plateau_case(rng, lr0, start, hparams, tie_unit=None):
    full, metrics, ties = epoch_values(rng, {"factor": 0.1, "patience": 10, "min_delta": 1e-4}, hparams, start,
                                       tie_unit, _plateau_metrics, _tie_metrics, "metrics")
    label = f"{len(metrics)} epochs, lr={lr0:g} at first, {hparams_label(hparams)}{ties}"
    return Case(label=label, metrics=metrics, lr0=lr0, hparams=hparams, full=full, tie=tie_unit is not None)


def _plateau_public():
    rng = np.random.default_rng(12)
    return [_plateau_case(rng, 0.01, 1.0, {}),
            _plateau_case(rng, 0.1, 2.0, {"factor": 0.2, "patience": 3, "min_delta": 0.01}),
            _plateau_case(rng, 1e-3, 0.5, {"factor": 0.3, "patience": 2, "min_delta": 0.05}),
            _plateau_case(rng, 0.5, 4.0, {"factor": 0.5, "patience": 2, "min_delta": 0.25}, tie_unit=0.0625),
            _plateau_case(rng, 0.5, 4.0, {"factor": 0.5, "patience": 1, "min_delta": 0.0}, tie_unit=0.125)]


def _plateau_hidden(rng):
    def hparams():
        return {"factor": float(rng.uniform(0.1, 0.4)), "patience": int(rng.integers(4, 7)),
                "min_delta": float(10 ** rng.uniform(-3, -1))}
    min_delta = 2.0 ** -int(rng.integers(2, 6))
    tie = _plateau_case(rng, float(rng.uniform(1e-3, 0.5)), float(rng.integers(2, 9)),
                        {"factor": float(rng.uniform(0.1, 0.4)), "patience": int(rng.integers(2, 5)),
                         "min_delta": min_delta}, tie_unit=min_delta / 8)
    return [_plateau_case(rng, float(rng.uniform(1e-3, 0.5)), float(rng.uniform(0.5, 3)), hparams())
            for _ in range(2)] + [tie]


def _drive_plateau(run, fn, c):
    lr, state = c.lr0, {}
    for k, metric in enumerate(c.metrics, 1):
        lr, state = run.unpack(run.call(fn, float(metric), lr, state, **c.hparams), 2,
                               f"the return value of epoch {k} (new_lr, new_state)")
        run.record(f"lr after epoch {k}", lr)
        run.require(isinstance(state, dict), f"new_state after epoch {k}",
                    f"should be a dict (it is passed back in on the next call), got {type(state).__name__}")


def _plateau_variant(*, late=False, no_reset_after=False, ignore_delta=False, delta_sign=False,
                     keep_wait=False, one_minus=False, non_strict=False, in_place=False):
    def step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):
        best, wait = state.get("best", np.inf), state.get("wait", 0)
        threshold = best if ignore_delta else best + min_delta if delta_sign else best - min_delta
        if metric <= threshold if non_strict else metric < threshold:
            best, wait = metric, (wait if keep_wait else 0)
        else:
            wait += 1
        if (wait > patience) if late else (wait >= patience):
            lr = lr * ((1 - factor) if one_minus else factor)
            if not no_reset_after:
                wait = 0
        if in_place:
            state.update(best=best, wait=wait)
            return lr, state
        return lr, {"best": best, "wait": wait}
    return step


PLATEAU_STEP = Exercise(
    name="plateau_step",
    lab="lab04",
    signature="def plateau_step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):",
    summary="Keras ReduceLROnPlateau (no cooldown, no min_lr), called once per epoch (state = {} at first): an "
            "epoch improves when metric < best - min_delta (then best = metric, wait = 0), else wait += 1; "
            "when wait >= patience, lr *= factor and wait = 0. Return (new_lr, new_state); only the lr is compared. "
            "Pure: state is not modified (return a new dict).",
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
        Mistake("a tie counted as an improvement", "an epoch improves only when metric < best - min_delta, "
                "strictly: a metric exactly at best - min_delta (or equal to best when min_delta = 0) is a bad "
                "epoch; use <, not <=", _plateau_variant(non_strict=True)),
        Mistake("state updated in place", "the state you were given belongs to the caller: return a NEW dict, "
                "e.g. `return lr, {\"best\": best, \"wait\": wait}`, and never write into `state`",
                _plateau_variant(in_place=True), modifies="state"),
    ),
    rtol=1e-12, atol=0.0,
    tolerance="the lr is lr0 times factor**k: exact to an ulp per reduction, however the product is written; the "
              "decisions themselves are exact (tie cases use numbers exact in binary)",
    edges=(
        Edge("bad epochs above the best and below it by less than min_delta", lambda c: not c.tie),
        Edge("two reductions in a row (wait reset after a reduction)", lambda c: not c.tie),
        Edge("a metric exactly at best - min_delta (a tie: not an improvement)", lambda c: c.tie),
        Edge("min_delta = 0 with equal metrics", lambda c: c.full["min_delta"] == 0, hidden=False),
        Edge("patience 1", lambda c: c.full["patience"] == 1, hidden=False),
        Edge("default hyperparameters", lambda c: not c.hparams, hidden=False),
    ),
)

register(POWER_SCHEDULE, EXPONENTIAL_SCHEDULE, PLATEAU_STEP)
