"""lab06, regularization: inverted dropout, checked by properties (the mask is random, so not unique), and early
stopping.

Dropout forward, train mode: dropped entries exactly 0, kept entries exactly x / (1 - rate), the fraction kept within
5 binomial standard deviations of 1 - rate, the same mask for two calls with equal seeds (the rng passed in is
used), different masks for different seeds and for two calls with one generator (it moves on). Identity at test
time and for rate = 0. Backward: dout * mask / (1 - rate) with the mask of the student's own forward pass (read off
its output: kept = out != 0; x has no zeros), dout itself when the forward was the identity; the forward must give
a usable (out, cache) first. All three functions are pure: x, dout, state are left unchanged (the rng moves on).

Edge cases (``edges`` of each exercise, checked to be among its cases by the tests):
* dropout: a low and a high rate, rate = 0, test mode, several seeds and two calls with one generator.
* early_stopping_step: improvements, bad epochs that improve on the previous epoch but not on the best, rises
  within min_delta and improvements smaller than min_delta, a loss EXACTLY at best - min_delta (dyadic numbers, so
  that every way of writing the test computes the same tie: not an improvement), min_delta = 0 with equal losses,
  patience 1 and more, the stop itself and the epochs around it.
"""
from __future__ import annotations

import numpy as np

from ... import mlp, nn
from ..engine import Case, Edge, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import epoch_values, hparams_label, nonzero, other_shape


def _dropout_case(rng, shape, rate, train, seed, hidden=False):
    label = f"x of shape {shape}, rate={rate:g}, train={train}, rng=np.random.default_rng({'seed' if hidden else seed})"
    return Case(label=label, x=nonzero(rng, shape), rate=rate, train=train, seed=seed,
                dout=rng.normal(size=shape))


def _dropout_public():
    rng = np.random.default_rng(10)
    return [_dropout_case(rng, (40, 50), 0.2, True, 0), _dropout_case(rng, (50, 40), 0.7, True, 1),
            _dropout_case(rng, (4, 3), 0.5, False, 2), _dropout_case(rng, (3, 4), 0.0, True, 3)]


def _dropout_hidden(rng):
    seeds = rng.integers(10**6, size=4)
    big = lambda: other_shape(rng, (30, 55), (38, 70))  # noqa: E731
    return [_dropout_case(rng, big(), float(rng.uniform(0.1, 0.4)), True, int(seeds[0]), hidden=True),
            _dropout_case(rng, big(), float(rng.uniform(0.6, 0.85)), True, int(seeds[1]), hidden=True),
            _dropout_case(rng, other_shape(rng, (5, 2), (7, 4)), float(rng.uniform(0.2, 0.8)), False, int(seeds[2]),
                          hidden=True),
            _dropout_case(rng, other_shape(rng, (5, 2), (7, 4)), 0.0, True, int(seeds[3]), hidden=True)]


def dropout_forward(x, rate, train, rng):
    return nn.dropout_forward(x, rate, train=train, rng=rng)


def dropout_backward(dout, cache):
    return nn.dropout_backward(dout, cache)


def _forward(run, fn, c, seed):
    return run.unpack(run.call(fn, c.x, c.rate, c.train, np.random.default_rng(seed)), 2,
                      "the return value (out, cache)")


def _drive_dropout_forward(run, fn, c):
    out, _ = _forward(run, fn, c, c.seed)
    if not (c.train and c.rate > 0):
        what = "test mode" if not c.train else "rate=0"
        run.require(np.shape(out) != c.x.shape or np.all(np.asarray(out) != 0), f"out ({what})",
                    "some entries were dropped, but dropout is the identity here",
                    mistake="dropout at test time" if not c.train else None)
        run.record(f"out ({what}: must equal x)", out, expected=c.x)
        return
    if not run.student:
        return  # the remaining checks are properties of the student's own random mask
    run.check_array("out", out, c.x.shape)
    out = np.asarray(out, dtype=float)
    kept = out != 0
    ratio = out[kept] / c.x[kept]
    scale = 1.0 / (1.0 - c.rate)
    run.require(not np.allclose(ratio, 1.0, rtol=1e-9), "kept entries",
                f"equal x; they must be scaled to x / (1 - rate) = x * {scale:g}", mistake="no 1/(1-rate) scale")
    if not np.allclose(ratio, scale, rtol=1e-12, atol=0):  # x * keep / (1 - rate), x * (1 / (1 - rate)): ulps
        worst = int(np.argmax(np.abs(ratio - scale)))
        run.require(False, "kept entries", f"every entry of out must be 0 (dropped) or exactly x / (1 - rate) = "
                    f"x * {scale:g}; found out / x = {ratio[worst]:.10g}")
    n, p = kept.size, 1.0 - c.rate
    frac, tol = kept.mean(), 5 * np.sqrt(p * (1 - p) / kept.size) + 1.0 / kept.size
    swapped = abs(frac - c.rate) <= tol
    run.require(abs(frac - p) <= tol, "fraction of entries kept",
                f"is {frac:.4f} over {n} entries; expected 1 - rate = {p:g} within ±{tol:.4f} (5 binomial "
                f"standard deviations)", mistake="keep probability is rate" if swapped else None)
    again, _ = _forward(run, fn, c, c.seed)
    run.require(np.array_equal(np.asarray(again) != 0, kept), "mask",
                "two calls with rng=np.random.default_rng(same seed) dropped different entries: draw the mask "
                "from the rng argument", mistake="rng ignored")
    other, _ = _forward(run, fn, c, c.seed + 1)
    run.require(not np.array_equal(np.asarray(other) != 0, kept), "mask",
                "calls with different seeds dropped exactly the same entries: draw the mask from the rng argument",
                mistake="mask independent of the seed")
    rng = np.random.default_rng(c.seed)
    first, _ = run.unpack(run.call(fn, c.x, c.rate, c.train, rng), 2, "the return value (out, cache)")
    second, _ = run.unpack(run.call(fn, c.x, c.rate, c.train, rng), 2, "the return value (out, cache)")
    run.require(not np.array_equal(np.asarray(first) != 0, np.asarray(second) != 0), "mask",
                "two calls with ONE generator dropped the same entries: each call must draw a new mask from the rng "
                "it is given (the generator moves on), not from a copy of it")


def _dropout_variant(*, no_scale=False, keep_rate=False, at_test=False, own_rng=False, fixed_seed=False,
                     in_place=False):
    def forward(x, rate, train, rng):
        if not (train or at_test) or rate == 0:
            return x, None
        if own_rng or fixed_seed:
            rng = np.random.default_rng(0 if fixed_seed else None)
        u = rng.random(x.shape)
        mask = u < rate if keep_rate else u >= rate
        scale = 1.0 if no_scale else 1.0 / (1.0 - rate)
        if in_place:
            x *= mask * scale
            return x, (mask, scale)
        return x * mask * scale, (mask, scale)
    return forward


_DROPOUT_EDGES = (
    Edge("train mode with a low rate", lambda c: c.train and 0 < c.rate < 0.5),
    Edge("train mode with a high rate", lambda c: c.train and c.rate > 0.5),
    Edge("rate = 0 (the identity)", lambda c: c.rate == 0),
    Edge("test mode (the identity)", lambda c: not c.train),
    Edge("several seeds, and two calls with one generator", lambda c: c.train and c.rate > 0),
)
_DROPOUT_GUARDS = resolve("lablib.nn.dropout_forward", "lablib.nn.dropout._dropout_forward",
                          "lablib.nn.dropout_backward", "lablib.nn.dropout._dropout_backward")

DROPOUT_FORWARD = Exercise(
    name="dropout_forward",
    lab="lab06",
    signature="def dropout_forward(x, rate, train, rng):",
    summary="Inverted dropout: in train mode drop each entry with probability rate (mask drawn with the rng "
            "argument) and scale the kept ones by 1 / (1 - rate); identity when train is False or rate == 0. "
            "Return (out, cache). Pure: x is not modified (rng moves on).",
    reference=dropout_forward,
    drive=_drive_dropout_forward,
    public_cases=_dropout_public,
    hidden_cases=_dropout_hidden,
    guarded=_DROPOUT_GUARDS,
    catalogue=(
        Mistake("no 1/(1-rate) scale", "inverted dropout scales the kept entries by 1 / (1 - rate) so that the "
                "expected output equals x", _dropout_variant(no_scale=True)),
        Mistake("keep probability is rate", "rate is the probability of DROPPING an entry: keep it when "
                "rng.random() >= rate (probability 1 - rate)", _dropout_variant(keep_rate=True)),
        Mistake("dropout at test time", "at test time (train=False) dropout is the identity: return x unchanged",
                _dropout_variant(at_test=True)),
        Mistake("rng ignored", "draw the mask with the rng argument (rng.random(x.shape)), not np.random or a "
                "new unseeded Generator, so that runs are reproducible", _dropout_variant(own_rng=True)),
        Mistake("mask independent of the seed", "every seed dropped the same entries: draw the mask from the rng "
                "argument (a Generator made inside the function with a fixed seed, or a fixed pattern, ignores it)",
                _dropout_variant(fixed_seed=True)),
        Mistake("x dropped in place", "`x *= mask / (1 - rate)` changes the caller's activations: return a new "
                "array, `out = x * mask / (1 - rate)`", _dropout_variant(in_place=True), modifies="x"),
    ),
    rtol=1e-12, atol=0.0,
    tolerance="out must equal x exactly in the identity cases and x / (1 - rate) to a few ulps on kept entries "
              "(x * keep / (1 - rate) or x * (1 / (1 - rate))): rtol 1e-12; the fraction kept is allowed 5 binomial "
              "standard deviations (a wrong rate shows at 10 or more)",
    edges=_DROPOUT_EDGES,
)


def _drive_dropout_backward(run, fn, c):
    out, cache = run.forward("dropout_forward", c.x, c.rate, c.train, np.random.default_rng(c.seed), shape=c.x.shape)
    dx = run.call(fn, c.dout, cache)
    if not (c.train and c.rate > 0):
        run.record("dx (the forward pass was the identity, so dx = dout)", dx, expected=c.dout)
        return
    kept = np.asarray(out) != 0
    scale = 1.0 / (1.0 - c.rate)
    run.record("dx (= dout * mask / (1 - rate) with the mask of your dropout_forward)", dx,
               expected=c.dout * kept * scale,
               alternatives={"no 1/(1-rate) scale": c.dout * kept, "mask ignored": c.dout * scale,
                             "scaled by 1/rate": c.dout * kept / c.rate})


def _dropout_backward_variant(kind):
    def backward(dout, cache):
        if cache is None:
            return dout
        mask, scale = cache
        rate = 1.0 - 1.0 / scale
        if kind == "in_place":
            dout *= mask * scale
            return dout
        return {"no_scale": dout * mask, "no_mask": dout * scale, "over_rate": dout * mask / rate}[kind]
    return backward


DROPOUT_BACKWARD = Exercise(
    name="dropout_backward",
    lab="lab06",
    signature="def dropout_backward(dout, cache):",
    summary="dx = dout * mask / (1 - rate) with the mask your dropout_forward stored in cache; dx = dout when the "
            "forward pass was the identity (test mode or rate == 0). Leaves dout unchanged.",
    reference=dropout_backward,
    drive=_drive_dropout_backward,
    public_cases=_dropout_public,
    hidden_cases=_dropout_hidden,
    guarded=_DROPOUT_GUARDS,
    partners={"dropout_forward": dropout_forward},
    catalogue=(
        Mistake("no 1/(1-rate) scale", "the forward pass multiplied the kept entries by 1 / (1 - rate), so the "
                "gradient gets the same factor", _dropout_backward_variant("no_scale")),
        Mistake("mask ignored", "dropped entries did not influence the output: their gradient is 0 (multiply "
                "by the forward pass's mask)", _dropout_backward_variant("no_mask")),
        Mistake("scaled by 1/rate", "the scale is 1 / (1 - rate) (rate is the drop probability), not 1 / rate",
                _dropout_backward_variant("over_rate")),
        Mistake("dout scaled in place", "`dout *= mask / (1 - rate)` changes the caller's gradient: return a new "
                "array, `dout * mask / (1 - rate)`", _dropout_backward_variant("in_place"), modifies="dout"),
    ),
    contract="leaves `dout` unchanged; only its own `cache` is its to change",
    may_modify=("cache",),
    rtol=1e-12, atol=0.0,
    tolerance="dout * mask / (1 - rate): one product and one division, a few ulps however they are grouped",
    edges=_DROPOUT_EDGES[:4],
)

register(DROPOUT_FORWARD, DROPOUT_BACKWARD)

# ---------------------------------------------------------------------------------------------------------
# Early stopping (lablib.mlp.EarlyStopping, Keras semantics), stepped once per epoch over a sequence of
# validation losses; epochs count from 0 (the first call is epoch 0). Compared: stop and state['best_epoch'].


def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):
    state = dict(state)
    if "stopper" not in state:
        state["stopper"] = mlp.EarlyStopping(patience=patience, min_delta=min_delta, restore_best=False)
    state["epoch"] = state.get("epoch", -1) + 1
    stop = state["stopper"].update(state["epoch"], val_loss)
    state["best_epoch"] = state["stopper"].best_epoch
    return stop, state


def _es_losses(rng, patience, min_delta, start):
    """Improvements; patience - 1 bad epochs that improve on the previous epoch but not on the best; a clear
    improvement; (min_delta > 0) a clearly bad epoch and a rise within min_delta, a clear improvement, a clearly
    bad epoch and a smaller improvement than min_delta (the clearly bad epochs keep the epoch of the last
    improvement apart from the epoch before); rising losses until the stop, and two more."""
    step = max(min_delta, 0.01) * rng.uniform(3, 6)
    best = start - step
    losses = [start, best]
    losses += list(best + step * (np.arange(patience - 1, 0, -1) + rng.uniform(0, 0.5, size=patience - 1)))
    best -= step
    losses.append(best)
    bad = patience
    if min_delta > 0:
        losses += [best + step, best + rng.uniform(0.2, 0.8) * min_delta]
        best -= step
        losses += [best, best + step, best - rng.uniform(0.2, 0.8) * min_delta]
        bad -= 2
    losses += list(best + step * np.sort(rng.uniform(0.5, 2.0, size=max(bad, 0) + 2)))
    return np.array(losses)


def _es_tie_losses(patience, min_delta, start, u):
    """Dyadic losses (exact in binary, so every way of writing the test computes the same tie): an improvement,
    ``patience`` epochs EXACTLY at best - min_delta (ties: not improvements, so they stop the run), then losses a
    little above the best, for a rule that counted the ties as improvements."""
    best = start - 2 * min_delta - 4 * u
    return np.array([start, best] + [best - min_delta] * patience + [best + k * u for k in range(1, patience + 3)])


def _es_case(rng, start, hparams, tie_unit=None):
    full, losses, ties = epoch_values(rng, {"patience": 5, "min_delta": 0.0}, hparams, start, tie_unit, _es_losses,
                                      _es_tie_losses, "losses")
    return Case(label=f"{len(losses)} epochs, {hparams_label(hparams)}{ties}", losses=losses, hparams=hparams,
                full=full, tie=tie_unit is not None)


def _es_public():
    rng = np.random.default_rng(13)
    return [_es_case(rng, 1.0, {}), _es_case(rng, 2.0, {"patience": 3, "min_delta": 0.01}),
            _es_case(rng, 0.7, {"patience": 2, "min_delta": 0.05}),
            _es_case(rng, 4.0, {"patience": 2, "min_delta": 0.25}, tie_unit=0.0625),
            _es_case(rng, 4.0, {"patience": 1}, tie_unit=0.125)]


def _es_hidden(rng):
    min_delta = 2.0 ** -int(rng.integers(2, 6))
    return [_es_case(rng, float(rng.uniform(0.5, 3)), {"patience": int(rng.integers(6, 9)),
                                                       "min_delta": float(10 ** rng.uniform(-3, -1.5))})
            for _ in range(2)] + [_es_case(rng, float(rng.integers(2, 9)), {"patience": int(rng.integers(2, 5)),
                                                                              "min_delta": min_delta},
                                           tie_unit=min_delta / 8)]


def _drive_es(run, fn, c):
    state = {}
    for k, loss in enumerate(c.losses):
        stop, state = run.unpack(run.call(fn, float(loss), state, **c.hparams), 2,
                                 f"the return value of epoch {k} (stop, new_state)")
        run.require(isinstance(stop, (bool, np.bool_)), f"stop after epoch {k}",
                    f"should be True or False, got {type(stop).__name__} {stop!r}"[:160])
        run.keys(state, ["best_epoch"], "new_state must hold the best epoch so far in state['best_epoch'] "
                 "(epochs counted from 0: the first call is epoch 0)")
        run.record(f"stop after epoch {k} (1 = True, 0 = False)", int(stop))
        run.record(f"state['best_epoch'] after epoch {k}", state["best_epoch"])
        if stop:
            break


def _es_variant(*, late=False, keep_wait=False, ignore_delta=False, delta_sign=False, previous=False,
                from_one=False, non_strict=False, in_place=False):
    def step(val_loss, state, patience=5, min_delta=0.0):
        epoch = state.get("epoch", -1) + 1
        best, wait, best_epoch = state.get("best", np.inf), state.get("wait", 0), state.get("best_epoch")
        threshold = best if ignore_delta else best + min_delta if delta_sign else best - min_delta
        if val_loss <= threshold if non_strict else val_loss < threshold:
            best, best_epoch, wait = val_loss, epoch + from_one, (wait if keep_wait else 0)
        else:
            wait += 1
        if previous:
            best = val_loss
        stop = wait > patience if late else wait >= patience
        if in_place:
            state.update(epoch=epoch, best=best, wait=wait, best_epoch=best_epoch)
            return stop, state
        return stop, {"epoch": epoch, "best": best, "wait": wait, "best_epoch": best_epoch}
    return step


EARLY_STOPPING_STEP = Exercise(
    name="early_stopping_step",
    lab="lab06",
    signature="def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):",
    summary="Called once per epoch (state = {} at first; epochs count from 0): an epoch improves when val_loss < "
            "best - min_delta (then best = val_loss, wait = 0 and state['best_epoch'] = this epoch), else wait += 1; "
            "return (stop, new_state) with stop = wait >= patience. Compared: stop and state['best_epoch']. Pure: "
            "state is not modified (return a new dict).",
    reference=early_stopping_step,
    drive=_drive_es,
    public_cases=_es_public,
    hidden_cases=_es_hidden,
    guarded=resolve("lablib.mlp.EarlyStopping.update"),
    catalogue=(
        Mistake("stops one epoch late", "stop as soon as wait >= patience, i.e. after patience epochs without "
                "improvement (Keras' EarlyStopping)", _es_variant(late=True)),
        Mistake("wait not reset on improvement", "an improvement resets wait to 0: patience counts CONSECUTIVE "
                "epochs without improvement", _es_variant(keep_wait=True)),
        Mistake("min_delta ignored", "an improvement smaller than min_delta does not count: improve only when "
                "val_loss < best - min_delta", _es_variant(ignore_delta=True)),
        Mistake("min_delta with the wrong sign", "improve only when val_loss < best - min_delta (lower by more "
                "than min_delta), not best + min_delta", _es_variant(delta_sign=True)),
        Mistake("compared with the previous epoch", "compare val_loss with the BEST loss so far, not with the "
                "previous epoch's loss; update best only on an improvement", _es_variant(previous=True)),
        Mistake("best_epoch counted from 1", "epochs count from 0: the first call is epoch 0",
                _es_variant(from_one=True)),
        Mistake("a tie counted as an improvement", "an epoch improves only when val_loss < best - min_delta, "
                "strictly: a loss exactly at best - min_delta (or equal to best when min_delta = 0) is not "
                "progress; use <, not <=", _es_variant(non_strict=True)),
        Mistake("state updated in place", "the lab says: do not modify the state you were given, return a NEW "
                "dict (e.g. `return stop, {\"epoch\": epoch, \"best\": best, \"wait\": wait, "
                "\"best_epoch\": best_epoch}`)", _es_variant(in_place=True), modifies="state"),
    ),
    rtol=0.0, atol=0.0, tolerance="stop (0 or 1) and best_epoch are integers: compared exactly",
    edges=(
        Edge("bad epochs that improve on the previous epoch but not on the best", lambda c: not c.tie),
        Edge("rises within min_delta and improvements smaller than min_delta",
             lambda c: not c.tie and c.full["min_delta"] > 0),
        Edge("a loss exactly at best - min_delta (a tie: not an improvement)", lambda c: c.tie),
        Edge("min_delta = 0 with equal losses", lambda c: c.tie and c.full["min_delta"] == 0, hidden=False),
        Edge("patience 1", lambda c: c.full["patience"] == 1, hidden=False),
        Edge("default hyperparameters", lambda c: not c.hparams, hidden=False),
    ),
)

register(EARLY_STOPPING_STEP)
