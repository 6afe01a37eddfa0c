"""Write the framework reference numbers for lablib.optim, lablib.schedules and lablib.clip.

Re-run (needs torch and keras 3; keras runs on its torch backend):

    cd /work/main && KERAS_BACKEND=torch python tests/reference/make_optim_reference.py

It writes, next to this file:
  optim_torch.json, optim_keras.json         parameter trajectories of torch.optim / keras.optimizers on fixed
                                             gradient sequences (float64), incl. a changing lr
  schedules_keras.json, schedules_torch.json ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay,
                                             MultiStepLR, and ReduceLROnPlateau on fixed metric sequences
  clip_keras.json, clip_torch.json           clipnorm / global_clipnorm / clipvalue, clip_grad_norm_ / _value_

The inputs (initial params, gradients, metric sequences) are stored in the fixtures too, so the tests never
depend on this script's random numbers. The test files also import the ``run_torch_*`` functions below to
compare lablib with live torch when torch is installed. Nothing here imports lablib.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------------------
# Optimizers: a 3x2 weight and a 2-vector bias, 6 steps of fixed gradients (the bias' are tiny so that where
# eps goes makes a visible difference).

N_STEPS = 6
CHANGING_LRS = [0.1, 0.05, 0.2, 0.01, 0.1, 0.3]


def optim_inputs() -> dict:
    rng = np.random.default_rng(20240611)
    params0 = {"W": rng.standard_normal((3, 2)).tolist(), "b": rng.standard_normal(2).tolist()}
    grads = [
        {"W": rng.standard_normal((3, 2)).tolist(), "b": (1e-4 * rng.standard_normal(2)).tolist()}
        for _ in range(N_STEPS)
    ]
    return {"params0": params0, "grads": grads}


def _case(name, rule, lablib_kwargs, framework_kwargs, lr=None, lrs=None):
    return {
        "name": name,
        "rule": rule,  # sgd | adagrad | rmsprop | adadelta | adam
        "lablib": lablib_kwargs,  # hyperparameters for lablib.optim, lr excluded
        "framework": framework_kwargs,  # constructor kwargs of the framework's optimizer, lr excluded
        "lrs": lrs if lrs is not None else [lr] * N_STEPS,  # the lr of each step
    }


TORCH_CASES = [
    _case("sgd", "sgd", {}, {}, lr=0.1),
    _case("sgd_momentum", "sgd", {"momentum": 0.9}, {"momentum": 0.9}, lr=0.1),
    _case("sgd_momentum_changing_lr", "sgd", {"momentum": 0.9}, {"momentum": 0.9}, lrs=CHANGING_LRS),
    _case("adagrad_defaults", "adagrad", {}, {}, lr=0.1),
    _case(
        "adagrad_init_eps",
        "adagrad",
        {"initial_accumulator": 0.1, "eps": 1e-3},
        {"initial_accumulator_value": 0.1, "eps": 1e-3},
        lr=0.1,
    ),
    _case("rmsprop_rho09", "rmsprop", {"rho": 0.9, "eps": 1e-8}, {"alpha": 0.9, "eps": 1e-8}, lr=0.01),
    _case("rmsprop_torch_defaults", "rmsprop", {"rho": 0.99, "eps": 1e-8}, {}, lr=0.01),
    _case("adam_defaults", "adam", {}, {}, lr=0.01),
    _case(
        "adam_betas_big_eps",
        "adam",
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-3},
        {"betas": (0.8, 0.99), "eps": 1e-3},
        lr=0.01,
    ),
    _case("adam_changing_lr", "adam", {}, {}, lrs=CHANGING_LRS),
    _case("sgd_nesterov", "sgd", {"momentum": 0.9, "nesterov": True}, {"momentum": 0.9, "nesterov": True}, lr=0.1),
    _case("sgd_nesterov_changing_lr", "sgd", {"momentum": 0.8, "nesterov": True},
          {"momentum": 0.8, "nesterov": True}, lrs=CHANGING_LRS),
    _case("adadelta_defaults", "adadelta", {}, {}, lr=1.0),
    _case("adadelta_custom", "adadelta", {"rho": 0.5, "eps": 1e-3}, {"rho": 0.5, "eps": 1e-3}, lrs=CHANGING_LRS),
]

KERAS_CASES = [
    _case("sgd_momentum", "sgd", {"momentum": 0.9}, {"momentum": 0.9}, lr=0.1),
    # Keras' momentum form v = m v - lr g differs from torch's (and lablib's) once lr changes:
    _case("sgd_momentum_changing_lr", "sgd", {"momentum": 0.9}, {"momentum": 0.9}, lrs=CHANGING_LRS),
    # ... and lablib's momentum_form="keras" is Keras' form:
    _case("sgd_keras_form_changing_lr", "sgd", {"momentum": 0.9, "momentum_form": "keras"}, {"momentum": 0.9},
          lrs=CHANGING_LRS),
    _case("sgd_nesterov_keras_form", "sgd", {"momentum": 0.9, "nesterov": True, "momentum_form": "keras"},
          {"momentum": 0.9, "nesterov": True}, lrs=CHANGING_LRS),
    _case("adadelta_defaults", "adadelta", {"rho": 0.95, "eps": 1e-7}, {}, lr=0.001),
    _case("adadelta_lr1", "adadelta", {"rho": 0.95, "eps": 1e-7}, {}, lr=1.0),
    _case(
        "adagrad_defaults",
        "adagrad",
        {"initial_accumulator": 0.1, "eps": 1e-7, "eps_convention": "keras"},
        {},
        lr=0.1,
    ),
    _case("rmsprop_defaults", "rmsprop", {"rho": 0.9, "eps": 1e-7, "eps_convention": "keras"}, {}, lr=0.01),
    _case("adam_defaults", "adam", {"eps": 1e-7, "eps_convention": "keras"}, {}, lr=0.01),
    _case(
        "adam_betas_big_eps",
        "adam",
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-3, "eps_convention": "keras"},
        {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-3},
        lr=0.01,
    ),
]


def run_torch_optim(case: dict, inputs: dict) -> list[dict]:
    """Trajectory [params after step 1, ..., after step N] of torch.optim on the given gradients."""
    import torch

    cls = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop,
           "adadelta": torch.optim.Adadelta, "adam": torch.optim.Adam}[case["rule"]]
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in inputs["params0"].items()}
    opt = cls(list(params.values()), lr=case["lrs"][0], **case["framework"])
    out = []
    for lr, grads in zip(case["lrs"], inputs["grads"]):
        opt.param_groups[0]["lr"] = lr
        for k, p in params.items():
            p.grad = torch.tensor(grads[k], dtype=torch.float64)
        opt.step()
        out.append({k: p.detach().numpy().tolist() for k, p in params.items()})
    return out


def run_keras_optim(case: dict, inputs: dict) -> list[dict]:
    import keras

    cls = {"sgd": keras.optimizers.SGD, "adagrad": keras.optimizers.Adagrad, "rmsprop": keras.optimizers.RMSprop,
           "adadelta": keras.optimizers.Adadelta, "adam": keras.optimizers.Adam}[case["rule"]]
    names = list(inputs["params0"])
    variables = [keras.Variable(np.array(inputs["params0"][k]), dtype="float64") for k in names]
    opt = cls(learning_rate=case["lrs"][0], **case["framework"])
    out = []
    for lr, grads in zip(case["lrs"], inputs["grads"]):
        opt.learning_rate = lr
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(np.array(grads[k])) for k in names], variables))
        out.append({k: keras.ops.convert_to_numpy(v).tolist() for k, v in zip(names, variables)})
    return out


# ---------------------------------------------------------------------------------------------------------
# Schedules

SCHEDULE_STEPS = [0, 1, 5, 9, 10, 11, 19, 20, 21, 40, 100, 1000]

PLATEAU_SETTINGS = [
    # lablib names; mapped to each framework below
    {"factor": 0.5, "patience": 2, "min_delta": 1e-3, "cooldown": 0, "min_lr": 0.0},
    {"factor": 0.1, "patience": 0, "min_delta": 0.0, "cooldown": 0, "min_lr": 0.0},
    # min_lr = 2**-7 is exact in float32, so Keras' float32(min_lr) comparison changes nothing
    {"factor": 0.5, "patience": 1, "min_delta": 1e-4, "cooldown": 2, "min_lr": 2.0**-7},
    {"factor": 0.3, "patience": 3, "min_delta": 0.01, "cooldown": 1, "min_lr": 0.0},
    # with the "ties" sequences: metric + d < best (Keras) and metric < best - d (torch) round differently
    {"factor": 0.5, "patience": 1, "min_delta": 0.1, "cooldown": 0, "min_lr": 0.0},
]


def plateau_sequences() -> dict:
    rng = np.random.default_rng(7)
    walk = 1.0 + np.cumsum(0.02 * rng.standard_normal(40)) - 0.004 * np.arange(40)
    return {
        "min": [
            [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79995, 0.8, 0.8, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7],
            walk.tolist(),
            [0.4, 0.3, 0.2, 0.46, 0.36, 0.26, 0.16, 0.06, 0.06, 0.06],  # ties: steps of exactly 0.1
        ],
        "max": [
            [0.5, 0.6, 0.65, 0.66, 0.66, 0.6605, 0.66, 0.67, 0.67, 0.67, 0.67, 0.67, 0.68, 0.68, 0.68, 0.68],
            (1.0 - walk).tolist(),
            [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.8, 0.8],  # ties
        ],
    }


def run_torch_plateau(setting: dict, mode: str, threshold_mode: str, metrics: list, lr0: float) -> dict:
    import torch

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode=mode, factor=setting["factor"], patience=setting["patience"], threshold=setting["min_delta"],
        threshold_mode=threshold_mode, cooldown=setting["cooldown"], min_lr=setting["min_lr"],
    )
    rec = {"lr": [], "wait": [], "cooldown_counter": [], "best": []}
    for m in metrics:
        sched.step(m)
        rec["lr"].append(opt.param_groups[0]["lr"])
        rec["wait"].append(sched.num_bad_epochs)
        rec["cooldown_counter"].append(sched.cooldown_counter)
        rec["best"].append(float(sched.best))
    return rec


def run_keras_plateau(setting: dict, mode: str, metrics: list, lr0: float) -> dict:
    import keras

    class Stub:  # the callback only reads model.optimizer
        optimizer = keras.optimizers.SGD(learning_rate=lr0)

    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", mode=mode, verbose=0, **setting)
    cb.set_model(Stub())
    cb.on_train_begin()
    rec = {"lr": [], "wait": [], "cooldown_counter": [], "best": []}
    for epoch, m in enumerate(metrics):
        cb.on_epoch_end(epoch, {"val_loss": m})
        rec["lr"].append(float(keras.ops.convert_to_numpy(Stub.optimizer.learning_rate)))
        rec["wait"].append(cb.wait)
        rec["cooldown_counter"].append(cb.cooldown_counter)
        rec["best"].append(float(cb.best))
    return rec


# Validation losses for keras.callbacks.EarlyStopping; no difference of two losses equals a min_delta exactly.
EARLY_STOPPING_LOSSES = [
    [1.0, 0.8, 0.85, 0.7, 0.72, 0.71, 0.73, 0.74, 0.75, 0.76],
    [0.9, 0.95, 0.97, 0.5, 0.49, 0.48, 0.47, 0.6, 0.61, 0.62, 0.63],
    [2.0, 1.9, 1.8, 1.7, 1.6, 1.55, 1.52, 1.51, 1.505, 1.6, 1.7],
]


def run_keras_early_stopping(patience: int, min_delta: float, losses: list) -> dict:
    """The epoch keras.callbacks.EarlyStopping stops at (None if it never does), its best epoch and its
    wait counter after each epoch."""
    import keras

    class Stub:  # the callback reads and sets model.stop_training only (no restore_best_weights)
        stop_training = False

    model = Stub()
    cb = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=min_delta, verbose=0)
    cb.set_model(model)
    cb.on_train_begin()
    waits = []
    for epoch, loss in enumerate(losses):
        cb.on_epoch_end(epoch, {"val_loss": loss})
        waits.append(cb.wait)
        if model.stop_training:
            break
    return {"stopped_epoch": cb.stopped_epoch if model.stop_training else None, "best_epoch": cb.best_epoch,
            "wait": waits}


def schedules_keras() -> dict:
    import keras

    sched = keras.optimizers.schedules
    steps = np.array(SCHEDULE_STEPS + [10.5, 20.25], dtype="float64")

    def values(s):
        return [float(keras.ops.convert_to_numpy(s(keras.ops.convert_to_tensor(t, dtype="float64")))) for t in steps]

    exp = {"lr0": 0.1, "decay_steps": 20.0, "decay_rate": 0.1}
    inv = {"lr0": 0.1, "decay_steps": 10.0, "decay_rate": 0.5}
    exp_half = {"lr0": 0.1, "decay_steps": 10.0, "decay_rate": 0.5}
    pw = {"boundaries": [10.0, 20.0], "values": [0.1, 0.01, 0.001]}
    out = {
        "steps": steps.tolist(),
        "exponential_decay": {
            **exp,
            "lr": values(sched.ExponentialDecay(exp["lr0"], exp["decay_steps"], exp["decay_rate"])),
        },
        "inverse_time_decay": {
            **inv,
            "lr": values(sched.InverseTimeDecay(inv["lr0"], inv["decay_steps"], inv["decay_rate"])),
        },
        "piecewise_constant_decay": {**pw, "lr": values(sched.PiecewiseConstantDecay(pw["boundaries"], pw["values"]))},
        "exponential_decay_rate_0.5": {
            **exp_half,
            "lr": values(sched.ExponentialDecay(exp_half["lr0"], exp_half["decay_steps"], exp_half["decay_rate"])),
        },
        "exponential_decay_staircase": {
            **exp_half,
            "lr": values(sched.ExponentialDecay(exp_half["lr0"], exp_half["decay_steps"], exp_half["decay_rate"],
                                                staircase=True)),
        },
        "exponential_decay_staircase_rate_0.1": {
            **exp,
            "lr": values(sched.ExponentialDecay(exp["lr0"], exp["decay_steps"], exp["decay_rate"], staircase=True)),
        },
        "inverse_time_decay_staircase": {
            **inv,
            "lr": values(sched.InverseTimeDecay(inv["lr0"], inv["decay_steps"], inv["decay_rate"], staircase=True)),
        },
        "inverse_time_decay_staircase_rate_1": {
            **inv, "decay_rate": 1.0,
            "lr": values(sched.InverseTimeDecay(inv["lr0"], inv["decay_steps"], 1.0, staircase=True)),
        },
        "reduce_lr_on_plateau": [],
        "early_stopping": [
            {"patience": patience, "min_delta": min_delta, "losses": losses,
             **run_keras_early_stopping(patience, min_delta, losses)}
            for losses in EARLY_STOPPING_LOSSES for patience in (0, 1, 3) for min_delta in (0.0, 0.05)
        ],
    }
    for mode, seqs in plateau_sequences().items():
        for metrics in seqs:
            for setting in PLATEAU_SETTINGS:
                rec = run_keras_plateau(setting, mode, metrics, lr0=0.1)
                out["reduce_lr_on_plateau"].append(
                    {"setting": setting, "mode": mode, "metrics": metrics, "lr0": 0.1, **rec}
                )
    return out


def schedules_torch() -> dict:
    import torch

    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    multistep = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[10, 20], gamma=0.1)
    lrs = []
    for _ in range(30):  # lrs[t] is the lr used in epoch t
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        multistep.step()
    steplr = {}
    for step_size, gamma in ((10, 0.1), (3, 0.5), (7, 0.9)):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma)
        seen = []
        for _ in range(40):  # seen[t] is the lr used in epoch t
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        steplr[f"step_size={step_size},gamma={gamma}"] = {"lr0": 0.1, "step_size": step_size, "gamma": gamma,
                                                          "lr": seen}
    out = {"multistep": {"lr0": 0.1, "milestones": [10, 20], "gamma": 0.1, "lr": lrs}, "steplr": steplr,
           "reduce_lr_on_plateau": []}
    for mode, seqs in plateau_sequences().items():
        for metrics in seqs:
            for setting in PLATEAU_SETTINGS:
                for threshold_mode in ("abs", "rel"):
                    rec = run_torch_plateau(setting, mode, threshold_mode, metrics, lr0=0.1)
                    out["reduce_lr_on_plateau"].append(
                        {"setting": setting, "mode": mode, "threshold_mode": threshold_mode, "metrics": metrics,
                         "lr0": 0.1, **rec}
                    )
    return out


# ---------------------------------------------------------------------------------------------------------
# Clipping: the course's vector [0.9, 100] plus a 2x3 matrix.


def clip_inputs() -> list:
    rng = np.random.default_rng(3)
    return [[0.9, 100.0], (3.0 * rng.standard_normal((2, 3))).tolist()]


def clip_keras() -> dict:
    import keras

    grads = clip_inputs()
    out = {"grads": grads}
    for kwarg, value in (("clipnorm", 1.0), ("clipnorm", 5.0), ("global_clipnorm", 5.0), ("clipvalue", 1.0),
                         ("global_clipnorm", 1e3)):
        # SGD with lr 1 from zero weights: the weights after one step are minus the clipped gradients.
        variables = [keras.Variable(np.zeros(np.shape(g)), dtype="float64") for g in grads]
        opt = keras.optimizers.SGD(learning_rate=1.0, **{kwarg: value})
        opt.apply_gradients(zip([keras.ops.convert_to_tensor(np.array(g)) for g in grads], variables))
        out[f"{kwarg}={value:g}"] = [(-keras.ops.convert_to_numpy(v)).tolist() for v in variables]
    return out


def run_torch_clip(kind: str, value: float, grads: list) -> dict:
    import torch

    params = [torch.zeros(np.shape(g), dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g, dtype=torch.float64)
    total = None
    if kind == "clip_grad_norm_":
        total = float(torch.nn.utils.clip_grad_norm_(params, value))
    else:
        torch.nn.utils.clip_grad_value_(params, value)
    return {"clipped": [p.grad.numpy().tolist() for p in params], "total_norm": total}


def clip_torch() -> dict:
    grads = clip_inputs()
    return {
        "grads": grads,
        "cases": [
            {"kind": kind, "value": value, **run_torch_clip(kind, value, grads)}
            for kind, value in (("clip_grad_norm_", 1.0), ("clip_grad_norm_", 5.0), ("clip_grad_norm_", 1e3),
                                ("clip_grad_value_", 1.0))
        ],
    }


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    import torch

    keras.config.set_floatx("float64")
    inputs = optim_inputs()
    versions = {"torch": torch.__version__, "keras": keras.__version__, "keras_backend": keras.backend.backend()}
    files = {
        "optim_torch.json": {
            "versions": versions, **inputs,
            "cases": [{**c, "trajectory": run_torch_optim(c, inputs)} for c in TORCH_CASES],
        },
        "optim_keras.json": {
            "versions": versions, **inputs,
            "cases": [{**c, "trajectory": run_keras_optim(c, inputs)} for c in KERAS_CASES],
        },
        "schedules_keras.json": {"versions": versions, **schedules_keras()},
        "schedules_torch.json": {"versions": versions, **schedules_torch()},
        "clip_keras.json": {"versions": versions, **clip_keras()},
        "clip_torch.json": {"versions": versions, **clip_torch()},
    }
    for name, content in files.items():
        (HERE / name).write_text(json.dumps(content, indent=1) + "\n")
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
