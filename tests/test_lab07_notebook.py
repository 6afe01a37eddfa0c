"""The lab07 solution notebook runs top to bottom: no error, no stderr, every check passes, every plot is drawn,
and its explorer, driven from Python like a slider move, shows the accuracies lablib computes for the new value."""
from __future__ import annotations


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
)

from lablib import data, mlp, optim
from lablib.grading import EXERCISES

NOTEBOOK = REPO / "solutions" / "lab07-transfer-learning" / "lab07.ipynb"

# Injected after the explorer: move the slider from Python, print what the explorer now shows.
PROBE = """
import json
transfer_explorer.controls["n_per_class"].value = 1
print("TRANSFER_PROBE " + json.dumps({"values": transfer_explorer.values(), "caption": transfer_explorer.caption,
                                      "data": {k: v.tolist() for k, v in transfer_explorer.data.items()}}))
"""


@pytest.fixture(scope="module")
def executed():
    return execute(NOTEBOOK, [("\ntransfer_explorer", PROBE)])


def test_no_error_and_nothing_on_stderr(executed):
    assert_no_error_and_nothing_on_stderr(executed)


def test_every_check_passes(executed):
    assert_every_check_passes(executed, ["split_tasks", "few_shot_sample", "seed_summary"])


def test_every_plot_cell_draws_a_figure(executed):
    assert_plot_cells_draw(executed, "plt.show()", 2)


def test_explorer_is_displayed(executed):
    cell = next(c for c in code_cells(executed) if c.source.rstrip().endswith("\ntransfer_explorer"))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)


def _lablib_few_shot_accuracies(n_per_class, seeds):
    """The notebook's experiment (pretraining, then scratch / frozen / fine-tuned per seed) with lablib's MLP and
    the lab07 references for splitting and sampling: rows are seeds, columns the three methods."""
    split, sample = EXERCISES["split_tasks"].reference, EXERCISES["few_shot_sample"].reference
    fashion = data.load_fashion_mnist("mini")
    pretrain_classes, task_classes, hidden = [0, 1, 2, 3, 4, 7, 8, 9], (6, 5), [784, 128, 64]
    X_pre, y_pre, X_task, y_task = split(fashion.X_train, fashion.y_train, pretrain_classes, task_classes)
    _, _, X_test, y_test = split(fashion.X_test, fashion.y_test, pretrain_classes, task_classes)
    pretrained = mlp.MLP(hidden + [8], rng=np.random.default_rng(0))
    mlp.fit(pretrained, X_pre[:3000], y_pre[:3000], optim.Adam(lr=1e-3), epochs=3, batch_size=64,
            rng=np.random.default_rng(1), progress=False)  # validation does not change the weights
    rows = []
    for seed in seeds:
        picked = sample(y_task, n_per_class, np.random.default_rng(seed))

        def train(model, lr, steps):
            mlp.fit(model, X_task[picked], y_task[picked], optim.Adam(lr=lr), epochs=steps, batch_size=len(picked),
                    rng=np.random.default_rng(seed), progress=False)

        scratch = mlp.MLP(hidden + [2], rng=np.random.default_rng(100 + seed))
        train(scratch, 1e-3, 45)
        transfer = mlp.MLP(hidden + [2], rng=np.random.default_rng(100 + seed))
        transfer.copy_layers_from(pretrained, [1, 2])
        transfer.freeze(1, 2)
        train(transfer, 1e-2, 30)
        frozen = mlp.evaluate(transfer, X_test, y_test)[1]
        transfer.unfreeze(2)
        train(transfer, 1e-3, 15)
        rows.append([mlp.evaluate(scratch, X_test, y_test)[1], frozen, mlp.evaluate(transfer, X_test, y_test)[1]])
    return np.array(rows)


def test_explorer_shows_the_accuracies_lablib_computes(executed):
    shown = probed(executed, "TRANSFER_PROBE")
    assert shown["values"] == {"n_per_class": 1}
    assert list(shown["data"]) == ["scratch", "frozen", "fine-tuned"]
    expected = _lablib_few_shot_accuracies(1, range(5))
    for j, method in enumerate(shown["data"]):
        np.testing.assert_allclose(shown["data"][method], expected[:, j], rtol=0, atol=1e-12, err_msg=method)
        assert f"{method} {expected[:, j].mean():.1%}" in shown["caption"]
    # the point of the lab, on these runs: with one labelled image per class, transfer beats scratch on average
    assert expected[:, 1].mean() > expected[:, 0].mean()
