"""Backpropagation by hand: the 2-2-2 sigmoid network of Matt Mazur's "A Step by Step
Backpropagation Example" (2015), every intermediate value named as in the post.

Network (one training example, logistic activation sigma(z) = 1 / (1 + exp(-z)) everywhere):

    net_h1 = w1*i1 + w2*i2 + b1      out_h1 = sigma(net_h1)
    net_h2 = w3*i1 + w4*i2 + b1      out_h2 = sigma(net_h2)
    net_o1 = w5*out_h1 + w6*out_h2 + b2      out_o1 = sigma(net_o1)
    net_o2 = w7*out_h1 + w8*out_h2 + b2      out_o2 = sigma(net_o2)
    E_total = 1/2 (t1 - out_o1)^2 + 1/2 (t2 - out_o2)^2

Each layer has ONE bias shared by its two neurons (b1 hidden, b2 output), as in the post. Biases per
neuron are the other option, asked about by the post's readers: weights with the keys b_h1, b_h2, b_o1,
b_o2 instead of b1, b2 (``initial_weights("per_neuron")``) give

    net_h1 = w1*i1 + w2*i2 + b_h1,  net_h2 = w3*i1 + w4*i2 + b_h2,
    net_o1 = w5*out_h1 + w6*out_h2 + b_o1,  net_o2 = w7*out_h1 + w8*out_h2 + b_o2,

and dE/db_h1 = delta_h1, ..., dE/db_o2 = delta_o2 (a shared bias collects the sum of its neurons'
deltas: dE/db1 = delta_h1 + delta_h2, dE/db2 = delta_o1 + delta_o2). Every function takes either
layout; the keys say which. The post keeps the biases fixed (``update_biases=False``, the default);
``update_biases=True`` moves them by -eta * dE/db like the weights.
Defaults: i = (0.05, 0.10), t = (0.01, 0.99), eta = 0.5, weights ``INITIAL``.

Weights are plain dicts {"w1": ..., "w8": ..., "b1": ..., "b2": ...}; every function is pure
(it returns new dicts and never changes its arguments).

Two update rules (``variant``):
* ``"standard"``: backpropagation proper. All gradients are taken at the current weights, then
  every weight moves: w <- w - eta * dE/dw. One step from ``INITIAL`` gives E = 0.2910277737.
* ``"blog"``: what produced the post's later figures (E = 0.291027924 after one step;
  out_o1, out_o2 = 0.015912196, 0.984065734 after 10,000). The output weights are updated first
  and the hidden deltas are then computed with the ALREADY-UPDATED w5..w8. This is not the
  gradient of E; it is offered only to reproduce the post. (The post's worked numbers for
  w1+..w4+ use the original w5..w8, i.e. the standard rule. The post's E = 0.0000351085 after
  10,000 steps contradicts its own outputs, which give E = 0.0000350848, the value this
  variant reaches; 0.0000351085 is, to every printed digit, the "standard" error after 9,999
  steps (0.00003510855), i.e. measured before the last update of a run of true backprop.
  lab02 reproduces all three numbers.)
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ._validate import _describe, as_float_array, check_choice, check_flag, check_int, check_positive

__all__ = [
    "NAMES",
    "NAMES_PER_NEURON",
    "INITIAL",
    "INPUTS",
    "TARGETS",
    "initial_weights",
    "sigmoid",
    "forward",
    "total_error",
    "gradients",
    "update",
    "train_step",
    "train",
]

NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2")
NAMES_PER_NEURON = NAMES[:8] + ("b_h1", "b_h2", "b_o1", "b_o2")
BIASES = ("shared", "per_neuron")
INITIAL = MappingProxyType(
    {"w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30, "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55,
     "b1": 0.35, "b2": 0.60}
)  # read-only; initial_weights() returns a fresh, editable dict
INPUTS = (0.05, 0.10)
TARGETS = (0.01, 0.99)
VARIANTS = ("standard", "blog")


def initial_weights(biases="shared") -> dict:
    """A fresh dict of the post's initial weights and biases; ``biases="per_neuron"`` gives each neuron its own
    bias, starting from the post's values (b_h1 = b_h2 = 0.35, b_o1 = b_o2 = 0.60: the same first forward pass)."""
    if check_choice(biases, "biases", BIASES) == "shared":
        return dict(INITIAL)
    w = {k: INITIAL[k] for k in NAMES[:8]}
    w.update(b_h1=INITIAL["b1"], b_h2=INITIAL["b1"], b_o1=INITIAL["b2"], b_o2=INITIAL["b2"])
    return w


def sigmoid(z) -> float:
    """Logistic function sigma(z) = 1 / (1 + exp(-z)) of ONE real number (``lablib.nn.sigmoid`` takes arrays);
    its derivative is sigma(z) (1 - sigma(z))."""
    if isinstance(z, (bool, np.bool_)) or not isinstance(z, numbers.Real):
        raise TypeError(f"z must be a real number (for arrays use lablib.nn.sigmoid), got {_describe(z)}")
    z = float(z)
    if math.isnan(z):
        raise ValueError("z must not be NaN")
    return _sigmoid(z)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)  # same value, without overflow for very negative z
    return e / (1.0 + e)


def _check_weights(weights, name: str = "weights", *, allow_extra: bool = False, names=None) -> dict:
    """A dict of NAMES (shared biases) or NAMES_PER_NEURON as floats, the layout told by the bias keys (or
    ``names``); unknown keys are errors (typos such as 'W1') unless allow_extra."""
    if not isinstance(weights, Mapping):
        raise TypeError(f"{name} must be a mapping with keys {', '.join(NAMES)} (or per-neuron biases "
                        f"b_h1, b_h2, b_o1, b_o2 instead of b1, b2), got {_describe(weights)}")
    if names is None:
        shared, per_neuron = "b1" in weights or "b2" in weights, any(k in weights for k in NAMES_PER_NEURON[8:])
        if shared and per_neuron:
            raise ValueError(f"{name} mixes shared biases (b1, b2) and per-neuron biases (b_h1, b_h2, b_o1, b_o2)")
        names = NAMES_PER_NEURON if per_neuron else NAMES
    missing = [k for k in names if k not in weights]
    if missing:
        raise ValueError(f"{name} is missing {', '.join(missing)} (needs {', '.join(names)})")
    extra = [k for k in weights if k not in names]
    if extra and not allow_extra:
        raise ValueError(f"{name} has unknown names {extra} (allowed: {', '.join(names)})")
    return {k: float(as_float_array(weights[k], f"{name}[{k!r}]", ndim=0)) for k in names}


def _bias(w: dict, neuron: str) -> float:
    """The bias of neuron "h1", "h2", "o1" or "o2": its own (per-neuron layout) or its layer's."""
    return w.get("b_" + neuron, w.get("b1" if neuron[0] == "h" else "b2"))


def _check_pair(values, name: str) -> tuple[float, float]:
    arr = as_float_array(values, name, ndim=1)
    if arr.shape != (2,):
        raise ValueError(f"{name} must have 2 values, got shape {arr.shape}")
    return float(arr[0]), float(arr[1])


def _check_variant(variant) -> str:
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"variant must be 'standard' or 'blog', got {variant!r}")
    return variant


def forward(weights, inputs=INPUTS) -> dict:
    """The forward pass: a dict with net_h1, out_h1, net_h2, out_h2, net_o1, out_o1, net_o2, out_o2
    (equations in the module docstring)."""
    return _forward(_check_weights(weights), *_check_pair(inputs, "inputs"))


def _forward(w: dict, i1: float, i2: float) -> dict:
    f = {}
    f["net_h1"] = w["w1"] * i1 + w["w2"] * i2 + _bias(w, "h1")
    f["out_h1"] = _sigmoid(f["net_h1"])
    f["net_h2"] = w["w3"] * i1 + w["w4"] * i2 + _bias(w, "h2")
    f["out_h2"] = _sigmoid(f["net_h2"])
    f["net_o1"] = w["w5"] * f["out_h1"] + w["w6"] * f["out_h2"] + _bias(w, "o1")
    f["out_o1"] = _sigmoid(f["net_o1"])
    f["net_o2"] = w["w7"] * f["out_h1"] + w["w8"] * f["out_h2"] + _bias(w, "o2")
    f["out_o2"] = _sigmoid(f["net_o2"])
    return f


def total_error(weights, inputs=INPUTS, targets=TARGETS) -> float:
    """E_total = 1/2 (t1 - out_o1)^2 + 1/2 (t2 - out_o2)^2."""
    w = _check_weights(weights)
    return _total_error(w, *_check_pair(inputs, "inputs"), *_check_pair(targets, "targets"))


def _total_error(w: dict, i1: float, i2: float, t1: float, t2: float) -> float:
    f = _forward(w, i1, i2)
    return 0.5 * (t1 - f["out_o1"]) ** 2 + 0.5 * (t2 - f["out_o2"]) ** 2


def gradients(weights, inputs=INPUTS, targets=TARGETS) -> dict:
    """dE_total/dp for every p in NAMES (keys "w1".."w8", "b1", "b2"), plus, for teaching:

    "delta_o1", "delta_o2", "delta_h1", "delta_h2": dE/dnet of each neuron;
    the chain-rule factors of dE/dw5 = dE/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5, i.e.
    "dE/dout_o1" = out_o1 - t1, "dout_o1/dnet_o1" = out_o1 (1 - out_o1), "dnet_o1/dw5" = out_h1;
    and "dE/dout_h1", "dout_h1/dnet_h1" (the factors of dE/dw1 besides dnet_h1/dw1 = i1).

    Output layer: delta_o = (out_o - t) out_o (1 - out_o); dE/dw5 = delta_o1 out_h1,
    dE/dw6 = delta_o1 out_h2, dE/dw7 = delta_o2 out_h1, dE/dw8 = delta_o2 out_h2,
    dE/db2 = delta_o1 + delta_o2 (b2 is shared by o1 and o2; per-neuron: dE/db_o1 = delta_o1, ...).
    Hidden layer: dE/dout_h1 = delta_o1 w5 + delta_o2 w7, dE/dout_h2 = delta_o1 w6 + delta_o2 w8,
    delta_h = dE/dout_h * out_h (1 - out_h); dE/dw1 = delta_h1 i1, dE/dw2 = delta_h1 i2,
    dE/dw3 = delta_h2 i1, dE/dw4 = delta_h2 i2, dE/db1 = delta_h1 + delta_h2 (per-neuron: dE/db_h1 = delta_h1).
    The bias keys follow the layout of ``weights``.
    """
    w = _check_weights(weights)
    return _gradients(w, *_check_pair(inputs, "inputs"), *_check_pair(targets, "targets"))


def _gradients(w: dict, i1: float, i2: float, t1: float, t2: float, w_out: dict | None = None) -> dict:
    """As ``gradients``; the hidden deltas are backpropagated through the w5..w8 of ``w_out``
    (default ``w``, i.e. true backpropagation; the "blog" variant passes updated weights)."""
    f = _forward(w, i1, i2)
    dE_dout_o1 = f["out_o1"] - t1
    dout_o1_dnet_o1 = f["out_o1"] * (1 - f["out_o1"])
    delta_o1 = dE_dout_o1 * dout_o1_dnet_o1
    delta_o2 = (f["out_o2"] - t2) * f["out_o2"] * (1 - f["out_o2"])

    v = w if w_out is None else w_out
    dE_dout_h1 = delta_o1 * v["w5"] + delta_o2 * v["w7"]
    dE_dout_h2 = delta_o1 * v["w6"] + delta_o2 * v["w8"]
    dout_h1_dnet_h1 = f["out_h1"] * (1 - f["out_h1"])
    delta_h1 = dE_dout_h1 * dout_h1_dnet_h1
    delta_h2 = dE_dout_h2 * f["out_h2"] * (1 - f["out_h2"])
    if "b_h1" in w:
        biases = {"b_h1": delta_h1, "b_h2": delta_h2, "b_o1": delta_o1, "b_o2": delta_o2}
    else:
        biases = {"b1": delta_h1 + delta_h2, "b2": delta_o1 + delta_o2}
    return {
        "w1": delta_h1 * i1, "w2": delta_h1 * i2, "w3": delta_h2 * i1, "w4": delta_h2 * i2,
        "w5": delta_o1 * f["out_h1"], "w6": delta_o1 * f["out_h2"],
        "w7": delta_o2 * f["out_h1"], "w8": delta_o2 * f["out_h2"],
        **biases,
        "delta_o1": delta_o1, "delta_o2": delta_o2, "delta_h1": delta_h1, "delta_h2": delta_h2,
        "dE/dout_o1": dE_dout_o1, "dout_o1/dnet_o1": dout_o1_dnet_o1, "dnet_o1/dw5": f["out_h1"],
        "dE/dout_h1": dE_dout_h1, "dout_h1/dnet_h1": dout_h1_dnet_h1,
    }


def update(weights, grads, eta=0.5, *, update_biases=False) -> dict:
    """Gradient descent step w <- w - eta * grads[w] for w1..w8 (and the biases if update_biases;
    the post keeps them fixed). ``grads`` needs the names of ``weights``; other keys are ignored."""
    w = _check_weights(weights)
    g = _check_weights(grads, "grads", allow_extra=True, names=tuple(w))
    return _update(w, g, check_positive(eta, "eta"), check_flag(update_biases, "update_biases"))


def _update(w: dict, g: dict, eta: float, update_biases: bool) -> dict:
    return {k: w[k] - eta * g[k] if update_biases or k[0] == "w" else w[k] for k in w}


def train_step(weights, *, eta=0.5, variant="standard", update_biases=False, inputs=INPUTS, targets=TARGETS) -> dict:
    """One update of all weights; returns new weights (the variants are in the module docstring).

    "standard": w <- w - eta * dE/dw with every gradient taken at the current weights.
    "blog": first w5..w8 (and the output biases) <- w - eta * dE/dw; then w1..w4 (and the hidden biases) move by gradients
    backpropagated through the UPDATED w5..w8 (same forward pass, same output deltas).
    """
    w = _check_weights(weights)
    return _train_step(w, check_positive(eta, "eta"), _check_variant(variant), check_flag(update_biases, "update_biases"),
                       *_check_pair(inputs, "inputs"), *_check_pair(targets, "targets"))


def _train_step(w, eta, variant, update_biases, i1, i2, t1, t2) -> dict:
    new = _update(w, _gradients(w, i1, i2, t1, t2), eta, update_biases)
    if variant == "blog":
        hidden = _gradients(w, i1, i2, t1, t2, w_out=new)
        hidden_biases = ("b_h1", "b_h2") if "b_h1" in w else ("b1",)
        for k in ("w1", "w2", "w3", "w4") + (hidden_biases if update_biases else ()):
            new[k] = w[k] - eta * hidden[k]
    return new


def train(n_steps, *, weights=None, eta=0.5, variant="standard", update_biases=False, inputs=INPUTS,
          targets=TARGETS) -> tuple[dict, np.ndarray]:
    """Run ``n_steps`` train_step updates from ``weights`` (default ``INITIAL``).

    Returns (final weights, errors) where errors[k] is E_total after k updates, so
    errors[0] is the initial error and errors has n_steps + 1 entries.
    """
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    w = _check_weights(INITIAL if weights is None else weights)
    args = (check_positive(eta, "eta"), _check_variant(variant), check_flag(update_biases, "update_biases"))
    data = (*_check_pair(inputs, "inputs"), *_check_pair(targets, "targets"))
    errors = np.empty(n_steps + 1)
    errors[0] = _total_error(w, *data)
    for k in range(1, n_steps + 1):
        w = _train_step(w, *args, *data)
        errors[k] = _total_error(w, *data)
    return w, errors
