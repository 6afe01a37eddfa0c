"""The lab04 solution notebook runs top to bottom: no error, no stderr, every check passes, every plot is drawn,
its schedule explorer, driven from Python like a slider move, shows what lablib computes for the new values, and
the student's schedules set the learning rates of the Fashion-MNIST runs as the closed forms and Keras' rule say."""
from __future__ import annotations

import re

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

from lablib import schedules

NOTEBOOK = REPO / "solutions" / "lab04-schedules" / "lab04.ipynb"

# Injected after the explorer: move the three sliders from Python, print what the explorer now holds.
EXPLORER_PROBE = """
import json
lr_explorer.controls["lr0"].value = 0.05
lr_explorer.controls["s"].value = 50.0
lr_explorer.controls["c"].value = 2.0
print("EXPLORER_PROBE " + json.dumps({"values": lr_explorer.values(),
                                      **{k: v.tolist() for k, v in lr_explorer.data.items()}}))
"""
# Injected after the training cell: what each run used and measured.
TRAINING_PROBE = """
import json
print("TRAINING_PROBE " + json.dumps({label: {"lr": h.lr, "val_loss": h.val_loss, "loss": h.loss,
                                              "lr_per_step": np.asarray(lrs, dtype=float).tolist()}
                                      for label, (h, lrs) in runs.items()}))
"""
TRAINING_CELL_END = '        ax.legend(fontsize="small")\n    plt.show()'


@pytest.fixture(scope="module")
def executed():
    return execute(NOTEBOOK, [("\nlr_explorer", EXPLORER_PROBE), (TRAINING_CELL_END, TRAINING_PROBE)])


def test_no_error_and_nothing_on_stderr(executed):
    assert_no_error_and_nothing_on_stderr(executed)


def test_every_check_passes(executed):
    assert_every_check_passes(executed, ["power_schedule", "exponential_schedule", "plateau_step"])


def test_every_plot_cell_draws_a_figure(executed):
    assert_plot_cells_draw(executed, "plt.show()", 3)


def test_ratio_table_matches_the_closed_forms(executed):
    cell = next(c for c in code_cells(executed) if "def ratios(" in c.source)
    rows = [line.split() for line in text_of(cell).splitlines() if re.fullmatch(r"\s*\d+( +[0-9.]+){4}", line)]
    assert [int(row[0]) for row in rows] == list(range(10))
    k = np.arange(10.0)
    expected = np.column_stack([((k + 1) / (k + 2)) ** c for c in (0.5, 1.0, 2.0)] + [np.full(10, 0.1)])
    np.testing.assert_allclose(np.array([row[1:] for row in rows], dtype=float), expected, atol=5e-7)


def test_plateau_demo_halves_the_lr_where_traced_by_hand(executed):
    cell = next(c for c in code_cells(executed) if "val_losses = [" in c.source)
    printed = [float(m) for m in re.findall(r"-> lr ([0-9.e-]+)", text_of(cell))]
    # Hand trace (factor 0.5, patience 2, min_delta 0.01): bad epochs 3-4, 8-9, 10-11 -> halve after 4, 9, 11.
    assert printed == [0.1] * 3 + [0.05] * 5 + [0.025] * 2 + [0.0125] * 2
    assert "same as Keras' ReduceLROnPlateau: True" in text_of(cell)


def test_explorer_is_displayed(executed):
    cell = next(c for c in code_cells(executed) if c.source.rstrip().endswith("\nlr_explorer"))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)


def test_explorer_with_the_students_schedules_matches_lablib(executed):
    shown = probed(executed, "EXPLORER_PROBE")
    lr0, s, c = (shown["values"][name] for name in ("lr0", "s", "c"))
    assert (lr0, s, c) == pytest.approx((0.05, 50.0, 2.0), rel=1e-12)
    t = np.arange(1001.0)
    np.testing.assert_array_equal(shown["t"], t)
    np.testing.assert_allclose(shown["power"], schedules.power(lr0, s, c)(t), rtol=1e-12)
    np.testing.assert_allclose(shown["exponential"], schedules.exponential(lr0, s)(t), rtol=1e-12)
    k = np.arange(10.0)
    np.testing.assert_allclose(shown["power_ratio"], ((k + 1) / (k + 2)) ** c, rtol=1e-12)
    np.testing.assert_allclose(shown["exponential_ratio"], np.full(10, 0.1), rtol=1e-12)


def test_the_students_schedules_drive_the_training_runs(executed):
    shown = probed(executed, "TRAINING_PROBE")
    assert sorted(shown) == ["constant", "exponential", "performance", "power"]
    epochs, steps_per_epoch = 15, 47  # ceil(3000 / 64)
    steps = np.arange(epochs * steps_per_epoch, dtype=float)
    starts = steps[::steps_per_epoch]
    np.testing.assert_allclose(shown["constant"]["lr_per_step"], np.full(steps.size, 0.1))
    np.testing.assert_allclose(shown["constant"]["lr"], np.full(epochs, 0.1))
    for label, closed_form in (("power", lambda t: 0.1 / (1 + t / 94)),
                               ("exponential", lambda t: 0.1 * 0.1 ** (t / 352.5))):
        np.testing.assert_allclose(shown[label]["lr_per_step"], closed_form(steps), rtol=1e-12, err_msg=label)
        np.testing.assert_allclose(shown[label]["lr"], closed_form(starts), rtol=1e-12, err_msg=label)
    # performance: the lr of each next epoch is what Keras' rule makes of the validation losses measured
    performance = shown["performance"]
    scheduler, lr, expected = schedules.PerformanceScheduler(factor=0.2, patience=2, min_delta=1e-3), 0.1, [0.1]
    for val_loss in performance["val_loss"][:-1]:
        lr = scheduler.step(val_loss, lr)
        expected.append(lr)
    np.testing.assert_allclose(performance["lr"], expected, rtol=1e-12)
    np.testing.assert_allclose(performance["lr_per_step"], np.repeat(expected, steps_per_epoch), rtol=1e-12)
    # same weights and batches: performance scheduling trains exactly like the constant rate until its first cut
    first_cut = int(np.argmax(np.array(performance["lr"]) < 0.1))
    assert 0 < first_cut < epochs, "performance scheduling should reduce the lr during training"
    assert performance["val_loss"][:first_cut] == shown["constant"]["val_loss"][:first_cut]
    assert performance["val_loss"][first_cut] != shown["constant"]["val_loss"][first_cut]
