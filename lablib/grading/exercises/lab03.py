"""lab03, optimizers: minibatches and the step rules SGD+momentum, AdaGrad-Norm, RMSprop, Adam.

Each step rule works on one array x: ``new_x, new_state = rule(x, grad, state, lr, ...)`` with ``state = {}``
on the first call and then whatever the previous call returned (its keys are the student's choice: only x
is compared). A case runs several consecutive steps with a fixed sequence of gradients, the student's x and
state carried from step to step, and compares "x after step t". The rules are pure: x, grad and state are left
unchanged (a new state dict is returned), and the new state shares no memory with x or grad.

Edge cases (``edges`` of each exercise, checked to be among its cases by the tests):
* minibatches: n divisible by batch_size and not (a smaller last batch), batch_size > n (one batch),
  shuffle=False, several seeds (another seed gives another order), two epochs with ONE generator (the second
  epoch draws a new order), labels that differ within every case.
* step rules: default and non-default hyperparameters (a large eps, so that where eps sits shows), gradients of
  1e-3 (eps matters), a first gradient of all zeros and a coordinate whose gradient is always 0 (0 / (0 + eps)
  must give 0, not nan), several consecutive calls with the state carried.
"""
from __future__ import annotations

import numpy as np

from ... import data, optim
from ..engine import Case, Edge, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import hparams_label, other_shape

# ---------------------------------------------------------------------------------------------------------
# minibatches: rows visited in the order rng.permutation(n) (shuffle) or 0..n-1; last batch may be smaller


def _mb_case(rng, n, d, batch_size, seed, hidden=False):
    X = np.arange(n, dtype=float)[:, None] + np.arange(d) / 10.0  # row i starts with i: rows can be traced
    label = f"X of shape ({n}, {d}), batch_size={batch_size}, " + (
        "shuffle=False" if seed is None else f"rng=np.random.default_rng({'seed' if hidden else seed}), two epochs")
    y = rng.permutation(np.resize(np.arange(10), n))  # labels differ within the case
    return Case(label=label, X=X, y=y, batch_size=batch_size, seed=seed)


def _mb_public():
    rng = np.random.default_rng(5)
    return [_mb_case(rng, 10, 3, 3, 0), _mb_case(rng, 8, 2, 4, None), _mb_case(rng, 7, 3, 10, 1),
            _mb_case(rng, 12, 2, 5, 2), _mb_case(rng, 12, 2, 4, 3)]


def _mb_hidden(rng):
    cases = []
    for seed in (int(rng.integers(10**6)), None, int(rng.integers(10**6))):
        n, bs = int(rng.integers(13, 41)), int(rng.integers(3, 10))
        if n % bs == 0:
            n += 1
        cases.append(_mb_case(rng, n, int(rng.integers(4, 7)), bs, seed, hidden=True))
    return cases


def minibatches(X, y, batch_size, rng=None, shuffle=True):
    return data.minibatches(X, y, batch_size, rng=rng, shuffle=shuffle)


def _mb_variant(*, separate=False, drop_last=False, own_rng=False, never_shuffle=False, fixed_seed=False,
                in_place=False):
    def mb(X, y, batch_size, rng=None, shuffle=True):
        n = len(X)
        if own_rng or fixed_seed:
            rng = np.random.default_rng(0 if fixed_seed else None)
        order = rng.permutation(n) if shuffle and not never_shuffle else np.arange(n)
        order_y = rng.permutation(n) if shuffle and separate else order
        if in_place:
            X[:], y[:] = X[order], y[order]
            order = order_y = np.arange(n)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield X[order[start:start + batch_size]], y[order_y[start:start + batch_size]]
    return mb


def _call_mb(run, fn, c, rng):
    kwargs = {"rng": rng} if c.seed is not None else {"shuffle": False}
    return run.call_iter(fn, c.X, c.y, c.batch_size, limit=len(c.X), **kwargs)


def _rows(run, batches, c):
    """(row indices, labels) in the order visited, after checking each item is an (X_batch, y_batch) pair."""
    rows, labels = [], []
    for k, item in enumerate(batches):
        Xb, yb = run.unpack(item, 2, f"batch {k} (should be a pair (X_batch, y_batch))")
        Xb, yb = np.asarray(Xb), np.asarray(yb)
        run.require(Xb.ndim == 2 and Xb.shape[1] == c.X.shape[1], f"X_batch of batch {k}",
                    f"should have shape (batch rows, {c.X.shape[1]}), got {Xb.shape}")
        run.require(yb.shape == (len(Xb),), f"y_batch of batch {k}",
                    f"should have shape ({len(Xb)},) like the rows of its X_batch, got {yb.shape}")
        rows.append(np.rint(Xb[:, 0]).astype(int))
        labels.append(yb)
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0, dtype=int))
    return cat(rows), cat(labels)


def _drive_mb(run, fn, c):
    rng = None if c.seed is None else np.random.default_rng(c.seed)
    batches = _call_mb(run, fn, c, rng)
    rows, labels = _rows(run, batches, c)
    n = len(c.X)
    rows_note = "" if np.array_equal(np.sort(rows), np.arange(n)) else (
        f"every row of X must appear exactly once per epoch; missing {sorted(set(range(n)) - set(rows.tolist()))[:10]}, "
        f"repeated {sorted({int(r) for r in rows if (rows == r).sum() > 1})[:10]}")
    order_note = second_note = ""
    if c.seed is not None:
        again, _ = _rows(run, _call_mb(run, fn, c, np.random.default_rng(c.seed)), c)
        run.require(np.array_equal(again, rows), "row order",
                    "two epochs with rng=np.random.default_rng(same seed) visited the rows in different orders: "
                    "draw the order from the rng argument only", mistake="rng ignored")
        if run.student:
            other, _ = _rows(run, _call_mb(run, fn, c, np.random.default_rng(c.seed + 1)), c)
            if np.array_equal(other, rows):
                order_note = ("rng=np.random.default_rng(another seed) visited the rows in the same order: the order "
                              "must come from the rng argument, order = rng.permutation(len(X))")
        second, _ = _rows(run, _call_mb(run, fn, c, rng), c)  # the same generator, passed on: the next epoch
        if np.array_equal(second, rows) and n > 1:
            second_note = ("the second epoch repeated the first one's order: draw order = rng.permutation(len(X)) "
                           "from the rng you are given at every call (the generator moves on)")
    run.record("number of batches", len(batches), note=rows_note)
    run.record("batch sizes", np.array([len(np.asarray(item[0])) for item in batches]), note=rows_note)
    run.record("row order (row indices in the order visited)", rows, note=rows_note or order_note)
    run.record("y batches (the labels in the order visited)", labels,
               note="" if np.array_equal(labels, c.y[rows]) else
               "each y_batch must hold the labels of the rows of its X_batch: index X and y with the same rows")
    if c.seed is not None:
        run.record("row order of the second epoch (the same rng passed on)", second, note=second_note)


MINIBATCHES = Exercise(
    name="minibatches",
    lab="lab03",
    signature="def minibatches(X, y, batch_size, rng=None, shuffle=True):",
    summary="Generator of (X_batch, y_batch) pairs covering every row once: in the order order = "
            "rng.permutation(len(X)) (drawn once per call) when shuffle, else 0..n-1; the last batch may be "
            "smaller. Pure: X and y are not modified (rng moves on).",
    reference=minibatches,
    drive=_drive_mb,
    public_cases=_mb_public,
    hidden_cases=_mb_hidden,
    guarded=resolve("lablib.data.minibatches", "lablib.data._batches"),
    catalogue=(
        Mistake("X and y shuffled separately", "draw ONE permutation and index both X and y with it, so that "
                "each label stays with its row", _mb_variant(separate=True)),
        Mistake("last batch dropped", "keep the last, smaller batch: every row appears once per epoch",
                _mb_variant(drop_last=True)),
        Mistake("rng ignored", "shuffle with the rng argument, order = rng.permutation(len(X)); np.random or a "
                "new unseeded Generator makes epochs unreproducible", _mb_variant(own_rng=True)),
        Mistake("never shuffles", "when shuffle is True visit the rows in the order rng.permutation(len(X))",
                _mb_variant(never_shuffle=True)),
        Mistake("fixed seed inside", "do not create a Generator with a fixed seed inside the function: every "
                "seed and every epoch would visit the rows in the same order; use the rng argument",
                _mb_variant(fixed_seed=True)),
        Mistake("data shuffled in place", "shuffling X and y themselves (rng.shuffle(X), X[:] = X[order]) "
                "reorders the caller's data set: index with the permutation instead, X[order[start:stop]]",
                _mb_variant(in_place=True), modifies="X"),
    ),
    rtol=0.0, atol=0.0, tolerance="row numbers, labels and counts are integers: compared exactly",
    edges=(
        Edge("n divisible by batch_size (no smaller batch)", lambda c: len(c.X) % c.batch_size == 0, hidden=False),
        Edge("a smaller last batch", lambda c: 0 < len(c.X) % c.batch_size and c.batch_size < len(c.X)),
        Edge("batch_size > n: one batch", lambda c: c.batch_size > len(c.X), hidden=False),
        Edge("shuffle=False", lambda c: c.seed is None),
        Edge("shuffled: the same seed twice, another seed, two epochs with one generator", lambda c: c.seed is not None),
        Edge("labels that differ within the case", lambda c: len(set(c.y.tolist())) > 1),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# Step rules on one array


def _steps_case(rng, shape, n_steps, lr, hparams, grad_scale=1.0, zeros=False):
    label = f"x of shape {shape}, {n_steps} steps, lr={lr:g}, {hparams_label(hparams)}"
    grads = [rng.normal(scale=grad_scale, size=shape) for _ in range(n_steps)]
    if zeros:  # 0 / (0 + eps) must be 0: a first gradient of zeros, and one coordinate always 0
        grads[0][...] = 0.0
        for g in grads:
            g.flat[0] = 0.0
        label += ", the first gradient all 0 and its first entry always 0"
    return Case(label=label, x0=rng.normal(size=shape), grads=grads, lr=lr, hparams=hparams, zeros=zeros,
                grad_scale=grad_scale)


def _steps_cases(public_hparams, hidden_hparams):
    """public: defaults, non-default hyperparameters (a large eps, so that where eps sits shows), small gradients,
    zero gradients; hidden: the same kinds with other shapes and values."""
    def public():
        rng = np.random.default_rng(6)
        return [_steps_case(rng, (3,), 3, 0.1, {}), _steps_case(rng, (2, 3), 4, 0.05, public_hparams),
                _steps_case(rng, (4,), 5, 0.01, {}, grad_scale=1e-3), _steps_case(rng, (3,), 4, 0.1, {}, zeros=True)]

    def hidden(rng):
        return [_steps_case(rng, other_shape(rng, (5,), (8,)), int(rng.integers(3, 7)),
                            float(rng.uniform(0.01, 0.2)), {}),
                _steps_case(rng, other_shape(rng, (3, 4), (4, 6)), int(rng.integers(3, 7)),
                            float(rng.uniform(0.01, 0.2)), hidden_hparams(rng)),
                _steps_case(rng, other_shape(rng, (5,), (8,)), int(rng.integers(3, 6)),
                            float(rng.uniform(0.01, 0.2)), {}, zeros=True)]
    return public, hidden


def _drive_steps(run, fn, c):
    x, state = c.x0, {}
    for t, g in enumerate(c.grads, 1):
        x, state = run.unpack(run.call(fn, x, g, state, c.lr, **c.hparams), 2,
                              f"the return value of step {t} (new_x, new_state)")
        run.record(f"x after step {t}", x)
        run.require(isinstance(state, dict), f"new_state after step {t}",
                    f"should be a dict (it is passed back in on the next call), got {type(state).__name__}")


def _stateful(update, *, state_in_place=False, x_in_place=False):
    """Turn update(x, g, state_dict, lr, **hp) -> new_x (writing into a copy of state) into a step rule; the
    flags give the in-place mistakes (the caller's state dict written into, x updated and returned)."""
    def step(x, grad, state, lr, **hp):
        state = state if state_in_place else dict(state)
        new_x = update(np.asarray(x, dtype=float), np.asarray(grad, dtype=float), state, lr, **hp)
        if x_in_place:
            x -= x - new_x
            return x, state
        return new_x, state
    return step


_STEP_EDGES = (
    Edge("default hyperparameters", lambda c: not c.hparams),
    Edge("non-default hyperparameters (where eps sits shows)", lambda c: bool(c.hparams)),
    Edge("gradients of size 1e-3 (eps matters)", lambda c: c.grad_scale < 0.01, hidden=False),
    Edge("a first gradient of zeros and a coordinate always 0 (0 / (0 + eps) = 0, not nan)", lambda c: c.zeros),
    Edge("three or more consecutive calls with the state carried", lambda c: len(c.grads) >= 3),
)
_STEP_FRESH = ("the caller may update `{p}` in place or reuse its array for the next step (lablib's optimizers and "
               "most training loops do), and your state would change with it: store a new array (e.g. "
               "`np.array({p})` or the result of an operation on it)")
_STEP_FRESH = {p: _STEP_FRESH.format(p=p) for p in ("x", "grad")}
_STEP_TOLERANCE = ("a few steps of a handful of operations: equivalent forms (Keras' velocity form of momentum, "
                   "Adam's lr_t rewriting, sums of squares in a loop) move x by a few ulps per step; x is O(1), so "
                   "rtol 1e-10 with atol 1e-13 for entries near 0. A large eps (0.1 to 0.5) in the non-default "
                   "cases makes eps inside or outside the root differ by far more")
_STATE_HINT = ("the state you were given belongs to the caller (it may keep it, e.g. to restart from it): return a "
               "NEW dict, e.g. `return new_x, {\"m\": m, \"v\": v}`, and never write into `state`")
_X_HINT = "`x -= ...` changes the caller's x: return a new array, e.g. `new_x = x - lr * g`"
# What the four step rules share: the contract's in-place mistakes, tolerance, edges, fresh arguments, names.
_STEP_RULE = dict(rtol=1e-10, atol=1e-13, tolerance=_STEP_TOLERANCE, edges=_STEP_EDGES, fresh=_STEP_FRESH,
                  returns=("new_x", "new_state"))


def _in_place_mistakes(variant):
    return (Mistake("x updated in place", _X_HINT, variant(x_in_place=True), modifies="x"),
            Mistake("state updated in place", _STATE_HINT, variant(state_in_place=True), modifies="state"))


# -- SGD with momentum (torch form): g_t = momentum * g_{t-1} + grad, x <- x - lr * g_t

def sgd_momentum_step(x, grad, state, lr, momentum=0.9):
    return optim.sgd_step(x, grad, state, lr=lr, momentum=momentum)


def _momentum_variant(*, keras_wrong_sign=False, no_state=False, dampened=False, old_velocity=False, **in_place):
    def update(x, g, s, lr, momentum=0.9):
        if keras_wrong_sign:
            s["v"] = momentum * s.get("v", 0.0) - lr * g
            return x - s["v"]
        prev = 0.0 if no_state else s.get("g", 0.0)
        s["g"] = momentum * prev + ((1 - momentum) * g if dampened else g)
        return x - lr * (prev if old_velocity else s["g"])
    return _stateful(update, **in_place)


def _momentum_keeps_grad(x, grad, state, lr, momentum=0.9):
    """Right numbers, but on the first step the velocity IS the caller's gradient array."""
    g = grad if "g" not in state else momentum * state["g"] + grad
    return x - lr * g, {"g": g}


_sgd_cases = _steps_cases({"momentum": 0.5}, lambda r: {"momentum": float(r.uniform(0.3, 0.95))})

SGD_MOMENTUM_STEP = Exercise(
    name="sgd_momentum_step",
    lab="lab03",
    signature="def sgd_momentum_step(x, grad, state, lr, momentum=0.9):",
    summary="g_t = momentum * g_{t-1} + grad (g_0 = 0, kept in state), x <- x - lr * g_t; return (new_x, new_state). "
            "Pure: x, grad and state are not modified.",
    reference=sgd_momentum_step,
    drive=_drive_steps,
    public_cases=_sgd_cases[0],
    hidden_cases=_sgd_cases[1],
    guarded=resolve("lablib.optim.sgd_step", "lablib.optim._sgd_update"),
    catalogue=(
        Mistake("momentum sign", "with the lab's g_t = momentum * g_{t-1} + grad the step is x - lr * g_t; "
                "(with Keras' v = momentum * v - lr * grad it would be x + v): x must move downhill",
                _momentum_variant(keras_wrong_sign=True)),
        Mistake("velocity not carried", "store g_t in state and read it back on the next call; starting "
                "from 0 each time is plain SGD", _momentum_variant(no_state=True)),
        Mistake("dampened momentum", "the course's momentum adds the full gradient: g_t = momentum * g_{t-1} "
                "+ grad, not + (1 - momentum) * grad", _momentum_variant(dampened=True)),
        Mistake("old velocity used", "update g_t first, then step with it: x - lr * g_t (not g_{t-1})",
                _momentum_variant(old_velocity=True)),
        Mistake("velocity is the gradient array", "on the first step `g = grad` keeps the caller's array as your "
                "velocity; store a copy, `g = np.array(grad)`, or compute it: `momentum * 0.0 + grad`",
                _momentum_keeps_grad, aliases="grad"),
        *_in_place_mistakes(_momentum_variant),
    ),
    **_STEP_RULE,
)

# -- AdaGrad-Norm (course): S_t = S_{t-1} + ||grad||^2, x <- x - lr / sqrt(eps + S_t) * grad

def adagrad_norm_step(x, grad, state, lr, eps=1e-8):
    return optim.adagrad_norm_step(x, grad, state, lr=lr, eps=eps)


def _adagrad_norm_variant(*, per_coordinate=False, norm_not_square=False, late=False, eps_outside=False,
                          **in_place):
    def update(x, g, s, lr, eps=1e-8):
        prev = s.get("S", 0.0)
        s["S"] = prev + (g**2 if per_coordinate else np.linalg.norm(g) if norm_not_square else np.sum(g**2))
        S = prev if late else s["S"]
        return x - lr * g / (np.sqrt(S) + eps if eps_outside else np.sqrt(eps + S))
    return _stateful(update, **in_place)


_adagrad_norm_cases = _steps_cases({"eps": 0.5}, lambda r: {"eps": float(r.uniform(0.2, 1.0))})

ADAGRAD_NORM_STEP = Exercise(
    name="adagrad_norm_step",
    lab="lab03",
    signature="def adagrad_norm_step(x, grad, state, lr, eps=1e-8):",
    summary="S_t = S_{t-1} + ||grad||**2 (ONE number, S_0 = 0, kept in state), x <- x - lr / sqrt(eps + S_t) * grad; "
            "return (new_x, new_state). Pure: x, grad and state are not modified.",
    reference=adagrad_norm_step,
    drive=_drive_steps,
    public_cases=_adagrad_norm_cases[0],
    hidden_cases=_adagrad_norm_cases[1],
    guarded=resolve("lablib.optim.adagrad_norm_step", "lablib.optim._adagrad_norm_update",
                    "lablib.optim.adagrad_step", "lablib.optim._adagrad_update"),
    catalogue=(
        Mistake("per-coordinate accumulator", "AdaGrad-Norm keeps ONE scalar S = sum of squared gradient "
                "NORMS; a per-coordinate accumulator is Adagrad", _adagrad_norm_variant(per_coordinate=True)),
        Mistake("norm instead of squared norm", "accumulate ||grad||**2 (the sum of squares), not ||grad||",
                _adagrad_norm_variant(norm_not_square=True)),
        Mistake("accumulator updated after the step", "add ||grad||**2 to S BEFORE using it: the step uses S_t, "
                "which includes the current gradient", _adagrad_norm_variant(late=True)),
        Mistake("eps outside the square root", "the course's formula is lr / sqrt(eps + S_t): eps inside the root",
                _adagrad_norm_variant(eps_outside=True)),
        *_in_place_mistakes(_adagrad_norm_variant),
    ),
    **_STEP_RULE,
)

# -- RMSprop: s_t = rho s_{t-1} + (1 - rho) grad^2, x <- x - lr * grad / (sqrt(s_t) + eps)

def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):
    return optim.rmsprop_step(x, grad, state, lr=lr, rho=rho, eps=eps)


def _rmsprop_variant(*, no_one_minus=False, swapped=False, eps_inside=False, no_sqrt=False, no_eps=False,
                     **in_place):
    def update(x, g, s, lr, rho=0.9, eps=1e-8):
        a, b = (1 - rho, rho) if swapped else (rho, 1.0 if no_one_minus else 1 - rho)
        s["s"] = a * s.get("s", 0.0) + b * g**2
        eps = 0.0 if no_eps else eps
        denom = s["s"] + eps if no_sqrt else np.sqrt(s["s"] + eps) if eps_inside else np.sqrt(s["s"]) + eps
        return x - lr * g / denom
    return _stateful(update, **in_place)


_rmsprop_cases = _steps_cases({"rho": 0.8, "eps": 0.1},
                              lambda r: {"rho": float(r.uniform(0.5, 0.95)), "eps": float(r.uniform(0.05, 0.5))})

RMSPROP_STEP = Exercise(
    name="rmsprop_step",
    lab="lab03",
    signature="def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):",
    summary="s_t = rho * s_{t-1} + (1 - rho) * grad**2 (elementwise, s_0 = 0, kept in state), "
            "x <- x - lr * grad / (sqrt(s_t) + eps); return (new_x, new_state). Pure: x, grad and state are not "
            "modified.",
    reference=rmsprop_step,
    drive=_drive_steps,
    public_cases=_rmsprop_cases[0],
    hidden_cases=_rmsprop_cases[1],
    guarded=resolve("lablib.optim.rmsprop_step", "lablib.optim._rmsprop_update"),
    catalogue=(
        Mistake("(1 - rho) missing", "s_t = rho * s_{t-1} + (1 - rho) * grad**2: the new term is weighted by "
                "(1 - rho)", _rmsprop_variant(no_one_minus=True)),
        Mistake("rho and 1 - rho swapped", "rho weights the OLD average: s_t = rho * s_{t-1} + (1 - rho) * grad**2",
                _rmsprop_variant(swapped=True)),
        Mistake("eps inside the square root", "this lab (like PyTorch) adds eps AFTER the root: sqrt(s_t) + eps "
                "(Keras puts it inside)", _rmsprop_variant(eps_inside=True)),
        Mistake("square root missing", "divide by sqrt(s_t) + eps, the root of the mean square",
                _rmsprop_variant(no_sqrt=True)),
        Mistake("eps left out", "add eps to the denominator, sqrt(s_t) + eps: a coordinate whose gradients are all "
                "0 gives 0 / 0 = nan without it", _rmsprop_variant(no_eps=True)),
        *_in_place_mistakes(_rmsprop_variant),
    ),
    **_STEP_RULE,
)

# -- Adam (torch form)

def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return optim.adam_step(x, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def _adam_variant(*, no_correction=False, late_t=False, t_fixed=False, v_not_squared=False, eps_inside=False,
                  no_eps=False, **in_place):
    def update(x, g, s, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        t = s.get("t", 0)
        if not late_t:
            t += 1
        s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
        s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * (g if v_not_squared else g**2)
        tc = 1 if t_fixed else t
        m_hat = s["m"] if no_correction else s["m"] / (1 - beta1**tc)
        v_hat = s["v"] if no_correction else s["v"] / (1 - beta2**tc)
        s["t"] = t + 1 if late_t else t
        eps = 0.0 if no_eps else eps
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(np.abs(v_hat)) + eps
        return x - lr * m_hat / denom
    return _stateful(update, **in_place)


_adam_cases = _steps_cases({"beta1": 0.8, "beta2": 0.9, "eps": 0.1},
                           lambda r: {"beta1": float(r.uniform(0.5, 0.9)), "beta2": float(r.uniform(0.8, 0.99)),
                                      "eps": float(r.uniform(0.05, 0.5))})

ADAM_STEP = Exercise(
    name="adam_step",
    lab="lab03",
    signature="def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):",
    summary="t += 1 (from 0); m = beta1 m + (1 - beta1) grad; v = beta2 v + (1 - beta2) grad**2; "
            "x <- x - lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t); "
            "return (new_x, new_state). Pure: x, grad and state are not modified.",
    reference=adam_step,
    drive=_drive_steps,
    public_cases=_adam_cases[0],
    hidden_cases=_adam_cases[1],
    guarded=resolve("lablib.optim.adam_step", "lablib.optim._adam_update"),
    catalogue=(
        Mistake("bias correction missing", "divide by the bias corrections: m_hat = m / (1 - beta1**t), "
                "v_hat = v / (1 - beta2**t)", _adam_variant(no_correction=True)),
        Mistake("step counter incremented late", "increment t BEFORE using it, so the first step has t = 1 "
                "(with t = 0, 1 - beta1**0 = 0 and the step divides by zero)", _adam_variant(late_t=True)),
        Mistake("step counter not kept", "store t in state and increase it on every call; the bias corrections "
                "use the number of steps taken so far", _adam_variant(t_fixed=True)),
        Mistake("v without the square", "v averages the SQUARED gradient: (1 - beta2) * grad**2",
                _adam_variant(v_not_squared=True)),
        Mistake("eps inside the square root", "this lab (like PyTorch) adds eps after the root: "
                "sqrt(v_hat) + eps", _adam_variant(eps_inside=True)),
        Mistake("eps left out", "add eps to the denominator, sqrt(v_hat) + eps: a coordinate whose gradients are "
                "all 0 gives 0 / 0 = nan without it", _adam_variant(no_eps=True)),
        *_in_place_mistakes(_adam_variant),
    ),
    **_STEP_RULE,
)

register(MINIBATCHES, SGD_MOMENTUM_STEP, ADAGRAD_NORM_STEP, RMSPROP_STEP, ADAM_STEP)
