"""The lab05 solution notebook runs top to bottom: no error, no stderr, every check passes, every plot is drawn,
and its activation explorer, driven from Python like a slider move, shows what lablib computes for the new values."""
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
    assert_plot_cells_draw(executed, "plt.show()", 8)


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


def test_the_lab_prints_the_courses_clipping_example(executed):
    out = next(text_of(c) for c in code_cells(executed) if "angle_degrees(clipped, g)" in c.source)
    assert "-> [0.9 1. ]" in out and "-> [0.00899964 0.9999595 ]" in out
