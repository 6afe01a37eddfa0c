"""lab06, regularization: inverted dropout, checked by properties (the mask is random, so not unique).

Forward, train mode: dropped entries exactly 0, kept entries exactly x / (1 - rate), the fraction kept within
5 binomial standard deviations of 1 - rate, the same mask for two calls with equal seeds (the rng passed in is
used) and different masks for different seeds. Identity at test time and for rate = 0. Backward: dout * mask /
(1 - rate) with the mask of the student's own forward pass (read off its output: kept = out != 0; x has no
zeros), dout itself when the forward was the identity.
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ..engine import Case, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import nonzero, other_shape


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
    if not np.allclose(ratio, scale, rtol=1e-9, atol=0):
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
                mistake="fixed seed inside")


def _dropout_variant(*, no_scale=False, keep_rate=False, at_test=False, own_rng=False, fixed_seed=False):
    def forward(x, rate, train, rng):
        if not (train or at_test) or rate == 0:
            return x, None
        if own_rng or fixed_seed:
            rng = np.random.default_rng(0 if fixed_seed else None)
        u = rng.random(x.shape)
        mask = u < rate if keep_rate else u >= rate
        scale = 1.0 if no_scale else 1.0 / (1.0 - rate)
        return x * mask * scale, (mask, scale)
    return forward


_DROPOUT_GUARDS = resolve("lablib.nn.dropout_forward", "lablib.nn.dropout._dropout_forward",
                          "lablib.nn.dropout_backward", "lablib.nn.dropout._dropout_backward")

DROPOUT_FORWARD = Exercise(
    name="dropout_forward",
    lab="lab06",
    signature="def dropout_forward(x, rate, train, rng):",
    summary="Inverted dropout: in train mode drop each entry with probability rate (mask drawn with the rng "
            "argument) and scale the kept ones by 1 / (1 - rate); identity when train is False or rate == 0. "
            "Return (out, cache).",
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
        Mistake("fixed seed inside", "do not create a Generator with a fixed seed inside the function: every "
                "call would drop the same entries; use the rng argument", _dropout_variant(fixed_seed=True)),
    ),
)


def _drive_dropout_backward(run, fn, c):
    forward = run.partner("dropout_forward")
    out, cache = _forward(run, forward, c, c.seed)
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
        return {"no_scale": dout * mask, "no_mask": dout * scale, "over_rate": dout * mask / rate}[kind]
    return backward


DROPOUT_BACKWARD = Exercise(
    name="dropout_backward",
    lab="lab06",
    signature="def dropout_backward(dout, cache):",
    summary="dx = dout * mask / (1 - rate) with the mask your dropout_forward stored in cache; dx = dout when the "
            "forward pass was the identity (test mode or rate == 0).",
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
    ),
)

register(DROPOUT_FORWARD, DROPOUT_BACKWARD)
