"""How closely lablib agrees with PyTorch and Keras, per convention: a printed report (the tests assert).

    python tests/reference/agreement.py                        # the stored fixtures only
    KERAS_BACKEND=torch python tests/reference/agreement.py    # and live torch / keras, when both import

lablib runs on the inputs in tests/reference/*.json; its numbers are compared with the frameworks' numbers stored
there ("fixture") and, when torch and keras import, computed now by the make_*_reference.py functions ("live");
some references are equations (the course's batch norm average, central differences). Per row, the maxima of
    elementwise  |a - b| / max(|b|, 2.2e-308)   (0 where a == b), a = lablib, b = the reference, and
    scaled       |a - b| / max |b| over one group compared together (one step's out, or its dx, dgamma, dbeta;
                 one optimizer step): the tests' convention, blind to cancellation near 0.
"""
from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]  # tests/_reference.py; the make_*_reference.py scripts
os.environ.setdefault("KERAS_BACKEND", "torch")  # read when keras is imported

from _reference import fixture, optim_reference_script  # noqa: E402

from lablib import backprop, clip, gradcheck, mlp, nn, optim, schedules  # noqa: E402

ROWS: dict = {}  # (convention, reference, source) -> [elementwise, scaled, number of values]


def flat(values) -> np.ndarray:
    """Numbers, arrays and (nested, ragged) lists of them as one float64 vector."""
    if isinstance(values, (list, tuple)):
        return np.concatenate([flat(v) for v in values]) if values else np.empty(0)
    return np.ravel(np.asarray(values, dtype=float))


def compare(convention, reference, source, ours, theirs):
    """Add one group of values to the row (both differences inf when the numbers of values differ)."""
    a, b = flat(ours), flat(theirs)
    row = ROWS.setdefault((convention, reference, source), [0.0, 0.0, 0])
    if a.shape != b.shape:
        row[:2] = [np.inf, np.inf]
        return
    diff = np.where(a == b, 0.0, np.abs(a - b))
    tiny = np.finfo(float).tiny
    row[0] = max(row[0], float(np.max(diff / np.maximum(np.abs(b), tiny), initial=0.0)))
    row[1] = max(row[1], float(np.max(diff, initial=0.0) / max(np.max(np.abs(b), initial=0.0), tiny)))
    row[2] += a.size


def batchnorm(data, source):
    for key, case in data.items():
        framework = key.split("_")[0]
        if key.endswith("default"):
            name = f"{framework.upper()}_BATCHNORM"
            options = getattr(nn, name)
        else:  # torch's momentum weights the new value, Keras' and lablib's the old one
            name = "torch momentum m as 1 - m" if framework == "torch" else "keras momentum as is"
            momentum = 1 - case["torch_momentum"] if framework == "torch" else case["keras_momentum"]
            options = {"momentum": momentum, "eps": case["eps"], "unbiased_running_var": framework == "torch"}
        course = {**nn.COURSE_BATCHNORM, "eps": case["eps"]}  # its running statistics are nobody else's
        for label, opts, running in ((name, options, True), ("COURSE_BATCHNORM", course, False)):
            gamma, beta = np.array(case["gamma"]), np.array(case["beta"])
            state = nn.batchnorm_init(len(gamma))
            for step in case["steps"]:
                out, cache = nn.batchnorm_forward(np.array(step["x"]), gamma, beta, state, train=step["train"], **opts)
                if running:
                    compare(f"batch norm {label}: running mean, var", framework, source,
                            [state["running_mean"], state["running_var"]], [step["running_mean"], step["running_var"]])
                elif not step["train"]:
                    continue  # test mode uses the running statistics
                compare(f"batch norm {label}: out, dx, dgamma, dbeta", framework, source, out, step["out"])
                if "dx" in step:
                    compare(f"batch norm {label}: out, dx, dgamma, dbeta", framework, source,
                            nn.batchnorm_backward(np.array(step["dout"]), cache),
                            [step[k] for k in ("dx", "dgamma", "dbeta")])


def course_batchnorm_equation(data):
    """COURSE_BATCHNORM's running statistics and test-mode output against eqs. 19-20 written out."""
    alpha, eps = 1 - nn.COURSE_BATCHNORM["momentum"], nn.COURSE_BATCHNORM["eps"]
    for case in data.values():
        gamma, beta = np.array(case["gamma"]), np.array(case["beta"])
        state, mu_hat, sigma_hat = nn.batchnorm_init(len(gamma)), None, None
        for step in case["steps"]:
            x = np.array(step["x"])
            out, _ = nn.batchnorm_forward(x, gamma, beta, state, train=step["train"], **nn.COURSE_BATCHNORM)
            if step["train"]:  # the first batch initialises: mu_hat_1 = mu_1, sigma_hat_1 = sigma_1
                mu, sigma = x.mean(axis=0), x.std(axis=0)
                mu_hat = mu if mu_hat is None else alpha * mu + (1 - alpha) * mu_hat
                sigma_hat = sigma if sigma_hat is None else alpha * sigma + (1 - alpha) * sigma_hat
                compare("batch norm COURSE_BATCHNORM: running mean, sigma", "eqs. 19-20", "-",
                        [state["running_mean"], np.sqrt(state["running_var"])], [mu_hat, sigma_hat])
            else:
                compare("batch norm COURSE_BATCHNORM: test-mode out", "eqs. 19-20", "-", out,
                        gamma * (x - mu_hat) / np.sqrt(sigma_hat**2 + eps) + beta)


def nn_functions(acts, losses, source):
    x = np.array(acts["x"])
    for key, case in acts["cases"].items():
        kwargs = {"alpha": case["alpha"]} if "alpha" in case else {}
        ours = [getattr(nn.activations, case["name"] + suffix)(x, **kwargs) for suffix in ("", "_derivative")]
        compare(f"activation {case['name']} + derivative", key.split("_")[0], source, ours,
                [case["value"], case["derivative"]])
    compare("SELU lambda, alpha", "torch", source, [nn.SELU_LAMBDA, nn.SELU_ALPHA],
            acts["torch_selu_lambda_alpha_from_value"])
    for case in losses["cross_entropy"]:
        ours = nn.softmax_cross_entropy(np.array(case["logits"]), np.array(case["y"]))
        compare("softmax cross-entropy + gradient", "torch", source, ours, [case["loss"], case["dlogits"]])
        compare("softmax cross-entropy", "keras", source, ours[0], case["keras_loss"])
    case = losses["mse"]
    ours = nn.mse(np.array(case["pred"]), np.array(case["target"]))
    compare("mse (mean) + gradient", "torch", source, ours, [case["loss"], case["dpred"]])
    compare("mse (mean)", "keras", source, ours[0], case["keras_loss"])
    sq = losses["squared_errors"]
    pred, target = np.array(sq["pred"]), np.array(sq["target"])
    for key, fn, reduction in (("mse_sum", nn.mse, "sum"), ("half_mse_mean", nn.half_mse, "mean"),
                               ("half_mse_sum", nn.half_mse, "sum")):
        compare(f"{fn.__name__} ({reduction}) + gradient", "torch", source, fn(pred, target, reduction=reduction),
                [sq[key]["loss"], sq[key]["dpred"]])
    compare("half_mse (mean)", "keras", source, nn.half_mse(pred, target)[0], sq["keras_half_mse_mean"])
    z, sm = np.array(losses["softmax"]["x"]), losses["softmax"]
    compare("softmax, log_softmax", "torch", source, [nn.softmax(z, axis=1), nn.softmax(z), nn.log_softmax(z)],
            [sm["softmax_axis1"], sm["softmax_axis-1"], sm["log_softmax_axis-1"]])


CLASSES = {"sgd": optim.SGD, "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop, "adadelta": optim.Adadelta,
           "adam": optim.Adam}


def optim_label(case, framework):
    kw, rule = case["lablib"], case["rule"]
    if rule == "sgd" and kw.get("momentum"):
        form = kw.get("momentum_form", "torch")
        by_design = framework == "keras" and form == "torch" and len(set(case["lrs"])) > 1
        return (f"SGD {'Nesterov' if kw.get('nesterov') else 'momentum'} ({form} form)"
                + (", changing lr: differs by design" if by_design else ""))
    eps = f" ({kw.get('eps_convention', 'torch')} eps)" if rule in ("adagrad", "rmsprop", "adam") else ""
    return CLASSES[rule].__name__ + eps


def optimizers(data, framework, source):
    for case in data["cases"]:
        opt = CLASSES[case["rule"]](lambda t, lrs=case["lrs"]: lrs[t], **case["lablib"])
        params = {k: np.array(v) for k, v in data["params0"].items()}
        for grads, expected in zip(data["grads"], case["trajectory"]):
            opt.step(params, {k: np.array(v) for k, v in grads.items()})
            compare(optim_label(case, framework), framework, source, list(params.values()),
                    [expected[k] for k in params])


def lr_schedules(keras_data, torch_data, source):
    for key, case in keras_data.items():
        staircase = "staircase" in key
        if key.startswith("exponential_decay"):
            sched, name = schedules.exponential(case["lr0"], case["decay_steps"], decay_rate=case["decay_rate"],
                                                staircase=staircase), "exponential"
        elif key.startswith("inverse_time_decay"):
            sched = schedules.power(case["lr0"], case["decay_steps"] / case["decay_rate"],
                                    staircase=case["decay_steps"] if staircase else False)
            name = "power c=1 (InverseTimeDecay)"
        elif key == "piecewise_constant_decay":
            sched, name = schedules.piecewise_constant(case["boundaries"], case["values"]), "piecewise_constant"
        else:
            continue
        compare(f"schedule {name}{' staircase' * staircase}", "keras", source,
                sched(np.array(keras_data["steps"])), case["lr"])
    for case in torch_data["steplr"].values():
        sched = schedules.exponential(case["lr0"], case["step_size"], decay_rate=case["gamma"], staircase=True)
        compare("schedule exponential staircase (StepLR)", "torch", source, sched(np.arange(40)), case["lr"])
    case = torch_data["multistep"]
    values = [case["lr0"] * case["gamma"] ** i for i in range(len(case["milestones"]) + 1)]
    sched = schedules.piecewise_constant([m - 1 for m in case["milestones"]], values)
    compare("schedule piecewise_constant (MultiStepLR)", "torch", source, sched(np.arange(30)), case["lr"])
    for framework, data in (("keras", keras_data), ("torch", torch_data)):
        for case in data["reduce_lr_on_plateau"]:
            mode = case.get("threshold_mode", "abs")
            sched = schedules.PerformanceScheduler(mode=case["mode"], convention=framework, threshold_mode=mode,
                                                   **case["setting"])
            lr, ours = case["lr0"], []
            for metric in case["metrics"]:
                lr = sched.step(metric, lr)
                ours.append([lr, sched.wait, sched.cooldown_counter, sched.best])
            compare(f"ReduceLROnPlateau ({framework} convention, {mode}): lr, wait, cooldown, best", framework,
                    source, ours, np.transpose([case["lr"], case["wait"], case["cooldown_counter"], case["best"]]))
    for case in keras_data["early_stopping"]:
        stopper = mlp.EarlyStopping(patience=case["patience"], min_delta=case["min_delta"], restore_best=False)
        waits = []
        for epoch, loss in enumerate(case["losses"]):
            stop = stopper.update(epoch, loss)
            waits.append(stopper.wait)
            if stop:
                break
        epochs_run = len(case["losses"]) if case["stopped_epoch"] is None else case["stopped_epoch"] + 1
        compare(f"EarlyStopping patience={case['patience']}: epochs run, best epoch, waits", "keras", source,
                [len(waits), stopper.best_epoch, waits], [epochs_run, case["best_epoch"], case["wait"]])


def clipping(keras_data, torch_data, source):
    grads = [np.array(g) for g in keras_data["grads"]]
    name = {"clipnorm": "clip_by_norm", "clipvalue": "clip_by_value", "global_clipnorm": "clip_by_global_norm"}
    for key, value in keras_data.items():  # "clipnorm=1": clip_by_norm(grads, 1), ...
        kind, _, max_value = key.partition("=")
        if kind in name:
            ours = getattr(clip, name[kind])(grads, float(max_value))
            compare(name[kind], "keras", source, ours[0] if kind == "global_clipnorm" else ours, value)
    grads = [np.array(g) for g in torch_data["grads"]]
    for case in torch_data["cases"]:
        if case["kind"] == "clip_grad_value_":
            compare("clip_by_value", "torch", source, clip.clip_by_value(grads, case["value"]), case["clipped"])
            continue
        ours, norm = clip.clip_by_global_norm(grads, case["value"])
        compare("clip_by_global_norm: global norm N", "torch", source, norm, case["total_norm"])
        # torch scales by max_norm / (N + 1e-6), lablib by max_norm / N: this row shows that difference
        compare("clip_by_global_norm (torch divides by N + 1e-6)", "torch", source, ours, case["clipped"])


def network_222(torch=None, source="-"):
    """Gradients (and, with torch, E and one eta=0.5 step moving the biases) of the 2-2-2 network."""
    rng_point = dict(zip(backprop.NAMES_PER_NEURON, np.random.default_rng(3).uniform(-1, 1, 12)))
    for weights in (dict(backprop.INITIAL), backprop.initial_weights("per_neuron"), rng_point):
        names = list(weights)
        layout = "per-neuron" if "b_h1" in weights else "shared"
        grads = backprop.gradients(weights)
        if torch is None:
            def error(v):
                return backprop.total_error(dict(zip(names, v)))

            compare(f"2-2-2 network, {layout} biases: dE/dw, dE/db", "central differences h=1e-5", source,
                    [grads[k] for k in names], gradcheck.numerical_gradient(error, np.array(list(weights.values()))))
            continue
        w = {k: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for k, v in weights.items()}
        i1, i2 = backprop.INPUTS
        h1 = torch.sigmoid(w["w1"] * i1 + w["w2"] * i2 + w.get("b_h1", w.get("b1")))
        h2 = torch.sigmoid(w["w3"] * i1 + w["w4"] * i2 + w.get("b_h2", w.get("b1")))
        o1 = torch.sigmoid(w["w5"] * h1 + w["w6"] * h2 + w.get("b_o1", w.get("b2")))
        o2 = torch.sigmoid(w["w7"] * h1 + w["w8"] * h2 + w.get("b_o2", w.get("b2")))
        loss = 0.5 * (backprop.TARGETS[0] - o1) ** 2 + 0.5 * (backprop.TARGETS[1] - o2) ** 2
        loss.backward()
        compare(f"2-2-2 network, {layout} biases: E, dE/dw, dE/db", "torch autograd", source,
                [backprop.total_error(weights), [grads[k] for k in names]], [loss.item(), [w[k].grad for k in names]])
        torch.optim.SGD(list(w.values()), lr=0.5).step()
        stepped = backprop.train_step(weights, update_biases=True)
        compare(f"2-2-2 network, {layout} biases: one step, biases moving", "torch.optim.SGD", source,
                [stepped[k] for k in names], [w[k].item() for k in names])


def run(data, source):
    batchnorm(data["nn_batchnorm"], source)
    nn_functions(data["nn_activations"], data["nn_losses"], source)
    optimizers(data["optim_torch"], "torch", source)
    optimizers(data["optim_keras"], "keras", source)
    lr_schedules(data["schedules_keras"], data["schedules_torch"], source)
    clipping(data["clip_keras"], data["clip_torch"], source)


def live_data():
    """The fixtures' content computed now by the frameworks (the generators' seeds; the stored optimizer inputs)."""
    import make_nn_reference as nnref  # imports torch and keras, sets float64 in both

    ref, optim_runs = optim_reference_script(), {name: fixture(name) for name in ("optim_torch", "optim_keras")}
    for name, run_framework in (("optim_torch", ref.run_torch_optim), ("optim_keras", ref.run_keras_optim)):
        data = optim_runs[name]
        data["cases"] = [{**case, "trajectory": run_framework(case, data)} for case in data["cases"]]
    batchnorm_cases = {"torch_default": nnref.torch_batchnorm(0, 4, momentum=0.1, eps=1e-5),  # as its __main__
                       "torch_custom": nnref.torch_batchnorm(1, 3, momentum=0.25, eps=1e-3),
                       "keras_default": nnref.keras_batchnorm(2, 4),
                       "keras_custom": nnref.keras_batchnorm(3, 3, momentum=0.9, epsilon=1e-5)}
    return {"nn_batchnorm": batchnorm_cases, "nn_activations": nnref.activations(), "nn_losses": nnref.losses(),
            **optim_runs, "schedules_keras": ref.schedules_keras(), "schedules_torch": ref.schedules_torch(),
            "clip_keras": ref.clip_keras(), "clip_torch": ref.clip_torch()}


def main():
    stored = {path.stem: fixture(path.stem) for path in HERE.glob("*.json")}
    stored["nn_batchnorm"] = {k: v for k, v in stored["nn_batchnorm"].items() if isinstance(v, dict)}  # no versions
    run(stored, "fixture")
    course_batchnorm_equation(stored["nn_batchnorm"])
    network_222()
    try:
        import keras
        import torch
    except ImportError as exc:
        print(f"live comparison skipped ({exc}): fixtures only")
    else:
        source = f"live {torch.__version__}/{keras.__version__}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # keras' numpy-2 notice on the torch backend
            run(live_data(), source)
        network_222(torch, source)
    print(f"fixtures written with {stored['optim_torch']['versions']}")
    print("elementwise = max |a - b| / max(|b|, 2.2e-308); scaled = max |a - b| / max |b| per group compared\n")
    header = ("convention", "reference", "source", "elementwise", "scaled", "values")
    widths = [max(len(str(k[i])) for k in [*ROWS, header]) for i in range(3)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths)), "| elementwise |   scaled | values")
    first = {}
    for i, key in enumerate(ROWS):
        first.setdefault(key[:2], i)
    for key, (elementwise, scaled, n) in sorted(ROWS.items(), key=lambda item: first[item[0][:2]]):
        print(" | ".join(str(k).ljust(w) for k, w in zip(key, widths)), f"| {elementwise:11.2e} | {scaled:8.2e} |",
              f"{n:6d}")


if __name__ == "__main__":
    main()
