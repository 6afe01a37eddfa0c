"""The lab03 solution notebook runs top to bottom: no error, no stderr, every check passes, every plot is drawn,
and its two explorers, driven from Python like a slider move, show what lablib computes for the new values."""
from __future__ import annotations

import math

import numpy as np
import pytest
from _notebooks import (
    REPO,
    assert_every_check_passes,
    assert_no_error_and_nothing_on_stderr,
    assert_plot_cells_draw,
    code_cells,
    execute,
    probed,
    text_of,
)

from lablib import landscapes, optim
from lablib.widgets import sgd_batch_explorer

NOTEBOOK = REPO / "solutions" / "lab03-optimizers" / "lab03.ipynb"

# Cells injected after the explorers: move controls from Python, print what the explorer now holds.
BATCH_PROBE = """
import json
batch_explorer.controls["batch_size"].value = 7
batch_explorer.controls["lr"].value = 0.2
print("BATCH_PROBE " + json.dumps({"values": batch_explorer.values(), "path": batch_explorer.data["path"].tolist(),
                                   "steps_per_epoch": int(batch_explorer.data["steps_per_epoch"])}))
"""
PATHS_PROBE = """
import json
paths_explorer.controls["beta"].value = 0.5
paths_explorer.controls["lr"].value = 0.02
print("PATHS_PROBE " + json.dumps({"values": paths_explorer.values(),
                                   "paths": {k: v.tolist() for k, v in paths_explorer.data.items()}}))
"""


@pytest.fixture(scope="module")
def executed():
    return execute(NOTEBOOK, [("\nbatch_explorer", BATCH_PROBE), ("\npaths_explorer", PATHS_PROBE)])


def test_no_error_and_nothing_on_stderr(executed):
    assert_no_error_and_nothing_on_stderr(executed)


def test_every_check_passes(executed):
    assert_every_check_passes(executed, ["minibatches", "sgd_momentum_step", "adagrad_norm_step", "rmsprop_step",
                                         "adam_step"])


def test_every_plot_cell_draws_a_figure(executed):
    assert_plot_cells_draw(executed, "plt.show()", 5)


def test_explorers_are_displayed(executed):
    for name in ("batch_explorer", "paths_explorer"):
        cell = next(c for c in code_cells(executed) if c.source.rstrip().endswith("\n" + name))
        assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs), name


def test_batch_explorer_with_the_students_minibatches_matches_lablib(executed):
    shown = probed(executed, "BATCH_PROBE")
    values = shown["values"]
    assert values["batch_size"] == 7
    assert shown["steps_per_epoch"] == math.ceil(100 / 7)
    reference = sgd_batch_explorer(batch_size=7, lr=values["lr"], epochs=values["epochs"])  # lablib's minibatches
    np.testing.assert_allclose(shown["path"], reference.data["path"], rtol=1e-12, atol=1e-12)
    assert len(shown["path"]) == values["epochs"] * math.ceil(100 / 7) + 1


def _lablib_path(step, x0, n_steps, grad, **hparams):
    x, state, path = np.array(x0, dtype=float), {}, [np.array(x0, dtype=float)]
    for _ in range(n_steps):
        x, state = step(x, grad(x), state, **hparams)
        path.append(x)
    return np.array(path)


def test_paths_explorer_with_the_students_rules_matches_lablib(executed):
    shown = probed(executed, "PATHS_PROBE")
    values = shown["values"]
    lr, beta = values["lr"], values["beta"]
    assert beta == 0.5
    bowl = landscapes.quadratic_bowl(1.0, 20.0)
    start, n_steps = (values["x0"], values["y0"]), values["n_steps"]
    expected = {
        "GD": _lablib_path(optim.sgd_step, start, n_steps, bowl.grad, lr=lr),
        "momentum": _lablib_path(optim.sgd_step, start, n_steps, bowl.grad, lr=lr, momentum=beta),
        "AdaGrad-Norm (lr x 10)": _lablib_path(optim.adagrad_norm_step, start, n_steps, bowl.grad, lr=10 * lr),
        "RMSprop": _lablib_path(optim.rmsprop_step, start, n_steps, bowl.grad, lr=lr),
        "Adam": _lablib_path(optim.adam_step, start, n_steps, bowl.grad, lr=lr, beta1=beta),
    }
    assert sorted(shown["paths"]) == sorted(expected)
    for label, path in expected.items():
        np.testing.assert_allclose(shown["paths"][label], path, rtol=1e-10, atol=1e-12, err_msg=label)


def _printed(executed, prefix):
    lines = [line for c in code_cells(executed) for line in text_of(c).splitlines() if line.strip().startswith(prefix)]
    assert lines, prefix
    return lines


def test_batch_size_and_learning_rate_are_separated(executed):
    def gap(line):
        return float(line.split("after 5 epochs")[1].split()[0])

    lines = _printed(executed, "batch ")
    same = {int(line.split()[1].rstrip(",")): gap(line) for line in lines if ", lr 0.01  :" in line}
    scaled = {int(line.split()[1].rstrip(",")): gap(line) for line in lines
              if line.split(", lr ")[1].split()[0] in ("0.002", "0.016", "0.064", "0.512", "4")}
    assert sorted(same) == sorted(scaled) == [1, 8, 32, 256, 2000]
    # the same lr: small batches stall at their noise floor, large ones lack steps; batch 32 is the best compromise
    assert same[32] < same[8] < same[1] and same[32] < same[256] < same[2000]
    # lr proportional to the batch (linear scaling): per epoch, batches 1, 8, 32 agree within a factor 1.5 ...
    assert max(scaled[b] for b in (1, 8, 32)) < 1.5 * min(scaled[b] for b in (1, 8, 32))
    # ... and GD with lr = 4 > 2 / lambda_max (lambda_max = 2.4 for this data) diverges
    assert scaled[2000] > 1e3 and any("(diverges)" in line for line in lines if "batch 2000, lr 4" in line)


def test_nag_adagrad_and_adadelta_race_beside_the_students_rules(executed):
    # first steps from x0 = 0, lr 0.1, grad (100, 0.001), by hand: NAG -lr (1 + 0.9) grad; Adagrad -lr sign(grad)
    assert _printed(executed, "NAG           first step")[0].endswith("= (-19, -0.00019)")
    assert _printed(executed, "Adagrad       first step")[0].endswith("= (-0.1, -0.1)")
    for rule in ("NAG", "Adagrad", "Adadelta"):
        assert len(_printed(executed, f"saddle, {rule} (")) == 1
        assert len(_printed(executed, f"quadratic bowl (a=1, b=20), {rule} (")) == 1
        assert len(_printed(executed, f"Rosenbrock (a=1, b=100), {rule} (")) == 1


def test_the_network_trains_with_the_students_own_rules(executed):
    cell = next(c for c in code_cells(executed) if "make_optimizer = {" in c.source)
    for rule in ("gd_step", "sgd_momentum_step", "adagrad_norm_step", "rmsprop_step", "adam_step"):
        assert f"optim.StepRule({rule}," in cell.source
    assert not any(f"optim.{cls}(" in cell.source for cls in ("SGD", "AdaGradNorm", "RMSprop", "Adam"))
    assert len([line for line in text_of(cell).splitlines() if "validation loss" in line]) == 5
