"""The lab02 solution notebook runs top to bottom: every check passes, every plot is drawn, no error and
nothing on stderr, and its activation explorer responds to a control changed from Python."""
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
    text_of,
)

NOTEBOOK = REPO / "solutions" / "lab02-backpropagation" / "lab02.ipynb"
WIDGET_PROBE = (
    'explorer.controls["activation"].value = "tanh"\n'
    'print("probe", explorer.values()["activation"], repr(float(explorer.data["derivative"].sum())),'
    ' repr(float(explorer.data["x"][300])), repr(float(explorer.data["derivative"][300])))'
)


@pytest.fixture(scope="module")
def executed():
    return execute(NOTEBOOK, [("\nexplorer", WIDGET_PROBE)])


def test_no_error_and_nothing_on_stderr(executed):
    assert_no_error_and_nothing_on_stderr(executed)


def test_every_check_passes(executed):
    assert_every_check_passes(executed, ["forward_222", "gradients_222", "dense_forward", "dense_backward",
                                         "softmax_cross_entropy", "numerical_gradient"])


def test_every_plot_cell_draws_a_figure(executed):
    assert_plot_cells_draw(executed, "plt.subplots", 3)


def test_experiments_reproduce_the_published_numbers(executed):
    # Matt Mazur, "A Step by Step Backpropagation Example" (2015): E_total before any update, dE/dw5, w1+
    # and the standard-backprop error after one step (the post's 0.291027924 is the "blog" variant).
    text = "".join(text_of(c) for c in code_cells(executed))
    assert "E_total = 0.298371109" in text
    assert "= 0.082167041   (post: 0.082167041)" in text
    assert "w1+ = 0.149780716" in text and "w5+ = 0.358916480" in text
    assert "yours: 0.2910277737" in text


def test_the_explorer_follows_a_control_changed_from_python(executed):
    from lablib import nn

    probe = next(c for c in code_cells(executed) if c.source == WIDGET_PROBE)
    line = next(line for line in text_of(probe).splitlines() if line.startswith("probe "))
    _, activation, total, x_300, derivative_300 = line.split()
    x = np.linspace(-4.0, 4.0, 401)
    assert activation == "tanh"
    assert float(x_300) == pytest.approx(2.0)
    assert float(derivative_300) == pytest.approx(1.0 - np.tanh(2.0) ** 2, rel=1e-12)
    assert float(total) == pytest.approx(float(nn.tanh_derivative(x).sum()), rel=1e-12)
