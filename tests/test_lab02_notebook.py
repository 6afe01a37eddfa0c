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
    assert_every_check_passes(executed, ["dg_dx", "forward_222", "gradients_222", "dense_forward", "dense_backward",
                                         "softmax_cross_entropy", "numerical_gradient"])


def test_every_plot_cell_draws_a_figure(executed):
    assert_plot_cells_draw(executed, "plt.subplots", 6)


def test_experiments_reproduce_the_published_numbers(executed):
    # Matt Mazur, "A Step by Step Backpropagation Example" (2015): E_total before any update, dE/dw5, w1+
    # and the standard-backprop error after one step (the post's 0.291027924 is the "blog" variant).
    text = "".join(text_of(c) for c in code_cells(executed))
    assert "E_total = 0.298371109" in text
    assert "= 0.082167041   (post: 0.082167041)" in text
    assert "w1+ = 0.149780716" in text and "w5+ = 0.358916480" in text
    assert "yours: 0.2910277737" in text


def test_the_chain_rule_warm_up_agrees_with_the_central_difference(executed):
    # g(x) = (3x^3 + 2)^2: g'(1) = 54 + 36, g'(-1) = -54 + 36 (the lecture's 54x^5 + 36x^2); the central difference
    # with h = 1e-5 is off by about h^2/6 times the largest third derivative, 6e-8 on [-1.5, 1.5]
    text = "".join(text_of(c) for c in code_cells(executed))
    assert "dg_dx(1.0) = 90 (54 + 36 = 90),  dg_dx(-1.0) = -18" in text
    line = next(line for line in text.splitlines() if line.startswith("largest |dg_dx - central difference|"))
    assert 1e-9 < float(line.split("=")[1].split()[0]) < 1e-7


def test_the_posts_numbers_after_10000_steps_are_explained(executed):
    # The post prints E = 0.0000351085 beside outputs 0.015912196, 0.984065734 (Mazur 2015); those outputs give
    # 1/2 (0.01 - 0.015912196)^2 + 1/2 (0.99 - 0.984065734)^2 = 0.0000350848 (by hand), the blog variant's error.
    text = "".join(text_of(c) for c in code_cells(executed))
    assert "E from the post's outputs            = 0.0000350848" in text
    assert "blog variant, after 10,000 steps     = 0.0000350848" in text
    assert "standard backprop, after 9,999 steps = 0.0000351085" in text


def test_the_readers_questions_are_answered_by_experiments(executed):
    text = "".join(text_of(c) for c in code_cells(executed))
    # net_h1 = 0.15 * 0.05 + 0.20 * 0.10 + 0.35 (the post) against 0.15 * 0.05 + 0.25 * 0.10 + 0.35 (labels swapped)
    assert "b1 = 0.3775" in text and "b1 = 0.3825" in text
    # squared error: delta_o1 = 0.74136507 * 0.186815602 = 0.138498562 (the post); cross-entropy: out_o1 - t1
    assert "squared error: delta_o1 = 0.138498562, central difference of its loss in net_o1 = 0.138498562" in text
    assert "cross-entropy: delta_o1 = 0.741365070" in text
    # updating the biases lowers the error after 10,000 steps, and one bias per neuron lowers it further
    errors = {line.split(":")[0].strip(): float(line.split("=")[1].split(",")[0])
              for line in text.splitlines() if "E after 10,000 steps" in line}
    assert errors["one bias per neuron, updated"] < errors["shared biases, updated"] < errors["shared biases, fixed (the post)"]


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
