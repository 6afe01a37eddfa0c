"""lab03, optimizers: minibatches and the step rules SGD+momentum, AdaGrad-Norm, RMSprop, Adam.

Each step rule works on one array x: ``new_x, new_state = rule(x, grad, state, lr, ...)`` with ``state = {}``
on the first call and then whatever the previous call returned (its keys are the student's choice: only x
is compared). A case runs several consecutive steps with a fixed sequence of gradients, the student's x and
state carried from step to step, and compares "x after step t".
"""
from __future__ import annotations

import numpy as np

from ... import data, optim
from ..engine import Case, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import hparams_label, other_shape

# ---------------------------------------------------------------------------------------------------------
# minibatches: rows visited in the order rng.permutation(n) (shuffle) or 0..n-1; last batch may be smaller


def _mb_case(rng, n, d, batch_size, seed, hidden=False):
    X = np.arange(n, dtype=float)[:, None] + np.arange(d) / 10.0  # row i starts with i: rows can be traced
    label = f"X of shape ({n}, {d}), batch_size={batch_size}, " + (
        "shuffle=False" if seed is None else f"rng=np.random.default_rng({'seed' if hidden else seed})")
    return Case(label=label, X=X, y=rng.integers(0, 10, size=n), batch_size=batch_size, seed=seed)


def _mb_public():
    rng = np.random.default_rng(5)
    return [_mb_case(rng, 10, 3, 3, 0), _mb_case(rng, 8, 2, 4, None), _mb_case(rng, 7, 3, 10, 1),
            _mb_case(rng, 12, 2, 5, 2)]


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


def _mb_variant(*, separate=False, drop_last=False, own_rng=False, never_shuffle=False):
    def mb(X, y, batch_size, rng=None, shuffle=True):
        n = len(X)
        if own_rng:
            rng = np.random.default_rng()
        order = rng.permutation(n) if shuffle and not never_shuffle else np.arange(n)
        order_y = rng.permutation(n) if shuffle and separate else order
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield X[order[start:start + batch_size]], y[order_y[start:start + batch_size]]
    return mb


def _call_mb(run, fn, c):
    kwargs = {"rng": np.random.default_rng(c.seed)} if c.seed is not None else {"shuffle": False}
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
    batches = _call_mb(run, fn, c)
    run.record("number of batches", len(batches))
    rows, labels = _rows(run, batches, c)
    run.record("batch sizes", np.array([len(np.asarray(item[0])) for item in batches]))
    n = len(c.X)
    run.require(np.array_equal(np.sort(rows), np.arange(n)), "rows visited",
                f"every row of X must appear exactly once per epoch; missing "
                f"{sorted(set(range(n)) - set(rows.tolist()))[:10]}, repeated "
                f"{sorted({int(r) for r in rows if (rows == r).sum() > 1})[:10]}")
    run.require(np.array_equal(labels, c.y[rows]), "y batches",
                "each y_batch must hold the labels of the rows in its X_batch (shuffle X and y with ONE "
                "permutation)", mistake="X and y shuffled separately")
    if c.seed is not None:
        again, _ = _rows(run, _call_mb(run, fn, c), c)
        run.require(np.array_equal(again, rows), "row order",
                    "two epochs with rng=np.random.default_rng(same seed) visited the rows in different orders",
                    mistake="rng ignored")
    run.record("row order (row indices in the order visited)", rows)


MINIBATCHES = Exercise(
    name="minibatches",
    lab="lab03",
    signature="def minibatches(X, y, batch_size, rng=None, shuffle=True):",
    summary="Generator of (X_batch, y_batch) pairs covering every row once: in the order order = "
            "rng.permutation(len(X)) (drawn once) when shuffle, else 0..n-1; the last batch may be smaller.",
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
    ),
)

# ---------------------------------------------------------------------------------------------------------
# Step rules on one array


def _steps_case(rng, shape, n_steps, lr, hparams, grad_scale=1.0):
    label = f"x of shape {shape}, {n_steps} steps, lr={lr:g}, {hparams_label(hparams)}"
    grads = [rng.normal(scale=grad_scale, size=shape) for _ in range(n_steps)]
    return Case(label=label, x0=rng.normal(size=shape), grads=grads, lr=lr, hparams=hparams)


def _steps_cases(public_hparams, hidden_hparams):
    """public: defaults, then non-default hyperparameters (a large eps, so that where eps sits shows)."""
    def public():
        rng = np.random.default_rng(6)
        return [_steps_case(rng, (3,), 3, 0.1, {}), _steps_case(rng, (2, 3), 4, 0.05, public_hparams),
                _steps_case(rng, (4,), 5, 0.01, {}, grad_scale=1e-3)]

    def hidden(rng):
        return [_steps_case(rng, other_shape(rng, (5,), (8,)), int(rng.integers(3, 7)),
                            float(rng.uniform(0.01, 0.2)), {}),
                _steps_case(rng, other_shape(rng, (3, 4), (4, 6)), int(rng.integers(3, 7)),
                            float(rng.uniform(0.01, 0.2)), hidden_hparams(rng))]
    return public, hidden


def _drive_steps(run, fn, c):
    x, state = c.x0, {}
    for t, g in enumerate(c.grads, 1):
        x, state = run.unpack(run.call(fn, x, g, state, c.lr, **c.hparams), 2,
                              f"the return value of step {t} (new_x, new_state)")
        run.record(f"x after step {t}", x)
        run.require(isinstance(state, dict), f"new_state after step {t}",
                    f"should be a dict (it is passed back in on the next call), got {type(state).__name__}")


def _stateful(update):
    """Turn update(x, g, state_dict, lr, **hp) -> new_x (mutating a copy of state) into a step rule."""
    def step(x, grad, state, lr, **hp):
        state = dict(state)
        return update(np.asarray(x, dtype=float), np.asarray(grad, dtype=float), state, lr, **hp), state
    return step


# -- SGD with momentum (torch form): g_t = momentum * g_{t-1} + grad, x <- x - lr * g_t

def sgd_momentum_step(x, grad, state, lr, momentum=0.9):
    return optim.sgd_step(x, grad, state, lr=lr, momentum=momentum)


def _momentum_variant(*, keras_wrong_sign=False, no_state=False, dampened=False, old_velocity=False):
    def update(x, g, s, lr, momentum=0.9):
        if keras_wrong_sign:
            s["v"] = momentum * s.get("v", 0.0) - lr * g
            return x - s["v"]
        prev = 0.0 if no_state else s.get("g", 0.0)
        s["g"] = momentum * prev + ((1 - momentum) * g if dampened else g)
        return x - lr * (prev if old_velocity else s["g"])
    return _stateful(update)


_sgd_cases = _steps_cases({"momentum": 0.5}, lambda r: {"momentum": float(r.uniform(0.3, 0.95))})

SGD_MOMENTUM_STEP = Exercise(
    name="sgd_momentum_step",
    lab="lab03",
    signature="def sgd_momentum_step(x, grad, state, lr, momentum=0.9):",
    summary="g_t = momentum * g_{t-1} + grad (g_0 = 0, kept in state), x <- x - lr * g_t; return (new_x, new_state).",
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
    ),
)

# -- AdaGrad-Norm (course): S_t = S_{t-1} + ||grad||^2, x <- x - lr / sqrt(eps + S_t) * grad

def adagrad_norm_step(x, grad, state, lr, eps=1e-8):
    return optim.adagrad_norm_step(x, grad, state, lr=lr, eps=eps)


def _adagrad_norm_variant(*, per_coordinate=False, norm_not_square=False, late=False, eps_outside=False):
    def update(x, g, s, lr, eps=1e-8):
        prev = s.get("S", 0.0)
        s["S"] = prev + (g**2 if per_coordinate else np.linalg.norm(g) if norm_not_square else np.sum(g**2))
        S = prev if late else s["S"]
        return x - lr * g / (np.sqrt(S) + eps if eps_outside else np.sqrt(eps + S))
    return _stateful(update)


_adagrad_norm_cases = _steps_cases({"eps": 0.5}, lambda r: {"eps": float(r.uniform(0.2, 1.0))})

ADAGRAD_NORM_STEP = Exercise(
    name="adagrad_norm_step",
    lab="lab03",
    signature="def adagrad_norm_step(x, grad, state, lr, eps=1e-8):",
    summary="S_t = S_{t-1} + ||grad||**2 (ONE number, S_0 = 0, kept in state), x <- x - lr / sqrt(eps + S_t) * grad; "
            "return (new_x, new_state).",
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
    ),
)

# -- RMSprop: s_t = rho s_{t-1} + (1 - rho) grad^2, x <- x - lr * grad / (sqrt(s_t) + eps)

def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):
    return optim.rmsprop_step(x, grad, state, lr=lr, rho=rho, eps=eps)


def _rmsprop_variant(*, no_one_minus=False, swapped=False, eps_inside=False, no_sqrt=False):
    def update(x, g, s, lr, rho=0.9, eps=1e-8):
        a, b = (1 - rho, rho) if swapped else (rho, 1.0 if no_one_minus else 1 - rho)
        s["s"] = a * s.get("s", 0.0) + b * g**2
        denom = s["s"] + eps if no_sqrt else np.sqrt(s["s"] + eps) if eps_inside else np.sqrt(s["s"]) + eps
        return x - lr * g / denom
    return _stateful(update)


_rmsprop_cases = _steps_cases({"rho": 0.8, "eps": 0.1},
                              lambda r: {"rho": float(r.uniform(0.5, 0.95)), "eps": float(r.uniform(0.05, 0.5))})

RMSPROP_STEP = Exercise(
    name="rmsprop_step",
    lab="lab03",
    signature="def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):",
    summary="s_t = rho * s_{t-1} + (1 - rho) * grad**2 (elementwise, s_0 = 0, kept in state), "
            "x <- x - lr * grad / (sqrt(s_t) + eps); return (new_x, new_state).",
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
    ),
)

# -- Adam (torch form)

def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    return optim.adam_step(x, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def _adam_variant(*, no_correction=False, late_t=False, t_fixed=False, v_not_squared=False, eps_inside=False):
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
        denom = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(np.abs(v_hat)) + eps
        return x - lr * m_hat / denom
    return _stateful(update)


_adam_cases = _steps_cases({"beta1": 0.8, "beta2": 0.9, "eps": 0.1},
                           lambda r: {"beta1": float(r.uniform(0.5, 0.9)), "beta2": float(r.uniform(0.8, 0.99)),
                                      "eps": float(r.uniform(0.05, 0.5))})

ADAM_STEP = Exercise(
    name="adam_step",
    lab="lab03",
    signature="def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):",
    summary="t += 1 (from 0); m = beta1 m + (1 - beta1) grad; v = beta2 v + (1 - beta2) grad**2; "
            "x <- x - lr * m_hat / (sqrt(v_hat) + eps), m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t); "
            "return (new_x, new_state).",
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
    ),
)

register(MINIBATCHES, SGD_MOMENTUM_STEP, ADAGRAD_NORM_STEP, RMSPROP_STEP, ADAM_STEP)
