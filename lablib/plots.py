"""Matplotlib figures the labs, the demo and ``lablib.widgets`` share.

``plot_history`` makes its own figure; the other functions draw on an Axes you pass (``ax``) and return
what they drew, so that a notebook or an explorer can combine them on one figure.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import is_color_like

from ._validate import _describe, as_float_array, check_flag, check_int, check_shape
from .landscapes import Landscape

__all__ = ["plot_history", "plot_landscape", "plot_path", "plot_gd_1d", "plot_lr_schedules"]


def plot_history(history, *, title=None):
    """Loss, accuracy and learning rate per epoch of a ``lablib.mlp.History``, side by side.

    The best epoch (early stopping) is marked with a dashed line. Returns the figure.
    """
    from .mlp import History

    if not isinstance(history, History):
        raise TypeError(f"history must be the lablib.mlp.History returned by fit, got {_describe(history)}")
    _check_text(title, "title")
    epochs = np.arange(1, history.epochs + 1)
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
    ax_loss.plot(epochs, history.loss, label="train (train mode)")
    ax_acc.plot(epochs, history.accuracy, label="train (train mode)")
    if history.val_loss:
        ax_loss.plot(epochs[: len(history.val_loss)], history.val_loss, label="validation")
        ax_acc.plot(epochs[: len(history.val_accuracy)], history.val_accuracy, label="validation")
    ax_lr.plot(epochs[: len(history.lr)], history.lr, color="tab:green")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax_lr.set(xlabel="epoch", ylabel="learning rate (start of epoch)", title="learning rate", yscale="log")
    if history.best_epoch is not None:
        for ax in (ax_loss, ax_acc):
            ax.axvline(history.best_epoch + 1, ls="--", color="grey", label=f"best epoch ({history.best_epoch + 1})")
    for ax in (ax_loss, ax_acc):
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    ax_lr.grid(alpha=0.3, which="both")
    if title:
        fig.suptitle(title)
    return fig


def _check_text(value, name: str) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a string or None, got {_describe(value)}")


def _check_axes(ax):
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")


def _check_window(window, name: str) -> tuple:
    window = as_float_array(window, name)
    if window.shape != (2,) or not window[0] < window[1]:
        raise ValueError(f"{name} must be (low, high) with low < high, got {window.tolist()}")
    return float(window[0]), float(window[1])


def plot_landscape(ax, landscape, *, xlim=None, ylim=None, levels=25, resolution=200):
    """Contour lines of ``landscape.f`` on ``ax``, its minima (green stars) and saddle points (red crosses).

    The window is the landscape's own (``landscape.xlim``, ``landscape.ylim``) unless given. The ``levels``
    contour values are quantiles of f over the grid, so that flat valleys (Rosenbrock) get as many lines as
    steep walls. The axis limits are fixed to the window: a path drawn afterwards does not rescale them.
    Returns the ContourSet.
    """
    _check_axes(ax)
    if not isinstance(landscape, Landscape):
        raise TypeError(f"landscape must be a lablib.landscapes.Landscape, got {type(landscape).__name__}")
    xlim = _check_window(landscape.xlim if xlim is None else xlim, "xlim")
    ylim = _check_window(landscape.ylim if ylim is None else ylim, "ylim")
    levels = check_int(levels, "levels", minimum=1)
    resolution = check_int(resolution, "resolution", minimum=2)
    X, Y = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    Z = landscape.f(np.stack([X, Y], axis=-1))
    contour_values = np.unique(np.quantile(Z, np.linspace(0, 1, levels + 2)[1:-1]))
    contours = ax.contour(X, Y, Z, levels=contour_values, cmap="viridis", linewidths=0.8)
    for points, marker, color, label in (
        (landscape.minima, "*", "tab:green", "minimum"),
        (landscape.saddles, "X", "tab:red", "saddle"),
    ):
        if points:
            p = np.array(points, dtype=np.float64)
            ax.plot(p[:, 0], p[:, 1], ls="none", marker=marker, ms=12, color=color, label=label, zorder=3)
    ax.set(xlim=xlim, ylim=ylim, xlabel="x", ylabel="y", title=landscape.name)
    return contours


def plot_path(ax, path, *, label=None, color=None):
    """A path of iterates (k+1, 2) as a line through the points, its start circled. Returns the Line2D."""
    _check_axes(ax)
    path = check_shape(as_float_array(path, "path"), (None, 2), "path")
    if len(path) == 0:
        raise ValueError("path must have at least one point (x_0), got shape (0, 2)")
    _check_text(label, "label")
    if color is not None and not is_color_like(color):
        raise ValueError(f"color must be a matplotlib color such as 'tab:blue' or None, got {_describe(color)}")
    (line,) = ax.plot(path[:, 0], path[:, 1], marker=".", ms=5, lw=1.3, color=color, label=label, zorder=4)
    ax.plot(path[0, 0], path[0, 1], marker="o", ms=9, mfc="none", color=line.get_color(), zorder=4)
    return line


def plot_gd_1d(ax, f, path, *, xlim=None, resolution=400):
    """f on a window around the 1-D iterates ``path`` (k+1,) and the points (x_t, f(x_t)) joined in order.

    ``f`` must accept an array (elementwise). Default window: the range of the iterates, padded by a quarter
    of its width on each side. Returns (curve, iterates), the two Line2D.
    """
    _check_axes(ax)
    if not callable(f):
        raise TypeError(f"f must be a callable x -> f(x), got {type(f).__name__}")
    path = as_float_array(path, "path", ndim=1)
    if len(path) == 0:
        raise ValueError("path must have at least one point (x_0), got shape (0,)")
    if xlim is None:
        low, high = path.min(), path.max()
        pad = 0.25 * max(high - low, abs(low), abs(high), 1e-12)
        xlim = (low - pad, high + pad)
    xlim = _check_window(xlim, "xlim")
    resolution = check_int(resolution, "resolution", minimum=2)
    xs = np.linspace(*xlim, resolution)
    (curve,) = ax.plot(xs, f(xs), color="grey", lw=1.5, label="f(x)")
    (iterates,) = ax.plot(path, f(path), marker="o", ms=4, lw=1, color="tab:orange", label="iterates x_t")
    ax.plot(path[0], f(path[:1])[0], marker="o", ms=9, mfc="none", color="tab:orange")
    ax.set(xlim=xlim, xlabel="x", ylabel="f(x)")
    return curve, iterates


def plot_lr_schedules(ax, schedules, t, *, log=True):
    """Each schedule (a dict label -> callable t -> lr) evaluated at the steps ``t``; log y axis by default.

    Returns the list of Line2D, in the dict's order.
    """
    _check_axes(ax)
    if not isinstance(schedules, dict) or not all(callable(s) for s in schedules.values()):
        raise TypeError("schedules must be a dict label -> schedule (a callable t -> lr)")
    t = as_float_array(t, "t", ndim=1)
    log = check_flag(log, "log")
    if t.size == 0:
        raise ValueError("t must hold at least one step, got an empty array")
    if np.any(t < 0):
        raise ValueError(f"t must be >= 0 (steps already taken), got {t.min()}")
    lines = [ax.plot(t, schedule(t), label=label)[0] for label, schedule in schedules.items()]
    ax.set(xlabel="step t", ylabel="learning rate", yscale="log" if log else "linear")
    ax.grid(alpha=0.3, which="both")
    if schedules:
        ax.legend(fontsize="small")
    return lines
