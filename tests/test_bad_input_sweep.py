"""Every public function and method of lablib, called with bad input one argument at a time.

The public API is introspected (each module's ``__all__``, the public methods of its classes), so a new
function fails ``test_every_public_callable_has_a_spec`` until it gets a row in SPECS below: a valid call
(checked to run cleanly, without warnings) and, per argument, the kind of value it takes. Each kind brings
its table of bad values (wrong type, shape, dtype, NaN/inf, empty, zero/negative where positive is required,
out-of-range fractions, wrong cache/state objects); each bad call must raise a ValueError or TypeError whose
message names the argument. A call that returns instead is a wrong number returned silently.
"""
from __future__ import annotations

import importlib
import inspect
import re
import warnings
from dataclasses import dataclass, field

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from lablib import backprop, clip, data, gradcheck, landscapes, mlp, nn, optim, schedules  # noqa: E402
from lablib import plots, widgets  # noqa: E402

MODULES = ("backprop", "clip", "data", "gradcheck", "landscapes", "mlp", "nn", "optim", "schedules", "plots",
           "widgets")
# Public names that take no arguments worth checking: result records, exceptions, warnings.
NOT_CALLED = {
    "lablib.data.FashionMNIST": "a NamedTuple of results (made by load_fashion_mnist)",
    "lablib.data.CIFAR10": "a NamedTuple of results (made by load_cifar10)",
    "lablib.landscapes.Landscape": "a frozen dataclass of results (made by the landscape functions)",
    "lablib.mlp.History": "a dataclass of results (made by fit)",
    "lablib.mlp.History.as_dict": "no arguments",
    "lablib.mlp.MLP.trainable_params": "no arguments",
    "lablib.mlp.MLP.get_weights": "no arguments",
    "lablib.mlp.EarlyStopping.reset": "no arguments",
    "lablib.schedules.PerformanceScheduler.reset": "no arguments",
    "lablib.widgets.Explorer.values": "no arguments",
    "lablib.widgets.Explorer.update": "no arguments (redraws from the controls)",
    "lablib.optim.Optimizer": "abstract base class (its step is swept through SGD.step)",
}


# ---------------------------------------------------------------------------------------------------------
# Kinds of arguments and their bad values


@dataclass
class P:
    """One argument: a valid value and (label, bad value) pairs."""

    valid: object
    bad: list = field(default_factory=list)


def _with(a: np.ndarray, value) -> np.ndarray:
    b = np.array(a, dtype=np.float64)
    b.flat[0] = value
    return b


def arr(valid, *, fixed_ndim=True, empty=True, finite=True, extra=()):
    """A real array: not a string, not complex/bool/object/str arrays, finite, not empty, of its ndim."""
    valid = np.asarray(valid)
    bad = [("a string", "junk"), ("complex", valid.astype(complex)), ("bool", np.ones(valid.shape, dtype=bool)),
           ("str array", valid.astype(str)), ("object", np.array([object()] * max(valid.size, 1)))]
    if finite:
        bad += [("NaN", _with(valid, np.nan)), ("inf", _with(valid, np.inf))]
    if empty:
        bad.append(("empty", np.zeros((0,) + valid.shape[1:]) if valid.ndim else np.zeros(0)))
    if fixed_ndim:
        bad.append(("one more dimension", valid[..., None]))
    return P(valid, bad + list(extra))


def pos(valid, *, optional=False):
    bad = [("zero", 0.0), ("negative", -1.0), ("NaN", np.nan), ("inf", np.inf), ("a string", "1"), ("bool", True)]
    return P(valid, bad if optional else bad + [("None", None)])


def nonneg(valid):
    return P(valid, [("negative", -0.5), ("NaN", np.nan), ("inf", np.inf), ("a string", "0"), ("None", None)])


def frac(valid, *, one_ok=False):
    bad = [("negative", -0.1), ("above one", 1.5), ("NaN", np.nan), ("a string", "0.5"), ("None", None)]
    return P(valid, bad if one_ok else bad + [("one", 1.0)])


def integer(valid, minimum):
    return P(valid, [("below the minimum", minimum - 1), ("a float", 2.5), ("a string", "3"), ("bool", True),
                     ("None", None)])


def flag(valid):
    return P(valid, [("an int", 1), ("a string", "yes"), ("None", None)])


def choice(valid):
    return P(valid, [("unknown", "nonsense"), ("a number", 3)])


def rng(*, optional=False):
    bad = [("an int seed", 0), ("a legacy RandomState", np.random.RandomState(0))]
    return P(np.random.default_rng(0), bad if optional else bad + [("None", None)])


def func(valid):
    return P(valid, [("a number", 3.0), ("a string", "f")])


def real(valid):
    return P(valid, [("NaN", np.nan), ("a string", "a"), ("None", None)])


def obj(valid, *extra):
    """An object of one type (a model, a landscape, a History, an Axes, ...)."""
    return P(valid, [("a string", "junk"), ("a number", 3)] + list(extra))


def cache(valid, *, none_ok=False):
    bad = [("a string", "junk"), ("a short tuple", (1,)), ("a list", [1, 2])]
    return P(valid, bad if none_ok else bad + [("None", None)])


def grads_like(valid):
    """params/grads of the step rules and clipping: one array, or a container of arrays."""
    return arr(valid, fixed_ndim=False)


# ---------------------------------------------------------------------------------------------------------
# Valid objects the specs share


def _rng():
    return np.random.default_rng(0)


X4 = np.random.default_rng(1).normal(size=(6, 4))
Y3 = np.array([0, 1, 2, 0, 1, 2])


def _model(**kwargs):
    return mlp.MLP([4, 5, 3], rng=_rng(), **kwargs)


def _trained_model():
    model = _model(dropout=0.5)
    model.forward(X4, train=True, rng=_rng())
    return model


def _ax():
    return plt.figure().add_subplot()


def _history():
    h = mlp.History()
    h.loss, h.accuracy, h.lr = [1.0, 0.5], [0.5, 0.7], [0.1, 0.1]
    return h


BN_STATE = nn.batchnorm_init(4)
BN_CACHE = nn.batchnorm_forward(X4, np.ones(4), np.zeros(4), nn.batchnorm_init(4), train=True)[1]
DROP_CACHE = nn.dropout_forward(X4, 0.5, train=True, rng=np.random.default_rng(0))[1]
DENSE_CACHE = nn.dense_forward(X4, np.ones((4, 2)), np.zeros(2))[1]
WEIGHTS = backprop.initial_weights()
BAD_STATE = [("a string", "junk"), ("a list", [1, 2])]
BAD_WEIGHTS = [("a list", [0.15] * 10), ("missing keys", {"w1": 0.1}), ("NaN entry", {**WEIGHTS, "w3": np.nan}),
               ("string entry", {**WEIGHTS, "w3": "0.2"})]
PAIR_BAD = [("three values", (0.1, 0.2, 0.3)), ("NaN", (np.nan, 0.1)), ("a string", "ab")]


@dataclass
class Spec:
    call: object  # the callable, or a factory (no arguments) of the object whose method is swept
    args: dict
    method: str | None = None
    baseline_raises: type | None = None  # an expected outcome of the valid call (e.g. data not found)


def activation_specs():
    specs = {}
    for name in ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu"):
        alpha = {"alpha": nonneg(0.1)} if name in ("leaky_relu", "elu") else {}
        x = arr(X4, fixed_ndim=False, empty=False)  # elementwise: an empty array gives an empty array
        for suffix in ("", "_derivative", "_forward"):
            specs[f"lablib.nn.{name}{suffix}"] = Spec(getattr(nn, name + suffix), {"x": x, **alpha})
        cache_value = getattr(nn, name + "_forward")(X4, **({"alpha": 0.1} if alpha else {}))[1]
        specs[f"lablib.nn.{name}_backward"] = Spec(getattr(nn, name + "_backward"), {
            "dout": arr(X4, extra=[("wrong shape", X4.T)]), "cache": cache(cache_value)})
    specs["lablib.nn.identity_forward"] = Spec(nn.identity_forward, {"x": arr(X4, fixed_ndim=False, empty=False)})
    specs["lablib.nn.identity_backward"] = Spec(nn.identity_backward, {
        "dout": arr(X4, fixed_ndim=False, empty=False),
        "cache": P(None, [("a string", "junk"), ("an array", X4)])})
    return specs


def step_spec(fn, **hparams):
    return Spec(fn, {"params": grads_like(np.ones(3)), "grads": grads_like(np.full(3, 0.5)),
                     "state": P({}, BAD_STATE + [("another shape", {"m": np.ones(5), "v": np.ones(5), "t": 1,
                                                                    "velocity": np.ones(5),
                                                                    "square_avg": np.ones(5),
                                                                    "accumulator": np.ones(5)})]),
                     **hparams})


def method_spec(factory, method, **args):
    return Spec(factory, args, method=method)


SPECS = {
    # --- backprop
    "lablib.backprop.initial_weights": Spec(backprop.initial_weights, {"biases": choice("per_neuron")}),
    "lablib.backprop.sigmoid": Spec(backprop.sigmoid, {"z": real(0.3)}),
    "lablib.backprop.forward": Spec(backprop.forward, {"weights": P(WEIGHTS, BAD_WEIGHTS),
                                                       "inputs": P((0.05, 0.1), PAIR_BAD)}),
    "lablib.backprop.total_error": Spec(backprop.total_error, {"weights": P(WEIGHTS, BAD_WEIGHTS),
                                                               "inputs": P((0.05, 0.1), PAIR_BAD),
                                                               "targets": P((0.01, 0.99), PAIR_BAD)}),
    "lablib.backprop.gradients": Spec(backprop.gradients, {"weights": P(WEIGHTS, BAD_WEIGHTS),
                                                           "inputs": P((0.05, 0.1), PAIR_BAD),
                                                           "targets": P((0.01, 0.99), PAIR_BAD)}),
    "lablib.backprop.update": Spec(backprop.update, {
        "weights": P(WEIGHTS, BAD_WEIGHTS), "grads": P(backprop.gradients(WEIGHTS), BAD_WEIGHTS[:3]),
        "eta": pos(0.5), "update_biases": flag(True)}),
    "lablib.backprop.train_step": Spec(backprop.train_step, {
        "weights": P(WEIGHTS, BAD_WEIGHTS), "eta": pos(0.5), "variant": choice("blog"),
        "update_biases": flag(False), "inputs": P((0.05, 0.1), PAIR_BAD), "targets": P((0.01, 0.99), PAIR_BAD)}),
    "lablib.backprop.train": Spec(backprop.train, {
        "n_steps": integer(3, 0), "weights": P(WEIGHTS, BAD_WEIGHTS), "eta": pos(0.5), "variant": choice("standard"),
        "update_biases": flag(False), "inputs": P((0.05, 0.1), PAIR_BAD), "targets": P((0.01, 0.99), PAIR_BAD)}),
    # --- clip
    **{f"lablib.clip.{name}": Spec(getattr(clip, name), {
        "grads": P([np.array([0.9, 100.0])], [("a string", "junk"), ("a list of numbers", [0.9, 100.0]),
                                              ("NaN entry", [np.array([np.nan])]), ("empty list", []),
                                              ("complex entry", [np.array([1j])])]),
        value: pos(1.0)})
       for name, value in (("clip_by_value", "clip_value"), ("clip_by_norm", "max_norm"),
                           ("clip_by_global_norm", "max_norm"))},
    # --- data
    "lablib.data.load_fashion_mnist": Spec(data.load_fashion_mnist, {
        "subset": choice("mini"), "dtype": P("uint8", [("float32", "float32"), ("a number", 3.0)]),
        "flatten": flag(True), "data_dir": P(None, [("a number", 3)]), "download": flag(False)}),
    "lablib.data.load_cifar10": Spec(data.load_cifar10, {
        "dtype": P("uint8", [("float32", "float32"), ("a number", 3.0)]), "flatten": flag(True),
        "grayscale": flag(True), "size": P(28, [("zero", 0), ("above 32", 33), ("a float", 28.0), ("a string", "28")]),
        "data_dir": P(None, [("a number", 3)]), "download": flag(False)},
        baseline_raises=data.CIFAR10NotFoundError),
    "lablib.data.to_grayscale": Spec(data.to_grayscale, {
        "images": arr(np.ones((2, 3, 3)), fixed_ndim=False, extra=[("two channels", np.ones((2, 3, 2)))]),
        "channel_axis": P(-1, [("out of range", 5), ("a float", 1.0), ("not the channels", 0)])}),
    "lablib.data.resize_area": Spec(data.resize_area, {
        "images": arr(np.ones((2, 4, 4)), fixed_ndim=False, extra=[("not square", np.ones((2, 4, 3)))]),
        "size": P(2, [("zero", 0), ("larger", 5), ("a float", 2.0)])}),
    "lablib.data.minibatches": Spec(data.minibatches, {
        "X": arr(X4, fixed_ndim=False, extra=[("one dimension", np.ones(6))]),
        "y": P(Y3, [("wrong length", Y3[:4]), ("NaN", np.array([0.0, np.nan, 1, 2, 0, 1])), ("complex", Y3 * 1j)]),
        "batch_size": integer(2, 1), "rng": rng(optional=True), "shuffle": flag(True),
        "drop_last": flag(False)}),
    "lablib.data.train_val_split": Spec(data.train_val_split, {
        "X": arr(X4, fixed_ndim=False, extra=[("one dimension", np.ones(6))]),
        "y": P(Y3, [("wrong length", Y3[:4]), ("floats", Y3 * 1.0)]),
        "val_size": P(0.5, [("zero", 0.0), ("one", 1.0), ("too many", 6), ("a string", "0.1"), ("bool", True)]),
        "rng": rng(), "stratify": flag(True)}),
    # --- gradcheck
    "lablib.gradcheck.numerical_gradient": Spec(gradcheck.numerical_gradient, {
        "f": func(lambda z: float(np.sum(z**2))), "x": P(np.ones(3), [("a list", [1.0, 2.0]),
                                                                      ("ints", np.ones(3, dtype=int))]),
        "h": pos(1e-5)}),
    "lablib.gradcheck.numerical_gradient_array": Spec(gradcheck.numerical_gradient_array, {
        "f": func(lambda z: z**2), "x": P(np.ones(3), [("a list", [1.0, 2.0]), ("ints", np.ones(3, dtype=int))]),
        "dout": arr(np.ones(3), fixed_ndim=False, empty=False, extra=[("wrong shape", np.ones(4))]),
        "h": pos(1e-5)}),
    "lablib.gradcheck.rel_error": Spec(gradcheck.rel_error, {
        "a": arr(np.ones(3), fixed_ndim=False), "b": arr(np.ones(3), fixed_ndim=False, empty=False,
                                                          extra=[("wrong shape", np.ones(4))])}),
    # --- landscapes
    "lablib.landscapes.square": Spec(landscapes.square, {"x": arr(np.ones(3), fixed_ndim=False, empty=False)}),
    "lablib.landscapes.square_grad": Spec(landscapes.square_grad, {"x": arr(np.ones(3), fixed_ndim=False,
                                                                            empty=False)}),
    "lablib.landscapes.squared_cubic": Spec(landscapes.squared_cubic, {"x": arr(np.ones(3), fixed_ndim=False,
                                                                                empty=False)}),
    "lablib.landscapes.squared_cubic_grad": Spec(landscapes.squared_cubic_grad,
                                                 {"x": arr(np.ones(3), fixed_ndim=False, empty=False)}),
    "lablib.landscapes.quadratic_bowl": Spec(landscapes.quadratic_bowl, {"a": pos(1.0), "b": pos(10.0)}),
    "lablib.landscapes.saddle": Spec(landscapes.saddle, {}),
    "lablib.landscapes.local_global_minima": Spec(landscapes.local_global_minima, {}),
    "lablib.landscapes.rosenbrock": Spec(landscapes.rosenbrock, {"a": real(1.0), "b": pos(100.0)}),
    # --- mlp
    "lablib.mlp.MLP": Spec(mlp.MLP, {
        "sizes": P([4, 5, 3], [("one size", [4]), ("zero size", [4, 0, 3]), ("a string", "4-5-3"),
                               ("float size", [4, 5.0, 3])]),
        "activation": choice("relu"), "batchnorm": P(nn.COURSE_BATCHNORM, [
            ("a string", "yes"), ("unknown option", {"epsilon": 1e-3}), ("bad momentum", {"momentum": 2.0})]),
        "dropout": frac(0.2), "inverted_dropout": flag(True), "init": choice("he"), "rng": rng()}),
    "lablib.mlp.MLP.forward": method_spec(_model, "forward", X=arr(X4, extra=[("wrong width", np.ones((6, 5)))]),
                                          train=flag(False), rng=rng(optional=True),
                                          dropout_active=P(False, [("an int", 1), ("a string", "yes")])),
    "lablib.mlp.MLP.backward": method_spec(_trained_model, "backward", dlogits=arr(
        np.ones((6, 3)), extra=[("wrong shape", np.ones((3, 6)))])),
    "lablib.mlp.MLP.predict_proba": method_spec(_model, "predict_proba", X=arr(X4)),
    "lablib.mlp.MLP.predict": method_spec(_model, "predict", X=arr(X4)),
    "lablib.mlp.MLP.layer_params": method_spec(_model, "layer_params", layer=integer(1, 1)),
    "lablib.mlp.MLP.freeze": method_spec(_model, "freeze", layers=P(1, [("zero", 0), ("beyond the last", 3),
                                                                       ("a string", "1")])),
    "lablib.mlp.MLP.unfreeze": method_spec(_model, "unfreeze", layers=P(1, [("zero", 0), ("a float", 1.0)])),
    "lablib.mlp.MLP.copy_layers_from": method_spec(_model, "copy_layers_from", other=obj(_model()),
                                                   layers=P([1], [("a string", "1"), ("zero", [0]),
                                                                  ("a number", 1)])),
    "lablib.mlp.MLP.set_weights": method_spec(_model, "set_weights", weights=P(_model().get_weights(), [
        ("a string", "junk"), ("params only", {"params": {}}),
        ("other shapes", mlp.MLP([4, 6, 3], rng=_rng()).get_weights())])),
    "lablib.mlp.EarlyStopping": Spec(mlp.EarlyStopping, {"patience": integer(0, 0), "min_delta": nonneg(0.0),
                                                         "restore_best": flag(True)}),
    "lablib.mlp.EarlyStopping.update": method_spec(mlp.EarlyStopping, "update", epoch=integer(0, 0),
                                                   val_loss=P(1.0, [("NaN", np.nan), ("a string", "1")]),
                                                   model=P(None, [("a string", "junk")])),
    "lablib.mlp.fit": Spec(mlp.fit, {
        "model": obj(_model()), "X": arr(X4, extra=[("wrong width", np.ones((6, 5)))]),
        "y": P(Y3, [("out of range", Y3 + 3), ("floats", Y3 * 1.0), ("wrong length", Y3[:3])]),
        "optimizer": obj(optim.SGD(0.1), ("a name", "sgd")), "epochs": integer(1, 0), "batch_size": integer(3, 1),
        "val": P((X4, Y3), [("one array", X4), ("bad labels", (X4, Y3 + 5))]),
        "schedule": P(None, [("a number", 0.1)]), "clip": P(None, [("a number", 1.0)]),
        "early_stopping": P(None, [("a number", 3)]), "rng": rng(), "progress": flag(False)}),
    "lablib.mlp.evaluate": Spec(mlp.evaluate, {
        "model": obj(_model()), "X": arr(X4), "y": P(Y3, [("out of range", Y3 + 3), ("wrong length", Y3[:3])]),
        "batch_size": integer(4, 1)}),
    "lablib.mlp.mc_dropout_predict": Spec(mlp.mc_dropout_predict, {
        "model": obj(_model(dropout=0.3), ("no dropout", _model())), "X": arr(X4), "n_samples": integer(3, 1),
        "rng": rng()}),
    # --- nn
    # Layers map a batch to a batch: an empty batch (0 rows) gives an empty batch, a right answer, so "empty"
    # is not among their bad inputs; reductions (losses, norms, statistics, steps) reject it.
    "lablib.nn.dense_forward": Spec(nn.dense_forward, {
        "x": arr(X4, empty=False), "W": arr(np.ones((4, 2)), extra=[("transposed", np.ones((2, 4)))]),
        "b": arr(np.zeros(2), extra=[("wrong length", np.zeros(3))])}),
    "lablib.nn.dense_backward": Spec(nn.dense_backward, {
        "dout": arr(np.ones((6, 2)), extra=[("transposed", np.ones((2, 6)))]), "cache": cache(DENSE_CACHE),
        "need_dx": flag(True)}),
    "lablib.nn.softmax": Spec(nn.softmax, {"x": arr(X4, fixed_ndim=False, empty=False,
                                                    extra=[("no classes", np.ones((6, 0)))]), "axis": P(-1, [("out of range", 2),
                                                                                       ("a float", 1.0)])}),
    "lablib.nn.log_softmax": Spec(nn.log_softmax, {"x": arr(X4, fixed_ndim=False, empty=False,
                                                            extra=[("no classes", np.ones((6, 0)))]),
                                                   "axis": P(-1, [("out of range", 2), ("a float", 1.0)])}),
    "lablib.nn.softmax_cross_entropy": Spec(nn.softmax_cross_entropy, {
        "logits": arr(np.ones((6, 3))), "y": P(Y3, [("out of range", Y3 + 3), ("floats", Y3 * 1.0),
                                                     ("wrong length", Y3[:2])])}),
    **{f"lablib.nn.{name}": Spec(getattr(nn, name), {
        "pred": arr(X4, fixed_ndim=False), "target": arr(X4, fixed_ndim=False, extra=[("wrong shape", X4.T)]),
        "reduction": choice("sum")}) for name in ("mse", "half_mse")},
    "lablib.nn.batchnorm_init": Spec(nn.batchnorm_init, {"num_features": integer(4, 1)}),
    "lablib.nn.batchnorm_forward": Spec(nn.batchnorm_forward, {
        "x": arr(X4), "gamma": arr(np.ones(4), extra=[("wrong length", np.ones(3))]),
        "beta": arr(np.zeros(4)),
        "state": P(BN_STATE, BAD_STATE + [("another width", nn.batchnorm_init(3)),
                                          ("no count", {"running_mean": np.zeros(4), "running_var": np.ones(4)})]),
        "train": flag(True), "momentum": frac(0.9, one_ok=True), "eps": pos(1e-3),
        "unbiased_running_var": flag(False), "average_std": flag(True), "init_from_first_batch": flag(True)}),
    "lablib.nn.batchnorm_backward": Spec(nn.batchnorm_backward, {"dout": arr(X4, extra=[("transposed", X4.T)]),
                                                                 "cache": cache(BN_CACHE)}),
    "lablib.nn.dropout_forward": Spec(nn.dropout_forward, {
        "x": arr(X4, fixed_ndim=False, empty=False), "rate": frac(0.5), "train": flag(True), "rng": rng(optional=True),
        "mask": P(None, [("floats", np.ones((6, 4))), ("wrong shape", np.ones((4, 6), dtype=bool))]),
        "inverted": flag(True)}),
    "lablib.nn.dropout_backward": Spec(nn.dropout_backward, {"dout": arr(X4, fixed_ndim=False,
                                                                         extra=[("transposed", X4.T)]),
                                                             "cache": cache(DROP_CACHE, none_ok=True)}),
    **activation_specs(),
    # --- optim
    "lablib.optim.gradient_descent": Spec(optim.gradient_descent, {
        "grad": func(lambda x: 2 * x), "x0": arr(np.ones(2), extra=[("a matrix", np.ones((2, 2)))]),
        "lr": pos(0.1), "n_steps": integer(3, 0), "tol": pos(None, optional=True)}),
    "lablib.optim.sgd_step": step_spec(optim.sgd_step, lr=pos(0.1), momentum=frac(0.5), nesterov=flag(True),
                                       momentum_form=choice("keras")),
    "lablib.optim.adagrad_norm_step": step_spec(optim.adagrad_norm_step, lr=pos(0.1), eps=pos(1e-8)),
    "lablib.optim.adagrad_step": step_spec(optim.adagrad_step, lr=pos(0.1), eps=pos(1e-10),
                                           initial_accumulator=nonneg(0.1), eps_convention=choice("keras")),
    "lablib.optim.rmsprop_step": step_spec(optim.rmsprop_step, lr=pos(0.1), rho=frac(0.9), eps=pos(1e-8),
                                           eps_convention=choice("torch")),
    "lablib.optim.adadelta_step": step_spec(optim.adadelta_step, lr=pos(1.0), rho=frac(0.9), eps=pos(1e-6)),
    "lablib.optim.adam_step": step_spec(optim.adam_step, lr=pos(0.1), beta1=frac(0.9), beta2=frac(0.999),
                                        eps=pos(1e-8), eps_convention=choice("keras")),
    "lablib.optim.SGD": Spec(optim.SGD, {"lr": pos(0.1), "momentum": frac(0.9), "nesterov": flag(True),
                                         "momentum_form": choice("keras")}),
    "lablib.optim.AdaGradNorm": Spec(optim.AdaGradNorm, {"lr": pos(0.1), "eps": pos(1e-8)}),
    "lablib.optim.Adagrad": Spec(optim.Adagrad, {"lr": pos(0.1), "eps": pos(1e-10), "initial_accumulator": nonneg(0.1),
                                                 "eps_convention": choice("keras")}),
    "lablib.optim.RMSprop": Spec(optim.RMSprop, {"lr": pos(0.1), "rho": frac(0.9), "eps": pos(1e-8),
                                                 "eps_convention": choice("keras")}),
    "lablib.optim.Adadelta": Spec(optim.Adadelta, {"lr": pos(1.0), "rho": frac(0.9), "eps": pos(1e-6)}),
    "lablib.optim.Adam": Spec(optim.Adam, {"lr": pos(0.1), "beta1": frac(0.9), "beta2": frac(0.999),
                                           "eps": pos(1e-8), "eps_convention": choice("torch")}),
    "lablib.optim.StepRule": Spec(optim.StepRule, {
        "step": P(lambda x, grad, state, lr: (x - lr * grad, {}), [("not callable", "sgd"), ("a number", 3)]),
        "lr": pos(0.1)}),
    "lablib.optim.StepRule.step": method_spec(
        lambda: optim.StepRule(lambda x, grad, state, lr: (x - lr * grad, {}), 0.1), "step",
        params=P({"W": np.ones(3)}, [("an array", np.ones(3)), ("int array", {"W": np.ones(3, dtype=int)})]),
        grads=P({"W": np.ones(3)}, [("other names", {"V": np.ones(3)}), ("wrong shape", {"W": np.ones(4)})])),
    "lablib.optim.Optimizer.step": method_spec(lambda: optim.SGD(0.1), "step", params=P({"W": np.ones(3)}, [
        ("an array", np.ones(3)), ("int array", {"W": np.ones(3, dtype=int)}), ("a list", {"W": [1.0, 2.0]})]),
        grads=P({"W": np.ones(3)}, [("an array", np.ones(3)), ("other names", {"V": np.ones(3)}),
                                    ("wrong shape", {"W": np.ones(4)}), ("a list", {"W": [1.0, 2.0, 3.0]})])),
    # --- schedules
    "lablib.schedules.power": Spec(schedules.power, {"lr0": pos(0.1), "s": pos(10.0), "c": pos(1.0),
                                                     "staircase": P(True, [("negative", -2), ("a string", "yes")])}),
    "lablib.schedules.exponential": Spec(schedules.exponential, {
        "lr0": pos(0.1), "s": pos(10.0), "decay_rate": pos(0.5), "staircase": P(5, [("zero", 0.0), ("NaN", np.nan)])}),
    "lablib.schedules.piecewise_constant": Spec(schedules.piecewise_constant, {
        "boundaries": arr(np.array([10.0, 20.0]), empty=False, extra=[("decreasing", np.array([20.0, 10.0]))]),
        "values": P([0.1, 0.01, 0.001], [("too few", [0.1, 0.01]), ("zero value", [0.1, 0.0, 0.01]),
                                         ("NaN value", [0.1, np.nan, 0.01])])}),
    "lablib.schedules.PerformanceScheduler": Spec(schedules.PerformanceScheduler, {
        "factor": frac(0.5), "patience": integer(2, 0), "min_delta": nonneg(1e-4), "cooldown": integer(0, 0),
        "min_lr": nonneg(0.0), "mode": choice("max"), "convention": choice("torch"), "threshold_mode": choice("rel")}),
    "lablib.schedules.PerformanceScheduler.step": method_spec(schedules.PerformanceScheduler, "step",
                                                              metric=real(0.5), lr=pos(0.1)),
    # --- plots (an Axes is made per call)
    "lablib.plots.plot_history": Spec(plots.plot_history, {"history": obj(_history()),
                                                           "title": P(None, [("a number", 3)])}),
    "lablib.plots.plot_landscape": Spec(plots.plot_landscape, {
        "ax": obj(_ax), "landscape": obj(landscapes.saddle()), "xlim": P(None, [("reversed", (1.0, -1.0))]),
        "ylim": P(None, [("NaN", (np.nan, 1.0))]), "levels": integer(5, 1), "resolution": integer(20, 2)}),
    "lablib.plots.plot_path": Spec(plots.plot_path, {"ax": obj(_ax), "path": arr(np.ones((3, 2)), extra=[
        ("three columns", np.ones((3, 3)))]), "label": P(None, [("a number", 3)]),
                                                 "color": P(None, [("a number", 3)])}),
    "lablib.plots.plot_gd_1d": Spec(plots.plot_gd_1d, {
        "ax": obj(_ax), "f": func(np.square), "path": arr(np.array([1.0, 0.5])),
        "xlim": P(None, [("reversed", (1.0, -1.0))]), "resolution": integer(20, 2)}),
    "lablib.plots.plot_lr_schedules": Spec(plots.plot_lr_schedules, {
        "ax": obj(_ax), "schedules": P({"p": schedules.power(0.1, 10)}, [("a list", [schedules.power(0.1, 10)]),
                                                                         ("not callable", {"p": 0.1})]),
        "t": arr(np.arange(5.0), extra=[("negative", np.array([-1.0, 2.0]))]), "log": flag(True)}),
    # --- widgets
    "lablib.widgets.Explorer": Spec(widgets.Explorer, {
        "controls": P({}, [("a list", [1, 2])]), "compute": func(lambda **kw: {}),
        "draw": func(lambda axes, data, **kw: ""), "figsize": P((4, 3), [("one number", 4),
                                                                                ("NaN", (np.nan, 3))]),
        "ncols": integer(1, 1), "refresh": P(None, [("a number", 3)]), "moving": P(None, [("a string", "axes")])}),
    "lablib.widgets.gd_explorer": Spec(widgets.gd_explorer, {
        "f": func(np.square), "grad": func(lambda x: 2 * x), "gradient_descent": P(None, [("a number", 3)]),
        "lr": pos(0.1), "x0": real(1.0), "n_steps": integer(5, 0)}),
    "lablib.widgets.gd2d_explorer": Spec(widgets.gd2d_explorer, {
        "landscape": obj(landscapes.saddle()), "gradient_descent": P(None, [("a number", 3)]), "lr": pos(0.05),
        "start": P(None, [("three values", (1.0, 2.0, 3.0))]), "n_steps": integer(5, 0)}),
    "lablib.widgets.optimizer_paths_explorer": Spec(widgets.optimizer_paths_explorer, {
        "landscape": obj(landscapes.saddle()), "steps": P(None, [("a number", 3), ("not callable", {"x": 1})]),
        "lr": pos(0.05), "beta": frac(0.9), "start": P(None, [("three values", (1.0, 2.0, 3.0))]),
        "n_steps": integer(5, 1)}),
    "lablib.widgets.sgd_batch_explorer": Spec(widgets.sgd_batch_explorer, {
        "batch_size": integer(10, 1), "lr": pos(0.05), "epochs": integer(2, 1), "n": integer(50, 2),
        "noise": nonneg(0.5), "start": P((-1.0, 2.0), [("three values", (1.0, 2.0, 3.0))]), "seed": integer(0, 0),
        "minibatches": P(None, [("a number", 3)])}),
    "lablib.widgets.schedule_explorer": Spec(widgets.schedule_explorer, {
        "lr0": pos(0.1), "s": pos(100.0), "c": pos(1.0), "t_max": integer(500, 1),
        "piecewise": P(None, [("a number", 3)]), "power": P(None, [("a number", 3)]),
        "exponential": P(None, [("a number", 3)])}),
    "lablib.widgets.activation_explorer": Spec(widgets.activation_explorer, {
        "activation": P("relu", [("unknown", "swish")]), "alpha": nonneg(0.2),
        "x_range": P((-4.0, 4.0), [("reversed", (4.0, -4.0))]), "functions": P(None, [("a number", 3)])}),
    "lablib.widgets.dropout_explorer": Spec(widgets.dropout_explorer, {
        "rate": frac(0.5), "seed": integer(0, 0), "index": integer(0, 0),
        "dropout_forward": P(None, [("a number", 3)])}),
    "lablib.widgets.comparison_explorer": Spec(widgets.comparison_explorer, {
        "results": P({1: np.ones((2, 2)), 5: np.ones((2, 2))}, [("empty", {}), ("wrong columns", {1: np.ones((2, 3))}),
                                                                ("NaN", {1: np.full((2, 2), np.nan)})]),
        "methods": P(("a", "b"), [("a number", 3)]), "name": P("n", [("a number", 3)]),
        "label": P("n", [("a number", 3)]), "value": P(None, [("not a key", 7)]),
        "ylabel": P("acc", [("a number", 3)])}),
}


# ---------------------------------------------------------------------------------------------------------
# The sweep


def public_callables() -> list[str]:
    names = []
    for module_name in MODULES:
        module = importlib.import_module(f"lablib.{module_name}")
        for name in module.__all__:
            obj_ = getattr(module, name)
            qual = f"lablib.{module_name}.{name}"
            if inspect.isclass(obj_):
                if issubclass(obj_, BaseException):
                    continue
                names.append(qual)
                names += [f"{qual}.{m}" for m, v in vars(obj_).items() if callable(v) and not m.startswith("_")]
            elif callable(obj_):
                names.append(qual)
    return names


def _resolve(value):
    return value() if value is _ax else value


def _call(spec: Spec, kwargs: dict):
    target = spec.call if spec.method is None else getattr(spec.call(), spec.method)
    varargs = [p.name for p in inspect.signature(target).parameters.values() if p.kind == p.VAR_POSITIONAL]
    kwargs = {k: _resolve(v) for k, v in kwargs.items()}
    args = [kwargs.pop(varargs[0])] if varargs else []  # f(*layers): one value
    return target(*args, **kwargs)


# An error names its argument when the message says "<name> must ...", "<name>[...]", "<name> is ...", etc.
_FOLLOWERS = r"(\s+(must|is|are|has|holds|mixes|needs|gives|looks)\b|\[|=|\s*\()"


def names(message: str, arg: str) -> bool:
    return re.search(rf"(?<![\w\[\"'.]){re.escape(arg)}{_FOLLOWERS}", message) is not None


@pytest.fixture(scope="module", autouse=True)
def isolated(tmp_path_factory):
    """No data set from this machine is read, nothing is downloaded, and figures are closed."""
    tmp = tmp_path_factory.mktemp("sweep")

    def no_network(url, dest):
        raise AssertionError(f"the sweep tried to download {url}")

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("LABLIB_DATA", raising=False)
        mp.setattr(data, "_user_cache_dir", lambda folder="fashion-mnist": tmp / folder)
        mp.setattr(data, "DEBIAN_DIR", tmp / "debian")
        mp.setattr(data, "_download", no_network)
        yield
    plt.close("all")


def test_every_public_callable_has_a_spec():
    missing = [name for name in public_callables() if name not in SPECS and name not in NOT_CALLED]
    assert not missing, f"add these to SPECS (a valid call and the kind of each argument): {missing}"
    stale = [name for name in SPECS if name not in public_callables()]
    assert not stale, f"SPECS rows for names that are not public: {stale}"
    for name, spec in SPECS.items():  # every argument of the signature is swept
        target = getattr(spec.call(), spec.method) if spec.method else spec.call
        params = [p for p in inspect.signature(target).parameters.values()
                  if p.kind != p.VAR_KEYWORD and p.name != "self"]
        assert {p.name for p in params} == set(spec.args), name


@pytest.mark.parametrize("name", sorted(n for n in SPECS if not n.startswith("lablib.widgets.")))
def test_valid_call_runs_cleanly(name):
    """The valid call of each row runs without an error or a warning (so each bad call differs from a good one
    in one argument only). The explorers' valid calls are tests/test_widgets.py's."""
    spec = SPECS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if spec.baseline_raises is not None:
            with pytest.raises(spec.baseline_raises):
                _call(spec, {arg: p.valid for arg, p in spec.args.items()})
        else:
            _call(spec, {arg: p.valid for arg, p in spec.args.items()})


@pytest.mark.parametrize("name", sorted(SPECS))
def test_bad_input_raises_naming_the_argument(name):
    spec = SPECS[name]
    problems = []
    for arg, p in spec.args.items():
        for label, bad in p.bad:
            kwargs = {a: (bad if a == arg else q.valid) for a, q in spec.args.items()}
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a bad value must not slip through with a RuntimeWarning either
                try:
                    result = _call(spec, kwargs)
                except (ValueError, TypeError) as err:
                    if not names(str(err), arg):
                        problems.append(f"{arg}=<{label}>: {type(err).__name__} does not name {arg!r}: {err}")
                except Exception as err:  # noqa: BLE001 - the point is to report it
                    problems.append(f"{arg}=<{label}>: {type(err).__name__} instead of ValueError/TypeError: {err}")
                else:
                    problems.append(f"{arg}=<{label}>: returned {type(result).__name__} instead of raising")
            plt.close("all")
    assert not problems, f"{name}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------------------
# Extreme but valid input: the right number, or an error that says why (never inf, 0 or NaN in its place)


def test_norms_do_not_overflow_or_underflow():
    np.testing.assert_allclose(clip.clip_by_norm(np.array([1e200, 1e200]), 1.0), [2**-0.5] * 2, rtol=1e-15)
    clipped, norm = clip.clip_by_global_norm([np.array([3e200]), np.array([[4e200]])], 1.0)
    assert norm == pytest.approx(5e200, rel=1e-15)
    np.testing.assert_allclose(np.concatenate([c.ravel() for c in clipped]), [0.6, 0.8], rtol=1e-15)
    np.testing.assert_allclose(clip.clip_by_norm(np.array([3e-200, 4e-200]), 1e-250), [6e-251, 8e-251], rtol=1e-14)
    assert clip.clip_by_global_norm([np.array([3e-200, 4e-200])], 1.0)[1] == pytest.approx(5e-200, rel=1e-15)
    assert gradcheck.rel_error(np.array([1e308]), np.array([-1e308])) == 1.0
    # gradient descent stops on the true norm 5e-200 < tol = 1e-199, not on an underflowed 0 < 1e-250
    xs = optim.gradient_descent(lambda x: np.full(2, 1e-200) * np.array([3.0, 4.0]), np.zeros(2), 1.0, 3, tol=1e-250)
    assert len(xs) == 4


def test_overflowing_statistics_are_reported():
    with pytest.raises(ValueError, match="x is too large"):
        nn.batchnorm_forward(np.array([[1e200], [-1e200]]), np.ones(1), np.zeros(1), nn.batchnorm_init(1),
                             train=True)
    with pytest.raises(ValueError, match="grads are too large"):
        optim.adam_step(np.zeros(2), np.array([1e200, 1.0]), lr=0.1)
    assert nn.softmax(np.array([1e308, -1e308]))[0] == 1.0
    loss, dlogits = nn.softmax_cross_entropy(np.array([[1e300, -1e300]]), np.array([1]))
    assert loss == 2e300 and dlogits.tolist() == [[1.0, -1.0]]
