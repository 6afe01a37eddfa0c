"""lab02, backpropagation: the chain rule warm-up, the 2-2-2 network by hand, a dense layer, softmax cross-entropy, numerical gradients.

Edge cases (``edges`` of each exercise, checked to be among its cases by the tests):
* dg_dx: a number and arrays (1-D, 2-D, changing x in place would show), negative entries (odd powers), x = 0
  (g'(0) = 0), x near the root of the inner function u = 3x^3 + 2 (the expanded form cancels there).
* forward_222, gradients_222: the post's weights, other signs, and large weights that saturate the sigmoids
  (outputs within 1e-6 of 0 or 1: deltas near 0).
* dense_forward, dense_backward: no square shapes (a transpose cannot pass), a one-row batch (N = 1), M = 1
  columns never (b would broadcast either way); the backward's input comes from the student's own forward,
  which must give a usable (out, cache) first.
* softmax_cross_entropy: N = 1, logits around 1000 (overflow without the max shift), confident rows (a
  probability within 1e-12 of 1, and a true class 40 below the best: clipping or smoothing p shows), a row of
  equal logits (loss ln C), labels that differ within every case of N >= 2 rows (p[:, y] would pass otherwise).
* numerical_gradient: 1-D and 2-D x, the default and a non-default h, an f whose entries interact (not
  separable); x must be restored after the call (checked to 1e-14).
"""
from __future__ import annotations

import math

import numpy as np

from ... import backprop, gradcheck, landscapes, nn
from ..engine import Case, Edge, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import has_entry, other_shape, shape_of

# ---------------------------------------------------------------------------------------------------------
# The 2-2-2 sigmoid network (lablib.backprop): inputs (0.05, 0.10), targets (0.01, 0.99), one bias per layer

OUTS = ("out_h1", "out_h2", "out_o1", "out_o2")
WEIGHTS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")
_SECOND = dict(zip(backprop.NAMES, (-0.3, 0.8, 0.1, -0.6, 1.2, -0.7, 0.05, 0.9, -0.2, 0.4)))


# Large weights: net_o1 = -17.9 and net_o2 = 14.5, outputs within 1e-6 of 0 and 1 (saturated sigmoids).
_SATURATED = dict(zip(backprop.NAMES, (40.0, -30.0, -25.0, 45.0, -9.0, -8.0, 8.0, 9.5, 3.0, -2.0)))


def _weight_cases():
    return [Case(label="the post's initial weights (w1=0.15 ... w8=0.55, b1=0.35, b2=0.60)", w=dict(backprop.INITIAL)),
            Case(label="weights w1..w8 = -0.3, 0.8, 0.1, -0.6, 1.2, -0.7, 0.05, 0.9; b1=-0.2, b2=0.4", w=_SECOND),
            Case(label="large weights w1..w8 = 40, -30, -25, 45, -9, -8, 8, 9.5; b1=3, b2=-2 (saturated sigmoids)",
                 w=dict(_SATURATED))]


def _hidden_weights(rng):
    cases = [Case(label=f"random weights and biases in [-1, 1] (set {k + 1})",
                  w=dict(zip(backprop.NAMES, rng.uniform(-1, 1, size=len(backprop.NAMES)).tolist())))
             for k in range(3)]
    # the hidden layer anywhere, the output layer dominated by b2: |net_o| >= 25 - 2 * 4 = 17, saturated
    size = rng.uniform(8, 40, size=5), rng.uniform(0.5, 4, size=4), rng.uniform(25, 35, size=1)
    big = np.concatenate(size) * rng.choice([-1.0, 1.0], size=len(backprop.NAMES))
    big = big[[0, 1, 2, 3, 5, 6, 7, 8, 4, 9]]  # NAMES order: w1..w4, w5..w8, b1, b2
    cases.append(Case(label="random large weights and biases (saturated sigmoids)",
                      w=dict(zip(backprop.NAMES, big.tolist()))))
    return cases


def _saturated(c):
    out = _forward(c.w)
    return min(out["out_o1"], out["out_o2"], 1 - out["out_o1"], 1 - out["out_o2"]) < 1e-6


_NETWORK_EDGES = (
    Edge("the post's weights (every number of the post)", lambda c: c.w == backprop.INITIAL, hidden=False),
    Edge("negative weights and biases", lambda c: min(c.w.values()) < 0),
    Edge("large weights: outputs within 1e-6 of 0 or 1 (saturated sigmoids, deltas near 0)", _saturated),
)
_SIGMOID_TOLERANCE = ("sigmoid written as 1/(1 + e^-z), e^z/(1 + e^z) or (1 + tanh(z/2))/2 differ by a few ulps of "
                      "1 in ABSOLUTE terms (and out(1 - out) near saturation loses relative accuracy the same way): "
                      "atol 1e-14; otherwise a handful of operations, rtol 1e-12")


def _sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def _forward(w, *, bias=True, out_act=True, hid_act=True, swap=False):
    """Independent forward pass; the keyword flags produce the catalogued mistakes."""
    (i1, i2), b1, b2 = backprop.INPUTS, (w["b1"] if bias else 0.0), (w["b2"] if bias else 0.0)
    a, b, c, d = (w["w1"], w["w3"], w["w2"], w["w4"]) if swap else (w["w1"], w["w2"], w["w3"], w["w4"])
    net_h1, net_h2 = a * i1 + b * i2 + b1, c * i1 + d * i2 + b1
    h1, h2 = (_sigmoid(net_h1), _sigmoid(net_h2)) if hid_act else (net_h1, net_h2)
    e, f, g, h = (w["w5"], w["w7"], w["w6"], w["w8"]) if swap else (w["w5"], w["w6"], w["w7"], w["w8"])
    net_o1, net_o2 = e * h1 + f * h2 + b2, g * h1 + h * h2 + b2
    o1, o2 = (_sigmoid(net_o1), _sigmoid(net_o2)) if out_act else (net_o1, net_o2)
    return {"out_h1": h1, "out_h2": h2, "out_o1": o1, "out_o2": o2}


def forward_222(w):
    f = backprop.forward(w)
    return {k: f[k] for k in OUTS}


def _drive_forward_222(run, fn, c):
    out = run.keys(run.call(fn, c.w), OUTS, "the return value (a dict with out_h1, out_h2, out_o1, out_o2)")
    for k in OUTS:
        run.record(k, out[k])


FORWARD_222 = Exercise(
    name="forward_222",
    lab="lab02",
    signature="def forward_222(w):",
    summary="Forward pass of the 2-2-2 sigmoid network (inputs 0.05, 0.10; b1 shared by the hidden neurons, b2 by "
            "the outputs) for weights w = {'w1'..'w8', 'b1', 'b2'}; return {'out_h1', 'out_h2', 'out_o1', 'out_o2'}. "
            "Pure: w is not modified.",
    reference=forward_222,
    drive=_drive_forward_222,
    public_cases=_weight_cases,
    hidden_cases=_hidden_weights,
    guarded=resolve("lablib.backprop.forward", "lablib.backprop._forward"),
    rtol=1e-12, atol=1e-14, tolerance=_SIGMOID_TOLERANCE, edges=_NETWORK_EDGES,
    catalogue=(
        Mistake("biases forgotten", "every net input adds its layer's bias: net_h1 = w1*i1 + w2*i2 + b1, "
                "net_o1 = w5*out_h1 + w6*out_h2 + b2", lambda w: _forward(w, bias=False)),
        Mistake("no sigmoid at the output", "the outputs are out_o = sigmoid(net_o), not net_o",
                lambda w: _forward(w, out_act=False)),
        Mistake("net_h fed forward", "the output layer takes the hidden OUTPUTS out_h = sigmoid(net_h), "
                "not net_h", lambda w: _forward(w, hid_act=False)),
        Mistake("weights mixed up", "w1, w2 feed h1 (from i1, i2) and w3, w4 feed h2; w5, w6 feed o1 and "
                "w7, w8 feed o2", lambda w: _forward(w, swap=True)),
    ),
)


def _gradients(w, *, updated_out=False, no_sigmoid_out=False, flip=False, one_path=False, use_net=False):
    """Independent backprop for E = 1/2 sum (t - out_o)^2; the flags produce the catalogued mistakes."""
    (i1, i2), (t1, t2) = backprop.INPUTS, backprop.TARGETS
    f = _forward(w)
    h1, h2, o1, o2 = f["out_h1"], f["out_h2"], f["out_o1"], f["out_o2"]
    s = -1.0 if flip else 1.0
    d_o1 = s * (o1 - t1) * (1.0 if no_sigmoid_out else o1 * (1 - o1))
    d_o2 = s * (o2 - t2) * (1.0 if no_sigmoid_out else o2 * (1 - o2))
    a1 = w["w1"] * i1 + w["w2"] * i2 + w["b1"] if use_net else h1
    a2 = w["w3"] * i1 + w["w4"] * i2 + w["b1"] if use_net else h2
    g = {"w5": d_o1 * a1, "w6": d_o1 * a2, "w7": d_o2 * a1, "w8": d_o2 * a2}
    v = {k: w[k] - 0.5 * g[k] for k in g} if updated_out else w
    back1 = d_o1 * v["w5"] + (0.0 if one_path else d_o2 * v["w7"])
    back2 = d_o1 * v["w6"] + (0.0 if one_path else d_o2 * v["w8"])
    d_h1, d_h2 = back1 * h1 * (1 - h1), back2 * h2 * (1 - h2)
    g.update({"w1": d_h1 * i1, "w2": d_h1 * i2, "w3": d_h2 * i1, "w4": d_h2 * i2})
    return g


def gradients_222(w):
    g = backprop.gradients(w)
    return {k: g[k] for k in WEIGHTS}


def _gradients_then_step(w):
    """Right gradients, but the caller's weights are updated too (a training step inside the function)."""
    g = _gradients(w)
    for k in WEIGHTS:
        w[k] -= 0.5 * g[k]
    return g


def _drive_gradients_222(run, fn, c):
    g = run.keys(run.call(fn, c.w), WEIGHTS, "the return value (a dict with keys 'w1'..'w8': dE/dw1..dE/dw8)")
    for k in ("w5", "w6", "w7", "w8", "w1", "w2", "w3", "w4"):
        run.record(f"dE/d{k} (key {k!r})", g[k])


GRADIENTS_222 = Exercise(
    name="gradients_222",
    lab="lab02",
    signature="def gradients_222(w):",
    summary="Backpropagation in the 2-2-2 network, E = 1/2 (t1 - out_o1)**2 + 1/2 (t2 - out_o2)**2 with targets "
            "0.01, 0.99; return {'w1': dE/dw1, ..., 'w8': dE/dw8}, all at the current weights. Pure: w is not "
            "modified.",
    reference=gradients_222,
    drive=_drive_gradients_222,
    public_cases=_weight_cases,
    hidden_cases=_hidden_weights,
    guarded=resolve("lablib.backprop.gradients", "lablib.backprop._gradients", "lablib.backprop.train_step",
                    "lablib.backprop._train_step", "lablib.backprop.forward", "lablib.backprop._forward"),
    rtol=1e-12, atol=1e-14, tolerance=_SIGMOID_TOLERANCE, edges=_NETWORK_EDGES,
    catalogue=(
        Mistake("already-updated weights in backprop", "take every gradient at the CURRENT weights: the hidden "
                "deltas use the old w5..w8, not values already updated by w - eta * dE/dw",
                lambda w: _gradients(w, updated_out=True)),
        Mistake("output sigmoid derivative missing", "delta_o1 = (out_o1 - t1) * out_o1 * (1 - out_o1): the "
                "chain rule goes through the output sigmoid too", lambda w: _gradients(w, no_sigmoid_out=True)),
        Mistake("error sign flipped", "dE/dout_o1 = out_o1 - t1 (not t1 - out_o1) for E = 1/2 (t1 - out_o1)**2",
                lambda w: _gradients(w, flip=True)),
        Mistake("hidden delta from one output only", "out_h1 feeds BOTH outputs: dE/dout_h1 = delta_o1 * w5 + "
                "delta_o2 * w7", lambda w: _gradients(w, one_path=True)),
        Mistake("net instead of out", "dnet_o1/dw5 = out_h1 (the hidden neuron's output after the sigmoid), "
                "not net_h1", lambda w: _gradients(w, use_net=True)),
        Mistake("weights updated inside", "gradients_222 only computes the gradients, all at the weights w it is "
                "given; the update w - ETA * dE/dw belongs to the training loop, on a copy of w",
                _gradients_then_step, modifies="w"),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# Dense layer: out = x @ W + b, x (N, D), W (D, M), b (M,)

_DENSE_SHAPES = [(4, 3, 2), (2, 5, 4), (3, 2, 5), (1, 4, 3)]  # never square: a transposed product cannot pass


def _dense_case(rng, n, d, m):
    return Case(label=f"x of shape ({n}, {d}), W of shape ({d}, {m}), b of shape ({m},)" + (
                " (one row)" if n == 1 else ""),
                x=rng.normal(size=(n, d)), W=rng.normal(size=(d, m)), b=rng.normal(size=m),
                dout=rng.normal(size=(n, m)))


def _dense_public():
    rng = np.random.default_rng(2)
    return [_dense_case(rng, *s) for s in _DENSE_SHAPES]


def _dense_hidden(rng):
    cases = []
    for n in (int(rng.integers(5, 9)), int(rng.integers(5, 9)), 1):
        while True:
            d, m = other_shape(rng, (6, 5), (9, 8))
            if len({n, d, m}) == 3:
                break
        cases.append(_dense_case(rng, n, d, m))
    return cases


def dense_forward(x, W, b):
    return nn.dense_forward(x, W, b)


def dense_backward(dout, cache):
    return nn.dense_backward(dout, cache)


def _drive_dense_forward(run, fn, c):
    out, _ = run.unpack(run.call(fn, c.x, c.W, c.b), 2, "the return value (out, cache)")
    run.record("out", out)


def _drive_dense_backward(run, fn, c):
    # dx, dW, db depend on x and W only: a right backward passes whatever your forward's out, given a usable cache
    _, cache = run.forward("dense_forward", c.x, c.W, c.b, shape=c.dout.shape)
    dx, dW, db = run.unpack(run.call(fn, c.dout, cache), 3, "the return value (dx, dW, db)")
    run.record("dx", dx)
    run.record("dW", dW)
    run.record("db", db)


_DENSE_GUARDS = resolve("lablib.nn.dense_forward", "lablib.nn.dense._dense_forward",
                        "lablib.nn.dense_backward", "lablib.nn.dense._dense_backward")
_DENSE_EDGES = (
    Edge("no square shapes (N, D, M all different): a transpose cannot pass", lambda c: len(set(c.x.shape)) == 2
         and c.W.shape[1] not in c.x.shape),
    Edge("one row (N = 1)", lambda c: c.x.shape[0] == 1),
    Edge("several rows (b broadcast over them, db summed over them)", lambda c: c.x.shape[0] > 1),
)
_DENSE_TOLERANCE = ("a product sums D <= 9 terms of O(1) numbers: another summation order (einsum, loops, np.dot) "
                    "moves an entry by ~1e-15 absolute, and an entry near 0 has no relative accuracy: atol 1e-13, "
                    "rtol 1e-12")

DENSE_FORWARD = Exercise(
    name="dense_forward",
    lab="lab02",
    signature="def dense_forward(x, W, b):",
    summary="out = x @ W + b for x (N, D), W (D, M), b (M,); return (out, cache) with whatever your backward needs. "
            "Pure: x, W and b are not modified.",
    reference=dense_forward,
    drive=_drive_dense_forward,
    public_cases=_dense_public,
    hidden_cases=_dense_hidden,
    guarded=_DENSE_GUARDS,
    catalogue=(
        Mistake("bias forgotten", "out = x @ W + b: add b (broadcast over the rows)", lambda x, W, b: (x @ W, (x, W))),
        Mistake("output transposed", "keep one example per ROW: out = x @ W + b has shape (N, M), not W.T @ x.T",
                lambda x, W, b: ((x @ W + b).T, (x, W))),
        Mistake("activation inside the dense layer", "the dense layer is affine only (x @ W + b); the ReLU or "
                "sigmoid is a separate layer", lambda x, W, b: (np.maximum(0.0, x @ W + b), (x, W))),
    ),
    rtol=1e-12, atol=1e-13, tolerance=_DENSE_TOLERANCE, edges=_DENSE_EDGES,
)


DENSE_BACKWARD = Exercise(
    name="dense_backward",
    lab="lab02",
    signature="def dense_backward(dout, cache):",
    summary="Given dout = dL/dout (N, M) and your forward's cache, return (dx, dW, db) = (dout @ W.T, x.T @ dout, "
            "dout summed over the rows). Leaves dout unchanged (the cache is yours).",
    reference=dense_backward,
    drive=_drive_dense_backward,
    public_cases=_dense_public,
    hidden_cases=_dense_hidden,
    guarded=_DENSE_GUARDS,
    partners={"dense_forward": dense_forward},
    catalogue=(
        Mistake("dW transposed", "dW must have W's shape (D, M): dW = x.T @ dout, not dout.T @ x",
                lambda dout, cache: (dout @ cache[1].T, dout.T @ cache[0], dout.sum(axis=0))),
        Mistake("db over the wrong axis", "b is added to every ROW, so db sums dout over the rows: "
                "dout.sum(axis=0), shape (M,)",
                lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout, dout.sum(axis=1))),
        Mistake("divides by the batch size", "dout already contains the loss's 1/N; dense_backward must not "
                "divide by N again",
                lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout / len(dout), dout.sum(axis=0) / len(dout))),
    ),
    contract="leaves `dout` unchanged; only its own `cache` is its to change",
    may_modify=("cache",),
    rtol=1e-12, atol=1e-13, tolerance=_DENSE_TOLERANCE, edges=_DENSE_EDGES,
)

# ---------------------------------------------------------------------------------------------------------
# Softmax cross-entropy: mean loss over the batch and its gradient


def _ce_case(rng, n, c, offset=0.0):
    logits = rng.normal(scale=2.0, size=(n, c)) + offset
    y = rng.integers(0, c, size=n)
    if n > 1 and np.all(y == y[0]):  # labels must differ within a case: p[:, y] would pass otherwise
        y[-1] = (y[0] + 1) % c
    label = f"logits of shape ({n}, {c})" + (f", all around {offset:g} (overflow test)" if offset else "")
    return Case(label=label, logits=logits, y=y)


def _confident_case(logits, y, what):
    logits = np.asarray(logits, dtype=float)
    return Case(label=f"logits of shape {logits.shape}, {what}", logits=logits, y=np.asarray(y))


def _ce_public():
    rng = np.random.default_rng(3)
    return [_ce_case(rng, 4, 3), _ce_case(rng, 1, 4), _ce_case(rng, 3, 5, offset=1000.0),
            # confident right (p within 1e-12 of 1), confident wrong (true class 40 below), a tie row (loss ln 3)
            _confident_case([[30.0, 0.0, 0.0], [0.0, 35.0, -5.0], [1.0, 1.0, 1.0], [-2.0, 25.0, 3.0]], [0, 2, 1, 1],
                            "confident rows (right and wrong) and a row of equal logits")]


def _ce_hidden(rng):
    shapes = [other_shape(rng, (5, 6), (9, 10)) for _ in range(2)]
    n, c = other_shape(rng, (5, 4), (8, 6))
    logits = rng.normal(size=(n, c))
    y = rng.permutation(np.resize(np.arange(c), n))
    top = rng.integers(0, c, size=n)
    top[1], top[2] = y[1], (y[2] + 1) % c  # at least one confidently right row and one confidently wrong
    logits[np.arange(n), top] += rng.uniform(36, 45, size=n)  # every row confident, right or wrong
    logits[0] = 2.0  # one row of equal logits
    return [_ce_case(rng, *shapes[0]), _ce_case(rng, *shapes[1], offset=float(rng.uniform(800, 1200))),
            _confident_case(logits, y, "confident rows (right and wrong) and a row of equal logits")]


def softmax_cross_entropy(logits, y):
    return nn.softmax_cross_entropy(logits, y)


def _ce_variant(*, per_example_grad=False, summed=False, no_onehot=False, no_shift=False, columns=False,
                in_place=False):
    def ce(logits, y):
        n = len(logits)
        if in_place:
            logits -= logits.max(axis=1, keepdims=True)
            z = logits
        else:
            z = logits if no_shift else logits - logits.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        losses = -np.log(p[:, y] if columns else p[np.arange(n), y])
        grad = p.copy()
        if columns:
            grad[:, y] -= 1.0
        elif not no_onehot:
            grad[np.arange(n), y] -= 1.0
        return (losses.sum() if summed else losses.mean()), (grad if per_example_grad else grad / n)
    return ce


def _drive_ce(run, fn, c):
    loss, dlogits = run.unpack(run.call(fn, c.logits, c.y), 2, "the return value (loss, dlogits)")
    run.record("loss", loss)
    run.record("dlogits", dlogits)


def _probabilities(c):
    z = c.logits - c.logits.max(axis=1, keepdims=True)
    return np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)


SOFTMAX_CROSS_ENTROPY = Exercise(
    name="softmax_cross_entropy",
    lab="lab02",
    signature="def softmax_cross_entropy(logits, y):",
    summary="Mean cross-entropy of softmax(logits) (N, C) against integer labels y (N,); return (loss, dlogits) "
            "with dlogits = (softmax(logits) - onehot(y)) / N. Subtract the row max before exp. Pure: logits and y "
            "are not modified.",
    reference=softmax_cross_entropy,
    drive=_drive_ce,
    public_cases=_ce_public,
    hidden_cases=_ce_hidden,
    guarded=resolve("lablib.nn.softmax_cross_entropy", "lablib.nn.losses._softmax_cross_entropy",
                    "lablib.nn.softmax", "lablib.nn.losses._softmax", "lablib.nn.log_softmax",
                    "lablib.nn.losses._log_softmax"),
    catalogue=(
        Mistake("gradient not divided by the batch size", "the loss is a MEAN over the N rows, so its gradient "
                "is (p - onehot(y)) / N", _ce_variant(per_example_grad=True)),
        Mistake("loss summed over the batch", "return the MEAN of -log p[n, y_n] over the rows, not the sum",
                _ce_variant(summed=True)),
        Mistake("one-hot not subtracted", "dlogits = (p - onehot(y)) / N: subtract 1 at each row's true class",
                _ce_variant(no_onehot=True)),
        Mistake("no max subtraction", "exp overflows for large logits: subtract each row's max before exp "
                "(softmax does not change)", _ce_variant(no_shift=True)),
        Mistake("p[:, y] instead of p[range(N), y]", "p[:, y] takes the columns y of EVERY row (an N x N "
                "block); each row needs its own label: p[np.arange(N), y]", _ce_variant(columns=True)),
        Mistake("logits shifted in place", "`logits -= logits.max(...)` changes the caller's logits: write "
                "`z = logits - logits.max(axis=1, keepdims=True)`", _ce_variant(in_place=True), modifies="logits"),
    ),
    rtol=1e-9, atol=1e-14,
    tolerance="log-sum-exp of logits around 1000 loses |logit|·eps ≈ 1e-13 absolute however it is written "
              "(shifted, log_softmax, logaddexp), and p = exp(z - lse) then carries up to ~5e-12 relative error "
              "(measured): rtol 1e-9; dlogits entries near 0 or -1/N are exact to a few eps: atol 1e-14. Clipping "
              "or smoothing p (1e-7, 1e-12) moves the confidently wrong rows' loss by 10 or more",
    edges=(
        Edge("one row (N = 1)", lambda c: len(c.y) == 1, hidden=False),
        Edge("logits around 1000 (exp overflows without the max shift)", lambda c: np.min(c.logits) > 500),
        Edge("a confident right row (p of the true class within 1e-12 of 1)",
             lambda c: np.any(1 - _probabilities(c)[np.arange(len(c.y)), c.y] < 1e-12)),
        Edge("a confidently wrong row (p of the true class below 1e-12)",
             lambda c: np.any(_probabilities(c)[np.arange(len(c.y)), c.y] < 1e-12)),
        Edge("a row of equal logits (loss ln C)", lambda c: np.any(np.ptp(c.logits, axis=1) == 0)),
        Edge("labels that differ within the case", lambda c: len(set(c.y.tolist())) > 1),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# numerical_gradient(f, x, h=1e-5): central differences


class _Cubic:
    """f(x) = sum(c * x**3) + x.ravel() @ A @ x.ravel() (not separable: entries interact through A)."""

    def __init__(self, c, A):
        self.c, self.A = c, A

    def __call__(self, x):
        v = np.ravel(x)
        return float(np.sum(self.c * v**3) + v @ self.A @ v)


def _ng_case(rng, shape, h=None):
    size = int(np.prod(shape))
    f = _Cubic(rng.uniform(-1, 1, size=size), rng.normal(size=(size, size)))
    label = f"f(x) = sum(c x**3) + x @ A @ x, {shape_of('x', np.zeros(shape))}" + (f", h={h:g}" if h else "")
    return Case(label=label, f=f, x=rng.uniform(-2, 2, size=shape), h=h)


def _ng_public():
    rng = np.random.default_rng(4)
    return [_ng_case(rng, (3,)), _ng_case(rng, (2, 3)), _ng_case(rng, (4,), h=1e-2)]


def _ng_hidden(rng):
    return [_ng_case(rng, other_shape(rng, (5,), (8,))), _ng_case(rng, other_shape(rng, (3, 4), (4, 5))),
            _ng_case(rng, other_shape(rng, (5,), (7,)), h=float(rng.uniform(5e-3, 2e-2)))]


def numerical_gradient(f, x, h=1e-5):
    return gradcheck.numerical_gradient(f, x, h)


def _ng_variant(*, forward=False, over_h=False, no_restore=False, fixed_h=False):
    def ng(f, x, h=1e-5):
        h = 1e-5 if fixed_h else h
        grad = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            old = x[i]
            x[i] = old + h
            f_plus = f(x)
            x[i] = old if forward else old - h
            f_minus = f(x)
            if not no_restore:
                x[i] = old
            grad[i] = (f_plus - f_minus) / (h if forward or over_h else 2 * h)
        return grad
    return ng


def _drive_ng(run, fn, c):
    kwargs = {} if c.h is None else {"h": c.h}
    run.record("gradient", run.call(fn, c.f, c.x, **kwargs))  # x must be as before the call: the engine checks


NUMERICAL_GRADIENT = Exercise(
    name="numerical_gradient",
    lab="lab02",
    signature="def numerical_gradient(f, x, h=1e-5):",
    summary="Central differences: grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2h) for every index i of the float "
            "array x (any shape); x may be perturbed in place during the call but must be restored.",
    reference=numerical_gradient,
    drive=_drive_ng,
    public_cases=_ng_public,
    hidden_cases=_ng_hidden,
    guarded=resolve("lablib.gradcheck.numerical_gradient", "lablib.gradcheck._numerical_gradient",
                    "lablib.gradcheck.numerical_gradient_array", "lablib.gradcheck._numerical_gradient_array"),
    catalogue=(
        Mistake("forward difference", "use the CENTRAL difference (f(x + h) - f(x - h)) / (2h); the forward "
                "difference (f(x + h) - f(x)) / h is only first-order accurate", _ng_variant(forward=True)),
        Mistake("divided by h instead of 2h", "the two evaluations are 2h apart: divide by 2*h",
                _ng_variant(over_h=True)),
        Mistake("x not restored", "put x[i] back to its old value after the two evaluations (`x[i] = old`): the "
                "next entries, and the caller, would see a shifted point", _ng_variant(no_restore=True),
                modifies="x"),
        Mistake("h ignored", "use the h argument, not a hard-coded 1e-5", _ng_variant(fixed_h=True)),
    ),
    contract="pure: x may be perturbed in place during the call, but is restored before it returns",
    unchanged_atol=1e-14,  # x[i] += h, then -= 2h, then += h returns within an ulp or two of x[i] (|x| <= 2)
    rtol=1e-8, atol=1e-8,
    tolerance="the central difference's own rounding error is eps·|f|/h ≈ 1e-9 here (|f| <= 50, h = 1e-5), and "
              "perturbing x as (x + h) - 2h instead of x - h moves f by ulps, i.e. the result by ~1e-9: 1e-8 is "
              "ten times that, while every catalogued mistake is off by 1e-5 or more",
    edges=(
        Edge("x 1-D", lambda c: c.x.ndim == 1),
        Edge("x 2-D (np.ndindex over every index)", lambda c: c.x.ndim == 2),
        Edge("a non-default h", lambda c: c.h is not None),
        Edge("f not separable (entries interact through A)", lambda c: isinstance(c.f, _Cubic)),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# The chain-rule warm-up: g(x) = (3x^3 + 2)^2 = u^2 with u = 3x^3 + 2, dg/dx = 2u * 9x^2 = 54x^5 + 36x^2

_INNER_ROOT = -((2 / 3) ** (1 / 3))  # u(x) = 3x^3 + 2 = 0: g'(x) = 0, and 54x^5 and 36x^2 (about 27) cancel
_PUBLIC_DG_X = [1.0, -1.0, 0.0, np.array([-2.0, -0.5, 0.0, 0.25, 1.5]),
                np.array([[_INNER_ROOT, 0.75, -1.25], [2.0, -0.8, 0.1]])]


def _dg_public():
    return [Case(label=shape_of("x", x), x=x) for x in _PUBLIC_DG_X]


def _dg_hidden(rng):
    avoid = {np.shape(x) for x in _PUBLIC_DG_X}
    near_root = rng.uniform(-2, 2, size=other_shape(rng, (6,), (9,), avoid))
    near_root[int(rng.integers(near_root.size))] = _INNER_ROOT * rng.uniform(0.999, 1.001)
    xs = [float(rng.uniform(-2.5, -0.5)), float(rng.uniform(0.5, 2.5)), near_root,
          rng.uniform(-2, 2, size=other_shape(rng, (3, 4), (5, 6), avoid))]
    return [Case(label=shape_of("x", x), x=x) for x in xs]


def _drive_dg(run, fn, case):
    run.record("dg/dx", run.call(fn, case.x))


def dg_dx(x):
    return landscapes.squared_cubic_grad(x)


def _dg_in_place(x):
    x2 = x * x
    x **= 3  # a number is rebound; an array is changed for the caller
    x *= 3
    x += 2
    return 18 * x2 * x


def _dg_central_difference(x, h=1e-5):
    x = np.asarray(x, dtype=float)
    return ((3 * (x + h) ** 3 + 2) ** 2 - (3 * (x - h) ** 3 + 2) ** 2) / (2 * h)


def _u(x):
    return 3 * np.asarray(x, dtype=float) ** 3 + 2


DG_DX = Exercise(
    name="dg_dx",
    lab="lab02",
    signature="def dg_dx(x):",
    summary="The derivative of g(x) = (3x**3 + 2)**2 by the chain rule, g'(x) = 2(3x**3 + 2) * 9x**2 = 54x**5 + "
            "36x**2, elementwise (number or array). Pure: x is not modified.",
    reference=dg_dx,
    drive=_drive_dg,
    public_cases=_dg_public,
    hidden_cases=_dg_hidden,
    guarded=resolve("lablib.landscapes.squared_cubic_grad"),
    catalogue=(
        Mistake("inner derivative forgotten", "the chain rule multiplies the outer derivative 2u, taken at "
                "u = 3x**3 + 2, by the inner derivative du/dx = 9x**2: 2(3x**3 + 2) * 9x**2, not 2(3x**3 + 2)",
                lambda x: 2 * _u(x)),
        Mistake("outer derivative forgotten", "dg/dx = dg/du * du/dx: 9x**2 is only du/dx; multiply it by "
                "dg/du = 2u = 2(3x**3 + 2)", lambda x: 9 * np.asarray(x, dtype=float) ** 2),
        Mistake("factor 2 of the square missing", "d(u**2)/du = 2u: the result is 2(3x**3 + 2) * 9x**2, "
                "twice (3x**3 + 2) * 9x**2", lambda x: _u(x) * 9 * np.asarray(x, dtype=float) ** 2),
        Mistake("inner derivative 3x**2", "d(3x**3)/dx = 3 * 3x**2 = 9x**2 (the coefficient 3 stays): "
                "2(3x**3 + 2) * 9x**2", lambda x: 2 * _u(x) * 3 * np.asarray(x, dtype=float) ** 2),
        Mistake("outer derivative taken at x", "the outer derivative 2u is evaluated at the INNER value "
                "u = 3x**3 + 2, not at x: 2(3x**3 + 2) * 9x**2, not 2x * 9x**2",
                lambda x: 18 * np.asarray(x, dtype=float) ** 3),
        Mistake("g instead of its derivative", "dg_dx returns the derivative 54x**5 + 36x**2, not "
                "g(x) = (3x**3 + 2)**2 itself", lambda x: _u(x) ** 2),
        Mistake("central difference instead of the formula", "write the exact derivative 54x**5 + 36x**2: the "
                "central difference (g(x + h) - g(x - h)) / (2h) is only the numerical CHECK of it, off by about "
                "h**2/6 times the third derivative", _dg_central_difference),
        Mistake("x changed in place", "`x **= 3` (or `x *= ...`) changes the caller's array: compute into new "
                "arrays, `u = 3 * x**3 + 2`", _dg_in_place, modifies="x"),
    ),
    rtol=1e-12, atol=1e-12,
    tolerance="54x**5 + 36x**2, 18x**2 (3x**3 + 2) and x*x*x*x*x or x**5 differ by a few ulps per term; near the "
              "root of 3x**3 + 2 the expanded form cancels two terms of about 27, an absolute error of ~1e-14, and "
              "elsewhere values span 0 to ~3000: rtol 1e-12 plus atol 1e-12, while the closest catalogued "
              "mistake (the central difference) is off by 1e-9 or more",
    edges=(
        Edge("a number (the answer is a number)", lambda c: np.ndim(c.x) == 0),
        Edge("a 1-D array (the answer keeps its shape; changing it in place would show)", lambda c: np.ndim(c.x) == 1),
        Edge("a 2-D array", lambda c: np.ndim(c.x) == 2),
        Edge("negative entries (odd powers keep the sign)", lambda c: has_entry(c, "x", lambda a: a < 0)),
        Edge("x = 0 (g'(0) = 0)", lambda c: has_entry(c, "x", lambda a: a == 0), hidden=False),
        Edge("x near the root of 3x**3 + 2 (g' = 0 there; the expanded form cancels)",
             lambda c: has_entry(c, "x", lambda a: np.abs(3 * a**3 + 2) < 0.01)),
    ),
)

register(DG_DX, FORWARD_222, GRADIENTS_222, DENSE_FORWARD, DENSE_BACKWARD, SOFTMAX_CROSS_ENTROPY, NUMERICAL_GRADIENT)
