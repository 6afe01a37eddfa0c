"""The lab07 solution notebook runs top to bottom: no error, no stderr, every check passes, every plot is drawn,
and its explorer, driven from Python like a slider move, shows the accuracies lablib computes for the new value."""
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
    stdout_of,
)

from lablib import data, mlp, optim
from lablib.grading import EXERCISES

NOTEBOOK = REPO / "solutions" / "lab07-transfer-learning" / "lab07.ipynb"

# Injected after the explorer: move the slider from Python, print what the explorer now shows.
PROBE = """
import json
transfer_explorer.controls["n_per_class"].value = 25
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
    assert_plot_cells_draw(executed, "plt.show()", 3)


def test_explorer_is_displayed(executed):
    cell = next(c for c in code_cells(executed) if c.source.rstrip().endswith("\ntransfer_explorer"))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)


def _lablib_few_shot_accuracies(n_per_class, seeds):
    """The notebook's experiment (pretraining, then scratch / frozen / fine-tuned per seed, 60 steps each) with
    lablib's MLP and the lab07 references for splitting and sampling: rows are seeds, columns the three methods."""
    split, sample = EXERCISES["split_tasks"].reference, EXERCISES["few_shot_sample"].reference
    fashion = data.load_fashion_mnist("mini")
    pretrain_classes, task_classes, hidden = [1, 2, 3, 4, 5, 7, 8, 9], (0, 6), [784, 128, 64]
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

        models = []
        for reuse in (False, True, True):
            model = mlp.MLP(hidden + [2], rng=np.random.default_rng(100 + seed))
            if reuse:
                model.copy_layers_from(pretrained, [1, 2])
                model.freeze(1, 2)
            models.append(model)
        scratch, frozen, fine_tuned = models
        train(scratch, 1e-3, 60)
        train(frozen, 1e-2, 60)
        train(fine_tuned, 1e-2, 30)
        fine_tuned.unfreeze(2)
        train(fine_tuned, 1e-3, 30)
        rows.append([mlp.evaluate(model, X_test, y_test)[1] for model in models])
    return np.array(rows)


def test_explorer_shows_the_accuracies_lablib_computes(executed):
    shown = probed(executed, "TRANSFER_PROBE")
    assert shown["values"] == {"n_per_class": 25}
    assert list(shown["data"]) == ["scratch", "frozen", "fine-tuned"]
    expected = _lablib_few_shot_accuracies(25, range(8))
    for j, method in enumerate(shown["data"]):
        np.testing.assert_allclose(shown["data"][method], expected[:, j], rtol=0, atol=1e-12, err_msg=method)
        assert f"{method} {expected[:, j].mean():.1%}" in shown["caption"]
    # the point of the lab, on these runs: with 25 images per class, fine-tuning beats freezing with the same number
    # of steps, by more than 3 standard errors of the paired per-seed difference
    gain = expected[:, 2] - expected[:, 1]
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain))


def test_cifar_cell_loads_the_resized_images_or_says_cleanly_that_they_are_absent(executed):
    text = stdout_of(executed, "data.load_cifar10(grayscale=True, size=28, download=False)")
    assert ("CIFAR-10 is not on this machine" in text and "skipped" in text) or \
        "CIFAR-10 as grayscale 28 x 28: X_train (50000, 784), X_test (10000, 784)" in text, text


def test_resized_images_have_the_pretrained_format_and_cost_accuracy(executed):
    text = stdout_of(executed, "data.resize_area(padded, 28)")
    assert "padded (1600, 32, 32) -> resized (1600, 28, 28)" in text
    means = re.search(r"mean intensity (\S+) -> (\S+) ", text)
    assert means.group(1) == means.group(2)  # area averaging keeps the mean
    original, resized = (float(a) for a in re.findall(r"accuracy (\S+)%", text))
    assert original > resized + 3  # the right shape is not the right scale
