"""The lab05 solution notebook runs top to bottom: no error, no stderr, every check passes, every plot is drawn,
and its activation explorer, driven from Python like a slider move, shows what lablib computes for the new values."""
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
    text_of,
)

from lablib import nn

NOTEBOOK = REPO / "solutions" / "lab05-vanishing-gradients" / "lab05.ipynb"

EXERCISES = ["relu", "relu_derivative", "leaky_relu", "leaky_relu_derivative", "elu", "elu_derivative", "selu",
             "selu_derivative", "batchnorm_forward", "batchnorm_backward", "clip_by_value", "clip_by_norm",
             "clip_by_global_norm"]

# Injected after the explorer: move its controls from Python, print what it now holds.
PROBE = """
import json
shown = {}
for activation, alpha in (("leaky_relu", 0.35), ("elu", 0.5), ("selu", 0.5)):
    activations_explorer.controls["activation"].value = activation
    activations_explorer.controls["alpha"].value = alpha
    shown[activation] = {"values": activations_explorer.values(),
                         "alpha_disabled": activations_explorer.controls["alpha"].disabled,
                         **{k: v.tolist() for k, v in activations_explorer.data.items()}}
print("ACTIVATION_PROBE " + json.dumps(shown))
"""


@pytest.fixture(scope="module")
def executed():  # (one BLAS thread in the kernel, as everywhere in the tests: conftest.py)
    return execute(NOTEBOOK, [("\nactivations_explorer", PROBE)])


def test_no_error_and_nothing_on_stderr(executed):
    assert_no_error_and_nothing_on_stderr(executed)


def test_every_check_passes(executed):
    assert_every_check_passes(executed, EXERCISES)


def test_every_plot_cell_draws_a_figure(executed):
    assert_plot_cells_draw(executed, "plt.show()", 9)


def test_explorer_is_displayed(executed):
    cell = next(c for c in code_cells(executed) if c.source.rstrip().endswith("\nactivations_explorer"))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in cell.outputs)


def test_activation_explorer_with_the_students_functions_matches_lablib(executed):
    shown = probed(executed, "ACTIVATION_PROBE")
    x = np.linspace(-4.0, 4.0, 401)  # the explorer's default x_range, 401 points
    expected = {
        "leaky_relu": (nn.leaky_relu(x, alpha=0.35), nn.leaky_relu_derivative(x, alpha=0.35)),
        "elu": (nn.elu(x, alpha=0.5), nn.elu_derivative(x, alpha=0.5)),
        "selu": (nn.selu(x), nn.selu_derivative(x)),  # selu has no alpha: the slider is disabled and ignored
    }
    assert sorted(shown) == sorted(expected)
    for name, (value, derivative) in expected.items():
        assert shown[name]["values"] == {"activation": name, "alpha": 0.35 if name == "leaky_relu" else 0.5}
        assert shown[name]["alpha_disabled"] is (name == "selu")
        np.testing.assert_array_equal(shown[name]["x"], x)
        np.testing.assert_allclose(shown[name]["value"], value, rtol=1e-13, atol=1e-15, err_msg=name)
        np.testing.assert_allclose(shown[name]["derivative"], derivative, rtol=1e-13, atol=1e-15, err_msg=name)
    # at the kink the left-hand values of the lab's convention: elu'(0) = alpha, leaky_relu'(0) = alpha
    assert shown["elu"]["derivative"][200] == 0.5 and shown["leaky_relu"]["derivative"][200] == 0.35


def test_the_courses_running_average_is_compared_with_keras_and_pytorch(executed):
    """Same training outputs in every convention; the course's average starts at the first batch (near the true
    mean 2 after 10 batches, where Keras' still leans on its initial 0), and its averaged sigma settles below the
    averaged variance ((E sigma_B)^2 = 0.815 sigma^2 for N = 8, against (N - 1)/N = 0.875)."""
    out = stdout_of(executed, "preset_forward(nn.COURSE_BATCHNORM)")
    assert "yours, m=0.99, eps=1e-3 vs KERAS_BATCHNORM: largest difference of the training outputs 0.0e+00, running " \
           "means 0.0e+00, running variances 0.0e+00, test outputs 0.0e+00" in out
    assert "COURSE_BATCHNORM vs KERAS_BATCHNORM: largest difference of the training outputs 0.0e+00" in out
    rows = {m.group(1): (float(m.group(2)), float(m.group(3)))
            for m in re.finditer(r"^  (.+?) +(-?[\d.]+) +([\d.]+)$", out, re.M)}
    assert set(rows) >= {"KERAS_BATCHNORM", "TORCH_BATCHNORM", "COURSE_BATCHNORM"}, out
    assert abs(rows["COURSE_BATCHNORM"][0] - 2) < 1 < abs(rows["KERAS_BATCHNORM"][0] - 2)
    assert 0.78 < rows["COURSE_BATCHNORM"][1] < 0.86 and abs(rows["TORCH_BATCHNORM"][1] - 1) < 0.05


def test_the_courses_start_rescues_inference_after_a_short_run(executed):
    out = stdout_of(executed, '("batch norm, the course\'s", nn.COURSE_BATCHNORM)')
    accuracy = {m.group(1): float(m.group(2))
                for m in re.finditer(r"^(.+?) *: training loss .*?validation accuracy ([\d.]+)%", out, re.M)}
    assert len(accuracy) == 4, out
    assert accuracy["batch norm, the course's"] > 60 > 20 > accuracy["batch norm, Keras'"]


def test_the_activation_ranking_reports_accuracy_and_run_time(executed):
    out = stdout_of(executed, "RANKING = {")
    rows = re.findall(r"^ +(\d) +(\w+) +([\d.]+)% ± ([\d.]+)% +([\d.]+) ms +([\d.]+) ms", out, re.M)
    assert [name for _, name, *_ in rows] == ["selu", "elu", "leaky_relu", "relu", "tanh", "sigmoid"], out
    accuracy = {name: float(a) for _, name, a, *_ in rows}
    assert min(accuracy["selu"], accuracy["elu"]) > accuracy["sigmoid"] + 20  # the saturating one is far behind
    for _, name, _, _, epoch_ms, alone_ms in rows:
        assert 0 < float(alone_ms) < float(epoch_ms), name  # timings only sanity-checked: never timed assertions


def test_the_lab_prints_the_courses_clipping_example(executed):
    out = next(text_of(c) for c in code_cells(executed) if "angle_degrees(clipped, g)" in c.source)
    assert "-> [0.9 1. ]" in out and "-> [0.00899964 0.9999595 ]" in out
