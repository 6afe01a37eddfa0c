"""The lab06 solution notebook runs top to bottom: no error, no stderr, every check passes, every plot is drawn,
the student's early stopping stops where lablib's EarlyStopping does, and the dropout explorer, driven from Python
like a slider move, shows what lablib (and the dropout formula) give for the new values."""
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

from lablib import data
from lablib.widgets import dropout_explorer

NOTEBOOK = REPO / "solutions" / "lab06-overfitting" / "lab06.ipynb"

# Injected after the explorer: move its controls from Python, print what it now holds.
DROPOUT_PROBE = """
import json
drop_explorer.controls["rate"].value = 0.3
drop_explorer.controls["seed"].value = 7
drop_explorer.controls["index"].value = 5
print("DROPOUT_PROBE " + json.dumps({"values": drop_explorer.values(), "mask": drop_explorer.data["mask"].tolist(),
                                     "out": drop_explorer.data["out"].tolist()}))
"""


@pytest.fixture(scope="module")
def executed():
    return execute(NOTEBOOK, [("\ndrop_explorer", DROPOUT_PROBE)])


def _stdout_containing(nb, text: str) -> str:
    cells = [c for c in code_cells(nb) if text in text_of(c)]
    assert len(cells) == 1, f"{text!r} printed by {len(cells)} cells"
    return text_of(cells[0])


def test_no_error_and_nothing_on_stderr(executed):
    assert_no_error_and_nothing_on_stderr(executed)


def test_every_check_passes(executed):
    assert_every_check_passes(executed, ["early_stopping_step", "dropout_forward", "dropout_backward"])


def test_every_plot_cell_draws_a_figure(executed):
    assert_plot_cells_draw(executed, "plt.show()", 7)


def test_the_students_early_stopping_stops_and_restores_like_lablibs(executed):
    text = _stdout_containing(executed, "your rule:")
    ours = re.search(r"your rule: +stopped after epoch (\d+), best epoch (\d+)", text)
    lablib = re.search(r"mlp\.EarlyStopping: +stopped after epoch (\d+), best epoch (\d+); "
                       r"identical restored weights: (\w+)", text)
    assert ours and lablib, text
    assert ours.groups() == lablib.groups()[:2]
    assert lablib.group(3) == "True"
    stopped, best = map(int, ours.groups())
    assert stopped - best == 5  # patience 5: stopped after 5 epochs without improvement, before the last epoch


def test_the_dropout_gradient_check_agrees(executed):
    text = _stdout_containing(executed, "gradient check")
    error = float(re.search(r"max \|analytic - numeric\| = (\S+)", text).group(1))
    assert error < 1e-6


def test_both_dropout_forms_agree_in_expectation(executed):
    """The student's inverted dropout and lablib's original form (scaled by the keep probability at test time): each
    form's mean training output over 4,000 masks is its own test output within a few standard errors, and with the
    same masks the two forms differ by exactly 1 / (1 - rate)."""
    text = _stdout_containing(executed, "with the same masks:")
    apart = [float(s) for s in re.findall(r"(\S+) standard errors from it", text)]
    assert len(apart) == 2 and all(0 <= a < 3 for a in apart), text
    tests = re.search(r"up to (\S+); test values (\S+) = (\S+) / 0\.5", text)
    assert float(tests.group(1)) == 0.0
    assert abs(float(tests.group(2)) - float(tests.group(3)) / 0.5) < 2e-3


def test_mixing_up_the_dropout_forms_shows_in_the_loss(executed):
    """Each network is best (lowest test loss) with its own test rule; the two forms reach similar accuracies."""
    text = _stdout_containing(executed, "(mixed up!)")
    rows = re.findall(r"trained (inverted|original).*?\((its own|mixed up!) *\): test loss (\S+), accuracy (\S+)%",
                      text)
    assert len(rows) == 4, text
    loss = {(form, kind): float(value) for form, kind, value, _ in rows}
    accuracy = {(form, kind): float(value) for form, kind, _, value in rows}
    for form in ("inverted", "original"):
        assert loss[form, "its own"] < loss[form, "mixed up!"] - 0.2
    assert abs(accuracy["inverted", "its own"] - accuracy["original", "its own"]) < 5


def test_explorer_is_displayed(executed):
    cell = next(c for c in code_cells(executed) if c.source.rstrip().endswith("\ndrop_explorer"))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)


def test_dropout_explorer_with_the_students_forward_matches_lablib(executed):
    shown = probed(executed, "DROPOUT_PROBE")
    assert shown["values"] == {"rate": 0.3, "seed": 7, "index": 5}
    mask, out = np.array(shown["mask"]), np.array(shown["out"])
    reference = dropout_explorer(rate=0.3, seed=7, index=5)  # lablib's nn.dropout_forward
    np.testing.assert_array_equal(mask, reference.data["mask"])
    np.testing.assert_allclose(out, reference.data["out"], rtol=1e-12, atol=0)
    # and the formula itself: keep = rng.random(x.shape) >= rate, out = x * keep / (1 - rate)
    image = data.load_fashion_mnist("mini", flatten=False).X_train[5]
    keep = np.random.default_rng(7).random(image.shape) >= 0.3
    np.testing.assert_array_equal(mask, keep)
    np.testing.assert_allclose(out, image * keep / 0.7, rtol=1e-12, atol=0)
