"""lab01, gradient descent: f(x) = x^2, its derivative, and the gradient-descent loop.

Edge cases (``edges`` of each exercise, checked to be among its cases by the tests):
* f, df: a number and arrays (1-D, 2-D), negative entries, x = 0; an array argument, so that squaring or
  doubling it in place shows.
* gradient_descent: a scalar and a vector x0 (a vector, so that updating x0 in place shows), tol None and given,
  a gradient exactly 0 at x0 (stops at once: one row), ||grad|| EXACTLY equal to tol (strict ``<``: go on),
  n_steps = 0 (one row), oscillation (lr = 1.5 on x**2), divergence to overflow (lr = 100: the overflow
  warnings are expected, not reported), an ill-conditioned 2-D bowl.
"""
from __future__ import annotations

import warnings

import numpy as np

from ... import landscapes, optim
from ..engine import Case, Edge, Exercise, Mistake, register
from ..tripwire import resolve
from ._common import has_entry, other_shape, shape_of

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


def _squared_in_place(x):
    x *= x  # a number is rebound; an array is changed for the caller
    return x


def _doubled_in_place(x):
    x *= 2
    return x


_ELEMENTWISE_EDGES = (
    Edge("a number (the answer is a number)", lambda c: np.ndim(c.x) == 0),
    Edge("a 1-D array (the answer keeps its shape; changing it in place would show)", lambda c: np.ndim(c.x) == 1),
    Edge("a 2-D array", lambda c: np.ndim(c.x) == 2),
    Edge("negative entries", lambda c: has_entry(c, "x", lambda a: a < 0)),
    Edge("x = 0", lambda c: has_entry(c, "x", lambda a: a == 0), hidden=False),
)
_EXACT = ("x*x, x**2, np.square and 2*x, x + x are exact to half an ulp: rtol 1e-12 (atol 0: f(0) = 0 exactly) "
          "leaves room for pow-based forms and catches any slip in the formula")

F = Exercise(
    name="f",
    lab="lab01",
    signature="def f(x):",
    summary="f(x) = x**2, elementwise: a number for a number, an array of the same shape for an array. Pure: x is "
            "not modified.",
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
        Mistake("x squared in place", "`x *= x` (or `x **= 2`) changes the caller's array: return a new one, "
                "`return x * x`", _squared_in_place, modifies="x"),
    ),
    rtol=1e-12, atol=0.0, tolerance=_EXACT,
    edges=_ELEMENTWISE_EDGES,
)

DF = Exercise(
    name="df",
    lab="lab01",
    signature="def df(x):",
    summary="f'(x) = 2*x, the derivative of f(x) = x**2, elementwise (number or array). Pure: x is not modified.",
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
        Mistake("x doubled in place", "`x *= 2` changes the caller's array: return a new one, `return 2 * x`",
                _doubled_in_place, modifies="x"),
    ),
    rtol=1e-12, atol=0.0, tolerance=_EXACT,
    edges=_ELEMENTWISE_EDGES,
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


# A diverging run overflows (x * (1 - 2 lr) grows past 1e308, then inf - inf): numpy's warnings are the point.
_OVERFLOW = ("RuntimeWarning: overflow encountered", "RuntimeWarning: invalid value encountered")


def _gd_case(grad, x0, lr, n_steps, tol, what, *, tie=False):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # the reference's DivergenceWarning
        n_finite = len(optim.gradient_descent(grad, x0, lr, n_steps, tol))
    diverges = n_finite < n_steps + 1 and (tol is None or not _stopped_by_tol(grad, x0, lr, n_finite, tol))
    label = f"{what}, {shape_of('x0', x0)}, lr={lr:g}, n_steps={n_steps}" + (f", tol={tol:g}" if tol else "")
    if diverges:
        label += f" (diverges: overflow after {n_finite - 1} steps)"
    if tie:
        label += " (||grad|| reaches exactly tol: not below it)"
    return Case(label=label, grad=grad, x0=x0, lr=lr, n_steps=n_steps, tol=tol, n_finite=n_finite, diverges=diverges,
                tie=tie, expected_warnings=_OVERFLOW if diverges else ())


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
        # x_t = 0.5**t and ||grad|| = 2**(1 - t), all exact in binary: at t = 3 it EQUALS tol = 0.25
        _gd_case(_square_grad, 1.0, 0.25, 20, 0.25, _SQUARE, tie=True),
        _gd_case(bowl, np.array([0.5, 1.5]), 0.05, 0, None, "f(x) = x1**2 + 5 x2**2 (grad [2, 10] * x)"),
        # equal entries: ||grad|| (the 2-norm) is sqrt(2) times its largest entry, so they stop 3 steps apart
        _gd_case(_Bowl([2.0, 2.0]), np.array([1.0, -1.0]), 0.05, 100, 1e-2, "f(x) = x1**2 + x2**2 (grad 2x)"),
    ]


def _gd_hidden(rng):
    sign = rng.choice([-1.0, 1.0])
    d = int(rng.integers(3, 6))
    c = rng.uniform(1.0, 10.0, size=d)
    k = int(rng.integers(2, 5))
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
        # x0 = -2**k, lr = 0.25: ||grad(x_t)|| = 2**(k + 1 - t) reaches tol = 2**-2 exactly
        _gd_case(_square_grad, -float(2**k), 0.25, 30, 0.25, _SQUARE, tie=True),
        _gd_case(_Bowl(np.full(d, c[0])), float(rng.uniform(1, 3)) * rng.choice([-1.0, 1.0], size=d),
                 float(rng.uniform(0.05, 0.2)) / c[0], 300, float(10 ** rng.uniform(-3, -2)),  # factor 0.8 to 0.95
                 f"f(x) = c sum(x_i**2) / 2 in {d} dimensions"),
    ]


def _drive_gd(run, fn, c):
    kwargs = {} if c.tol is None else {"tol": c.tol}
    got = run.call(fn, c.grad, c.x0, c.lr, c.n_steps, **kwargs)
    if c.diverges and _numeric(got) and np.ndim(got) >= 1 and len(got) > c.n_finite:
        # Only the finite prefix is compared. After it a loop may stop, or carry on with inf/nan; one more
        # finite row is tolerated (x * (1 - 2 lr) overflows a step later than x - lr * 2x).
        later = np.asarray(got, dtype=float)[c.n_finite + 1:]
        finite_rows = np.isfinite(later).all(axis=tuple(range(1, later.ndim)))
        if finite_rows.any():
            row = c.n_finite + 1 + int(np.argmax(finite_rows))
            run.require(False, "iterates", f"the iterates overflow after step {c.n_finite - 1}, so row {row} "
                        f"cannot be finite")
        got = np.asarray(got, dtype=float)[: c.n_finite]
    run.record("iterates" + (" (the finite ones)" if c.diverges else ""), got)


def _steps_apart(c):
    """Would the max-norm stopping rule stop at another step than the 2-norm one on this case?"""
    def stop(norm):
        x = np.asarray(c.x0, dtype=float)
        for t in range(c.n_steps):
            g = c.grad(x)
            if norm(g) < c.tol:
                return t
            x = x - c.lr * g
        return c.n_steps
    return stop(np.linalg.norm) != stop(lambda g: np.abs(g).max())


def _numeric(value):
    try:
        arr = np.asarray(value)
    except Exception:
        return False
    return arr.dtype.kind in "iuf"


def gradient_descent(grad, x0, lr, n_steps, tol=None):
    return optim.gradient_descent(grad, x0, lr, n_steps, tol)


def _gd_variant(*, stop_on_x=False, skip_x0=False, ascent=False, late_stop=False, non_strict=False,
                in_place=False, shared_rows=False):
    def gd(grad, x0, lr, n_steps, tol=None):
        x = np.array(x0, dtype=float) if shared_rows else np.asarray(x0, dtype=float)
        iterates = [] if skip_x0 else [x if shared_rows else x.copy()]
        with np.errstate(all="ignore"):
            for _ in range(n_steps):
                g = np.asarray(grad(x), dtype=float)
                size = np.linalg.norm(x if stop_on_x else g)
                if tol is not None and not late_stop and (size <= tol if non_strict else size < tol):
                    break
                if in_place or shared_rows:
                    x -= lr * g
                else:
                    x = x + lr * g if ascent else x - lr * g
                iterates.append(x if shared_rows else x.copy())
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
            "(x_t is then the last). Pure: x0 is not modified.",
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
        Mistake("stops when ||grad|| equals tol", "stop only when the gradient is strictly BELOW tol, "
                "`np.linalg.norm(g) < tol`; at ||grad|| == tol take one more step", _gd_variant(non_strict=True)),
        Mistake("iterates share one array", "`x -= lr * g` changes the one array every row of the list refers "
                "to, so all rows end up equal: compute a new array each step, `x = x - lr * g`",
                _gd_variant(shared_rows=True)),
        Mistake("x0 updated in place", "`x = np.asarray(x0)` is x0 itself for a float array, so `x -= lr * g` "
                "changes the caller's x0 (lab 1's sweeps then start at the minimum): `x = x - lr * g`",
                _gd_variant(in_place=True), modifies="x0"),
    ),
    rtol=1e-10, atol=0.0,
    tolerance="up to 300 steps, each adding at most a few ulps of relative rounding error in equivalent forms "
              "(x * (1 - 2 lr) for x - lr * 2x, c * x or x * c): about 1e-13 relative at worst; iterates shrink "
              "or grow geometrically, so the tolerance is relative only (atol 0: x0 = 0 stays exactly 0)",
    edges=(
        Edge("x0 a number", lambda c: np.ndim(c.x0) == 0),
        Edge("x0 a vector (updating x0 in place shows)", lambda c: np.ndim(c.x0) == 1),
        Edge("a vector whose 2-norm and largest entry reach tol at different steps (the norm is the 2-norm)",
             lambda c: c.tol is not None and np.ndim(c.x0) == 1 and _steps_apart(c)),
        Edge("tol None: exactly n_steps steps", lambda c: c.tol is None and not c.diverges),
        Edge("tol given: stops early", lambda c: c.tol is not None),
        Edge("||grad|| exactly equal to tol: not below it, take one more step", lambda c: c.tie),
        Edge("gradient exactly 0 at x0: one row", lambda c: np.all(np.asarray(c.x0) == 0), hidden=False),
        Edge("n_steps = 0: one row", lambda c: c.n_steps == 0, hidden=False),
        Edge("oscillation, |1 - 2 lr| > 1 (lr = 1.5)", lambda c: 1 < c.lr < 2 and not c.diverges),
        Edge("divergence to overflow (expected overflow warnings are not reported)", lambda c: c.diverges),
    ),
)

register(F, DF, GRADIENT_DESCENT)
