"""lab05, training issues: activations and their derivatives, batch normalization (course/Keras convention) and
gradient clipping.

Mutation contracts: every function is pure (its arguments are left unchanged) except batchnorm_forward, which
updates `state` only; the backward passes leave dout unchanged (their cache is the student's own).

Edge cases (``edges`` of each exercise, checked to be among its cases by the tests):
* activations: a number, arrays (1-D, 2-D), negative and positive entries at least 0.05 away from 0 (where
  exp(x) - 1 and expm1(x) agree to 5e-15), x = 0 exactly (the kink: a derivative takes its LEFT value) with the
  default AND a non-default alpha (elu'(0) = alpha is 1 at the default: only another alpha tells x >= 0 apart).
* batchnorm_forward: train and test mode, non-default momentum and eps, features of scales 0.01 to 3 (eps
  matters), one row in test mode (train mode needs N >= 2: the variance of one row is 0).
* batchnorm_backward: train and test mode; its input comes from the student's own forward, which must give a
  usable (out, cache); when that forward's out differs from the lab's, the gradients are judged against ITS
  x_hat and 1/sqrt(var + eps) (read off its out), so that one mistake costs points once.
* clipping: gradients below and above the limit, entries exactly at ±clip_value, zeros, an all-zero gradient
  (norm 0: must stay 0, not nan), 2-D arrays (the L2 norm over all entries, not the spectral norm), one array
  and several arrays of different shapes in a list.
"""
from __future__ import annotations

import numpy as np

from ... import clip, nn
from ..engine import Case, Edge, Exercise, Mistake, register, same
from ..tripwire import resolve
from ._common import has_entry, hparams_label, nonzero, other_shape, rounded_constants, shape_of

# ---------------------------------------------------------------------------------------------------------
# Batch normalization, x (N, D); momentum = weight of the OLD running value (Keras), biased variance


def _bn_case(rng, n, d, train, hparams):
    # Feature scales from 0.01 to 3, so that eps = 1e-3 matters for the small ones.
    x = rng.normal(size=(n, d)) * np.geomspace(0.01, 3.0, d) + rng.normal(size=d)
    label = f"x of shape ({n}, {d}), train={train}, {hparams_label(hparams)}"
    return Case(label=label, x=x, gamma=rng.uniform(0.5, 2.0, size=d), beta=rng.normal(size=d),
                running_mean=rng.normal(scale=0.5, size=d), running_var=rng.uniform(0.5, 2.0, size=d),
                train=train, hparams=hparams, dout=rng.normal(size=(n, d)))


def _bn_public():
    rng = np.random.default_rng(7)
    return [_bn_case(rng, 6, 3, True, {}), _bn_case(rng, 4, 2, True, {"momentum": 0.9, "eps": 1e-5}),
            _bn_case(rng, 3, 4, False, {}), _bn_case(rng, 1, 3, False, {})]


def _bn_hidden(rng):
    shape = lambda: other_shape(rng, (7, 5), (12, 6))  # noqa: E731
    return [_bn_case(rng, *shape(), True, {}),
            _bn_case(rng, *shape(), True,
                     {"momentum": float(rng.uniform(0.5, 0.95)), "eps": float(10 ** rng.uniform(-4, -2))}),
            _bn_case(rng, *shape(), False, {}), _bn_case(rng, 1, int(rng.integers(4, 7)), False, {})]


def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
    return nn.batchnorm_forward(x, gamma, beta, state, train=train, momentum=momentum, eps=eps)


def batchnorm_backward(dout, cache):
    return nn.batchnorm_backward(dout, cache)


def _bn_variant(*, ddof=0, eps_outside=False, swap_momentum=False, test_batch=False, unbiased_running=False,
                rebinds_state=False, x_in_place=False):
    """Independent forward with lablib's cache layout (x_hat, gamma, inv_std, train); flags = mistakes."""
    def forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
        if train or test_batch:
            mean, var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
        else:
            mean, var = state["running_mean"], state["running_var"]
        inv_std = 1.0 / (np.sqrt(var) + eps) if eps_outside else 1.0 / np.sqrt(var + eps)
        if x_in_place:
            x -= mean
            x *= inv_std
            x_hat = x
        else:
            x_hat = (x - mean) * inv_std
        if train:
            running_var_sample = var * len(x) / (len(x) - 1) if unbiased_running else var
            keep, new = (1 - momentum, momentum) if swap_momentum else (momentum, 1 - momentum)
            updated = {"running_mean": keep * state["running_mean"] + new * mean,
                       "running_var": keep * state["running_var"] + new * running_var_sample}
            if rebinds_state:
                state = updated  # a new dict: the caller's state never changes
            else:
                state.update(updated)
        return gamma * x_hat + beta, (x_hat, gamma, inv_std, train)
    return forward


def _drive_bn_forward(run, fn, c):
    state = {"running_mean": c.running_mean, "running_var": c.running_var}
    out, _ = run.unpack(run.call(fn, c.x, c.gamma, c.beta, state, c.train, **c.hparams), 2,
                        "the return value (out, cache)")
    run.record("out", out)
    for key in ("running_mean", "running_var"):
        run.require(key in state, f"state[{key!r}]", "missing: update the entries of the state dict you were "
                    "given (state['running_mean'] = ...)")
        run.record(f"state[{key!r}] after the call" + ("" if c.train else " (test mode must not change it)"),
                   state[key])


_BN_EDGES = (
    Edge("train mode (batch statistics, running averages updated)", lambda c: c.train),
    Edge("test mode (running statistics, state unchanged)", lambda c: not c.train),
    Edge("non-default momentum and eps", lambda c: bool(c.hparams)),
    Edge("one row (test mode: train mode needs N >= 2)", lambda c: len(c.x) == 1),
    Edge("features of scales 0.01 to 3 (eps matters for the small ones)",
         lambda c: len(c.x) >= 3 and c.x.std(axis=0).max() > 10 * c.x.std(axis=0).min()),
)
_BN_TOLERANCE = ("the batch variance written as mean(x**2) - mean(x)**2 instead of mean((x - mu)**2) loses "
                 "eps·mean**2/var ≈ 1e-12 relative on the 0.01-scale features, and the backward's reductions "
                 "over N rows a few ulps more: rtol 1e-10, atol 1e-12 for entries near 0. eps outside the root or "
                 "ddof=1 change the results by 1e-4 or more")
_BN_GUARDS = resolve("lablib.nn.batchnorm_forward", "lablib.nn.batchnorm._batchnorm_forward",
                     "lablib.nn.batchnorm_backward", "lablib.nn.batchnorm._batchnorm_backward")

BATCHNORM_FORWARD = Exercise(
    name="batchnorm_forward",
    lab="lab05",
    signature="def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):",
    summary="x (N, D). Train: x_hat = (x - mu) / sqrt(var + eps) with the batch mean and BIASED batch variance, "
            "and state['running_mean'/'running_var'] = momentum * old + (1 - momentum) * batch value; test: the "
            "running statistics instead. Return (gamma * x_hat + beta, cache). Updates state only (x, gamma, beta "
            "unchanged).",
    reference=batchnorm_forward,
    drive=_drive_bn_forward,
    public_cases=_bn_public,
    hidden_cases=_bn_hidden,
    guarded=_BN_GUARDS,
    catalogue=(
        Mistake("ddof=1 batch variance", "normalise with the BIASED batch variance mean((x - mu)**2), i.e. "
                "x.var(axis=0) with the default ddof=0", _bn_variant(ddof=1)),
        Mistake("eps outside the square root", "x_hat = (x - mu) / sqrt(var + eps): eps goes inside the root",
                _bn_variant(eps_outside=True)),
        Mistake("momentum weights swapped", "momentum weights the OLD running value: running = momentum * "
                "running + (1 - momentum) * batch value", _bn_variant(swap_momentum=True)),
        Mistake("batch statistics at test time", "in test mode (train=False) normalise with "
                "state['running_mean'] and state['running_var'], not the batch's", _bn_variant(test_batch=True)),
        Mistake("unbiased running variance", "the course (and Keras) use the biased batch variance in the "
                "running average too; N / (N - 1) is PyTorch's convention", _bn_variant(unbiased_running=True)),
        Mistake("state not updated", "write the new running statistics INTO the state dict you were given "
                "(state['running_mean'] = ...); rebinding `state = {...}` inside the function is lost",
                _bn_variant(rebinds_state=True)),
        Mistake("x normalised in place", "`x -= mean; x /= std` changes the caller's batch (lab 5's gradient check "
                "then perturbs a batch that is no longer x): compute `x_hat = (x - mean) / np.sqrt(var + eps)`",
                _bn_variant(x_in_place=True), modifies="x"),
    ),
    contract="updates `state` only (x, gamma and beta are left unchanged)",
    may_modify=("state",),
    rtol=1e-10, atol=1e-12, tolerance=_BN_TOLERANCE, edges=_BN_EDGES,
)


def _bn_grads(c, out):
    """(dx, dgamma, dbeta) by the lab's formulas for the forward pass that gave ``out``: its x_hat is
    (out - beta) / gamma and its 1/sqrt(var + eps) the per-feature slope of x_hat against x (least squares; for
    one row in test mode, x_hat / (x - running_mean), the lab's centring). None if out is not of that form."""
    x_hat = (np.asarray(out, dtype=float) - c.beta) / c.gamma
    if len(c.x) >= 2:
        centred = c.x - c.x.mean(axis=0)
        spread = (centred**2).sum(axis=0)
        if np.any(spread == 0):
            return None
        slope = (centred * (x_hat - x_hat.mean(axis=0))).sum(axis=0) / spread
        if not np.allclose(x_hat.mean(axis=0) + slope * centred, x_hat, rtol=1e-9, atol=1e-9):
            return None
    elif not c.train and np.all(c.x != c.running_mean):
        slope = (x_hat / (c.x - c.running_mean))[0]
    else:
        return None
    if not np.all(np.isfinite(slope) & (slope > 0)):
        return None
    g = c.dout
    if c.train:
        dx = c.gamma * slope * (g - g.mean(axis=0) - x_hat * (g * x_hat).mean(axis=0))
    else:
        dx = c.gamma * slope * g
    return {"dx": dx, "dgamma": (g * x_hat).sum(axis=0), "dbeta": g.sum(axis=0)}


def _drive_bn_backward(run, fn, c):
    state = {"running_mean": c.running_mean, "running_var": c.running_var}
    out, cache = run.forward("batchnorm_forward", c.x, c.gamma, c.beta, state, c.train, shape=c.x.shape)
    dx, dgamma, dbeta = run.unpack(run.call(fn, c.dout, cache), 3, "the return value (dx, dgamma, dbeta)")
    expected, note = {}, ""
    if run.student:
        lab_out, _ = batchnorm_forward(c.x, c.gamma, c.beta, {"running_mean": c.running_mean.copy(),
                                                              "running_var": c.running_var.copy()}, c.train)
        if not same(out, lab_out, BATCHNORM_BACKWARD.rtol, BATCHNORM_BACKWARD.atol):
            expected = _bn_grads(c, out)
            run.require(expected is not None, "batchnorm_forward's out",
                        "is not gamma * x_hat + beta with x_hat an affine function of x per feature, so your "
                        "backward cannot be judged on this case: fix `batchnorm_forward` first (see its check)")
            note = ("judged against YOUR batchnorm_forward's x_hat and 1/sqrt(var + eps) (read off its out, which "
                    "differs from the lab's: see its check)")
    run.record("dbeta", dbeta, expected=expected.get("dbeta"), note=note)
    run.record("dgamma", dgamma, expected=expected.get("dgamma"), note=note)
    run.record("dx", dx, expected=expected.get("dx"), note=note)


def _bn_backward_variant(*, constant_stats=False, no_gamma=False, dgamma_axis=0, dbeta_mean=False, in_place=False):
    def backward(dout, cache):
        x_hat, gamma, inv_std, train = cache
        dbeta = dout.mean(axis=0) if dbeta_mean else dout.sum(axis=0)
        dgamma = (dout * x_hat).sum(axis=dgamma_axis)
        if in_place:  # the right numbers, but the caller's dout is scaled by gamma / std on the way
            dout *= gamma * inv_std
            if train:
                return dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0), dgamma, dbeta
            return dout, dgamma, dbeta
        g = 1.0 if no_gamma else gamma
        if train and not constant_stats:
            dx = g * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))
        else:
            dx = g * inv_std * dout
        return dx, dgamma, dbeta
    return backward


BATCHNORM_BACKWARD = Exercise(
    name="batchnorm_backward",
    lab="lab05",
    signature="def batchnorm_backward(dout, cache):",
    summary="Return (dx, dgamma, dbeta): dbeta = sum_n dout, dgamma = sum_n dout * x_hat; train mode dx = gamma / "
            "sqrt(var + eps) * (dout - mean_n dout - x_hat * mean_n(dout * x_hat)); test mode dx = gamma / "
            "sqrt(running_var + eps) * dout. Leaves dout unchanged.",
    reference=batchnorm_backward,
    drive=_drive_bn_backward,
    public_cases=_bn_public,
    hidden_cases=_bn_hidden,
    guarded=_BN_GUARDS,
    partners={"batchnorm_forward": batchnorm_forward},
    catalogue=(
        Mistake("mean and variance treated as constants", "in train mode mu and var depend on x: dx = gamma / "
                "sqrt(var + eps) * (dout - mean(dout) - x_hat * mean(dout * x_hat))",
                _bn_backward_variant(constant_stats=True)),
        Mistake("gamma missing in dx", "out = gamma * x_hat + beta, so dx carries the factor gamma",
                _bn_backward_variant(no_gamma=True)),
        Mistake("dgamma over the wrong axis", "gamma has one entry per FEATURE: dgamma = (dout * x_hat).sum(axis=0)",
                _bn_backward_variant(dgamma_axis=1)),
        Mistake("dbeta averaged", "beta is added to every row: dbeta = dout.sum(axis=0), not the mean",
                _bn_backward_variant(dbeta_mean=True)),
        Mistake("dout scaled in place", "`dout *= gamma * inv_std` changes the caller's gradient (the layer above "
                "may still need it): compute `g = dout * gamma * inv_std`", _bn_backward_variant(in_place=True),
                modifies="dout"),
    ),
    contract="leaves `dout` unchanged; only its own `cache` is its to change",
    may_modify=("cache",),
    rtol=1e-10, atol=1e-12, tolerance=_BN_TOLERANCE,
    edges=(
        Edge("train mode (through the batch mean and variance)", lambda c: c.train),
        Edge("test mode (running statistics are constants)", lambda c: not c.train),
        Edge("non-default momentum and eps in the forward pass", lambda c: bool(c.hparams)),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# Clipping

_CLIP_GUARDS = resolve("lablib.clip.clip_by_value", "lablib.clip.clip_by_norm", "lablib.clip.clip_by_global_norm")


def _clip_case(g, limit_name, limit):
    shape = f"g = np.array({g.tolist()})" if g.size <= 5 else f"g of shape {g.shape}"
    return Case(label=f"{shape}, {limit_name}={limit:g}", g=g, limit=limit)


def _clip_public(limit_name):
    def public():
        rng = np.random.default_rng(8)
        return [_clip_case(np.array([0.9, 100.0]), limit_name, 1.0),
                _clip_case(rng.normal(scale=2.0, size=5), limit_name, 1.0),
                _clip_case(rng.normal(scale=0.1, size=(2, 3)), limit_name, 0.5),
                _clip_case(rng.normal(scale=3.0, size=(3, 2)), limit_name, 2.0),
                _clip_case(np.array([-1.5, -1.0, 0.0, 1.0, 0.25]), limit_name, 1.0),  # entries AT ±1, a zero
                _clip_case(np.zeros((2, 2)), limit_name, 1.0)]                       # norm 0
    return public


def _clip_hidden(limit_name):
    def hidden(rng):
        def case(scale, low, high, limit_low, limit_high):
            g = rng.normal(scale=scale, size=other_shape(rng, low, high))
            return _clip_case(g, limit_name, float(rng.uniform(limit_low, limit_high)))
        at_limit = rng.normal(scale=2.0, size=int(rng.integers(6, 10)))
        limit = float(rng.uniform(0.5, 1.5))
        at_limit[:3] = (-limit, limit, 0.0)
        # large, small (below the limit: unchanged by clip_by_norm) and medium gradients; entries at the limit
        return [case(3.0, (6,), (9,), 0.5, 2), case(0.05, (3, 4), (4, 6), 1, 2), case(2.0, (4, 3), (5, 4), 0.5, 3),
                _clip_case(at_limit, limit_name, limit), _clip_case(np.zeros(other_shape(rng, (3,), (6,))),
                                                                    limit_name, float(rng.uniform(0.5, 2)))]
    return hidden


def _drive_clip(run, fn, c):
    run.record("clipped g", run.call(fn, c.g, c.limit))


def clip_by_value(g, clip_value):
    return clip.clip_by_value(g, clip_value)


def clip_by_norm(g, max_norm):
    return clip.clip_by_norm(g, max_norm)


def _clip_value_in_place(g, c):
    np.clip(g, -c, c, out=g)
    return g


def _clip_norm_in_place(g, c):
    norm = np.sqrt(np.sum(g * g))
    if norm > c:
        g *= c / norm
    return g


def _norm(g):
    return np.sqrt(np.sum(np.square(g)))


_CLIP_EDGES = (
    Edge("below the limit", lambda c: np.all(np.abs(c.g) <= c.limit) and np.any(c.g != 0)),
    Edge("above the limit", lambda c: np.any(np.abs(c.g) > c.limit)),
    Edge("entries exactly at -limit and +limit, and a zero", lambda c: has_entry(c, "g", lambda a: a == c.limit)
         and has_entry(c, "g", lambda a: a == -c.limit) and has_entry(c, "g", lambda a: a == 0)),
    Edge("an all-zero gradient (norm 0)", lambda c: np.all(c.g == 0)),
    Edge("2-D arrays (every entry, not rows)", lambda c: c.g.ndim == 2),
)

CLIP_BY_VALUE = Exercise(
    name="clip_by_value",
    lab="lab05",
    signature="def clip_by_value(g, clip_value):",
    summary="Clip every entry of the array g into [-clip_value, clip_value] (the direction may change). Pure: g is "
            "not modified.",
    reference=clip_by_value,
    drive=_drive_clip,
    public_cases=_clip_public("clip_value"),
    hidden_cases=_clip_hidden("clip_value"),
    guarded=_CLIP_GUARDS,
    catalogue=(
        Mistake("upper side only", "clip BOTH sides: entries below -clip_value become -clip_value",
                lambda g, c: np.minimum(g, c)),
        Mistake("clipped into [0, clip_value]", "the interval is [-clip_value, clip_value]; negative entries "
                "stay negative", lambda g, c: np.clip(g, 0.0, c)),
        Mistake("rescaled by the norm", "clip_by_value clips each entry separately; rescaling g to norm "
                "clip_value is clip_by_norm", lambda g, c: g * c / max(_norm(g), c)),
        Mistake("g clipped in place", "`np.clip(g, ..., out=g)` or `g[g > c] = c` changes the caller's gradient: "
                "return a new array, `np.clip(g, -clip_value, clip_value)`", _clip_value_in_place, modifies="g"),
    ),
    rtol=0.0, atol=0.0, tolerance="clipping selects each entry or ±clip_value, with no arithmetic: exact",
    edges=_CLIP_EDGES,
)

CLIP_BY_NORM = Exercise(
    name="clip_by_norm",
    lab="lab05",
    signature="def clip_by_norm(g, max_norm):",
    summary="g * max_norm / max(||g||, max_norm) with ||g|| the L2 norm over all entries: g unchanged if its norm "
            "is at most max_norm, else rescaled to norm max_norm (same direction). Pure: g is not modified.",
    reference=clip_by_norm,
    drive=_drive_clip,
    public_cases=_clip_public("max_norm"),
    hidden_cases=_clip_hidden("max_norm"),
    guarded=_CLIP_GUARDS,
    catalogue=(
        Mistake("always rescaled", "only rescale when ||g|| > max_norm; a smaller gradient is left unchanged",
                lambda g, c: g * c / _norm(g)),
        Mistake("clipped entry by entry", "clip_by_norm keeps the direction: rescale the whole array by "
                "max_norm / ||g||, do not clip entries", lambda g, c: np.clip(g, -c, c)),
        Mistake("L1 norm", "use the L2 norm sqrt(sum(g**2)) over all entries, not the sum of |g|",
                lambda g, c: g * c / max(np.sum(np.abs(g)), c)),
        Mistake("PyTorch's + 1e-6", "the lab's formula is g * max_norm / max(||g||, max_norm), with no + 1e-6 "
                "(PyTorch's clip_grad_norm_ divides by ||g|| + 1e-6)",
                lambda g, c: g * (c / (_norm(g) + 1e-6)) if _norm(g) > c else g * 1.0),
        Mistake("spectral norm of a matrix", "np.linalg.norm(g, 2) of a 2-D array is its largest singular value: "
                "use the norm over ALL entries, np.linalg.norm(g) or np.sqrt(np.sum(g**2))",
                lambda g, c: g * c / max(np.linalg.norm(g, 2), c)),
        Mistake("g rescaled in place", "`g *= max_norm / norm` changes the caller's gradient: return a new array, "
                "`g * (max_norm / norm)`", _clip_norm_in_place, modifies="g"),
    ),
    rtol=1e-12, atol=0.0,
    tolerance="one norm (a sum of squares and a root) and one scale factor: a few ulps however it is written; "
              "entries that are 0 stay exactly 0, hence no atol. PyTorch's max_norm / (||g|| + 1e-6) is 1e-7 off",
    edges=_CLIP_EDGES,
)


def _global_case(tensors, max_norm):
    shapes = ", ".join(str(t.shape) for t in tensors)
    return Case(label=f"grads = list of arrays of shapes {shapes}, max_norm={max_norm:g}", grads=tensors,
                max_norm=max_norm)


def _global_public():
    rng = np.random.default_rng(9)
    return [_global_case([rng.normal(size=3), rng.normal(size=(2, 2))], 1.0),
            _global_case([rng.normal(scale=0.1, size=2), rng.normal(scale=0.1, size=3)], 1.0),
            _global_case([rng.normal(scale=3, size=4), rng.normal(scale=0.5, size=1), rng.normal(size=(2, 3))], 2.0),
            _global_case([rng.normal(scale=2, size=(3, 2))], 1.5),
            _global_case([np.zeros(3), np.zeros((2, 2))], 1.0)]


def _global_hidden(rng):
    def tensors(k, scale):
        shapes = [other_shape(rng, (5,), (8,)) if i % 2 else other_shape(rng, (3, 4), (4, 5)) for i in range(k)]
        return [rng.normal(scale=scale, size=shape) for shape in shapes]
    return [_global_case(tensors(int(rng.integers(2, 5)), 2.0), float(rng.uniform(0.5, 2))),
            _global_case(tensors(2, 0.01), float(rng.uniform(1, 2))),
            _global_case(tensors(1, 2.0), float(rng.uniform(0.5, 2))),
            _global_case([np.zeros(s) for s in (other_shape(rng, (2,), (5,)), other_shape(rng, (2, 2), (3, 3)))],
                         float(rng.uniform(0.5, 2)))]


def clip_by_global_norm(grads, max_norm):
    clipped, norm = clip.clip_by_global_norm(list(grads), max_norm)
    return clipped, norm


def _global_variant(*, per_tensor=False, sum_of_norms=False, norm_after=False, always=False, torch_eps=False,
                    in_place=False):
    def clip_global(grads, max_norm):
        norms = [np.sqrt(np.sum(g**2)) for g in grads]
        total = sum(norms) if sum_of_norms else np.sqrt(sum(n**2 for n in norms))
        if per_tensor:
            clipped = [g * max_norm / max(n, max_norm) for g, n in zip(grads, norms)]
        elif torch_eps:
            clipped = [g * (max_norm / (total + 1e-6)) if total > max_norm else g * 1.0 for g in grads]
        else:
            clipped = [g * max_norm / (total if always else max(total, max_norm)) for g in grads]
        if in_place:
            for g, new in zip(grads, clipped):
                g[...] = new
            clipped = grads
        return clipped, (min(total, max_norm) if norm_after else total)
    return clip_global


def _drive_global(run, fn, c):
    clipped, norm = run.unpack(run.call(fn, c.grads, c.max_norm), 2, "the return value (clipped, global_norm)")
    run.record("global_norm", norm)
    k = len(c.grads)
    run.require(isinstance(clipped, (list, tuple)) and len(clipped) == k, "clipped",
                f"should be a list of {k} arrays (one per gradient), got "
                f"{type(clipped).__name__}" + (f" of length {len(clipped)}" if hasattr(clipped, '__len__') else ""))
    for i in range(k):
        run.record(f"clipped[{i}]", clipped[i])


def _global_norm(c):
    return np.sqrt(sum(np.sum(g**2) for g in c.grads))


CLIP_BY_GLOBAL_NORM = Exercise(
    name="clip_by_global_norm",
    lab="lab05",
    signature="def clip_by_global_norm(grads, max_norm):",
    summary="N = sqrt(sum over the arrays of sum(g**2)); multiply EVERY array by max_norm / max(N, max_norm); "
            "return (list of clipped arrays, N) with N the norm before clipping. Pure: the list grads and its "
            "arrays are not modified.",
    reference=clip_by_global_norm,
    drive=_drive_global,
    public_cases=_global_public,
    hidden_cases=_global_hidden,
    guarded=_CLIP_GUARDS,
    catalogue=(
        Mistake("clipping per tensor instead of global", "compute ONE global norm over all arrays and scale "
                "them all by the same factor; clipping each array by its own norm changes the direction",
                _global_variant(per_tensor=True)),
        Mistake("sum of the norms", "the global norm is sqrt(sum of ||g_i||**2), not the sum of the ||g_i||",
                _global_variant(sum_of_norms=True)),
        Mistake("norm after clipping returned", "return the global norm BEFORE clipping (useful to monitor "
                "exploding gradients)", _global_variant(norm_after=True)),
        Mistake("always rescaled", "only rescale when N > max_norm; smaller gradients stay unchanged",
                _global_variant(always=True)),
        Mistake("PyTorch's + 1e-6", "the lab's factor is max_norm / max(N, max_norm), with no + 1e-6 (PyTorch's "
                "clip_grad_norm_ divides by N + 1e-6)", _global_variant(torch_eps=True)),
        Mistake("arrays clipped in place", "`g *= scale` (or g[...] = ...) changes the caller's gradient arrays: "
                "return new ones, `[g * scale for g in grads]`", _global_variant(in_place=True), modifies="grads"),
    ),
    rtol=1e-12, atol=0.0,
    tolerance="one global norm and one factor: a few ulps however the sums are ordered; zero entries stay exactly "
              "0 (no atol). PyTorch's max_norm / (N + 1e-6) is 1e-7 off",
    edges=(
        Edge("one array in the list", lambda c: len(c.grads) == 1),
        Edge("several arrays of different shapes (1-D and 2-D)", lambda c: len({g.shape for g in c.grads}) > 1),
        Edge("N below max_norm (unchanged) and above it (rescaled)", lambda c: _global_norm(c) < c.max_norm),
        Edge("N above max_norm", lambda c: _global_norm(c) > c.max_norm),
        Edge("all zeros (N = 0: stay 0, not nan)", lambda c: _global_norm(c) == 0),
    ),
)

register(BATCHNORM_FORWARD, BATCHNORM_BACKWARD, CLIP_BY_VALUE, CLIP_BY_NORM, CLIP_BY_GLOBAL_NORM)

# ---------------------------------------------------------------------------------------------------------
# Activations and their derivatives, elementwise (lablib.nn.activations' conventions). x = 0 appears in one array
# case with the default hyperparameters and (for the alpha families) in one with a non-default alpha, public and
# hidden: there a derivative takes its LEFT value, as torch autograd does. Every other entry is at least 0.05 away
# from 0, where exp(x) - 1 and expm1(x) agree to 5e-15.

_ACT_PUBLIC_X = [-1.5, 0.75, np.array([-3.0, -0.5, 0.0, 0.2, 2.0])]


def _act_case(x, hparams):
    return Case(label=shape_of("x", x) + (f", {hparams_label(hparams)}" if hparams else ""), x=x, hparams=hparams)


def _act_public(alpha):
    def public():
        rng = np.random.default_rng(11)
        cases = [_act_case(x, {}) for x in _ACT_PUBLIC_X] + [_act_case(nonzero(rng, (3, 4), 0.05, 4.0), {})]
        if alpha is not None:
            cases.append(_act_case(nonzero(rng, (2, 3), 0.05, 4.0), {"alpha": alpha}))
            cases.append(_act_case(np.array([-2.0, -0.25, 0.0, 1.5]), {"alpha": alpha}))
        return cases
    return public


def _with_zero(rng, avoid):
    x = nonzero(rng, other_shape(rng, (6,), (9,), avoid), 0.05, 4.0)
    x[rng.integers(len(x))] = 0.0
    return x


def _act_hidden(alpha_range):
    def hidden(rng):
        avoid = {np.shape(x) for x in _ACT_PUBLIC_X} | {(3, 4), (2, 3), (4,)}
        cases = [_act_case(float(rng.uniform(-4, -0.1)), {}), _act_case(float(rng.uniform(0.1, 4)), {}),
                 _act_case(_with_zero(rng, avoid), {})]
        if alpha_range:
            alpha = lambda: {"alpha": float(rng.uniform(*alpha_range))}  # noqa: E731
            cases.append(_act_case(_with_zero(rng, avoid), alpha()))
            cases.append(_act_case(nonzero(rng, other_shape(rng, (3, 4), (5, 6), avoid), 0.05, 4.0), alpha()))
        else:
            cases.append(_act_case(nonzero(rng, other_shape(rng, (3, 4), (5, 6), avoid), 0.05, 4.0), {}))
        return cases
    return hidden


def _drive_activation(quantity):
    def drive(run, fn, c):
        run.record(quantity, run.call(fn, c.x, **c.hparams))
    return drive


def _act_guards(*families):
    names = []
    for f in families:
        for suffix in ("", "_derivative", "_forward", "_backward"):
            names += [f"lablib.nn.activations.{f}{suffix}", f"lablib.nn.activations._{f}{suffix}"]
    return resolve(*names)


def _zero_in(c):
    return np.ndim(c.x) > 0 and bool(np.any(np.asarray(c.x) == 0))


def _activation_edges(alpha):
    edges = [Edge("a number (the answer is a number)", lambda c: np.ndim(c.x) == 0),
             Edge("1-D and 2-D arrays", lambda c: np.ndim(c.x) == 2),
             Edge("negative and positive entries, at least 0.05 away from 0",
                  lambda c: has_entry(c, "x", lambda a: a <= -0.05) and has_entry(c, "x", lambda a: a >= 0.05)),
             Edge("x = 0 exactly with the default hyperparameters (the kink)", lambda c: _zero_in(c) and not c.hparams)]
    if alpha:
        edges += [Edge("x = 0 with a non-default alpha (elu'(0) = alpha = 1 by default hides x >= 0)",
                       lambda c: _zero_in(c) and bool(c.hparams)),
                  Edge("a non-default alpha", lambda c: bool(c.hparams))]
    return tuple(edges)


def _activation(name, signature, summary, reference, catalogue, guards, in_place, alpha=None, alpha_range=None):
    quantity = f"{name}(x)" if alpha is None else f"{name}(x, alpha)"
    overwrite = Mistake("x overwritten in place", "assigning into x (`x[x < 0] = ...`) changes the caller's array: "
                        "build a new one, e.g. with np.where(x > 0, ..., ...)", _overwrites(in_place), modifies="x")
    return Exercise(name=name, lab="lab05", signature=signature, summary=summary + " Pure: x is not modified.",
                    reference=reference, drive=_drive_activation(quantity), public_cases=_act_public(alpha),
                    hidden_cases=_act_hidden(alpha_range), guarded=guards, catalogue=(*catalogue, overwrite),
                    rtol=1e-12, atol=0.0,
                    tolerance="an elementwise formula of one or two operations (an exp at most): exact to a few ulps; "
                              "every x is 0 or at least 0.05 from 0, where exp(x) - 1 and expm1(x) agree to 5e-15. "
                              "Relative only (atol 0): 0 and the left values at the kink are exact",
                    edges=_activation_edges(alpha))


def _overwrites(formula):
    """The mistake "x overwritten in place": the right values (``formula``, numpy only), written into x."""
    def impl(x, **hp):
        out = formula(np.asarray(x, dtype=float), **hp)
        if isinstance(x, np.ndarray):
            x[...] = out
            return x
        return float(out)
    return impl


def _neg(x, f):
    """f(min(x, 0)): exp only of non-positive numbers (no overflow warnings in the mistakes)."""
    return f(np.minimum(x, 0.0))


def _pos(x):
    return np.asarray(x) > 0


# The references: lablib's own elementwise functions (a number gives a float, an array an array).
relu, relu_derivative = nn.relu, nn.relu_derivative
leaky_relu, leaky_relu_derivative = nn.leaky_relu, nn.leaky_relu_derivative
elu, elu_derivative = nn.elu, nn.elu_derivative
selu, selu_derivative = nn.selu, nn.selu_derivative


_L, _A = nn.SELU_LAMBDA, nn.SELU_ALPHA
_AT_ZERO = "At x = 0 return the LEFT-hand value, as torch autograd does: "


def _selu_with(lam, alpha):
    return lambda x: lam * np.where(_pos(x), x, alpha * _neg(x, np.expm1))


def _selu_derivative_with(lam, alpha):
    return lambda x: np.where(_pos(x), lam, lam * alpha * _neg(x, np.exp))


_SELU_CONSTANTS = {"lambda": _L, "alpha": _A}
_ROUNDED_HINT = (f"use the exact constants SELU_LAMBDA = {_L!r} and SELU_ALPHA = {_A!r} (imported in the setup cell): "
                 "a rounded constant is off by 1e-5 to 1e-12 relative, and the check compares to 1e-12")

ACTIVATION_EXERCISES = (
    _activation(
        "relu", "def relu(x):", "relu(x) = max(x, 0), elementwise (a number for a number, an array of the same shape "
        "for an array).", relu,
        (Mistake("minimum instead of maximum", "relu keeps the POSITIVE part: max(x, 0)", lambda x: np.minimum(x, 0.0)),
         Mistake("derivative instead of relu", "relu(x) is x for x > 0 (not 1) and 0 otherwise",
                 lambda x: _pos(x) * 1.0),
         Mistake("absolute value", "negative inputs give 0, not |x|", lambda x: np.abs(x))),
        _act_guards("relu"), lambda x: np.where(x > 0, x, 0.0)),
    _activation(
        "relu_derivative", "def relu_derivative(x):", "relu'(x) = 1 where x > 0, else 0, as floats, elementwise. "
        + _AT_ZERO + "relu'(0) = 0.", relu_derivative,
        (Mistake("1 at x = 0", "the lab's convention (torch's) is relu'(0) = 0: use x > 0, not x >= 0",
                 lambda x: (np.asarray(x) >= 0) * 1.0),
         Mistake("relu instead of its derivative", "the derivative is 1 for x > 0 (a slope), not x",
                 lambda x: np.maximum(x, 0.0)),
         Mistake("step reversed", "the slope is 1 on the POSITIVE side and 0 on the negative side",
                 lambda x: (np.asarray(x) < 0) * 1.0)),
        _act_guards("relu"), lambda x: np.where(x > 0, 1.0, 0.0)),
    _activation(
        "leaky_relu", "def leaky_relu(x, alpha=0.01):", "leaky_relu(x) = x where x > 0, else alpha * x, elementwise.",
        leaky_relu,
        (Mistake("alpha applied to the positive side", "multiply the NEGATIVE inputs by alpha; positive ones pass "
                 "unchanged", lambda x, alpha=0.01: np.where(_pos(x), alpha * x, x)),
         Mistake("alpha ignored", "negative inputs give alpha * x, not 0 (that is relu)",
                 lambda x, alpha=0.01: np.maximum(x, 0.0)),
         Mistake("alpha instead of alpha * x", "the negative side is the line alpha * x, not the constant alpha",
                 lambda x, alpha=0.01: np.where(_pos(x), x, alpha))),
        _act_guards("leaky_relu"), lambda x, alpha=0.01: np.where(x > 0, x, alpha * x), alpha=0.2,
        alpha_range=(0.05, 0.3)),
    _activation(
        "leaky_relu_derivative", "def leaky_relu_derivative(x, alpha=0.01):", "leaky_relu'(x) = 1 where x > 0, else "
        "alpha, elementwise. " + _AT_ZERO + "leaky_relu'(0) = alpha.", leaky_relu_derivative,
        (Mistake("1 at x = 0", "the lab's convention (torch's) is leaky_relu'(0) = alpha: use x > 0, not x >= 0",
                 lambda x, alpha=0.01: np.where(np.asarray(x) >= 0, 1.0, alpha)),
         Mistake("alpha applied to the positive side", "the slope is 1 for x > 0 and alpha for x < 0",
                 lambda x, alpha=0.01: np.where(_pos(x), alpha, 1.0)),
         Mistake("alpha * x instead of alpha", "the derivative of alpha * x is the constant alpha",
                 lambda x, alpha=0.01: np.where(_pos(x), 1.0, alpha * np.asarray(x))),
         Mistake("alpha ignored", "the slope on the negative side is alpha, not 0 (that is relu')",
                 lambda x, alpha=0.01: _pos(x) * 1.0)),
        _act_guards("leaky_relu"), lambda x, alpha=0.01: np.where(x > 0, 1.0, alpha), alpha=0.2,
        alpha_range=(0.05, 0.3)),
    _activation(
        "elu", "def elu(x, alpha=1.0):", "elu(x) = x where x > 0, else alpha * (exp(x) - 1), elementwise.", elu,
        (Mistake("alpha applied to the positive side", "positive inputs pass unchanged; alpha multiplies "
                 "exp(x) - 1 on the negative side",
                 lambda x, alpha=1.0: np.where(_pos(x), alpha * np.asarray(x), _neg(x, np.expm1))),
         Mistake("- 1 missing", "the negative side is alpha * (exp(x) - 1), which tends to -alpha",
                 lambda x, alpha=1.0: np.where(_pos(x), x, alpha * _neg(x, np.exp))),
         Mistake("alpha missing", "multiply exp(x) - 1 by alpha",
                 lambda x, alpha=1.0: np.where(_pos(x), x, _neg(x, np.expm1)))),
        _act_guards("elu"), lambda x, alpha=1.0: np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))), alpha=0.5,
        alpha_range=(0.2, 0.7)),
    _activation(
        "elu_derivative", "def elu_derivative(x, alpha=1.0):", "elu'(x) = 1 where x > 0, else alpha * exp(x), "
        "elementwise. " + _AT_ZERO + "elu'(0) = alpha.", elu_derivative,
        (Mistake("alpha * exp(x) - 1", "d/dx alpha * (exp(x) - 1) = alpha * exp(x): the constant disappears",
                 lambda x, alpha=1.0: np.where(_pos(x), 1.0, alpha * _neg(x, np.exp) - 1)),
         Mistake("alpha missing", "the negative side of the derivative is alpha * exp(x)",
                 lambda x, alpha=1.0: np.where(_pos(x), 1.0, _neg(x, np.exp))),
         Mistake("elu instead of its derivative", "for x > 0 the slope is 1 (not x); for x < 0 it is alpha * exp(x)",
                 lambda x, alpha=1.0: np.where(_pos(x), x, alpha * _neg(x, np.expm1))),
         Mistake("alpha applied to the positive side", "the slope for x > 0 is 1, not alpha",
                 lambda x, alpha=1.0: np.where(_pos(x), alpha, alpha * _neg(x, np.exp))),
         Mistake("1 at x = 0", "the lab's convention (torch's) is elu'(0) = alpha, the left value: use x > 0, not "
                 "x >= 0 (with the default alpha = 1 both give 1)",
                 lambda x, alpha=1.0: np.where(np.asarray(x) >= 0, 1.0, alpha * _neg(x, np.exp)))),
        _act_guards("elu"), lambda x, alpha=1.0: np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0))), alpha=0.5,
        alpha_range=(0.2, 0.7)),
    _activation(
        "selu", "def selu(x):", f"selu(x) = lambda * (x where x > 0, else alpha * (exp(x) - 1)) with the exact "
        f"constants lambda = {_L!r}, alpha = {_A!r}, elementwise.", selu,
        (Mistake("rounded constants", _ROUNDED_HINT, _selu_with(1.0507, 1.67326),
                 variants=rounded_constants(_selu_with, _SELU_CONSTANTS, digits=range(2, 13))),
         Mistake("lambda missing on the positive side", "lambda multiplies BOTH sides: lambda * x for x > 0",
                 lambda x: np.where(_pos(x), x, _L * _A * _neg(x, np.expm1))),
         Mistake("alpha missing", "the negative side is lambda * alpha * (exp(x) - 1)",
                 lambda x: _L * np.where(_pos(x), x, _neg(x, np.expm1)))),
        _act_guards("selu", "elu"), lambda x: _L * np.where(x > 0, x, _A * np.expm1(np.minimum(x, 0.0)))),
    _activation(
        "selu_derivative", "def selu_derivative(x):", "selu'(x) = lambda where x > 0, else lambda * alpha * exp(x) "
        f"(lambda = {_L!r}, alpha = {_A!r}), elementwise. " + _AT_ZERO + "selu'(0) = lambda * alpha.",
        selu_derivative,
        (Mistake("rounded constants", _ROUNDED_HINT, _selu_derivative_with(1.0507, 1.67326),
                 variants=rounded_constants(_selu_derivative_with, _SELU_CONSTANTS, digits=range(2, 13))),
         Mistake("lambda missing on the positive side", "the slope for x > 0 is lambda, not 1",
                 lambda x: np.where(_pos(x), 1.0, _L * _A * _neg(x, np.exp))),
         Mistake("lambda at x = 0", "the lab's convention (torch's) takes the left value at 0: selu'(0) = lambda * "
                 "alpha; use x > 0, not x >= 0", lambda x: np.where(np.asarray(x) >= 0, _L, _L * _A * _neg(x, np.exp))),
         Mistake("- 1 kept in the derivative", "d/dx lambda * alpha * (exp(x) - 1) = lambda * alpha * exp(x)",
                 lambda x: np.where(_pos(x), _L, _L * _A * _neg(x, np.expm1)))),
        _act_guards("selu", "elu"), lambda x: np.where(x > 0, _L, _L * _A * np.exp(np.minimum(x, 0.0)))),
)

register(*ACTIVATION_EXERCISES)
