"""The lab01 solution notebook, executed once top to bottom with nbclient (module fixture, a few seconds).

Expected numbers come from the closed forms of the lab (x_t = x0 (1 - 2 lr)^t on f(x) = x^2; per-coordinate
factors on the quadratic bowl) and, for the explorers, from lablib's reference ``optim.gradient_descent``
computed in this process.
"""
from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest
from _notebooks import (
    REPO,
    assert_every_check_passes,
    assert_no_error_and_nothing_on_stderr,
    assert_plot_cells_draw,
    execute,
    text_of,
)

from lablib import landscapes, optim

SOURCE = REPO / "solutions" / "lab01-gradient-descent" / "lab01.ipynb"

# Cells injected after each explorer: move a control from Python, print what the explorer now holds.
DRIVE_1D = ('explorer_1d.controls["x0"].value = -2.0\nexplorer_1d.controls["lr"].value = 0.3\n'
            'print("EXPLORER_1D", len(explorer_1d.data["path"]), repr(float(explorer_1d.data["path"][-1])))')
DRIVE_2D = ('explorer_2d.controls["lr"].value = 0.05\n'
            'print("EXPLORER_2D", len(explorer_2d.data["path"]), *map(repr, map(float, explorer_2d.data["path"][-1])))')


@pytest.fixture(scope="module")
def executed():
    return execute(SOURCE, [("\nexplorer_1d", DRIVE_1D), ("\nexplorer_2d", DRIVE_2D)]), [DRIVE_1D, DRIVE_2D]


def _cell(nb, snippet):
    return next(c for c in nb.cells if c.cell_type == "code" and snippet in c.source)


def test_no_error_and_no_stderr(executed):
    assert_no_error_and_nothing_on_stderr(executed[0])


def test_every_check_passes(executed):
    assert_every_check_passes(executed[0], ["f", "df", "gradient_descent"])


def test_every_plot_cell_draws(executed):
    assert_plot_cells_draw(executed[0], "plt.show()", 3)


def test_stopping_rule_printout_follows_the_closed_form(executed):
    nb, _ = executed
    lines = text_of(_cell(nb, "tol=eps")).splitlines()
    rows = [line.split() for line in lines if re.match(r"^\s*\d+\s", line)]
    # x_t = 0.8^t (x0 = 1, lr = 0.1); the rule stops at the first t with |f'(x_t)| = 2 * 0.8^t < 1e-3
    last = next(t for t in range(100) if 2 * 0.8**t < 1e-3)
    assert last == 35 and [int(r[0]) for r in rows] == list(range(last + 1))
    for t, x, fx, g in ((int(r[0]), *map(float, r[1:])) for r in rows):
        assert math.isclose(x, 0.8**t, rel_tol=1e-5, abs_tol=1e-6)
        assert math.isclose(fx, 0.64**t, rel_tol=2e-3)
        assert math.isclose(g, 2 * 0.8**t, rel_tol=2e-3)
    assert f"stopped after {last} steps; the closed form predicts {last}" in lines[-1]


def test_five_learning_rates_match_the_closed_form(executed):
    nb, _ = executed
    printed = text_of(_cell(nb, "rates = [0.1, 0.01, 1, 100, 1000]"))
    got = {float(lr): float(x) for lr, x in re.findall(r"lr = (\S+)\s.*?x_10 =\s+(\S+)", printed)}
    assert set(got) == {0.1, 0.01, 1.0, 100.0, 1000.0}
    for lr, x10 in got.items():
        assert math.isclose(x10, (1 - 2 * lr) ** 10, rel_tol=1e-4)


def test_bowl_sweep_finds_the_fast_learning_rates(executed):
    nb, _ = executed
    printed = text_of(_cell(nb, "bowl = landscapes.quadratic_bowl"))
    best, steps = re.search(r"fastest lr in the sweep: (\S+) \((\d+) steps\)", printed).groups()
    # slowest per-coordinate factor max(|1 - lr|, |1 - 10 lr|) is smallest at 2/11; the grid step is 0.005
    assert abs(float(best) - 2 / 11) <= 0.0101
    # an independent count from the closed form: x_t = 2.5 (1 - lr)^t, y_t = 1.5 (1 - 10 lr)^t
    lr = float(best)
    count = next(t for t in range(3000) if math.hypot(2.5 * (1 - lr) ** t, 15 * (1 - 10 * lr) ** t) < 1e-3)
    assert int(steps) == count


def test_start_point_decides_the_minimum(executed):
    nb, _ = executed
    printed = text_of(_cell(nb, "landscapes.local_global_minima()"))
    outcomes = re.findall(r"start \(\s*(\S+),\s*\S+\) -> .*: (global minimum|local minimum|saddle)", printed)
    assert len(outcomes) == 7
    for x0, where in outcomes:  # the saddle's x = 0 separates the basins (df/dx = x (x - 1) (x + 2))
        x0 = float(x0)
        assert where == ("saddle" if x0 == 0 else "global minimum" if x0 < 0 else "local minimum")


def test_explorers_follow_their_controls(executed):
    nb, injected = executed
    out_1d = text_of(_cell(nb, injected[0]))
    n, last = re.search(r"EXPLORER_1D (\d+) (\S+)", out_1d).groups()
    expected = optim.gradient_descent(landscapes.square_grad, -2.0, 0.3, 20)
    assert int(n) == 21
    assert math.isclose(float(last), expected[-1], rel_tol=1e-12)
    assert math.isclose(float(last), -2.0 * 0.4**20, rel_tol=1e-12)

    out_2d = text_of(_cell(nb, injected[1]))
    n, x, y = re.search(r"EXPLORER_2D (\d+) (\S+) (\S+)", out_2d).groups()
    bowl = landscapes.quadratic_bowl(a=1.0, b=10.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # lr = 0.05 must not diverge
        expected = optim.gradient_descent(bowl.grad, np.array([2.5, 1.5]), 0.05, 50)
    assert int(n) == 51
    np.testing.assert_allclose([float(x), float(y)], expected[-1], rtol=1e-12, atol=0)
    np.testing.assert_allclose([float(x), float(y)], [2.5 * 0.95**50, 1.5 * 0.5**50], rtol=1e-12)
