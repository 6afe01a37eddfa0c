"""lab01, gradient descent: f(x) = x^2, its derivative, and the gradient-descent loop."""
from __future__ import annotations

import warnings

import numpy as np

from ... import landscapes, optim
from ..engine import Case, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import other_shape, shape_of

# ---------------------------------------------------------------------------------------------------------
# f and df: elementwise, on numbers and arrays

_PUBLIC_X = [3.0, -1.5, 0.5, np.array([-2.0, -0.5, 0.0, 1.0, 2.5]), np.array([[1.0, -3.0, 0.25], [2.0, -1.0, 4.0]])]


def _public_x():
    return [Case(label=shape_of("x", x), x=x) for x in _PUBLIC_X]


def _hidden_x(rng):
    avoid = {np.shape(x) for x in _PUBLIC_X}
    xs = [float(rng.uniform(-10, -0.5)), float(rng.uniform(0.5, 10)),
          rng.uniform(-5, 5, size=other_shape(rng, (6,), (9,), avoid)),
          rng.uniform(-5, 5, size=other_shape(rng, (3, 4), (5, 6), avoid))]
    return [Case(label=shape_of("x", x), x=x) for x in xs]


def _drive_elementwise(quantity):
    def drive(run, fn, case):
        run.record(quantity, run.call(fn, case.x))
    return drive


def f(x):
    return landscapes.square(x)


def df(x):
    return landscapes.square_grad(x)


F = Exercise(
    name="f",
    lab="lab01",
    signature="def f(x):",
    summary="f(x) = x**2, elementwise: a number for a number, an array of the same shape for an array.",
    reference=f,
    drive=_drive_elementwise("f(x)"),
    public_cases=_public_x,
    hidden_cases=_hidden_x,
    guarded=resolve("lablib.landscapes.square"),
    catalogue=(
        Mistake("derivative instead of f", "f(x) is x**2 (x times x); 2*x is its derivative f'(x)",
                lambda x: 2 * x),
        Mistake("half the square", "f(x) = x**2 with no factor 1/2", lambda x: x**2 / 2),
        Mistake("sum of squares", "work elementwise: for an array x return x**2 with the shape of x, "
                "not the sum of the squares", lambda x: np.sum(np.asarray(x) ** 2)),
        Mistake("absolute value", "f(x) = x**2, not |x|", lambda x: np.abs(x)),
    ),
)

DF = Exercise(
    name="df",
    lab="lab01",
    signature="def df(x):",
    summary="f'(x) = 2*x, the derivative of f(x) = x**2, elementwise (number or array).",
    reference=df,
    drive=_drive_elementwise("df(x)"),
    public_cases=_public_x,
    hidden_cases=_hidden_x,
    guarded=resolve("lablib.landscapes.square_grad"),
    catalogue=(
        Mistake("f instead of its derivative", "df must return the derivative 2*x, not f(x) = x**2",
                lambda x: x**2),
        Mistake("missing factor 2", "the derivative of x**2 is 2*x (power rule), not x", lambda x: x * 1.0),
        Mistake("sign flipped", "the derivative of x**2 is +2*x; the minus sign belongs to the update "
                "x - lr * df(x), not to df", lambda x: -2 * x),
    ),
)

# ---------------------------------------------------------------------------------------------------------
# gradient_descent(grad, x0, lr, n_steps, tol=None) -> iterates x_0 .. x_k


def _square_grad(x):
    return 2 * x


class _Bowl:
    """grad of f(x) = sum(c_i x_i^2 / 2) is c * x (elementwise curvatures c)."""

    def __init__(self, c):
        self.c = np.asarray(c, dtype=float)

    def __call__(self, x):
        return self.c * x


def _gd_case(grad, x0, lr, n_steps, tol, what):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the reference's DivergenceWarning
        n_finite = len(optim.gradient_descent(grad, x0, lr, n_steps, tol))
    diverges = n_finite < n_steps + 1 and (tol is None or not _stopped_by_tol(grad, x0, lr, n_finite, tol))
    label = f"{what}, {shape_of('x0', x0)}, lr={lr:g}, n_steps={n_steps}" + (f", tol={tol:g}" if tol else "")
    if diverges:
        label += f" (diverges: overflow after {n_finite - 1} steps)"
    return Case(label=label, grad=grad, x0=x0, lr=lr, n_steps=n_steps, tol=tol, n_finite=n_finite, diverges=diverges)


def _stopped_by_tol(grad, x0, lr, n_finite, tol):
    x = np.asarray(x0, dtype=float)
    for _ in range(n_finite - 1):
        x = x - lr * grad(x)
    return bool(np.linalg.norm(grad(x)) < tol)


_SQUARE = "f(x) = x**2 (grad 2x)"


def _gd_public():
    bowl = _Bowl([2.0, 10.0])
    return [
        _gd_case(_square_grad, 1.0, 0.1, 10, None, _SQUARE),
        _gd_case(_square_grad, 5.0, 0.1, 100, 1e-3, _SQUARE),
        _gd_case(bowl, np.array([1.0, -2.0]), 0.05, 60, 1e-2, "f(x) = x1**2 + 5 x2**2 (grad [2, 10] * x)"),
        _gd_case(_square_grad, 1.0, 1.5, 8, None, _SQUARE),
        _gd_case(_square_grad, 0.0, 0.1, 10, 1e-6, _SQUARE),
        _gd_case(_square_grad, 1.0, 100.0, 200, None, _SQUARE),
    ]


def _gd_hidden(rng):
    sign = rng.choice([-1.0, 1.0])
    d = int(rng.integers(3, 6))
    c = rng.uniform(1.0, 10.0, size=d)
    return [
        _gd_case(_square_grad, sign * float(rng.uniform(1, 5)), float(rng.uniform(0.01, 0.4)),
                 int(rng.integers(15, 41)), None, _SQUARE),
        _gd_case(_square_grad, -sign * float(rng.uniform(1, 5)), float(rng.uniform(0.05, 0.3)), 200,
                 float(10 ** rng.uniform(-4, -2)), _SQUARE),
        _gd_case(_Bowl(c), rng.uniform(-3, 3, size=d), float(rng.uniform(0.02, 0.15)), int(rng.integers(30, 80)),
                 float(10 ** rng.uniform(-3, -1)), f"f(x) = sum(c_i x_i**2 / 2) in {d} dimensions"),
        _gd_case(_square_grad, float(rng.uniform(0.5, 2)), float(rng.uniform(1.1, 2.0)), int(rng.integers(6, 13)),
                 None, _SQUARE),
        _gd_case(_square_grad, float(rng.uniform(0.5, 2)), float(rng.uniform(200, 2000)),
                 int(rng.integers(150, 300)), None, _SQUARE),
    ]


def _drive_gd(run, fn, c):
    kwargs = {} if c.tol is None else {"tol": c.tol}
    got = run.call(fn, c.grad, c.x0, c.lr, c.n_steps, **kwargs)
    if c.diverges and run.student and _numeric(got) and np.ndim(got) >= 1 and len(got) > c.n_finite:
        # Only the finite prefix is compared. After it a student's loop may stop, or carry on with inf/nan;
        # one more finite row is tolerated (x * (1 - 2 lr) overflows a step later than x - lr * 2x).
        later = np.asarray(got, dtype=float)[c.n_finite + 1:]
        finite_rows = np.isfinite(later).all(axis=tuple(range(1, later.ndim)))
        if finite_rows.any():
            row = c.n_finite + 1 + int(np.argmax(finite_rows))
            run.require(False, "iterates", f"the iterates overflow after step {c.n_finite - 1}, so row {row} "
                        f"cannot be finite")
        got = np.asarray(got, dtype=float)[: c.n_finite]
    run.record("iterates" + (" (the finite ones)" if c.diverges else ""), got)


def _numeric(value):
    try:
        arr = np.asarray(value)
    except Exception:
        return False
    return arr.dtype.kind in "iuf"


def gradient_descent(grad, x0, lr, n_steps, tol=None):
    return optim.gradient_descent(grad, x0, lr, n_steps, tol)


def _gd_variant(*, stop_on_x=False, skip_x0=False, ascent=False, late_stop=False):
    def gd(grad, x0, lr, n_steps, tol=None):
        x = np.asarray(x0, dtype=float)
        iterates = [] if skip_x0 else [x]
        for _ in range(n_steps):
            g = np.asarray(grad(x), dtype=float)
            if tol is not None and not late_stop and np.linalg.norm(x if stop_on_x else g) < tol:
                break
            x = x + lr * g if ascent else x - lr * g
            iterates.append(x)
            if tol is not None and late_stop and np.linalg.norm(g) < tol:
                break
        return np.array(iterates)
    return gd


GRADIENT_DESCENT = Exercise(
    name="gradient_descent",
    lab="lab01",
    signature="def gradient_descent(grad, x0, lr, n_steps, tol=None):",
    summary="x0 a number or a 1-D array; x_{t+1} = x_t - lr * grad(x_t); return np.array of all iterates "
            "x_0 .. x_k (x0 included), stopping early when tol is given and ||grad(x_t)|| < tol "
            "(x_t is then the last).",
    reference=gradient_descent,
    drive=_drive_gd,
    public_cases=_gd_public,
    hidden_cases=_gd_hidden,
    guarded=resolve("lablib.optim.gradient_descent"),
    catalogue=(
        Mistake("stopping rule tests |x|", "stop when the GRADIENT is small, ||grad(x_t)|| < tol, not when x "
                "itself is small (the minimum need not be at 0)", _gd_variant(stop_on_x=True)),
        Mistake("x0 missing", "the iterates start with x0 itself: n steps give n + 1 rows",
                _gd_variant(skip_x0=True)),
        Mistake("gradient ascent", "move AGAINST the gradient: x - lr * grad(x)", _gd_variant(ascent=True)),
        Mistake("stop test after the step", "test ||grad(x_t)|| < tol BEFORE stepping, so that x_t is the "
                "last iterate; testing after the step adds one iterate too many", _gd_variant(late_stop=True)),
    ),
)

register(F, DF, GRADIENT_DESCENT)
