"""Interactive explorers for the labs: move a slider, the matplotlib figure redraws.

Each ``*_explorer(...)`` function returns an :class:`Explorer`:

    ex = gd_explorer(lr=0.1)        # a cell ending with ``ex`` shows the controls and the figure
    ex.controls["lr"].value = 0.9   # same as moving the slider: recomputes and redraws now
    ex.data["path"]                 # the arrays currently plotted

Drawing: an explorer owns one matplotlib Figure made without pyplot (so the inline backend never shows it a
second time), re-renders it to PNG after every change and puts the bytes into an ``ipywidgets.Image``. The
browser swaps the picture in place: no ``clear_output``, no flicker, no ipympl, any backend (inline, Agg),
and Python code (a later cell, a test) can drive it without a browser. The PNG is part of the widget's state in
the notebook's kernel, so both partners of a shared notebook see the same picture.

Speed (``bench/bench_explorers.py``: about 100 ms or less per slider move in the kernel): the figure is drawn in
full once; after that a move only updates the artists' data (``set_data``, limits, labels) and the static parts
(contours, markers, legends) stay, titles are pinned (no layout search at every draw), and the PNG is encoded with
light compression (it travels to a browser on the same network, not over the Internet). An explorer whose
structure changes with a control falls back to a full redraw. Sliders update while they are dragged
(``continuous_update=True``), throttled: a change coming from the browser redraws at once when the explorer has
been idle for ``Explorer.THROTTLE_S`` (30 ms) since its last redraw, otherwise one redraw with the latest values is
scheduled at the end of that interval (on the kernel's event loop), so a fast drag never queues stale redraws. A change made from Python
(``ex.controls["lr"].value = 0.9``) redraws at once, before the assignment returns.

Errors are never hidden: an exception while updating (for instance raised by a student's function) is shown
with its traceback in the explorer's status line, stored in ``ex.error``, and re-raised (a cell that set a
value sees it; a slider move in the browser leaves it in the status line). The figure and ``ex.data`` then
keep the last good state. Warnings raised while updating (e.g. ``optim.DivergenceWarning``) are shown in
the status line and kept in ``ex.warnings`` instead of going to stderr; numpy's overflow warnings are
silenced (a diverging run shows in the plots and the caption). What the student's functions print goes to
the status line too (``ex.printed``): output of a slider callback would otherwise be lost.

The explorers accept the student's own functions (``gd_explorer(gradient_descent=my_gd)``, ...) with the
signatures of the labs; by default they use lablib's reference implementations.
"""
from __future__ import annotations

import asyncio
import contextlib
import html
import io
import time
import traceback
import warnings

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import data as _data
from . import landscapes, nn, optim, schedules
from ._validate import _describe, as_float_array, check_int, check_nonnegative, check_positive
from .plots import _check_window, plot_gd_1d, plot_landscape, plot_lr_schedules, plot_path

__all__ = [
    "Explorer",
    "gd_explorer",
    "gd2d_explorer",
    "optimizer_paths_explorer",
    "sgd_batch_explorer",
    "schedule_explorer",
    "activation_explorer",
    "dropout_explorer",
    "comparison_explorer",
    "OPTIMIZER_STEPS",
    "ACTIVATION_FUNCTIONS",
]


class Explorer:
    """Controls + a figure recomputed and redrawn from them.

    controls: dict name -> ipywidget; compute(**values) -> dict of arrays (``.data``);
    draw(axes, data, **values) -> caption (str) draws on freshly cleared axes;
    refresh(axes, data, **values) -> caption, or None when it cannot: updates in place what ``draw`` drew (optional;
    without it, or when it returns None, every change is a full ``draw``);
    moving() -> the axes and artists that ``refresh`` changes (optional, with refresh): the rest of the figure is
    rendered once after a full draw and kept as a background image, and each refresh renders only these on top of
    it (blitting). Axes whose limits, ticks or titles change must be listed whole.
    """

    PNG_COMPRESSION = 1  # zlib level: 6 (the default) costs a third of a redraw for a picture a few times smaller
    # After a redraw, changes from the browser wait this long before the next one: the messages that queued up during
    # the redraw are all read first (a drag sends one every few ms), and one redraw shows the latest values.
    THROTTLE_S = 0.03

    def __init__(self, controls, compute, draw, *, figsize, ncols=1, refresh=None, moving=None):
        if not isinstance(controls, dict) or not all(isinstance(c, widgets.ValueWidget) for c in controls.values()):
            raise TypeError(f"controls must be a dict name -> ipywidget with a value, got {_describe(controls)}")
        for name, fn in (("compute", compute), ("draw", draw)):
            if not callable(fn):
                raise TypeError(f"{name} must be callable, got {_describe(fn)}")
        for name, fn in (("refresh", refresh), ("moving", moving)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be callable or None, got {_describe(fn)}")
        figsize = as_float_array(figsize, "figsize", ndim=1)
        if figsize.shape != (2,) or np.any(figsize <= 0):
            raise ValueError(f"figsize must be (width, height) in inches, both > 0, got {figsize.tolist()}")
        ncols = check_int(ncols, "ncols", minimum=1)
        self.controls = dict(controls)
        self._compute, self._draw, self._refresh, self._moving = compute, draw, refresh, moving
        self._drawn = False  # is the figure what draw() drew, so that refresh() can update it?
        self._background = None  # the static part of the figure, rendered once after a full draw (see moving)
        self._last_update, self._scheduled = -np.inf, None  # throttling of the browser's changes
        self.figure = Figure(figsize=figsize, dpi=100)
        self._canvas = FigureCanvasAgg(self.figure)
        self.axes = tuple(self.figure.subplots(1, ncols, squeeze=False)[0])
        _fixed_margins(self.figure, ncols)
        self.data, self.caption, self.printed, self.warnings, self.error = {}, "", "", [], None
        self.image = widgets.Image(format="png")
        self.status = widgets.HTML()
        controls_box = widgets.HBox(list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([controls_box, self.image, self.status])
        self.widget.add_class("lablib-explorer")  # a stable selector for browser tests and styles
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.update()

    def values(self) -> dict:
        """The controls' current values, name -> value."""
        return {name: control.value for name, control in self.controls.items()}

    def update(self) -> None:
        """Recompute ``data`` from the controls and redraw (runs on every control change)."""
        values = self.values()
        printed = io.StringIO()  # a student's print() inside a slider callback would be lost otherwise
        try:
            # numpy's overflow warnings are silenced: a diverging run shows in the plots and the caption
            with warnings.catch_warnings(record=True) as caught, np.errstate(over="ignore", invalid="ignore"), \
                    contextlib.redirect_stdout(printed):
                warnings.simplefilter("always")
                data = self._compute(**values)
                caption = self._refresh(self.axes, data, **values) if self._refresh and self._drawn else None
                if caption is None:
                    self._drawn, self._background = False, None
                    for ax in self.axes:
                        ax.clear()
                    caption = self._draw(self.axes, data, **values)
                    for ax in self.axes:  # pinned: matplotlib would otherwise search a place for it at every draw
                        ax.set_title(ax.get_title(), y=1.0)
                    self._drawn = True
                    png = self._png(full=True)
                else:
                    png = self._png(full=False)
        except Exception as err:
            self._drawn = False  # a refresh may have stopped half-way: the next update draws everything again
            self.error, self.printed = err, printed.getvalue()
            trace = "".join(traceback.format_exception(type(err), err, err.__traceback__))
            self.status.value = _pre(self.printed) + f'<pre style="color:#b00020">{html.escape(trace)}</pre>'
            raise
        self._last_update = time.monotonic()
        self.data, self.caption, self.printed, self.error = data, caption, printed.getvalue(), None
        self.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
        self.image.value = png
        lines = [f"<span>{html.escape(caption)}</span>"]
        lines += [f'<span style="color:#a15c00">&#9888; {html.escape(w)}</span>' for w in self.warnings]
        self.status.value = "<br>".join(lines) + _pre(self.printed)

    def _png(self, full: bool) -> bytes:
        """The figure as PNG bytes (rendered by Agg, encoded by Pillow with light compression). After a full draw
        with ``moving``: the static part is rendered and kept, then the moving parts drawn on it; after a refresh
        only the moving parts are drawn, on the kept background."""
        canvas = self._canvas
        if self._moving is None:
            canvas.draw()
        else:
            moving = list(self._moving())
            if full or self._background is None:
                for artist in moving:
                    artist.set_animated(True)  # left out of canvas.draw(): drawn by hand below
                try:
                    canvas.draw()
                finally:  # an ordinary figure again (ex.figure.savefig(...) shows everything)
                    for artist in moving:
                        artist.set_animated(False)
                self._background = canvas.copy_from_bbox(self.figure.bbox)
            else:
                canvas.restore_region(self._background)
            renderer = canvas.get_renderer()
            for artist in moving:
                artist.draw(renderer)
        width, height = canvas.get_width_height()
        picture = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
        buffer = io.BytesIO()
        picture.save(buffer, format="png", compress_level=self.PNG_COMPRESSION)
        return buffer.getvalue()

    def _on_change(self, change) -> None:
        # ipywidgets locks the properties it receives from the browser while it notifies their observers
        from_browser = bool(getattr(change.get("owner"), "_property_lock", None))
        try:
            loop = asyncio.get_running_loop() if from_browser else None
        except RuntimeError:  # no event loop (plain Python): nothing to schedule on
            loop = None
        if loop is None:
            self.update()
            return
        if self._scheduled is not None:  # a redraw is due: it will read the latest values
            return
        wait = self._last_update + self.THROTTLE_S - time.monotonic()
        if wait <= 0:
            self._browser_update()
        else:
            self._scheduled = loop.call_later(wait, self._browser_update)

    def _browser_update(self) -> None:
        self._scheduled = None
        try:
            self.update()
        except Exception:  # nobody to raise to: the error is in the status line and in .error
            self._last_update = time.monotonic()

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def _pre(text: str) -> str:
    return f"<pre>{html.escape(text)}</pre>" if text else ""


def _fixed_margins(fig, ncols, left=0.8, right=0.25, bottom=0.55, top=0.4, gap=0.9) -> None:
    """Margins and gaps in inches, set once: a layout engine would cost half of every redraw."""
    width, height = fig.get_size_inches()
    axis_width = (width - left - right - (ncols - 1) * gap) / ncols
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=gap / axis_width)


# ---------------------------------------------------------------------------------------------------------
# Controls: checked like any lablib argument (a value outside the slider's range is an error, not clamped)


_STYLE = {"description_width": "initial"}


def _check_in(value: float, name: str, low, high) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}] (the slider's range), got {value:g}")


def _log_slider(name, value, low, high, description=None):
    value = check_positive(value, name)
    _check_in(value, name, low, high)
    return widgets.FloatLogSlider(
        value=value, base=10, min=np.log10(low), max=np.log10(high), step=0.01, readout_format=".3g",
        description=description or name, continuous_update=True, style=_STYLE,
    )


def _float_slider(name, value, low, high, step, description=None):
    value = float(as_float_array(value, name, ndim=0))
    _check_in(value, name, low, high)
    return widgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description or name,
        continuous_update=True, style=_STYLE,
    )


def _int_slider(name, value, low, high, description=None):
    value = check_int(value, name)
    _check_in(value, name, low, high)
    return widgets.IntSlider(
        value=value, min=low, max=high, description=description or name, continuous_update=True, style=_STYLE,
    )


def _start_sliders(start, landscape):
    """x0 and y0 sliders over the landscape's window; default start (70 %, 85 %) of the way across the window."""
    (xlo, xhi), (ylo, yhi) = landscape.xlim, landscape.ylim
    if start is None:
        start = (xlo + 0.7 * (xhi - xlo), ylo + 0.85 * (yhi - ylo))
    start = as_float_array(start, "start")
    if start.shape != (2,):
        raise ValueError(f"start must be a point (x, y) of shape (2,), got shape {start.shape}")
    step = (xhi - xlo) / 100
    return {
        "x0": _float_slider("start[0]", start[0], xlo, xhi, step, description="start x"),
        "y0": _float_slider("start[1]", start[1], ylo, yhi, step, description="start y"),
    }


def _function(fn, default, name):
    if fn is None:
        return default
    if not callable(fn):
        raise TypeError(f"{name} must be a function, got {type(fn).__name__}")
    return fn


def _landscape(landscape):
    if landscape is None:
        return landscapes.quadratic_bowl()
    if not isinstance(landscape, landscapes.Landscape):
        raise TypeError(
            f"landscape must be a lablib.landscapes.Landscape (e.g. landscapes.rosenbrock()), "
            f"got {type(landscape).__name__}"
        )
    return landscape


def _stopped(path, n_steps) -> str:
    k = len(path) - 1
    return "" if k == n_steps else f" (stopped at step {k} of {n_steps})"


def _rescale(ax, **kwargs) -> None:
    """Limits from the artists' new data, as a fresh plot would choose them."""
    ax.relim()
    ax.autoscale_view(**kwargs)


def _relabel(ax, line, label: str) -> None:
    """A line's label and its entry in the axes' legend."""
    old = line.get_label()
    line.set_label(label)
    legend = ax.get_legend()
    if legend is not None:
        for text in legend.get_texts():
            if text.get_text() == old:
                text.set_text(label)


def _move_path(line, start, path) -> None:
    """A path drawn by ``plot_path`` (its line and its circled start) moved to new iterates."""
    line.set_data(path[:, 0], path[:, 1])
    start.set_data(path[:1, 0], path[:1, 1])


# ---------------------------------------------------------------------------------------------------------
# 1. Gradient descent in 1-D


def gd_explorer(f=None, grad=None, *, gradient_descent=None, lr=0.1, x0=1.0, n_steps=20):
    """1-D gradient descent x_{t+1} = x_t - lr * f'(x_t), on f(x) = x^2 by default.

    Left: f and the iterates. Right: |x_t| per step on a log axis; for f = x^2 the course's closed form
    |x_t| = |x0| |1 - 2 lr|^t is overlaid (dashed): it converges iff 0 < lr < 1.
    gradient_descent(grad, x0, lr, n_steps) -> iterates x_0..x_k (default ``optim.gradient_descent``).
    Controls: lr (log slider 1e-3..1e3), x0 (-5..5), n_steps (0..100).
    data: path (k+1,), f_path = f(path), abs_x = |path|, and for f = x^2 closed_form (k+1,).
    """
    if (f is None) != (grad is None):
        raise ValueError("f and grad must be given together (or neither, for f(x) = x^2)")
    is_square = f is None
    f = _function(f, landscapes.square, "f")
    grad = _function(grad, landscapes.square_grad, "grad")
    run = _function(gradient_descent, optim.gradient_descent, "gradient_descent")
    controls = {
        "lr": _log_slider("lr", lr, 1e-3, 1e3),
        "x0": _float_slider("x0", x0, -5.0, 5.0, 0.1),
        "n_steps": _int_slider("n_steps", n_steps, 0, 100),
    }

    def compute(lr, x0, n_steps):
        iterates = as_float_array(run(grad, x0, lr, n_steps), "gradient_descent(grad, x0, lr, n_steps)", ndim=1,
                                  finite=False)
        # A student's gradient descent may run on into inf/nan when it diverges: show the finite iterates.
        finite = np.isfinite(iterates)
        path = iterates if finite.all() else iterates[: int(np.argmin(finite))]
        if len(path) == 0:
            raise ValueError("gradient_descent(grad, x0, lr, n_steps) must return x0 first, got a non-finite x_0")
        with np.errstate(over="ignore"):
            f_path = np.asarray(f(path), dtype=np.float64)
        data = {"path": path, "f_path": f_path, "abs_x": np.abs(path), "cut_non_finite": len(path) < len(iterates)}
        if is_square:
            data["closed_form"] = abs(x0) * abs(1 - 2 * lr) ** np.arange(len(path))
        return data

    artists = {}

    def window(path):
        reach = 1.25 * max(np.abs(path).max(), 1e-3)
        return (-reach, reach) if is_square else None

    def draw(axes, data, lr, x0, n_steps):
        ax_f, ax_abs = axes
        path, t = data["path"], np.arange(len(data["path"]))
        artists["curve"], artists["iterates"] = plot_gd_1d(ax_f, f, path, xlim=window(path))
        artists["start"] = ax_f.lines[-1]
        ax_f.set_title(f"gradient descent, lr = {lr:.3g}")
        ax_f.legend(fontsize="small")
        (artists["abs"],) = ax_abs.plot(t, data["abs_x"], marker="o", ms=3, label="|x_t|")
        if is_square:
            (artists["closed"],) = ax_abs.plot(t, data["closed_form"], ls="--", color="black",
                                               label="|x0| |1 - 2 lr|^t")
        if np.any(data["abs_x"] > 0):  # x0 = 0 stays at 0: nothing to show on a log axis
            ax_abs.set_yscale("log")
        ax_abs.set(xlabel="step t", ylabel="|x_t|", title="distance to 0 per step")
        ax_abs.legend(fontsize="small")
        ax_abs.grid(alpha=0.3, which="both")
        return caption(data, lr, n_steps)

    def refresh(axes, data, lr, x0, n_steps):
        ax_f, ax_abs = axes
        path, t = data["path"], np.arange(len(data["path"]))
        log = bool(np.any(data["abs_x"] > 0))
        if log != (ax_abs.get_yscale() == "log"):
            return None
        xlim = window(path)
        if xlim is None:  # plot_gd_1d's own window: the iterates' range, padded
            low, high = path.min(), path.max()
            pad = 0.25 * max(high - low, abs(low), abs(high), 1e-12)
            xlim = (low - pad, high + pad)
        xs = np.linspace(*xlim, 400)
        artists["curve"].set_data(xs, f(xs))
        artists["iterates"].set_data(path, data["f_path"])
        artists["start"].set_data(path[:1], data["f_path"][:1])
        ax_f.set_xlim(xlim)
        _rescale(ax_f, scalex=False)
        ax_f.set_title(f"gradient descent, lr = {lr:.3g}")
        artists["abs"].set_data(t, data["abs_x"])
        if is_square:
            artists["closed"].set_data(t, data["closed_form"])
        _rescale(ax_abs)
        return caption(data, lr, n_steps)

    def caption(data, lr, n_steps):
        path = data["path"]
        caption = f"x_{len(path) - 1} = {path[-1]:.6g}{_stopped(path, n_steps)}"
        if data["cut_non_finite"]:
            caption += f"; x_{len(path)} is not finite: diverged"
        if is_square:
            q = abs(1 - 2 * lr)
            verdict = "converges" if q < 1 else "oscillates, |x_t| constant" if q == 1 else "diverges"
            caption += f"; |1 - 2 lr| = {q:.4g}: {verdict} (converges iff 0 < lr < 1)"
        return caption

    return Explorer(controls, compute, draw, figsize=(10, 3.8), ncols=2, refresh=refresh)


# ---------------------------------------------------------------------------------------------------------
# 2. Gradient descent on a 2-D landscape


def gd2d_explorer(landscape=None, *, gradient_descent=None, lr=0.05, start=None, n_steps=50):
    """Gradient descent on a 2-D ``lablib.landscapes`` landscape (default ``quadratic_bowl()``).

    Left: contours, minima (stars), saddles (crosses) and the path; right: f(x_t) per step.
    gradient_descent(grad, x0, lr, n_steps) -> iterates (default ``optim.gradient_descent``).
    Controls: lr (log slider 1e-4..10), start x, start y (the landscape's window), n_steps (0..500).
    data: path (k+1, 2), loss = f(path) (k+1,).
    """
    landscape = _landscape(landscape)
    run = _function(gradient_descent, optim.gradient_descent, "gradient_descent")
    controls = {
        "lr": _log_slider("lr", lr, 1e-4, 10.0),
        **_start_sliders(start, landscape),
        "n_steps": _int_slider("n_steps", n_steps, 0, 500),
    }

    def compute(lr, x0, y0, n_steps):
        path = as_float_array(run(landscape.grad, np.array([x0, y0]), lr, n_steps), "gradient_descent(...)", ndim=2)
        return {"path": path, "loss": landscape.f(path)}

    artists = {}

    def draw(axes, data, lr, x0, y0, n_steps):
        ax_path, ax_loss = axes
        path = data["path"]
        plot_landscape(ax_path, landscape)
        artists["path"] = plot_path(ax_path, path, label=f"GD, lr = {lr:.3g}", color="tab:orange")
        artists["start"] = ax_path.lines[-1]
        ax_path.legend(fontsize="small")
        (artists["loss"],) = ax_loss.plot(data["loss"], marker=".", color="tab:orange")
        ax_loss.set(xlabel="step t", ylabel="f(x_t)", title="loss per step")
        ax_loss.grid(alpha=0.3)
        return caption(data, n_steps)

    def refresh(axes, data, lr, x0, y0, n_steps):
        ax_path, ax_loss = axes
        _move_path(artists["path"], artists["start"], data["path"])
        _relabel(ax_path, artists["path"], f"GD, lr = {lr:.3g}")
        artists["loss"].set_data(np.arange(len(data["loss"])), data["loss"])
        _rescale(ax_loss)
        return caption(data, n_steps)

    def caption(data, n_steps):
        path = data["path"]
        x, y = path[-1]
        return f"x_{len(path) - 1} = ({x:.4g}, {y:.4g}), f = {data['loss'][-1]:.4g}{_stopped(path, n_steps)}"

    def moving():
        return [artists["path"], artists["start"], artists["path"].axes.get_legend(), artists["loss"].axes]

    return Explorer(controls, compute, draw, figsize=(10, 4), ncols=2, refresh=refresh, moving=moving)


# ---------------------------------------------------------------------------------------------------------
# 3. The optimizers' paths side by side

# The lablib single-array step rules, name -> step(x, grad, state, *, lr, ...) -> (x, state).
OPTIMIZER_STEPS = {
    "GD": optim.sgd_step,
    "momentum": optim.sgd_step,
    "AdaGrad-Norm": optim.adagrad_norm_step,
    "RMSprop": optim.rmsprop_step,
    "Adam": optim.adam_step,
}
# The explorer's beta is passed to these entries, under these keywords (the momentum coefficients).
_BETA_KEYWORD = {"momentum": "momentum", "Adam": "beta1"}


def _run_steps(step, grad, x0, n_steps, **hparams) -> np.ndarray:
    """x_{t+1}, state = step(x_t, grad(x_t), state, **hparams) from state = {}; iterates until n_steps or the
    first non-finite gradient or iterate, or a rule's overflowing statistics (divergence)."""
    path, state = [x0], {}
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n_steps):
            g = grad(path[-1])
            if not np.all(np.isfinite(g)):
                break
            try:
                x, state = step(path[-1], g, state, **hparams)
            except optim.GradientOverflowError:
                break
            x = as_float_array(x, "the new x returned by a step function", finite=False)
            if not np.all(np.isfinite(x)):
                break
            path.append(x)
    return np.array(path)


def optimizer_paths_explorer(landscape=None, *, steps=None, lr=0.05, beta=0.9, start=None, n_steps=100):
    """Paths of GD, momentum, AdaGrad-Norm, RMSprop and Adam from one start, on one contour plot.

    steps: dict label -> step(x, grad, state, *, lr, ...) -> (x, state) (default ``OPTIMIZER_STEPS``, the
    lablib rules); each path starts with state = {}. The shared lr goes to all; beta is the momentum
    coefficient: ``momentum=beta`` for the entry "momentum", ``beta1=beta`` for "Adam" (other hyperparameters
    at their defaults). A path stops at the first non-finite value (divergence).
    Controls: lr (log slider 1e-4..1), beta (0..0.99), n_steps (1..500), start x, start y.
    data: label -> path (k+1, 2).
    """
    landscape = _landscape(landscape)
    if steps is None:
        steps = OPTIMIZER_STEPS
    if not isinstance(steps, dict) or not steps or not all(callable(s) for s in steps.values()):
        raise TypeError("steps must be a non-empty dict label -> step function step(x, grad, state, *, lr, ...)")
    controls = {
        "lr": _log_slider("lr", lr, 1e-4, 1.0),
        "beta": _float_slider("beta", beta, 0.0, 0.99, 0.01, description="momentum beta"),
        "n_steps": _int_slider("n_steps", n_steps, 1, 500),
        **_start_sliders(start, landscape),
    }

    def compute(lr, beta, n_steps, x0, y0):
        paths = {}
        for label, step in steps.items():
            hparams = {"lr": lr}
            if label in _BETA_KEYWORD:
                hparams[_BETA_KEYWORD[label]] = beta
            paths[label] = _run_steps(step, landscape.grad, np.array([x0, y0]), n_steps, **hparams)
        return paths

    artists = {}

    def draw(axes, data, lr, beta, n_steps, x0, y0):
        (ax,) = axes
        plot_landscape(ax, landscape)
        for label, path in data.items():
            artists[label] = (plot_path(ax, path, label=label), ax.lines[-1])
        ax.legend(fontsize="small", loc="upper right")  # "best" would search the plot at every draw
        return caption(data, n_steps)

    def refresh(axes, data, lr, beta, n_steps, x0, y0):
        for label, path in data.items():
            _move_path(*artists[label], path)
        return caption(data, n_steps)

    def caption(data, n_steps):
        return "; ".join(
            f"{label}: f = {landscape.f(path[-1]):.3g}{_stopped(path, n_steps)}" for label, path in data.items()
        )

    def moving():
        return [artist for pair in artists.values() for artist in pair]

    return Explorer(controls, compute, draw, figsize=(7, 5.5), refresh=refresh, moving=moving)


# ---------------------------------------------------------------------------------------------------------
# 4. Minibatch SGD on a linear regression


def sgd_batch_explorer(*, batch_size=10, lr=0.05, epochs=3, n=100, noise=0.5, start=(-1.0, 2.0), seed=0,
                       minibatches=None):
    """Minibatch SGD on y = w x + b, loss L(w, b) = mean_i (w x_i + b - y_i)^2 (MSE).

    Data: n points x_i ~ N(0, 1), y_i = 2 x_i - 1 + noise * N(0, 1), drawn once from ``seed``; the epochs'
    shuffling uses a second stream of the same seed (``SeedSequence(seed).spawn(2)``), restarted at every
    update, so the path depends only on the controls. Each step: (w, b) <- (w, b) - lr * grad of the MSE on
    one minibatch; ceil(n / batch_size) steps per epoch (the last batch may be smaller).
    minibatches(X, y, batch_size, rng=...) yields (X_batch, y_batch) (default ``data.minibatches``).
    Left: the full-batch loss contours in (w, b), the least-squares minimum and the path; right: the
    full-batch loss at every step (log axis).
    Controls: batch_size (1..n), lr (log slider 1e-3..1), epochs (1..20).
    data: path (steps+1, 2), loss (steps+1,), steps_per_epoch (int).
    """
    n = check_int(n, "n", minimum=2)
    noise = check_nonnegative(noise, "noise")
    batches = _function(minibatches, _data.minibatches, "minibatches")
    data_seed, shuffle_seed = np.random.SeedSequence(check_int(seed, "seed", minimum=0)).spawn(2)
    rng = np.random.default_rng(data_seed)
    x = rng.normal(size=n)
    X, y = x[:, None], 2.0 * x - 1.0 + noise * rng.normal(size=n)
    best = np.linalg.lstsq(np.column_stack([x, np.ones(n)]), y, rcond=None)[0]
    start = as_float_array(start, "start")
    if start.shape != (2,):
        raise ValueError(f"start must be a point (w, b) of shape (2,), got shape {start.shape}")
    half = 1.3 * np.abs(start - best).max() + 0.5

    def loss(wb):
        residuals = np.asarray(wb)[..., :1] * x + np.asarray(wb)[..., 1:] - y
        return np.mean(residuals**2, axis=-1)

    def mse_grad(wb, xs, ys):
        """(dL/dw, dL/db) = (2 mean(r x), 2 mean(r)), r = w x + b - y, over the points (xs, ys)."""
        residuals = wb[..., :1] * xs + wb[..., 1:] - ys
        return np.stack([2 * np.mean(residuals * xs, axis=-1), 2 * np.mean(residuals, axis=-1)], axis=-1)

    surface = landscapes.Landscape("full-batch MSE loss", loss, lambda wb: mse_grad(wb, x, y), (tuple(best),), (),
                                   (best[0] - half, best[0] + half), (best[1] - half, best[1] + half))
    controls = {
        "batch_size": _int_slider("batch_size", batch_size, 1, n, description="batch size"),
        "lr": _log_slider("lr", lr, 1e-3, 1.0),
        "epochs": _int_slider("epochs", epochs, 1, 20),
    }

    def sgd_path(batch_size, lr, epochs):
        shuffle_rng = np.random.default_rng(shuffle_seed)
        path = [start]
        for _ in range(epochs):
            for X_batch, y_batch in batches(X, y, batch_size, rng=shuffle_rng):
                path.append(path[-1] - lr * mse_grad(path[-1], X_batch[:, 0], y_batch))
                if not np.all(np.isfinite(path[-1])):
                    return np.array(path[:-1])
        return np.array(path)

    def compute(batch_size, lr, epochs):
        with np.errstate(over="ignore", invalid="ignore"):
            path = sgd_path(batch_size, lr, epochs)
        return {"path": path, "loss": loss(path), "steps_per_epoch": -(-n // batch_size)}

    artists = {}

    def draw(axes, data, batch_size, lr, epochs):
        ax_path, ax_loss = axes
        plot_landscape(ax_path, surface)
        artists["path"] = plot_path(ax_path, data["path"], label=f"SGD, batch {batch_size}", color="tab:orange")
        artists["start"] = ax_path.lines[-1]
        ax_path.set(xlabel="w", ylabel="b")
        ax_path.legend(fontsize="small")
        (artists["loss"],) = ax_loss.plot(data["loss"], color="tab:orange")
        ax_loss.axhline(loss(best), ls="--", color="grey", label="least-squares minimum")
        ax_loss.set(yscale="log", xlabel="step", ylabel="full-batch MSE", title="loss per step")
        ax_loss.legend(fontsize="small")
        return caption(data, batch_size, epochs)

    def refresh(axes, data, batch_size, lr, epochs):
        ax_path, ax_loss = axes
        _move_path(artists["path"], artists["start"], data["path"])
        _relabel(ax_path, artists["path"], f"SGD, batch {batch_size}")
        artists["loss"].set_data(np.arange(len(data["loss"])), data["loss"])
        _rescale(ax_loss)
        return caption(data, batch_size, epochs)

    def caption(data, batch_size, epochs):
        steps = len(data["path"]) - 1
        planned = epochs * data["steps_per_epoch"]
        return (f"{data['steps_per_epoch']} steps per epoch (ceil({n} / {batch_size})), {steps} steps"
                f"{'' if steps == planned else f' of {planned} (diverged)'}; final loss {data['loss'][-1]:.4g}, "
                f"least-squares minimum {loss(best):.4g} at (w, b) = ({best[0]:.3f}, {best[1]:.3f})")

    def moving():
        return [artists["path"], artists["start"], artists["path"].axes.get_legend(), artists["loss"].axes]

    return Explorer(controls, compute, draw, figsize=(10, 4), ncols=2, refresh=refresh, moving=moving)


# ---------------------------------------------------------------------------------------------------------
# 5. Learning-rate schedules


def schedule_explorer(*, lr0=0.1, s=100.0, c=1.0, t_max=1000, piecewise=None, power=None, exponential=None):
    """Power lr0 / (1 + t/s)^c and exponential lr0 * 0.1^(t/s) schedules for t = 0..t_max (log axis).

    Right: the ratio lr((k+1) s) / lr(k s) for k = 0..9: ((k + 1) / (k + 2))^c for power scheduling (it tends
    to 1: the decay slows down), always 0.1 for exponential scheduling.
    piecewise: optional (boundaries, values) for ``schedules.piecewise_constant``, drawn too.
    power(lr0, s, c), exponential(lr0, s): the schedule makers (default ``lablib.schedules``').
    Controls: lr0 (log slider 1e-4..1), s (log slider 1..1e4), c (0.1..3).
    data: t, power, exponential (t_max+1,), [piecewise], k, power_ratio, exponential_ratio (10,).
    """
    make_power = _function(power, schedules.power, "power")
    make_exponential = _function(exponential, schedules.exponential, "exponential")
    t = np.arange(check_int(t_max, "t_max", minimum=1) + 1, dtype=np.float64)
    if piecewise is not None and (not isinstance(piecewise, (tuple, list)) or len(piecewise) != 2):
        raise TypeError(f"piecewise must be a pair (boundaries, values) or None, got {_describe(piecewise)}")
    fixed = {} if piecewise is None else {"piecewise": schedules.piecewise_constant(*piecewise)}
    k = np.arange(10, dtype=np.float64)
    controls = {
        "lr0": _log_slider("lr0", lr0, 1e-4, 1.0),
        "s": _log_slider("s", s, 1.0, 1e4),
        "c": _float_slider("c", c, 0.1, 3.0, 0.1),
    }

    def curves(lr0, s, c):
        return {"power": make_power(lr0, s, c), "exponential": make_exponential(lr0, s), **fixed}

    def compute(lr0, s, c):
        data = {"t": t, "k": k}
        for label, schedule in curves(lr0, s, c).items():
            data[label] = np.asarray(schedule(t), dtype=np.float64)
            if label != "piecewise":
                data[label + "_ratio"] = np.asarray(schedule((k + 1) * s) / schedule(k * s), dtype=np.float64)
        return data

    artists = {}

    def draw(axes, data, lr0, s, c):
        ax_lr, ax_ratio = axes
        artists["lr"] = dict(zip(curves(lr0, s, c), plot_lr_schedules(ax_lr, curves(lr0, s, c), t)))
        ax_lr.set_title(f"lr0 = {lr0:.3g}, s = {s:.4g}, c = {c:.2g}")
        for label in ("power", "exponential"):
            (artists[label + "_ratio"],) = ax_ratio.plot(k, data[label + "_ratio"], marker="o", label=label)
        ax_ratio.set(xlabel="k", ylabel="lr((k+1) s) / lr(k s)", ylim=(0, 1.05), title="decay over each s steps")
        ax_ratio.legend(fontsize="small")
        ax_ratio.grid(alpha=0.3)
        return caption(data)

    def refresh(axes, data, lr0, s, c):
        ax_lr, _ = axes
        for label, line in artists["lr"].items():
            line.set_ydata(data[label])
        _rescale(ax_lr)
        ax_lr.set_title(f"lr0 = {lr0:.3g}, s = {s:.4g}, c = {c:.2g}")
        for label in ("power", "exponential"):
            artists[label + "_ratio"].set_ydata(data[label + "_ratio"])
        return caption(data)

    def caption(data):
        return (f"over the first s steps: power x{data['power_ratio'][0]:.3g} (= 2^-c), exponential "
                f"x{data['exponential_ratio'][0]:.3g}; over steps 9s..10s: power x{data['power_ratio'][-1]:.3g}")

    def moving():  # the ratios' axes are fixed: only their lines and the legend ("best" place) move
        ratio = artists["power_ratio"]
        return [artists["lr"][next(iter(artists["lr"]))].axes, ratio, artists["exponential_ratio"],
                ratio.axes.get_legend()]

    return Explorer(controls, compute, draw, figsize=(10, 3.8), ncols=2, refresh=refresh, moving=moving)


# ---------------------------------------------------------------------------------------------------------
# 6. Activation functions


# name -> (value, derivative) from lablib.nn; the ones in _WITH_ALPHA take alpha as a keyword.
ACTIVATION_FUNCTIONS = {
    name: (getattr(nn, name), getattr(nn, name + "_derivative"))
    for name in ("relu", "leaky_relu", "elu", "selu", "sigmoid", "tanh")
}
_WITH_ALPHA = ("leaky_relu", "elu")


def activation_explorer(*, activation="leaky_relu", alpha=0.2, x_range=(-4.0, 4.0), functions=None):
    """An activation and its derivative on x_range; alpha (0..2) is used by leaky_relu and elu only.

    functions: dict name -> (value(x[, alpha]), derivative(x[, alpha])) (default ``ACTIVATION_FUNCTIONS``).
    Controls: activation (a dropdown), alpha. data: x, value, derivative.
    """
    functions = ACTIVATION_FUNCTIONS if functions is None else functions
    if not isinstance(functions, dict) or not functions:
        raise TypeError("functions must be a non-empty dict name -> (value function, derivative function)")
    if activation not in functions:
        raise ValueError(f"activation must be one of {list(functions)}, got {activation!r}")
    x = np.linspace(*_check_window(x_range, "x_range"), 401)
    dropdown = widgets.Dropdown(options=list(functions), value=activation, description="activation")
    controls = {"activation": dropdown, "alpha": _float_slider("alpha", alpha, 0.0, 2.0, 0.01)}

    def compute(activation, alpha):
        value, derivative = functions[activation]
        kwargs = {"alpha": alpha} if activation in _WITH_ALPHA else {}
        controls["alpha"].disabled = not kwargs
        return {"x": x, "value": np.asarray(value(x, **kwargs)), "derivative": np.asarray(derivative(x, **kwargs))}

    artists = {}

    def name_of(activation, alpha):
        return f"{activation}(alpha={alpha:g})" if activation in _WITH_ALPHA else activation

    def draw(axes, data, activation, alpha):
        name = name_of(activation, alpha)
        for ax, key, title in zip(axes, ("value", "derivative"), (name, f"derivative of {name}")):
            (artists[key],) = ax.plot(data["x"], data[key], color="tab:blue")
            artists[key + "_axes"] = (ax.axhline(0, color="grey", lw=0.6), ax.axvline(0, color="grey", lw=0.6))
            ax.set(xlabel="x", title=title)
            ax.grid(alpha=0.3)
        return caption(data, name)

    def refresh(axes, data, activation, alpha):
        name = name_of(activation, alpha)
        for ax, key, title in zip(axes, ("value", "derivative"), (name, f"derivative of {name}")):
            artists[key].set_ydata(data[key])
            # As in a fresh plot, the lines x = 0 and y = 0 widen the limits only when the curve's own leave 0 out.
            for line in artists[key + "_axes"]:
                line.set_visible(False)
            ax.relim(visible_only=True)
            for line in artists[key + "_axes"]:
                line.set_visible(True)
            ax.autoscale_view()
            if not (ax.get_ylim()[0] <= 0 <= ax.get_ylim()[1] and ax.get_xlim()[0] <= 0 <= ax.get_xlim()[1]):
                _rescale(ax)
            ax.set_title(title)
        return caption(data, name)

    def caption(data, name):
        return f"{name}: derivative in [{data['derivative'].min():.3g}, {data['derivative'].max():.3g}] on this range"

    return Explorer(controls, compute, draw, figsize=(10, 3.5), ncols=2, refresh=refresh)


# ---------------------------------------------------------------------------------------------------------
# 7. Dropout on a Fashion-MNIST image


def dropout_explorer(*, rate=0.5, seed=0, index=0, dropout_forward=None):
    """Inverted dropout (train mode) on one image of the bundled Fashion-MNIST subset (training split).

    out = x * keep / (1 - rate), keep = rng.random(x.shape) >= rate with rng = default_rng(seed).
    dropout_forward(x, rate, train=True, rng=...) -> (out, cache) (default ``nn.dropout_forward``); the mask
    shown is where the same call on an all-ones image with the same seed gives a non-zero value.
    Panels: the image, the mask (white = kept), the output, histograms of the non-zero inputs and outputs.
    Controls: rate (0..0.95), seed (0..99), index (the image). data: image, mask, out (28, 28).
    """
    forward = _function(dropout_forward, nn.dropout_forward, "dropout_forward")
    images = _data.load_fashion_mnist("mini", flatten=False).X_train
    controls = {
        "rate": _float_slider("rate", rate, 0.0, 0.95, 0.05),
        "seed": _int_slider("seed", seed, 0, 99),
        "index": _int_slider("index", index, 0, len(images) - 1, description="image"),
    }

    def compute(rate, seed, index):
        x = images[index]
        out, _ = forward(x, rate, train=True, rng=np.random.default_rng(seed))
        ones_out, _ = forward(np.ones_like(x), rate, train=True, rng=np.random.default_rng(seed))
        return {"image": x, "mask": np.asarray(ones_out) != 0, "out": np.asarray(out, dtype=np.float64)}

    artists = {}

    def histograms(data, rate):
        """The counts of the non-zero inputs and outputs in 30 bins over [0, 1/(1 - rate)], and the bin edges."""
        bins = np.linspace(0, 1 / (1 - rate), 31)
        return [np.histogram(data[key][data[key] > 0], bins=bins)[0] for key in ("image", "out")], bins

    def draw(axes, data, rate, seed, index):
        ax_x, ax_mask, ax_out, ax_hist = axes
        top = 1 / (1 - rate)
        for ax, key, title, vmax in ((ax_x, "image", "input x", 1.0), (ax_mask, "mask", "kept (white)", 1.0),
                                     (ax_out, "out", f"output, kept x {top:.3g}", top)):
            artists[key] = ax.imshow(data[key], cmap="gray", vmin=0, vmax=vmax)
            ax.set(title=title, xticks=[], yticks=[])
        counts, bins = histograms(data, rate)
        artists["hist"] = [ax_hist.stairs(count, bins, fill=True, alpha=0.6, label=label)
                           for count, label in zip(counts, ("input (> 0)", "output (> 0)"))]
        ax_hist.set(xlabel="activation", title="histogram")
        ax_hist.legend(fontsize="small")
        return caption(data, rate)

    def refresh(axes, data, rate, seed, index):
        top = 1 / (1 - rate)
        for key in ("image", "mask", "out"):
            artists[key].set_data(data[key])
        artists["out"].set_clim(0, top)
        axes[2].set_title(f"output, kept x {top:.3g}")
        counts, bins = histograms(data, rate)
        for stairs, count in zip(artists["hist"], counts):
            stairs.set_data(count, bins)
        _rescale(axes[3])
        return caption(data, rate)

    def caption(data, rate):
        return (f"kept {data['mask'].mean():.1%} of the pixels (expected {1 - rate:.0%}); mean input "
                f"{data['image'].mean():.4f}, mean output {data['out'].mean():.4f} (E[out] = x)")

    def moving():  # the input and mask panels keep their axes; the output's title and the histogram change
        return [artists["image"], artists["mask"], artists["out"].axes, artists["hist"][0].axes]

    return Explorer(controls, compute, draw, figsize=(12, 3), ncols=4, refresh=refresh, moving=moving)


# ---------------------------------------------------------------------------------------------------------
# 8. Methods compared over seeds (e.g. transfer learning vs training from scratch)


def comparison_explorer(results, methods, *, name="n_per_class", label="labelled images per class", value=None,
                        ylabel="test accuracy"):
    """Several methods' scores over seeds, for each value of one setting (a slider over its values).

    results: {setting value: array (n_seeds, n_methods)} with one column per entry of ``methods``.
    Panels: at the chosen value, each seed's score per method (dots) and the mean (bar); the means over all
    values, the chosen one marked (log x axis when the values are positive numbers). Control: ``name``.
    data: {method: the seeds' scores at the chosen value}. The caption gives each method's mean.
    """
    if isinstance(methods, str) or not hasattr(methods, "__iter__"):
        raise TypeError(f"methods must be a list of method names, got {_describe(methods)}")
    methods = tuple(methods)
    for arg, text in (("name", name), ("label", label), ("ylabel", ylabel)):
        if not isinstance(text, str):
            raise TypeError(f"{arg} must be a string, got {_describe(text)}")
    if not isinstance(results, dict) or not results:
        raise ValueError(f"results must be a non-empty dict {{{name}: array (n_seeds, n_methods)}}, got "
                         f"{type(results).__name__}")
    table = {}
    for key, scores in results.items():
        scores = as_float_array(scores, f"results[{key!r}]", ndim=2)
        if scores.shape[1] != len(methods):
            raise ValueError(f"results[{key!r}] must have one column per method ({len(methods)}), got shape "
                             f"{scores.shape}")
        table[key] = scores
    options = list(table)
    value = options[len(options) // 2] if value is None else value
    if value not in table:
        raise ValueError(f"value must be one of {options}, got {value!r}")
    means = np.array([table[key].mean(axis=0) for key in options])
    numeric = all(isinstance(key, (int, float)) and key > 0 for key in options)
    slider = widgets.SelectionSlider(options=options, value=value, description=label, continuous_update=True,
                                     style=_STYLE)

    def compute(**values):
        scores = table[values[name]]
        return {method: scores[:, j] for j, method in enumerate(methods)}

    artists = {}

    def draw(axes, data, **values):
        ax_seeds, ax_means = axes
        artists["bars"], artists["dots"] = [], []
        for j, (method, scores) in enumerate(data.items()):
            artists["bars"].append(ax_seeds.bar(j, scores.mean(), color=f"C{j}", alpha=0.4)[0])
            artists["dots"].append(ax_seeds.plot(np.full(len(scores), j), scores, "o", color=f"C{j}")[0])
            ax_means.plot(options if numeric else range(len(options)), means[:, j], marker="o", color=f"C{j}",
                          label=method)
        ax_seeds.set(xticks=range(len(methods)), xticklabels=methods, ylabel=ylabel,
                     title=f"{label}: {values[name]} ({len(next(iter(data.values())))} seeds)")
        artists["chosen"] = ax_means.axvline(values[name] if numeric else options.index(values[name]), color="grey",
                                             ls="--")
        if numeric:
            ax_means.set(xscale="log")
        ax_means.set(xticks=options if numeric else range(len(options)), xticklabels=options, xlabel=label,
                     ylabel=f"mean {ylabel}")
        ax_means.legend(loc="lower right", fontsize="small")  # "best" would search the plot at every draw
        return caption(data)

    def refresh(axes, data, **values):
        ax_seeds, _ = axes
        for bar, dots, scores in zip(artists["bars"], artists["dots"], data.values()):
            bar.set_height(scores.mean())
            dots.set_ydata(scores)
        _rescale(ax_seeds, scalex=False)
        ax_seeds.set_title(f"{label}: {values[name]} ({len(next(iter(data.values())))} seeds)")
        x = values[name] if numeric else options.index(values[name])
        artists["chosen"].set_xdata([x, x])
        return caption(data)

    def caption(data):
        return ", ".join(f"{method} {scores.mean():.1%}" for method, scores in data.items())

    def moving():  # the means' curves stay; the seeds' panel and the marker of the chosen value move
        return [artists["bars"][0].axes, artists["chosen"]]

    return Explorer({name: slider}, compute, draw, figsize=(11, 3.8), ncols=2, refresh=refresh, moving=moving)
