"""lablib.grading, exercise by exercise: every reference, another correct solution and every catalogued
mistake, not-implemented and wrong-arity stubs, students calling lablib's own reference, hidden cases.

Each student solution below is a notebook cell (source code run in a fresh namespace, as a kernel would): loops
instead of vectorised code, other names, other cache layouts, prints and harmless warnings. Expected verdicts
come from the exercise statements (the lab formulas), not from the engine's output.
"""
import dataclasses
import importlib
import inspect
import re
import textwrap
import warnings

import numpy as np
import pytest

from lablib.grading import DEFAULT_HIDDEN_SEED, EXERCISES, CheckFailure, check
from lablib.grading.engine import plain_run
from lablib.grading.exercises import lab05, lab06

NAMES = sorted(EXERCISES)
CORRECT = {
    "f": """
def f(x):
    print("computing f at", x)
    return x * x
""",
    "df": """
def df(x):
    warnings.warn("df: just a friendly note", UserWarning)
    return x + x
""",
    "gradient_descent": """
def gradient_descent(grad, x0, lr, n_steps, tol=None):
    xs = [np.array(x0, dtype=float)]
    for step in range(n_steps):       # no divergence test: inf/nan are carried on (numpy warns)
        g = grad(xs[-1])
        if tol is not None and np.sqrt(np.sum(np.square(g))) < tol:
            break
        xs.append(xs[-1] - lr * g)
    return np.array(xs)
""",
    "dg_dx": """
def dg_dx(x):
    u = 3 * x ** 3 + 2                      # inner function
    return 2 * u * (9 * x * x)              # outer derivative at u, times the inner derivative
""",
    "forward_222": """
import math
def forward_222(w):
    i = [0.05, 0.10]
    sig = lambda z: 1 / (1 + math.exp(-z))
    hidden = [sig(w["w1"] * i[0] + w["w2"] * i[1] + w["b1"]), sig(w["w3"] * i[0] + w["w4"] * i[1] + w["b1"])]
    outs = [sig(w[a] * hidden[0] + w[b] * hidden[1] + w["b2"]) for a, b in (("w5", "w6"), ("w7", "w8"))]
    return {"out_h1": hidden[0], "out_h2": hidden[1], "out_o1": outs[0], "out_o2": outs[1], "extra": 1}
""",
    "gradients_222": """
import math
def gradients_222(w):
    i1, i2, t = 0.05, 0.10, (0.01, 0.99)
    sig = lambda z: 1 / (1 + math.exp(-z))
    h = [sig(w["w1"] * i1 + w["w2"] * i2 + w["b1"]), sig(w["w3"] * i1 + w["w4"] * i2 + w["b1"])]
    o = [sig(w["w5"] * h[0] + w["w6"] * h[1] + w["b2"]), sig(w["w7"] * h[0] + w["w8"] * h[1] + w["b2"])]
    delta_out = [(o[k] - t[k]) * o[k] * (1 - o[k]) for k in range(2)]
    W_out = [[w["w5"], w["w6"]], [w["w7"], w["w8"]]]          # W_out[k][j]: from hidden j to output k
    delta_hid = [sum(delta_out[k] * W_out[k][j] for k in range(2)) * h[j] * (1 - h[j]) for j in range(2)]
    grads = {}
    for k, names in enumerate((("w5", "w6"), ("w7", "w8"))):
        for j, name in enumerate(names):
            grads[name] = delta_out[k] * h[j]
    for j, names in enumerate((("w1", "w2"), ("w3", "w4"))):
        for m, name in enumerate(names):
            grads[name] = delta_hid[j] * (i1, i2)[m]
    return grads
""",
    "dense_forward": """
def dense_forward(x, W, b):
    out = np.einsum("nd,dm->nm", x, W) + b[None, :]
    return out, {"inputs": x, "weights": W}
""",
    "dense_backward": """
def dense_forward(x, W, b):
    out = np.einsum("nd,dm->nm", x, W) + b[None, :]
    return out, {"inputs": x, "weights": W}

def dense_backward(dout, cache):
    x, W = cache["inputs"], cache["weights"]
    db = np.zeros(dout.shape[1])
    for row in dout:
        db += row
    return np.dot(dout, W.T), np.dot(x.T, dout), db
""",
    "softmax_cross_entropy": """
def softmax_cross_entropy(logits, y):
    n = logits.shape[0]
    m = logits.max(axis=1)
    lse = m + np.log(np.sum(np.exp(logits - m[:, None]), axis=1))
    loss = np.mean(lse - logits[np.arange(n), y])
    dlogits = np.exp(logits - lse[:, None])
    for row, label in enumerate(y):
        dlogits[row, label] -= 1
    return loss, dlogits / n
""",
    "numerical_gradient": """
def numerical_gradient(f, x, h=1e-5):
    grad = np.empty(x.shape)
    for index in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad
""",
    "minibatches": """
def minibatches(X, y, batch_size, rng=None, shuffle=True):
    idx = rng.permutation(len(X)) if shuffle else np.arange(len(X))
    return [(X[idx[s:s + batch_size]], y[idx[s:s + batch_size]]) for s in range(0, len(X), batch_size)]
""",
    "sgd_momentum_step": """
def sgd_momentum_step(x, grad, state, lr, momentum=0.9):
    # Keras form: v = momentum * v - lr * grad, x + v (the same as the lab's for a constant lr)
    v = momentum * state.get("velocity", np.zeros_like(x)) - lr * grad
    return x + v, {"velocity": v}
""",
    "adagrad_norm_step": """
def adagrad_norm_step(x, grad, state, lr, eps=1e-8):
    total = state.get("S", 0.0)
    for g in np.ravel(grad):
        total += g * g
    return x - lr * grad / np.sqrt(eps + total), {"S": total}
""",
    "rmsprop_step": """
def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):
    avg = rho * state["avg"] + (1 - rho) * grad ** 2 if state else (1 - rho) * grad ** 2
    return x - lr * grad / (np.sqrt(avg) + eps), {"avg": avg}
""",
    "adam_step": """
def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.get("step", 0) + 1
    m = beta1 * state.get("m", 0) + (1 - beta1) * grad
    v = beta2 * state.get("v", 0) + (1 - beta2) * grad * grad
    lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)        # Keras' rewriting, torch's eps
    new_x = x - lr_t * m / (np.sqrt(v) + eps * np.sqrt(1 - beta2 ** t))
    return new_x, {"step": t, "m": m, "v": v}
""",
    "batchnorm_forward": """
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
    n, d = x.shape
    if train:
        mu = np.array([x[:, j].sum() / n for j in range(d)])
        var = np.array([((x[:, j] - mu[j]) ** 2).sum() / n for j in range(d)])
        state["running_mean"] = momentum * state["running_mean"] + (1 - momentum) * mu
        state["running_var"] = momentum * state["running_var"] + (1 - momentum) * var
    else:
        mu, var = state["running_mean"], state["running_var"]
    std = np.sqrt(var + eps)
    xn = (x - mu) / std
    return gamma * xn + beta, {"xn": xn, "std": std, "gamma": gamma, "train": train}
""",
    "batchnorm_backward": """
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
    mu, var = (x.mean(0), x.var(0)) if train else (state["running_mean"], state["running_var"])
    if train:
        state["running_mean"] = momentum * state["running_mean"] + (1 - momentum) * mu
        state["running_var"] = momentum * state["running_var"] + (1 - momentum) * var
    std = np.sqrt(var + eps)
    xn = (x - mu) / std
    return gamma * xn + beta, {"xn": xn, "std": std, "gamma": gamma, "train": train}

def batchnorm_backward(dout, cache):
    xn, std, gamma, train = cache["xn"], cache["std"], cache["gamma"], cache["train"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dxn = dout * gamma
    if not train:
        return dxn / std, dgamma, dbeta
    n = dout.shape[0]    # the CS231n simplification, written differently
    dx = (n * dxn - dxn.sum(axis=0) - xn * (dxn * xn).sum(axis=0)) / (n * std)
    return dx, dgamma, dbeta
""",
    "clip_by_value": """
def clip_by_value(g, clip_value):
    return np.minimum(np.maximum(g, -clip_value), clip_value)
""",
    "clip_by_norm": """
def clip_by_norm(g, max_norm):
    norm = np.sqrt(np.sum(g ** 2))
    if norm > max_norm:
        return g * (max_norm / norm)
    return g.copy()
""",
    "clip_by_global_norm": """
def clip_by_global_norm(grads, max_norm):
    total = 0.0
    for g in grads:
        total += np.sum(g ** 2)
    norm = np.sqrt(total)
    factor = 1.0 if norm <= max_norm else max_norm / norm
    return [g * factor for g in grads], norm
""",
    "dropout_forward": """
def dropout_forward(x, rate, train, rng):
    if not train:
        return x.copy(), {"mask": None}
    keep = rng.uniform(size=x.shape) < 1 - rate      # another valid convention for the mask
    return np.where(keep, x / (1 - rate), 0.0), {"mask": keep, "p": rate}
""",
    "dropout_backward": """
def dropout_forward(x, rate, train, rng):
    if not train:
        return x.copy(), {"mask": None}
    keep = rng.uniform(size=x.shape) < 1 - rate
    return np.where(keep, x / (1 - rate), 0.0), {"mask": keep, "p": rate}

def dropout_backward(dout, cache):
    if cache["mask"] is None:
        return dout.copy()
    return np.where(cache["mask"], dout / (1 - cache["p"]), 0.0)
""",
    "power_schedule": """
def power_schedule(t, lr0, s, c=1.0):
    return lr0 * np.power(s / (s + np.asarray(t, dtype=float)), c)
""",
    "exponential_schedule": """
import math
def exponential_schedule(t, lr0, s):
    return lr0 * np.exp(-math.log(10) * np.asarray(t) / s)
""",
    "plateau_step": """
def plateau_step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):
    best = state.get("best", float("inf"))
    bad = state.get("bad", 0)
    if best - metric > min_delta:
        return lr, {"best": metric, "bad": 0}
    bad += 1
    if bad >= patience:
        return lr * factor, {"best": best, "bad": 0}
    return lr, {"best": best, "bad": bad}
""",
    "relu": """
def relu(x):
    return x * (x > 0)
""",
    "relu_derivative": """
def relu_derivative(x):
    return np.heaviside(x, 0.0)       # H(0) = 0: the left value
""",
    "leaky_relu": """
def leaky_relu(x, alpha=0.01):
    return np.maximum(x, alpha * x)   # alpha < 1
""",
    "leaky_relu_derivative": """
def leaky_relu_derivative(x, alpha=0.01):
    x = np.asarray(x, dtype=float)
    d = np.full(x.shape, alpha)
    d[x > 0] = 1.0
    return d if d.ndim else float(d)
""",
    "elu": """
import math
def elu(x, alpha=1.0):
    if np.ndim(x) == 0:
        return x if x > 0 else alpha * (math.exp(x) - 1)
    return np.array([elu(v, alpha) for v in np.ravel(x)]).reshape(np.shape(x))
""",
    "elu_derivative": """
def elu_derivative(x, alpha=1.0):
    negative = np.minimum(x, 0)
    return np.where(x > 0, 1.0, alpha * np.exp(negative))
""",
    "selu": """
LAMBDA, ALPHA = 1.0507009873554804934, 1.6732632423543772848   # Klambauer et al. (2017)
def selu(x):
    return LAMBDA * np.where(x > 0, x, ALPHA * np.expm1(np.minimum(x, 0)))
""",
    "selu_derivative": """
import math
def selu_derivative(x):
    scale, alpha = 1.0507009873554804934, 1.6732632423543772848
    positive = np.asarray(x) > 0
    return scale * (positive + ~positive * alpha * np.exp(np.where(positive, 0.0, x)))
""",
    "early_stopping_step": """
def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):
    history = state.get("history", []) + [val_loss]
    best_epoch = 0
    for epoch, loss in enumerate(history):      # replay the whole history (slow but clear)
        if loss < history[best_epoch] - min_delta or epoch == 0:
            best_epoch = epoch
    return len(history) - 1 - best_epoch >= patience, {"history": history, "best_epoch": best_epoch}
""",
    "split_tasks": """
def split_tasks(X, y, pretrain_classes, task_classes):
    pre_rows, pre_labels, task_rows, task_labels = [], [], [], []
    for c in pretrain_classes:                   # rows grouped by class: any order is fine
        rows = [i for i in range(len(y)) if y[i] == c]
        pre_rows += rows
        pre_labels += [pretrain_classes.index(c)] * len(rows)
    for i, label in enumerate(y):
        if label in task_classes:
            task_rows.append(i)
            task_labels.append(int(label == task_classes[1]))
    return X[pre_rows], np.array(pre_labels), X[task_rows].copy(), np.array(task_labels, dtype=np.int32)
""",
    "few_shot_sample": """
def few_shot_sample(y, n_per_class, rng):
    picked = []
    for c in sorted(set(y.tolist()), reverse=True):
        rows = np.flatnonzero(y == c)
        picked.extend(rows[rng.permutation(len(rows))[:n_per_class]])
    return np.sort(np.array(picked))
""",
    "seed_summary": """
import math
def seed_summary(acc):
    n_seeds, n_methods = acc.shape
    means, sems = [], []
    for j in range(n_methods):
        column = [float(a) for a in acc[:, j]]
        m = sum(column) / n_seeds
        s = math.sqrt(sum((a - m) ** 2 for a in column) / (n_seeds - 1))
        means.append(m)
        sems.append(s / math.sqrt(n_seeds))
    return np.array(means), np.array(sems)
""",
}


def notebook(source: str) -> dict:
    """Run a notebook cell's source in a fresh namespace and return the namespace."""
    namespace = {"np": np, "warnings": warnings, "__name__": "__main__"}
    exec(compile(textwrap.dedent(source), "<notebook cell>", "exec"), namespace)
    return namespace


# The catalogued wrong backward passes read lablib's cache layout; in their "notebook" the forward pass is an
# independent one with that layout (itself checked below as a correct dense/batchnorm/dropout forward).
LABLIB_LAYOUT_FORWARD = {
    "dense_backward": ("dense_forward", lambda x, W, b: (x @ W + b, (x, W))),
    "batchnorm_backward": ("batchnorm_forward", lab05._bn_variant()),
    "dropout_backward": ("dropout_forward", lab06._dropout_variant()),
}


def as_student(name, fn, **extra_globals):
    """``fn`` as if defined in a notebook next to the forward pass its check needs."""
    namespace = dict(fn.__globals__)
    if name in LABLIB_LAYOUT_FORWARD:
        partner, forward = LABLIB_LAYOUT_FORWARD[name]
        namespace[partner] = forward
    namespace.update(extra_globals)
    student = type(fn)(fn.__code__, namespace, fn.__name__, fn.__defaults__, fn.__closure__)
    student.__kwdefaults__ = fn.__kwdefaults__
    return student


def stub(name, body: str, **extra_globals):
    """A notebook function with the lab's exact signature and the given body."""
    source = EXERCISES[name].signature + "\n" + textwrap.indent(textwrap.dedent(body), "    ")
    namespace = notebook(source)
    return as_student(name, namespace[name], **extra_globals)


def test_metadata():
    labs = {"lab01", "lab02", "lab03", "lab04", "lab05", "lab06", "lab07"}
    assert set(CORRECT) == set(EXERCISES)
    for name, ex in EXERCISES.items():
        assert ex.name == name and ex.lab in labs
        assert ex.signature.startswith(f"def {name}(") and ex.signature.endswith(":")
        assert "\n" not in ex.summary and ex.summary
        assert len(ex.mistakes) >= 3 and all(isinstance(n, str) and isinstance(h, str) for n, h in ex.mistakes)
        assert len({n for n, _ in ex.mistakes}) == len(ex.mistakes)
        assert list(inspect.signature(ex.reference).parameters) == ex.parameters
        assert ex.guarded, f"{name} guards no lablib function"


@pytest.fixture
def unguarded(monkeypatch):
    """Let the lablib-based reference itself be checked (it calls the functions that students may not)."""
    def switch_off(name):
        monkeypatch.setitem(EXERCISES, name, dataclasses.replace(EXERCISES[name], guarded={}))
    return switch_off


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes_public_and_hidden(name, unguarded, capfd):
    unguarded(name)
    ex = EXERCISES[name]
    assert check(name, ex.reference) is None
    assert check(name, ex.reference, hidden=True) is None
    out, err = capfd.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 2
    assert re.match(rf"✓ {name}: \d+ public checks passed \(all \d+ cases\) — hidden cases run when your lab is graded", lines[0])
    assert re.match(rf"✓ {name}: \d+ hidden checks passed \(all \d+ cases\)", lines[1])


@pytest.mark.parametrize("name", NAMES)
def test_another_correct_solution_passes(name, capfd, recwarn):
    fn = notebook(CORRECT[name])[name]
    assert check(name, fn) is None
    assert check(name, fn, hidden=True) is None
    out, err = capfd.readouterr()
    assert err == "" and len(out.splitlines()) == 2
    assert len(recwarn) == 0  # the student's warnings were captured, not passed on
    if name == "f":
        assert re.search(r"; note: your function printed \d+ lines \(not an error\)\n", out)  # arrays: several
    if name == "df":
        assert "emitted UserWarning: df: just a friendly note" in out
    if name == "gradient_descent":  # the overflow the diverging cases provoke is expected, not reported
        assert "overflow" not in out and "note" not in out


MISTAKES = [(name, m) for name in NAMES for m in EXERCISES[name].catalogue]


@pytest.mark.parametrize("hidden", [False, True], ids=["public", "hidden"])
@pytest.mark.parametrize("name, mistake", MISTAKES, ids=[f"{n}-{m.name}" for n, m in MISTAKES])
def test_catalogued_mistake_fails_and_names_its_hint(name, mistake, hidden, capfd):
    with pytest.raises(CheckFailure) as info:
        check(name, as_student(name, mistake.impl), hidden=hidden)
    message = str(info.value)
    assert f"This matches a known mistake — {mistake.name}: {mistake.hint}" in message
    assert message.startswith(f"{name} — {'hidden' if hidden else 'public'} case ")
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("name", NAMES)
def test_not_implemented(name, capfd):
    with pytest.raises(CheckFailure) as info:
        check(name, stub(name, "raise NotImplementedError()"))
    assert str(info.value) == (f"{name}: not implemented yet — replace `raise NotImplementedError()` in the "
                               f"exercise cell with your code")
    assert isinstance(info.value.__cause__, NotImplementedError)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("name", NAMES)
def test_wrong_arity(name):
    ex = EXERCISES[name]
    namespace = notebook(ex.signature + "\n    pass\n")
    required = [p for p in inspect.signature(namespace[name]).parameters.values() if p.default is p.empty]
    fewer = ", ".join(p.name for p in required[:-1])  # the last required argument and the optional ones missing
    namespace = notebook(f"def {name}({fewer}):\n    return None\n")
    with pytest.raises(CheckFailure) as info:
        check(name, as_student(name, namespace[name]))
    message = str(info.value)
    assert "your function cannot be called as" in message and f"`{name}(" in message
    assert f"The lab's signature is:\n    {ex.signature}" in message


@pytest.mark.parametrize("name", NAMES)
def test_not_callable(name):
    with pytest.raises(CheckFailure, match=rf"^{name}: expected your function, got float 1\.5 — did you overwrite"):
        check(name, 1.5)


def _guarded_module_and_attr(dotted):
    """(object holding the function, attribute name): a module, or a class for methods such as
    lablib.schedules.PerformanceScheduler.step."""
    owner, attr = dotted.rsplit(".", 1)
    parts = owner.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    for name in parts[cut:]:
        obj = getattr(obj, name)
    return obj, attr


@pytest.mark.parametrize("how", ["module attribute", "alias imported earlier", "exception swallowed"])
@pytest.mark.parametrize("name", NAMES)
def test_calling_lablib_reference_fails_and_is_restored(name, how, capfd):
    ex = EXERCISES[name]
    for dotted, func in ex.guarded.items():
        module, attr = _guarded_module_and_attr(dotted)
        body = {
            "module attribute": "return getattr(MODULE, ATTR)(*args, **kwargs)",
            "alias imported earlier": "return ALIAS(*args, **kwargs)",
            "exception swallowed": "try:\n    return ALIAS(*args, **kwargs)\nexcept BaseException:\n    return None",
        }[how]
        source = f"def {name}(*args, **kwargs):\n" + textwrap.indent(body, "    ")
        fn = as_student(name, notebook(source)[name], MODULE=module, ATTR=attr, ALIAS=func)
        with pytest.raises(CheckFailure) as info:
            check(name, fn)
        assert (f"your function calls lablib's reference `{dotted}`; implement it yourself (numpy only)"
                in str(info.value))
        # restored: the function object works again and a reference run gives numbers
        assert func.__code__.co_name != "tripwire"
        assert any(plain_run(ex, ex.reference, case)[0].outputs for case in ex.cases())
    assert capfd.readouterr().err == ""


def _values(cases):
    """(attribute, shape, rounded values) of every array or number in the cases' data."""
    found = set()
    for case in cases:
        for key, value in vars(case).items():
            if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
                value = np.concatenate([np.ravel(v) for v in value])
            if isinstance(value, dict):  # the 2-2-2 network's weights (numbers; hyperparameters are skipped)
                if key == "w":
                    found.add((key, (), tuple(np.round(list(value.values()), 12))))
                continue
            if isinstance(value, (np.ndarray, float)) and key not in ("rate", "lr", "limit", "max_norm", "tol", "h", "grad_scale"):
                arr = np.asarray(value, dtype=float)
                found.add((key, arr.shape, tuple(np.round(arr.ravel(), 12))))
    return found


@pytest.mark.parametrize("name", NAMES)
def test_hidden_cases_differ_from_public_and_follow_the_seed(name, monkeypatch):
    ex = EXERCISES[name]
    monkeypatch.delenv("LABLIB_HIDDEN_SEED", raising=False)
    public, hidden = _values(ex.cases()), _values(ex.cases(hidden=True))
    assert hidden and public.isdisjoint(hidden), "a hidden input equals a public one"
    if any(shape for _, shape, _ in public):  # array inputs: the hidden ones have other shapes
        assert {s for _, s, _ in hidden if s} - {s for _, s, _ in public}
    assert _values(ex.cases(hidden=True, seed=DEFAULT_HIDDEN_SEED)) == hidden
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "12345")
    first = _values(ex.cases(hidden=True))
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "67890")
    second = _values(ex.cases(hidden=True))
    assert first != hidden and first != second and first.isdisjoint(public)


# ---------------------------------------------------------------------------------------------------------
# Exercise-specific checks of the lab 4-6 references against hand derivations from the lab formulas


def test_schedule_references_match_hand_values():
    power, exponential = EXERCISES["power_schedule"].reference, EXERCISES["exponential_schedule"].reference
    assert power(20.0, 0.1, 20.0) == pytest.approx(0.05)              # 0.1 / (1 + 1)
    assert power(20.0, 0.1, 20.0, c=2.0) == pytest.approx(0.025)      # 0.1 / 2**2
    np.testing.assert_allclose(power(np.array([0.0, 10.0, 30.0]), 1.0, 10.0, 0.5), [1.0, 2 ** -0.5, 0.5])
    assert exponential(50.0, 0.2, 50.0) == pytest.approx(0.02)         # 0.2 * 0.1
    np.testing.assert_allclose(exponential(np.array([0.0, 5.0, 20.0]), 1.0, 10.0), [1.0, 10 ** -0.5, 0.01])


def _sequence(name, values, **hparams):
    """Step the exercise's reference through ``values`` (state = {} at first); the per-epoch outputs."""
    step, state, outs, lr = EXERCISES[name].reference, {}, [], 1.0
    for value in values:
        if name == "plateau_step":
            lr, state = step(value, lr, state, **hparams)
            outs.append(lr)
        else:
            stop, state = step(value, state, **hparams)
            outs.append((stop, state["best_epoch"]))
    return outs


def test_plateau_step_reference_is_keras_reduce_on_plateau_by_hand():
    # patience 2, min_delta 0.1: 0.95 is no improvement on 1.0 (needs < 0.9); reduce after 2 bad epochs, wait = 0
    metrics = [1.0, 0.95, 0.97, 0.5, 0.45, 0.6, 0.7, 0.8, 0.9]
    expected = [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]
    np.testing.assert_allclose(_sequence("plateau_step", metrics, factor=0.5, patience=2, min_delta=0.1), expected)


def test_early_stopping_step_reference_by_hand():
    # patience 2, min_delta 0.1: epoch 1 (0.95) is no improvement on 1.0; epoch 2 (0.8) is; 0.85 and 0.75 are not
    losses = [1.0, 0.95, 0.8, 0.85, 0.75]
    assert _sequence("early_stopping_step", losses, patience=2, min_delta=0.1) == [
        (False, 0), (False, 0), (False, 2), (False, 2), (True, 2)]


@pytest.mark.parametrize("name, at_zero", [
    ("relu_derivative", 0.0), ("leaky_relu_derivative", 0.01), ("elu_derivative", 1.0),
    ("selu_derivative", 1.0507009873554804934 * 1.6732632423543772848)])
def test_activation_derivatives_take_the_left_value_at_zero_and_say_so(name, at_zero):
    ex = EXERCISES[name]
    assert ex.reference(0.0) == pytest.approx(at_zero, rel=1e-15)
    assert "x = 0" in ex.summary and "LEFT" in ex.summary
    # x = 0 appears in one public and one hidden case with the default hyperparameters, and (alpha families) in one
    # with a non-default alpha: elu'(0) = alpha is 1 by default, like the wrong x >= 0 rule
    for cases in (ex.cases(), ex.cases(hidden=True)):
        with_zero = [c for c in cases if np.any(np.asarray(c.x) == 0)]
        assert sorted(bool(c.hparams) for c in with_zero) == ([False, True] if "alpha" in ex.signature else [False])


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "elu", "selu"])
def test_activation_values_by_hand(name):
    ref = EXERCISES[name].reference
    lam, alpha = 1.0507009873554804934, 1.6732632423543772848
    expected = {"relu": [0.0, 0.0, 2.0], "leaky_relu": [-0.01, 0.0, 2.0], "elu": [np.exp(-1) - 1, 0.0, 2.0],
                "selu": [lam * alpha * (np.exp(-1) - 1), 0.0, lam * 2.0]}[name]
    np.testing.assert_allclose(ref(np.array([-1.0, 0.0, 2.0])), expected, rtol=1e-14)
    assert isinstance(ref(-1.0), float) and ref(-1.0) == pytest.approx(expected[0], rel=1e-14)


def test_early_stopping_requires_best_epoch_in_state():
    fn = notebook("""
def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):
    best = state.get("best", np.inf)
    wait = 0 if val_loss < best - min_delta else state.get("wait", 0) + 1
    return wait >= patience, {"best": min(best, val_loss) if wait == 0 else best, "wait": wait}
""")["early_stopping_step"]
    with pytest.raises(CheckFailure, match=r"missing the key 'best_epoch'"):
        check("early_stopping_step", fn)


def test_early_stopping_stop_must_be_a_bool():
    fn = notebook("""
def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):
    return None, {"best_epoch": 0}
""")["early_stopping_step"]
    with pytest.raises(CheckFailure, match=r"stop after epoch 0: should be True or False, got NoneType"):
        check("early_stopping_step", fn)
