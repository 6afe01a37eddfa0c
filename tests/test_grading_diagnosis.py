"""lablib.grading names a mistake only when it explains the answer, and its cases leave no mistake unexposed.

* ``WRONG``: for every exercise, wrong implementations written here independently of the catalogue's code (notebook
  cells, as a student would write them): some are a catalogued mistake written another way (that mistake must be
  named), the others are mistakes the catalogue does not know (nothing may be named: the message says what
  differs and where). Each must fail its public check (a public case exposes it) and, when it fails a hidden check
  too, must not be named differently there.
* the catalogue's own mistakes are named alone (no second, contradicting name).
* ``UNUSUAL``: right implementations written the numerically different ways students write them (one-pass
  variance, log-sum-exp, x += h then -= 2h, Keras' forms): they pass every check, so the tolerances are not too tight.
* every exercise's ``edges`` are among its public (and hidden) cases; every exercise states its mutation contract in
  EXERCISES, in its lab text and in its docstring; the labs say float64.
"""
from __future__ import annotations

import re
import textwrap
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest

from lablib.grading import EXERCISES, CheckFailure
from lablib.grading.engine import run_check
from test_grading_exercises import CORRECT, as_student

REPO = Path(__file__).resolve().parents[1]
SEEDS = (7, 2024)  # hidden seeds (besides the default) the hidden checks are run with

# Independent right forward passes for the backward exercises' "notebooks" (not lablib's cache layout).
DENSE_FORWARD = """
def dense_forward(x, W, b):
    return x.dot(W) + b, {"x": x, "W": W}
"""
BN_FORWARD = CORRECT["batchnorm_backward"].split("def batchnorm_backward")[0]  # cache {"xn", "std", "gamma", ...}
DROPOUT_FORWARD = """
def dropout_forward(x, rate, train, rng):
    if not train or rate == 0:
        return x, None
    keep = rng.random(x.shape) >= rate
    return np.where(keep, x / (1 - rate), 0.0), (keep, 1 - rate)
"""
ES_HEAD = """
def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):
    epoch = state.get("epoch", -1) + 1
    best, wait, best_epoch = state.get("best", np.inf), state.get("wait", 0), state.get("best_epoch")
"""
PLATEAU_HEAD = """
def plateau_step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):
    best, wait = state.get("best", np.inf), state.get("wait", 0)
"""

# exercise -> [(the catalogued mistake that must be named, or None for "nothing may be named"), source]
WRONG = {
    "f": [
        (None, "def f(x):\n    return x ** 3"),
        (None, "def f(x):\n    return x * abs(x)"),
        (None, "def f(x):\n    return float(x) ** 2"),                     # breaks on arrays
        ("derivative instead of f", "def f(x):\n    return x + x"),
        ("x squared in place", "def f(x):\n    if isinstance(x, np.ndarray):\n        np.multiply(x, x, out=x)\n"
                               "        return x\n    return x * x"),
    ],
    "df": [
        (None, "def df(x):\n    return 2 * x + 1"),
        (None, "def df(x):\n    h = 1e-6\n    return ((x + h) ** 2 - x ** 2) / h"),   # a forward difference
        (None, "def df(x):\n    return 2 * x if x > 0 else -2 * x"),          # |2x|, and breaks on arrays
        ("sign flipped", "def df(x):\n    return np.multiply(x, -2)"),
        ("x doubled in place", "def df(x):\n    if isinstance(x, np.ndarray):\n        x += x\n        return x\n"
                               "    return 2 * x"),
    ],
    "gradient_descent": [
        (None, "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x = np.asarray(x0, dtype=float)\n"
               "    for _ in range(n_steps):\n        x = x - lr * grad(x)\n    return x"),          # the last iterate only
        (None, "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
               "    for _ in range(n_steps):\n        g = grad(xs[-1])\n"
               "        if tol is not None and np.abs(g).max() < tol:\n            break\n"
               "        xs.append(xs[-1] - lr * g)\n    return np.array(xs)"),                      # max-norm
        (None, "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    g0 = grad(np.asarray(x0, dtype=float))\n"
               "    xs = [np.asarray(x0, dtype=float)]\n    for _ in range(n_steps):\n"
               "        if tol is not None and np.linalg.norm(g0) < tol:\n            break\n"
               "        xs.append(xs[-1] - lr * g0)\n    return np.array(xs)"),                     # grad at x0 only
        ("stops when ||grad|| equals tol",
         "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
         "    while len(xs) <= n_steps:\n        g = grad(xs[-1])\n"
         "        if tol is not None and not np.linalg.norm(g) > tol:\n            break\n"
         "        xs.append(xs[-1] - lr * g)\n    return np.array(xs)"),
        ("x0 updated in place",
         "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x = np.asarray(x0, dtype=float)\n"
         "    path = [np.copy(x)]\n    for _ in range(n_steps):\n        g = grad(x)\n"
         "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
         "        np.subtract(x, lr * g, out=x)\n        path.append(np.copy(x))\n    return np.array(path)"),
    ],
    "dg_dx": [
        (None, "def dg_dx(x):\n    return 54 * x ** 5 + 36 * x"),                   # 36x**2 slipped to 36x
        (None, "def dg_dx(x):\n    return 2 * (3 * x ** 3 + 2) * 9 * x ** 3"),      # inner derivative 9x**3
        (None, "def dg_dx(x):\n    return float(54 * x ** 5 + 36 * x ** 2)"),      # breaks on arrays
        ("inner derivative forgotten", "def dg_dx(x):\n    return 6 * x ** 3 + 4"),
        ("outer derivative forgotten", "def dg_dx(x):\n    return np.multiply(9, x * x)"),
        ("outer derivative taken at x", "def dg_dx(x):\n    outer = 2 * x\n    inner = 9 * x ** 2\n"
                                        "    return outer * inner"),
        ("x changed in place", "def dg_dx(x):\n    if isinstance(x, np.ndarray):\n"
                               "        np.multiply(x ** 4, 54 * x + 36 / x ** 2, out=x, where=x != 0)\n"
                               "        return x\n    return 54 * x ** 5 + 36 * x ** 2"),
    ],
    "forward_222": [
        (None, "import math\ns = lambda z: 1 / (1 + math.exp(-z))\ndef forward_222(w):\n"
               "    h1 = s(w['w1'] * I1 + w['w2'] * I2 + w['b1'])\n    h2 = s(w['w3'] * I1 + w['w4'] * I2 + w['b1'])\n"
               "    return {'out_h1': h1, 'out_h2': h2, 'out_o1': s(w['w5'] * h1 + w['w6'] * h2 + w['b2']),\n"
               "            'out_o2': s(w['w5'] * h1 + w['w6'] * h2 + w['b2'])}"),          # copy-paste: o2 = o1
        (None, "import math\ns = lambda z: 1 / (1 + math.exp(-z))\ndef forward_222(w):\n"
               "    h1 = s(w['w1'] * I1 + w['w2'] * I1 + w['b1'])\n    h2 = s(w['w3'] * I1 + w['w4'] * I1 + w['b1'])\n"
               "    return {'out_h1': h1, 'out_h2': h2, 'out_o1': s(w['w5'] * h1 + w['w6'] * h2 + w['b2']),\n"
               "            'out_o2': s(w['w7'] * h1 + w['w8'] * h2 + w['b2'])}"),          # I1 twice
        (None, "import math\ns = lambda z: 1 / (1 + math.exp(-z))\ndef forward_222(w):\n"
               "    h1 = s(w['w1'] * I1 + w['w2'] * I2 + w['b2'])\n    h2 = s(w['w3'] * I1 + w['w4'] * I2 + w['b2'])\n"
               "    return {'out_h1': h1, 'out_h2': h2, 'out_o1': s(w['w5'] * h1 + w['w6'] * h2 + w['b1']),\n"
               "            'out_o2': s(w['w7'] * h1 + w['w8'] * h2 + w['b1'])}"),          # biases swapped
        ("no sigmoid at the output",
         "def forward_222(w):\n    sig = lambda z: np.exp(z) / (np.exp(z) + 1)\n"
         "    h = [sig(w['w1'] * I1 + w['w2'] * I2 + w['b1']), sig(w['w3'] * I1 + w['w4'] * I2 + w['b1'])]\n"
         "    return dict(out_h1=h[0], out_h2=h[1], out_o1=w['w5'] * h[0] + w['w6'] * h[1] + w['b2'],\n"
         "                out_o2=w['w7'] * h[0] + w['w8'] * h[1] + w['b2'])"),
    ],
    "gradients_222": [
        (None, "def gradients_222(w):\n    o = forward_222(w)\n    h1, h2, o1, o2 = o['out_h1'], o['out_h2'], o['out_o1'], o['out_o2']\n"
               "    d1, d2 = o1 * (1 - o1), o2 * (1 - o2)\n"                                  # (out - t) forgotten
               "    e1 = (d1 * w['w5'] + d2 * w['w7']) * h1 * (1 - h1)\n    e2 = (d1 * w['w6'] + d2 * w['w8']) * h2 * (1 - h2)\n"
               "    return {'w1': e1 * I1, 'w2': e1 * I2, 'w3': e2 * I1, 'w4': e2 * I2, 'w5': d1 * h1, 'w6': d1 * h2,\n"
               "            'w7': d2 * h1, 'w8': d2 * h2}"),
        (None, "def gradients_222(w):\n    o = forward_222(w)\n    h1, h2, o1, o2 = o['out_h1'], o['out_h2'], o['out_o1'], o['out_o2']\n"
               "    d1, d2 = (o1 - T1) * o1 * (1 - o1), (o2 - T2) * o2 * (1 - o2)\n"
               "    e1 = (d1 * w['w5'] + d2 * w['w6']) * h1 * (1 - h1)\n"                   # w6 where w7 belongs
               "    e2 = (d1 * w['w7'] + d2 * w['w8']) * h2 * (1 - h2)\n"
               "    return {'w1': e1 * I1, 'w2': e1 * I2, 'w3': e2 * I1, 'w4': e2 * I2, 'w5': d1 * h1, 'w6': d1 * h2,\n"
               "            'w7': d2 * h1, 'w8': d2 * h2}"),
        (None, "def gradients_222(w):\n    o = forward_222(w)\n    h1, h2, o1, o2 = o['out_h1'], o['out_h2'], o['out_o1'], o['out_o2']\n"
               "    d1, d2 = (o1 - T1) * o1 * (1 - o1), (o2 - T2) * o2 * (1 - o2)\n"
               "    e1, e2 = d1 * w['w5'] + d2 * w['w7'], d1 * w['w6'] + d2 * w['w8']\n"     # hidden sigmoid' missing
               "    return {'w1': e1 * I1, 'w2': e1 * I2, 'w3': e2 * I1, 'w4': e2 * I2, 'w5': d1 * h1, 'w6': d1 * h2,\n"
               "            'w7': d2 * h1, 'w8': d2 * h2}"),
        ("error sign flipped",
         "def gradients_222(w):\n    o = forward_222(w)\n    h = (o['out_h1'], o['out_h2'])\n"
         "    d = [(t - y) * y * (1 - y) for t, y in ((T1, o['out_o1']), (T2, o['out_o2']))]\n"
         "    e = [(d[0] * w['w5'] + d[1] * w['w7']) * h[0] * (1 - h[0]), (d[0] * w['w6'] + d[1] * w['w8']) * h[1] * (1 - h[1])]\n"
         "    g = {f'w{k + 5}': d[k // 2] * h[k % 2] for k in range(4)}\n"
         "    g.update({f'w{k + 1}': e[k // 2] * (I1, I2)[k % 2] for k in range(4)})\n    return g"),
        ("weights updated inside",
         "def gradients_222(w):\n    o = forward_222(w)\n    h1, h2, o1, o2 = o['out_h1'], o['out_h2'], o['out_o1'], o['out_o2']\n"
         "    d1, d2 = (o1 - T1) * o1 * (1 - o1), (o2 - T2) * o2 * (1 - o2)\n"
         "    e1 = (d1 * w['w5'] + d2 * w['w7']) * h1 * (1 - h1)\n    e2 = (d1 * w['w6'] + d2 * w['w8']) * h2 * (1 - h2)\n"
         "    g = {'w1': e1 * I1, 'w2': e1 * I2, 'w3': e2 * I1, 'w4': e2 * I2, 'w5': d1 * h1, 'w6': d1 * h2,\n"
         "         'w7': d2 * h1, 'w8': d2 * h2}\n    for k in g:\n        w[k] = w[k] - ETA * g[k]\n    return g"),
    ],
    "dense_forward": [
        (None, "def dense_forward(x, W, b):\n    return x @ W + b[:, None], None"),               # broadcast error
        (None, "def dense_forward(x, W, b):\n    return x @ W - b, (x, W)"),
        (None, "def dense_forward(x, W, b):\n    return np.tanh(x @ W + b), (x, W)"),
        ("bias forgotten", "def dense_forward(x, W, b):\n    return np.dot(x, W), {'x': x, 'W': W}"),
    ],
    "dense_backward": [
        (None, DENSE_FORWARD + "def dense_backward(dout, cache):\n    x, W = cache['x'], cache['W']\n"
               "    return dout @ W.T, x.T @ dout, dout.mean(axis=0)"),                      # db averaged only
        (None, DENSE_FORWARD + "def dense_backward(dout, cache):\n    x, W = cache['x'], cache['W']\n"
               "    return dout @ W.T, x.T @ dout / len(x), dout.sum(axis=0)"),              # dW / N only
        (None, DENSE_FORWARD + "def dense_backward(dout, cache):\n    x, W = cache['x'], cache['W']\n"
               "    return (W @ dout.T).T * 2, x.T @ dout, dout.sum(axis=0)"),
        ("divides by the batch size", DENSE_FORWARD + "def dense_backward(dout, cache):\n    x, W = cache['x'], cache['W']\n"
                                      "    n = dout.shape[0]\n    return np.dot(dout, W.T), np.dot(x.T, dout) / n, np.sum(dout, 0) / n"),
    ],
    "softmax_cross_entropy": [
        (None, "def softmax_cross_entropy(logits, y):\n    z = logits - logits.max(1, keepdims=True)\n"
               "    p = np.clip(np.exp(z) / np.exp(z).sum(1, keepdims=True), 1e-7, 1 - 1e-7)\n    n = len(y)\n"
               "    g = p.copy()\n    g[np.arange(n), y] -= 1\n    return -np.log(p[np.arange(n), y]).mean(), g / n"),  # clipped
        (None, "def softmax_cross_entropy(logits, y):\n    z = logits - logits.max(1, keepdims=True)\n"
               "    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)\n    n = len(y)\n"
               "    g = p.copy()\n    g[np.arange(n), y] -= 1\n    return -np.log(p[np.arange(n), y] + 1e-12).mean(), g / n"),  # smoothed
        (None, "def softmax_cross_entropy(logits, y):\n    z = logits - logits.max(1, keepdims=True)\n"
               "    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)\n    n = len(y)\n"
               "    g = p.copy()\n    g[np.arange(n), y] -= 1\n    return -np.log2(p[np.arange(n), y]).mean(), g / n"),  # log2
        ("p[:, y] instead of p[range(N), y]",
         "def softmax_cross_entropy(logits, y):\n    e = np.exp(logits - np.max(logits, axis=1)[:, None])\n"
         "    p = e / e.sum(axis=1)[:, None]\n    loss = np.mean(-np.log(p[:, y]))\n"
         "    d = p.copy()\n    d[:, y] = d[:, y] - 1\n    return loss, d / logits.shape[0]"),
        ("logits shifted in place",
         "def softmax_cross_entropy(logits, y):\n    logits -= np.max(logits, axis=1)[:, None]\n"
         "    p = np.exp(logits)\n    p /= p.sum(axis=1, keepdims=True)\n    n = len(y)\n"
         "    loss = -np.mean(np.log(p[range(n), y]))\n    p[range(n), y] -= 1\n    return loss, p / n"),
    ],
    "numerical_gradient": [
        (None, "def numerical_gradient(f, x, h=1e-5):\n    g = np.zeros(x.shape)\n    for i in np.ndindex(x.shape):\n"
               "        e = np.zeros(x.shape)\n        e[i] = h / 2\n        g[i] = (f(x + e) - f(x - e)) / h\n"
               "    return g"),                                                               # steps of h/2
        (None, "def numerical_gradient(f, x, h=1e-5):\n    g = []\n    for i in np.ndindex(x.shape):\n"
               "        up, down = x.copy(), x.copy()\n        up[i] += h\n        down[i] -= h\n"
               "        g.append((f(up) - f(down)) / (2 * h))\n    return np.array(g)"),          # flattened
        (None, "def numerical_gradient(f, x, h=1e-5):\n    g = np.zeros_like(x)\n    for i in np.ndindex(x.shape):\n"
               "        up = x.copy()\n        up[i] += h\n        g[i] = (f(up) - f(x - h)) / (2 * h)\n"
               "    return g"),                                                               # every entry moved down
        ("forward difference", "def numerical_gradient(f, x, h=1e-5):\n    g = np.empty_like(x)\n    f0 = f(x.copy())\n"
                               "    for i in np.ndindex(*x.shape):\n        xp = x.copy()\n        xp[i] = xp[i] + h\n"
                               "        g[i] = (f(xp) - f0) / h\n    return g"),
        ("x not restored", "def numerical_gradient(f, x, h=1e-5):\n    g = np.zeros_like(x)\n"
                           "    for i in np.ndindex(x.shape):\n        x[i] += h\n        fp = f(x)\n"
                           "        x[i] -= 2 * h\n        g[i] = (fp - f(x)) / (2 * h)\n    return g"),
    ],
    "minibatches": [
        (None, "def minibatches(X, y, batch_size, rng=None, shuffle=True):\n"
               "    order = rng.permutation(len(X)) if shuffle else np.arange(len(X))\n"
               "    for rows in np.array_split(order, max(1, len(X) // batch_size)):\n        yield X[rows], y[rows]"),
        (None, "def minibatches(X, y, batch_size, rng=None, shuffle=True):\n"
               "    order = rng.permutation(len(X)) if shuffle else np.arange(len(X))\n"
               "    for s in range(0, len(X), batch_size):\n        yield X[order[s:s + batch_size]], y[s:s + batch_size]"),
        (None, "def minibatches(X, y, batch_size, rng=None, shuffle=True):\n"
               "    order = rng.choice(len(X), size=len(X)) if shuffle else np.arange(len(X))\n"
               "    for s in range(0, len(X), batch_size):\n        yield X[order[s:s + batch_size]], y[order[s:s + batch_size]]"),
        ("last batch dropped", "def minibatches(X, y, batch_size, rng=None, shuffle=True):\n"
                               "    idx = rng.permutation(X.shape[0]) if shuffle else np.arange(X.shape[0])\n"
                               "    for k in range(X.shape[0] // batch_size):\n"
                               "        rows = idx[k * batch_size:(k + 1) * batch_size]\n        yield X[rows], y[rows]"),
        ("rng ignored", "def minibatches(X, y, batch_size, rng=None, shuffle=True):\n"
                        "    idx = np.random.permutation(len(X)) if shuffle else np.arange(len(X))\n"
                        "    for s in range(0, len(X), batch_size):\n        yield X[idx[s:s + batch_size]], y[idx[s:s + batch_size]]"),
    ],
    "sgd_momentum_step": [
        (None, "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n    g = momentum * state.get('g', 0.0) + grad\n"
               "    return x - lr * (grad + momentum * g), {'g': g}"),                        # Nesterov
        (None, "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n    g = momentum * state.get('g', 0.0) + grad\n"
               "    return x - lr * g / (1 - momentum), {'g': g}"),
        (None, "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n    g = state.get('g', 0.0) + momentum * grad\n"
               "    return x - lr * g, {'g': g}"),
        ("velocity not carried", "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n"
                                 "    v = momentum * state.get('velocity', 0.0) + grad\n    return x - lr * v, {'v': v}"),
        ("state updated in place", "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n"
                                   "    state['g'] = momentum * state.get('g', 0.0) + grad\n    return x - lr * state['g'], state"),
    ],
    "adagrad_norm_step": [
        (None, "def adagrad_norm_step(x, grad, state, lr, eps=1e-8):\n    S = state.get('S', 0.0) + np.sum(grad ** 2)\n"
               "    return x - lr / (eps + S) * grad, {'S': S}"),                              # no root
        (None, "def adagrad_norm_step(x, grad, state, lr, eps=1e-8):\n    S = state.get('S', 0.0) + np.mean(grad ** 2)\n"
               "    return x - lr / np.sqrt(eps + S) * grad, {'S': S}"),                       # mean of squares
        (None, "def adagrad_norm_step(x, grad, state, lr, eps=1e-8):\n    S = state.get('S', 0.0) + np.sum(grad ** 2)\n"
               "    return x - lr / np.sqrt(eps + S) * np.sign(grad), {'S': S}"),
        ("per-coordinate accumulator", "def adagrad_norm_step(x, grad, state, lr, eps=1e-8):\n"
                                       "    acc = state.get('acc', np.zeros_like(x)) + grad * grad\n"
                                       "    return x - lr * grad / np.sqrt(eps + acc), {'acc': acc}"),
        ("x updated in place", "def adagrad_norm_step(x, grad, state, lr, eps=1e-8):\n"
                               "    S = state.get('S', 0.0) + float(np.vdot(grad, grad))\n"
                               "    x -= lr / np.sqrt(eps + S) * grad\n    return x, {'S': S}"),
    ],
    "rmsprop_step": [
        (None, "def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):\n"
               "    s = rho * state.get('s', 0.0) + (1 - rho) * np.abs(grad)\n"
               "    return x - lr * grad / (np.sqrt(s) + eps), {'s': s}"),                     # |grad|, not grad**2
        (None, "def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):\n"
               "    s = rho * state.get('s', 0.0) + (1 - rho) * grad ** 2\n"
               "    return x - lr * grad / np.sqrt(s + eps ** 2), {'s': s}"),                   # eps**2 in the root
        (None, "def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):\n"
               "    s = rho * state.get('s', grad ** 2) + (1 - rho) * grad ** 2\n"
               "    return x - lr * grad / (np.sqrt(s) + eps), {'s': s}"),                     # s_0 = grad**2
        ("eps inside the square root", "def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):\n"
                                       "    ms = (1 - rho) * grad * grad + rho * state.get('ms', 0.0)\n"
                                       "    return x - lr * grad / np.sqrt(ms + eps), {'ms': ms}"),
    ],
    "adam_step": [
        (None, "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n    t = state.get('t', 0) + 1\n"
               "    m = beta1 * state.get('m', 0.0) + (1 - beta1) * grad\n"
               "    v = beta2 * state.get('v', 0.0) + (1 - beta2) * grad ** 2\n"
               "    return x - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v) + eps), {'t': t, 'm': m, 'v': v}"),  # m only
        (None, "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n    t = state.get('t', 0) + 1\n"
               "    m = beta2 * state.get('m', 0.0) + (1 - beta2) * grad\n"
               "    v = beta1 * state.get('v', 0.0) + (1 - beta1) * grad ** 2\n"
               "    mh, vh = m / (1 - beta2 ** t), v / (1 - beta1 ** t)\n"
               "    return x - lr * mh / (np.sqrt(vh) + eps), {'t': t, 'm': m, 'v': v}"),      # betas swapped
        ("step counter not kept", "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                                  "    m = beta1 * state.get('m', 0.0) + (1 - beta1) * grad\n"
                                  "    v = beta2 * state.get('v', 0.0) + (1 - beta2) * grad * grad\n"
                                  "    mh, vh = m / (1 - beta1), v / (1 - beta2)\n"
                                  "    return x - lr * mh / (np.sqrt(vh) + eps), {'m': m, 'v': v}"),
        ("eps left out", "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n    t = state.get('t', 0) + 1\n"
                         "    m = beta1 * state.get('m', 0.0) + (1 - beta1) * grad\n"
                         "    v = beta2 * state.get('v', 0.0) + (1 - beta2) * grad * grad\n"
                         "    with np.errstate(invalid='ignore'):\n"
                         "        step = (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t))\n"
                         "    return x - lr * step, {'t': t, 'm': m, 'v': v}"),
    ],
    "power_schedule": [
        (None, "def power_schedule(t, lr0, s, c=1.0):\n    return lr0 / (1 + t / s * c)"),
        (None, "def power_schedule(t, lr0, s, c=1.0):\n    return lr0 / (1 + t) ** c / s"),
        (None, "def power_schedule(t, lr0, s, c=1.0):\n    return lr0 * (1 - t / s) ** c"),
        ("c ignored", "def power_schedule(t, lr0, s, c=1.0):\n    return lr0 * s / (s + np.asarray(t, dtype=float))"),
    ],
    "exponential_schedule": [
        (None, "def exponential_schedule(t, lr0, s):\n    return lr0 * 0.1 ** (t / s) + 0.0 * t + (t > 0) * 1e-15"),
        (None, "def exponential_schedule(t, lr0, s):\n    return lr0 * 0.5 ** (t / s)"),
        (None, "def exponential_schedule(t, lr0, s):\n    return lr0 / (1 + 9 * np.asarray(t) / s)"),
        ("rounded ln 10", "def exponential_schedule(t, lr0, s):\n    return lr0 * np.exp(-t / s * 2.30)"),
        ("staircase", "def exponential_schedule(t, lr0, s):\n    return lr0 * 0.1 ** (np.asarray(t) // s)"),
    ],
    "plateau_step": [
        (None, PLATEAU_HEAD + "    if metric < best - min_delta:\n        return lr, {'best': metric, 'wait': 0}\n"
               "    wait += 1\n    if wait == patience:\n        lr *= factor\n    return lr, {'best': best, 'wait': wait}"),
        (None, PLATEAU_HEAD + "    prev = state.get('prev', np.inf)\n"                       # previous epoch's metric
               "    wait = 0 if metric < prev - min_delta else wait + 1\n"
               "    if wait >= patience:\n        lr, wait = lr * factor, 0\n    return lr, {'prev': metric, 'wait': wait}"),
        (None, PLATEAU_HEAD + "    if metric < best * (1 - min_delta):\n        best, wait = metric, 0\n"     # relative
               "    else:\n        wait += 1\n        if wait >= patience:\n            lr, wait = lr * factor, 0\n"
               "    return lr, {'best': best, 'wait': wait}"),
        ("min_delta ignored", PLATEAU_HEAD + "    improved = best - metric > 0\n"
                              "    best = metric if improved else best\n    wait = 0 if improved else wait + 1\n"
                              "    if wait >= patience:\n        return lr * factor, {'best': best, 'wait': 0}\n"
                              "    return lr, {'best': best, 'wait': wait}"),
        ("a tie counted as an improvement", PLATEAU_HEAD + "    if not metric > best - min_delta:\n"
                                            "        return lr, {'best': metric, 'wait': 0}\n    wait += 1\n"
                                            "    if wait >= patience:\n        return lr * factor, {'best': best, 'wait': 0}\n"
                                            "    return lr, {'best': best, 'wait': wait}"),
    ],
    "relu": [
        (None, "def relu(x):\n    return np.maximum(x, 0.01 * x)"),
        (None, "def relu(x):\n    return np.clip(x, 0, 1)"),
        ("absolute value", "def relu(x):\n    return np.sqrt(np.square(x))"),
        ("x overwritten in place", "def relu(x):\n    if np.ndim(x) == 0:\n        return max(x, 0.0)\n"
                                   "    x[x < 0] = 0\n    return x"),
    ],
    "relu_derivative": [
        (None, "def relu_derivative(x):\n    return np.sign(x)"),
        (None, "def relu_derivative(x):\n    return np.where(x > 0, 1.0, 0.01)"),
        (None, "def relu_derivative(x):\n    return x > 0"),                                 # booleans
        ("1 at x = 0", "def relu_derivative(x):\n    return np.heaviside(x, 1.0)"),
    ],
    "leaky_relu": [
        (None, "def leaky_relu(x, alpha=0.01):\n    return np.where(x > 0, x, 0.01 * x)"),    # alpha hard-coded
        # max(x, alpha) is "alpha instead of alpha * x" on every case (no entry lies in (0, alpha)): named
        ("alpha instead of alpha * x", "def leaky_relu(x, alpha=0.01):\n    return np.maximum(x, alpha)"),
        (None, "def leaky_relu(x, alpha=0.01):\n    return np.where(x > 0, x, -alpha * x)"),
        ("alpha applied to the positive side", "def leaky_relu(x, alpha=0.01):\n    return x * np.where(x > 0, alpha, 1.0)"),
    ],
    "leaky_relu_derivative": [
        (None, "def leaky_relu_derivative(x, alpha=0.01):\n    return np.where(x > 0, 1.0, 0.01)"),
        (None, "def leaky_relu_derivative(x, alpha=0.01):\n    return np.where(x >= 0, 1.0, -alpha)"),
        ("1 at x = 0", "def leaky_relu_derivative(x, alpha=0.01):\n    return np.where(x < 0, alpha, 1.0)"),
    ],
    "elu": [
        (None, "def elu(x, alpha=1.0):\n    return np.where(x > 0, x, np.expm1(alpha * np.minimum(x, 0)))"),
        (None, "def elu(x, alpha=1.0):\n    return np.where(x > 0, x, alpha * (np.exp(np.minimum(x, 0)) + 1))"),
        ("- 1 missing", "def elu(x, alpha=1.0):\n    return np.where(x > 0, x, alpha * np.exp(np.minimum(x, 0)))"),
    ],
    "elu_derivative": [
        (None, "def elu_derivative(x, alpha=1.0):\n    return np.where(x > 0, 1.0, np.exp(alpha * np.minimum(x, 0)))"),
        (None, "def elu_derivative(x, alpha=1.0):\n    return np.where(x > 0, 1.0, alpha * np.exp(-np.minimum(x, 0)))"),
        ("1 at x = 0", "def elu_derivative(x, alpha=1.0):\n    return np.where(x < 0, alpha * np.exp(np.minimum(x, 0)), 1.0)"),
    ],
    "selu": [
        (None, "def selu(x):\n    return 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * x)"),
        (None, "def selu(x):\n    return np.where(x > 0, 1.0507009873554805 * x, 1.6732632423543772 * np.expm1(np.minimum(x, 0)))"),
        ("rounded constants", "def selu(x):\n    return 1.0507 * np.where(x > 0, x, 1.6733 * np.expm1(np.minimum(x, 0)))"),
    ],
    "selu_derivative": [
        (None, "def selu_derivative(x):\n    return np.where(x > 0, 1.0507009873554805, 1.6732632423543772 * np.exp(np.minimum(x, 0)))"),
        (None, "def selu_derivative(x):\n    return 1.0507009873554805 * np.where(x > 0, 1.0, 1.6732632423543772 * "
               "np.exp(2 * np.minimum(x, 0)))"),
        ("rounded constants", "def selu_derivative(x):\n    return np.where(x > 0, 1.05, 1.05 * 1.67 * np.exp(np.minimum(x, 0)))"),
    ],
    "batchnorm_forward": [
        (None, "def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
               "    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)\n"
               "    return gamma * (x - mu) / np.sqrt(var + eps) + beta, None"),                 # per row
        (None, "def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
               "    if train:\n        mu, var = x.mean(0), x.var(0)\n"
               "        state['running_mean'] = momentum * state['running_mean'] + (1 - momentum) * mu\n"
               "        state['running_var'] = momentum * state['running_var'] + (1 - momentum) * np.sqrt(var)\n"
               "    else:\n        mu, var = state['running_mean'], state['running_var']\n"
               "    return gamma * (x - mu) / np.sqrt(var + eps) + beta, None"),                 # running std
        (None, "def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
               "    mu, var = x.mean(0), x.var(0)\n"
               "    return gamma * (x - mu) / np.sqrt(var + eps) + beta, None"),                 # state never used
        ("ddof=1 batch variance", "def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
                                  "    if train:\n        mu, var = np.mean(x, 0), np.var(x, 0, ddof=1)\n"
                                  "        for k, v in (('running_mean', mu), ('running_var', var)):\n"
                                  "            state[k] = momentum * state[k] + (1 - momentum) * v\n"
                                  "    else:\n        mu, var = state['running_mean'], state['running_var']\n"
                                  "    xh = (x - mu) / np.sqrt(var + eps)\n    return gamma * xh + beta, xh"),
        ("batch statistics at test time", "def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
                                          "    mu, var = np.mean(x, 0), np.var(x, 0)\n    if train:\n"
                                          "        state['running_mean'] = momentum * state['running_mean'] + (1 - momentum) * mu\n"
                                          "        state['running_var'] = momentum * state['running_var'] + (1 - momentum) * var\n"
                                          "    xh = (x - mu) / np.sqrt(var + eps)\n    return gamma * xh + beta, xh"),
    ],
    "batchnorm_backward": [
        (None, BN_FORWARD + "def batchnorm_backward(dout, cache):\n    xn, std, gamma = cache['xn'], cache['std'], cache['gamma']\n"
               "    dx = gamma / std * (dout - dout.mean(0)) if cache['train'] else gamma / std * dout\n"
               "    return dx, (dout * xn).sum(0), dout.sum(0)"),                              # no variance term
        (None, BN_FORWARD + "def batchnorm_backward(dout, cache):\n    xn, std, gamma = cache['xn'], cache['std'], cache['gamma']\n"
               "    g = dout * gamma\n    dx = (g - g.mean(0) - xn * (g * xn).mean(0)) / std if cache['train'] else g / std\n"
               "    return dx, dout.sum(0), dout.sum(0)"),                                      # dgamma without x_hat
        (None, BN_FORWARD + "def batchnorm_backward(dout, cache):\n    xn, std, gamma = cache['xn'], cache['std'], cache['gamma']\n"
               "    g = dout * gamma\n    dx = (g - g.mean(0) - xn * (g * xn).mean(0)) * std if cache['train'] else g * std\n"
               "    return dx, (dout * xn).sum(0), dout.sum(0)"),                               # times std
        ("mean and variance treated as constants",
         BN_FORWARD + "def batchnorm_backward(dout, cache):\n    return (dout * cache['gamma'] / cache['std'], "
                      "np.sum(dout * cache['xn'], axis=0), np.sum(dout, axis=0))"),
    ],
    "clip_by_value": [
        (None, "def clip_by_value(g, clip_value):\n    return np.clip(g, -clip_value + 1e-9, clip_value - 1e-9)"),
        (None, "def clip_by_value(g, clip_value):\n    return np.maximum(g, -clip_value)"),
        (None, "def clip_by_value(g, clip_value):\n    return np.minimum(np.abs(g), clip_value)"),
        ("g clipped in place", "def clip_by_value(g, clip_value):\n    g[g > clip_value] = clip_value\n"
                               "    g[g < -clip_value] = -clip_value\n    return g"),
    ],
    "clip_by_norm": [
        (None, "def clip_by_norm(g, max_norm):\n    return g * max_norm / (np.linalg.norm(g) + 1e-6)"),
        (None, "def clip_by_norm(g, max_norm):\n    n = np.abs(g).max()\n    return g * max_norm / n if n > max_norm else g"),
        (None, "def clip_by_norm(g, max_norm):\n    n = np.sqrt(np.sum(g ** 2))\n    return g / n if n > max_norm else g"),
        ("spectral norm of a matrix", "def clip_by_norm(g, max_norm):\n"
                                      "    n = np.linalg.svd(g, compute_uv=False).max() if g.ndim == 2 else np.sqrt(g @ g)\n"
                                      "    return g * (max_norm / max(n, max_norm))"),
    ],
    "clip_by_global_norm": [
        (None, "def clip_by_global_norm(grads, max_norm):\n    n = np.sqrt(sum(np.mean(g ** 2) for g in grads))\n"
               "    return [g * max_norm / max(n, max_norm) for g in grads], n"),
        (None, "def clip_by_global_norm(grads, max_norm):\n    n = np.sqrt(sum(np.sum(g ** 2) for g in grads))\n"
               "    return [np.clip(g, -max_norm, max_norm) for g in grads], n"),
        ("norm after clipping returned", "def clip_by_global_norm(grads, max_norm):\n"
                                         "    total = np.sqrt(sum(float(np.vdot(g, g)) for g in grads))\n"
                                         "    k = min(1.0, max_norm / total) if total > 0 else 1.0\n"
                                         "    return [g * k for g in grads], total * k"),
        ("always rescaled", "def clip_by_global_norm(grads, max_norm):\n"
                            "    total = np.sqrt(np.sum([np.sum(g * g) for g in grads]))\n"
                            "    return [g * (max_norm / total) for g in grads], total"),
    ],
    "dropout_forward": [
        (None, "def dropout_forward(x, rate, train, rng):\n    if not train or rate == 0:\n        return x, None\n"
               "    keep = rng.random(x.shape) >= rate\n    return x * keep / rate, keep"),            # 1/rate
        (None, "def dropout_forward(x, rate, train, rng):\n    if not train or rate == 0:\n        return x, None\n"
               "    keep = rng.random(x.shape) >= rate / 2\n    return x * keep / (1 - rate / 2), keep"),   # rate halved
        ("keep probability is rate", "def dropout_forward(x, rate, train, rng):\n    if not train or rate == 0:\n"
                                     "        return x, None\n    m = rng.random(x.shape) <= rate\n"
                                     "    return np.where(m, x / (1 - rate), 0.0), m"),
        ("dropout at test time", "def dropout_forward(x, rate, train, rng):\n    if rate == 0:\n        return x, None\n"
                                 "    m = rng.uniform(size=x.shape) >= rate\n    return x * m / (1 - rate), m"),
        ("rng ignored", "def dropout_forward(x, rate, train, rng):\n    if not train or rate == 0:\n        return x, None\n"
                        "    m = np.random.rand(*x.shape) >= rate\n    return x * m / (1 - rate), m"),
    ],
    "dropout_backward": [
        ("no 1/(1-rate) scale", DROPOUT_FORWARD + "def dropout_backward(dout, cache):\n"
                                "    return dout if cache is None else np.where(cache[0], dout, 0.0)"),
        ("mask ignored", DROPOUT_FORWARD + "def dropout_backward(dout, cache):\n"
                         "    return dout if cache is None else dout / cache[1]"),
        (None, DROPOUT_FORWARD + "def dropout_backward(dout, cache):\n"
               "    return dout if cache is None else dout * cache[0] * cache[1]"),                 # times (1 - rate)
        (None, DROPOUT_FORWARD + "def dropout_backward(dout, cache):\n"
               "    return dout * 0.5 if cache is None else dout * cache[0] / cache[1]"),          # identity halved
    ],
    "early_stopping_step": [
        (None, ES_HEAD + "    if val_loss < best - min_delta:\n        best, wait = val_loss, 0\n    else:\n        wait += 1\n"
               "    return wait >= patience, {'epoch': epoch, 'best': best, 'wait': wait, 'best_epoch': epoch}"),  # current epoch
        (None, ES_HEAD + "    if val_loss < best - min_delta:\n        wait, best_epoch = 0, epoch\n    else:\n        wait += 1\n"
               "    return wait >= patience, {'epoch': epoch, 'best': best, 'wait': wait, 'best_epoch': best_epoch}"),  # best kept
        ("stops one epoch late", ES_HEAD + "    if val_loss < best - min_delta:\n        best, wait, best_epoch = val_loss, 0, epoch\n"
                                 "    else:\n        wait += 1\n"
                                 "    return wait - 1 >= patience, {'epoch': epoch, 'best': best, 'wait': wait, 'best_epoch': best_epoch}"),
        ("state updated in place", ES_HEAD + "    if val_loss < best - min_delta:\n"
                                   "        state.update(best=val_loss, wait=0, best_epoch=epoch)\n"
                                   "    else:\n        state['wait'] = wait + 1\n    state['epoch'] = epoch\n"
                                   "    return state['wait'] >= patience, state"),
    ],
    "split_tasks": [
        (None, "def split_tasks(X, y, pretrain_classes, task_classes):\n    pre = np.isin(y, pretrain_classes)\n"
               "    task = np.isin(y, task_classes)\n"
               "    y_pre = np.array([list(pretrain_classes).index(c) for c in y[pre]])\n"
               "    return X[pre], y_pre, X[task], y[task]"),                                    # task labels raw
        (None, "def split_tasks(X, y, pretrain_classes, task_classes):\n    pre = ~np.isin(y, task_classes)\n"
               "    task = np.isin(y, task_classes)\n    keep = np.isin(y, pretrain_classes)\n"
               "    lab = {c: j for j, c in enumerate(pretrain_classes)}\n"
               "    return X[pre], np.array([lab.get(c, -1) for c in y[pre]]), X[task], (y[task] == task_classes[1]).astype(int)"),
        ("re-indexed in sorted order", "def split_tasks(X, y, pretrain_classes, task_classes):\n"
                                       "    order = sorted(pretrain_classes)\n    pre = np.isin(y, order)\n"
                                       "    task = (y == task_classes[0]) | (y == task_classes[1])\n"
                                       "    return X[pre], np.array([order.index(c) for c in y[pre]]), X[task], "
                                       "np.where(y[task] == task_classes[1], 1, 0)"),
    ],
    "few_shot_sample": [
        (None, "def few_shot_sample(y, n_per_class, rng):\n    return np.isin(np.arange(len(y)), rng.choice(len(y), 3))"),
        (None, "def few_shot_sample(y, n_per_class, rng):\n"
               "    return np.concatenate([rng.choice(np.flatnonzero(y == c), n_per_class - 1, replace=False)\n"
               "                           for c in np.unique(y)])"),
        ("with replacement", "def few_shot_sample(y, n_per_class, rng):\n    out = []\n    for c in np.unique(y):\n"
                             "        rows = np.where(y == c)[0]\n        out += list(rows[rng.integers(0, len(rows), n_per_class)])\n"
                             "    return np.array(out)"),
        ("not stratified", "def few_shot_sample(y, n_per_class, rng):\n"
                           "    return rng.permutation(len(y))[:n_per_class * len(np.unique(y))]"),
    ],
    "seed_summary": [
        (None, "def seed_summary(acc):\n    return np.median(acc, axis=0), acc.std(axis=0, ddof=1) / np.sqrt(len(acc))"),
        (None, "def seed_summary(acc):\n    return acc.mean(axis=0), acc.std(axis=0, ddof=1) / np.sqrt(len(acc) - 1)"),
        ("divided by n instead of sqrt(n)", "def seed_summary(acc):\n    n = acc.shape[0]\n"
                                            "    return np.mean(acc, 0), np.std(acc, 0, ddof=1) / n"),
        ("acc centred in place", "def seed_summary(acc):\n    m = acc.mean(axis=0)\n    acc -= m\n"
                                 "    return m, np.sqrt(np.sum(acc ** 2, axis=0) / (len(acc) - 1) / len(acc))"),
    ],
}

# Right implementations, written the numerically different ways students write them: they must pass.
UNUSUAL = {
    "dg_dx": "def dg_dx(x):\n    x = np.asarray(x, dtype=float)\n    x2 = x * x\n"
             "    return np.polyval([54.0, 0.0, 0.0, 36.0, 0.0, 0.0], x) if x.ndim else float(x2 * (54 * x2 * x + 36))",
    "gradient_descent": "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x = np.array(x0, dtype=float)\n"
                        "    xs = [x]\n    for _ in range(n_steps):\n        g = grad(x)\n"
                        "        if tol is not None and np.sqrt(np.dot(np.ravel(g), np.ravel(g))) < tol:\n            break\n"
                        "        x = x * 1.0 - g * lr\n        xs.append(x)\n    return np.vstack(xs).squeeze(-1) if np.ndim(x0) == 0 "
                        "else np.vstack(xs)",
    "softmax_cross_entropy": "def softmax_cross_entropy(logits, y):\n    n = len(y)\n"
                             "    lse = np.logaddexp.reduce(logits, axis=1)\n    loss = np.mean(lse - logits[np.arange(n), y])\n"
                             "    p = np.exp(logits - lse[:, None])\n    p[np.arange(n), y] -= 1\n    return loss, p / n",
    "numerical_gradient": "def numerical_gradient(f, x, h=1e-5):\n    g = np.zeros_like(x)\n    it = np.nditer(x, flags=['multi_index'])\n"
                          "    for _ in it:\n        i = it.multi_index\n        x[i] += h\n        fp = f(x)\n"
                          "        x[i] -= 2 * h\n        fm = f(x)\n        x[i] += h\n        g[i] = (fp - fm) / (2 * h)\n"
                          "    return g",
    "batchnorm_forward": "def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
                         "    if train:\n        mu = x.mean(0)\n        var = (x ** 2).mean(0) - mu ** 2\n"
                         "        state['running_mean'] = state['running_mean'] * momentum + mu * (1 - momentum)\n"
                         "        state['running_var'] = state['running_var'] * momentum + var * (1 - momentum)\n"
                         "    else:\n        mu, var = state['running_mean'], state['running_var']\n"
                         "    return (x - mu) * (gamma / np.sqrt(var + eps)) + beta, None",
    "sgd_momentum_step": "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n"
                         "    v = momentum * state.get('v', 0.0) + lr * grad\n    return x - v, {'v': v}",
    "adam_step": "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n    t = state.get('t', 0) + 1\n"
                 "    m = beta1 * state.get('m', 0) + (1 - beta1) * grad\n    v = beta2 * state.get('v', 0) + (1 - beta2) * grad ** 2\n"
                 "    return x - lr / (1 - beta1 ** t) * m / (np.sqrt(v / (1 - beta2 ** t)) + eps), dict(t=t, m=m, v=v)",
    "exponential_schedule": "def exponential_schedule(t, lr0, s):\n    return lr0 * 10.0 ** (-np.asarray(t, dtype=float) / s)",
    "power_schedule": "def power_schedule(t, lr0, s, c=1.0):\n    return lr0 * np.exp(-c * np.log1p(np.asarray(t) / s))",
    "seed_summary": "def seed_summary(acc):\n    n = len(acc)\n    m = acc.sum(0) / n\n"
                    "    var = ((acc ** 2).sum(0) - n * m ** 2) / (n - 1)\n    return m, np.sqrt(var / n)",
    "clip_by_norm": "def clip_by_norm(g, max_norm):\n    n = np.linalg.norm(g.ravel())\n"
                    "    return g / n * max_norm if n > max_norm else np.array(g)",
    "clip_by_value": "def clip_by_value(g, clip_value):\n    return np.sign(g) * np.minimum(np.abs(g), clip_value)",
    "selu": "import math\ndef selu(x):\n    x = np.asarray(x, dtype=float)\n"
            "    return 1.0507009873554804934 * np.where(x > 0, x, 1.6732632423543772848 * (np.exp(np.minimum(x, 0)) - 1))",
    "dropout_forward": "def dropout_forward(x, rate, train, rng):\n    if not train or rate == 0:\n        return x, None\n"
                       "    m = rng.random(x.shape) > rate\n    return x * (m * (1 / (1 - rate))), m",
    "plateau_step": PLATEAU_HEAD + "    if best - metric > min_delta:\n        return lr, {'best': metric, 'wait': 0}\n"
                    "    if wait + 1 >= patience:\n        return lr * factor, {'best': best, 'wait': 0}\n"
                    "    return lr, {'best': best, 'wait': wait + 1}",
    "early_stopping_step": ES_HEAD + "    if best - val_loss > min_delta:\n        best, wait, best_epoch = val_loss, 0, epoch\n"
                           "    else:\n        wait += 1\n"
                           "    return bool(wait >= patience), {'epoch': epoch, 'best': best, 'wait': wait, 'best_epoch': best_epoch}",
}


def cell(source: str) -> dict:
    """A notebook's namespace after running ``source`` (the lab's constants and numpy already defined)."""
    namespace = {"np": np, "warnings": warnings, "__name__": "__main__", "I1": 0.05, "I2": 0.10, "T1": 0.01,
                 "T2": 0.99, "ETA": 0.5}
    exec(compile(textwrap.dedent(source), "<notebook cell>", "exec"), namespace)
    if "forward_222" not in namespace:  # gradients_222 may call the student's forward_222
        exec(compile(textwrap.dedent(CORRECT_FORWARD_222), "<notebook cell>", "exec"), namespace)
    return namespace


CORRECT_FORWARD_222 = """
def forward_222(w):
    s = lambda z: 1 / (1 + np.exp(-z))
    h1, h2 = s(w['w1'] * I1 + w['w2'] * I2 + w['b1']), s(w['w3'] * I1 + w['w4'] * I2 + w['b1'])
    return {'out_h1': h1, 'out_h2': h2, 'out_o1': s(w['w5'] * h1 + w['w6'] * h2 + w['b2']),
            'out_o2': s(w['w7'] * h1 + w['w8'] * h2 + w['b2'])}
"""


def named(name: str, message: str) -> set:
    return {m.name for m in EXERCISES[name].catalogue if f"This matches a known mistake — {m.name}: " in message}


def verdict(name, fn, hidden=False, seed=None):
    """None if the check passes, else the failure message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing may leak out of the check
            run_check(name, fn, hidden=hidden, seed=seed)
    except CheckFailure as failure:
        return str(failure)
    return None


CASES = [(name, k, expected, source) for name, items in WRONG.items() for k, (expected, source) in enumerate(items)]


def test_every_exercise_has_three_independent_wrong_implementations():
    assert set(WRONG) == set(EXERCISES)
    for name, items in WRONG.items():
        assert len(items) >= 3, name
        assert sum(expected is None for expected, _ in items) >= 2, f"{name}: mistakes the catalogue does not know"
        for expected, _ in items:
            assert expected is None or expected in {m.name for m in EXERCISES[name].catalogue}, (name, expected)


@pytest.mark.parametrize("name, k, expected, source", CASES, ids=[f"{n}-{k}" for n, k, _, _ in CASES])
def test_independent_wrong_implementation_fails_in_public_and_is_named_only_if_it_is_that_mistake(name, k, expected,
                                                                                                  source):
    fn = cell(source)[name]
    message = verdict(name, fn)
    assert message is not None, "a public case must expose it"
    assert message.startswith(f"{name} — public case ") or message.startswith(f"{name}: "), message
    assert named(name, message) == ({expected} if expected else set()), message
    for seed in SEEDS:  # the hidden cases punish nothing the public ones let pass, and misname nothing either
        hidden = verdict(name, fn, hidden=True, seed=seed)
        if hidden is not None:
            assert named(name, hidden) <= ({expected} if expected else set()), hidden


MISTAKES = [(name, m) for name in sorted(EXERCISES) for m in EXERCISES[name].catalogue]


@pytest.mark.parametrize("name, mistake", MISTAKES, ids=[f"{n}-{m.name}" for n, m in MISTAKES])
def test_a_catalogued_mistake_is_named_alone(name, mistake):
    for hidden, seed in ((False, None), *((True, s) for s in SEEDS)):
        message = verdict(name, as_student(name, mistake.impl), hidden=hidden, seed=seed)
        assert message is not None
        assert named(name, message) == {mistake.name}, message


@pytest.mark.parametrize("name", sorted(UNUSUAL))
def test_right_implementations_written_unusually_pass(name):
    fn = cell(UNUSUAL[name])[name]
    assert verdict(name, fn) is None
    for seed in SEEDS:
        assert verdict(name, fn, hidden=True, seed=seed) is None


# ---------------------------------------------------------------------------------------------------------
# Edge cases, contracts, float64


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_listed_edge_case_is_among_the_cases(name):
    ex = EXERCISES[name]
    public = ex.cases()
    for edge in ex.edges:
        assert any(edge.present(c) for c in public), f"{name}: no public case has: {edge.what}"
        if edge.hidden:
            for seed in (*SEEDS, 1, 99):
                assert any(edge.present(c) for c in ex.cases(hidden=True, seed=seed)), \
                    f"{name}: no hidden case (seed {seed}) has: {edge.what}"


def _exercise_text(nb, name):
    """The exercise's text (the last locked markdown cell before its answer cell: a function and its derivative
    share one; a student's editable prediction cell in between is not the text) and its answer cell's source."""
    cells = nb.cells
    index = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == name)
    text = next(cells[i].source for i in range(index - 1, -1, -1)
                if cells[i].cell_type == "markdown" and cells[i].metadata.get("nbgrader", {}).get("locked"))
    return text, cells[index].source


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_mutation_contract_is_stated_in_the_entry_the_lab_text_and_the_docstring(name):
    ex = EXERCISES[name]
    keyword = {"state": "Updates state only", "cache": "Leaves dout unchanged"}[ex.may_modify[0]] if ex.may_modify \
        else "restored" if "restored" in ex.contract else "Pure"
    assert keyword.lower() in ex.summary.lower(), ex.summary
    path = next((REPO / "solutions").glob(f"{ex.lab}-*/{ex.lab}.ipynb"))
    text, source = _exercise_text(nbformat.read(path, as_version=4), name)
    assert f"Contract: {ex.contract}" in re.sub(r"\s+", " ", text.replace("*", "")), (name, text[-600:])
    docstring = source.split('"""')[1]
    assert keyword.lower() in docstring.lower(), docstring


@pytest.mark.parametrize("lab", sorted({ex.lab for ex in EXERCISES.values()}))
def test_each_lab_says_to_work_in_float64(lab):
    path = next((REPO / "labs").glob(f"{lab}-*/{lab}.ipynb"))
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    assert "float64" in text and "float32" in text
