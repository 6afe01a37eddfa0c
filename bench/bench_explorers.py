"""How long a slider move takes in each lablib.widgets explorer, measured in the kernel (this process).

A move is what the browser's slider does: set the control's value; the explorer recomputes, redraws and puts the new
PNG into its Image widget before the assignment returns. Each explorer gets 20 moves of its main slider in small
steps (as a drag does), after one warm-up move; the median and the slowest move are printed against the target of
100 ms per move (issue 14). Run: ``python bench/bench_explorers.py`` (also part of ``make bench``).
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import warnings

import numpy as np

from lablib import landscapes, widgets

TARGET_MS = 100.0
MOVES = 20


def _values(control, n: int) -> list:
    """n values of the control in small steps from its current value (a drag), within its range."""
    if hasattr(control, "options") and not hasattr(control, "min"):  # dropdown / selection slider
        options = list(control.options)
        labels = [o[1] if isinstance(o, tuple) else o for o in options]
        start = labels.index(control.value)
        return [labels[(start + 1 + i) % len(labels)] for i in range(n)]
    if isinstance(control, widgets.widgets.FloatLogSlider):
        low, high = control.min, control.max
        here = np.log10(control.value)
        span = min(high - here, here - low, 1.0) or 1.0
        return [float(10 ** (here + span * np.sin(np.pi * (i + 1) / n) * 0.8)) for i in range(n)]
    low, high = control.min, control.max
    here = control.value
    span = (high - low) / 10
    values = [here + span * np.sin(np.pi * (i + 1) / n) for i in range(n)]
    values = [min(max(v, low), high) for v in values]
    if isinstance(control.value, int):
        values = [int(round(v)) for v in values]
    return values


def _explorers():
    rng = np.random.default_rng(0)
    results = {4: rng.uniform(0.5, 0.9, (5, 3)), 8: rng.uniform(0.6, 0.95, (5, 3)), 16: rng.uniform(0.7, 1.0, (5, 3))}
    return {
        "gd_explorer (lr)": (lambda: widgets.gd_explorer(lr=0.1), "lr"),
        "gd2d_explorer (lr)": (lambda: widgets.gd2d_explorer(lr=0.05), "lr"),
        "gd2d_explorer rosenbrock (x0)": (lambda: widgets.gd2d_explorer(landscapes.rosenbrock(), lr=1e-3), "x0"),
        "optimizer_paths_explorer (lr)": (lambda: widgets.optimizer_paths_explorer(lr=0.05), "lr"),
        "sgd_batch_explorer (batch_size)": (lambda: widgets.sgd_batch_explorer(), "batch_size"),
        "schedule_explorer (s)": (lambda: widgets.schedule_explorer(), "s"),
        "activation_explorer (alpha)": (lambda: widgets.activation_explorer(), "alpha"),
        "dropout_explorer (rate)": (lambda: widgets.dropout_explorer(), "rate"),
        "comparison_explorer (n)": (lambda: widgets.comparison_explorer(results, ["scratch", "frozen", "fine-tuned"]),
                                    "n_per_class"),
    }


def measure(make, name: str, moves: int = MOVES) -> tuple[list[float], list[float]]:
    """(wall-clock ms, CPU ms of this process) per move. On a loaded machine the wall clock includes waiting for a
    core; the CPU time is what the move costs (the redraw is single-threaded)."""
    explorer = make()
    control = explorer.controls[name]
    values = _values(control, moves + 1)
    control.value = values[0]  # warm-up
    wall, cpu = [], []
    for value in values[1:]:
        start, start_cpu = time.perf_counter(), time.process_time()
        control.value = value
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return wall, cpu


def main() -> int:
    warnings.simplefilter("ignore")
    print(f"lablib.widgets: kernel-side time per slider move (median of {MOVES} moves; target <= {TARGET_MS:g} ms)")
    print(f"{'explorer (control moved)':<36} {'median ms':>10} {'max ms':>8} {'CPU median ms':>14}  ratio to target")
    worst = 0.0
    for label, (make, name) in _explorers().items():
        wall, cpu = measure(make, name)
        median = statistics.median(wall)
        worst = max(worst, median)
        print(f"{label:<36} {median:>10.1f} {max(wall):>8.1f} {statistics.median(cpu):>14.1f}  "
              f"{median / TARGET_MS:.2f}{'' if median <= TARGET_MS else '  (over the target)'}")
    print(f"slowest median: {worst:.1f} ms ({worst / TARGET_MS:.2f} x the target); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a loaded machine inflates the wall clock)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
