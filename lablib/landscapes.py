"""Small loss landscapes with exact gradients, for gradient-descent labs and contour plots.

``square``/``square_grad`` are the course's f(x) = x^2 and f'(x) = 2x; ``squared_cubic``/``squared_cubic_grad``
the lecture's chain-rule example g(x) = (3x^3 + 2)^2, g'(x) = 54x^5 + 36x^2. A ``Landscape`` bundles a 2-D function
f(x, y), its gradient, its known minima and saddle points and a sensible plotting window. ``f`` and ``grad``
take an array of shape (2,) or (..., 2), e.g. ``np.stack(np.meshgrid(xs, ys), axis=-1)`` for a contour grid;
``f`` returns shape (...) and ``grad`` shape (..., 2).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._validate import as_float_array, check_positive

__all__ = [
    "square",
    "square_grad",
    "squared_cubic",
    "squared_cubic_grad",
    "Landscape",
    "quadratic_bowl",
    "saddle",
    "local_global_minima",
    "rosenbrock",
]


def square(x):
    """f(x) = x^2 (number or array, elementwise)."""
    x = as_float_array(x, "x")
    return x**2 if x.ndim else float(x**2)


def square_grad(x):
    """f'(x) = 2x (number or array, elementwise)."""
    x = as_float_array(x, "x")
    return 2.0 * x if x.ndim else float(2.0 * x)


def squared_cubic(x):
    """g(x) = (3x^3 + 2)^2 (number or array, elementwise): the lecture's chain-rule example, g = u^2 of
    u(x) = 3x^3 + 2."""
    x = as_float_array(x, "x")
    g = (3.0 * x**3 + 2.0) ** 2
    return g if x.ndim else float(g)


def squared_cubic_grad(x):
    """g'(x) = 54x^5 + 36x^2 (number or array, elementwise), by the chain rule
    dg/dx = dg/du * du/dx = 2u * 9x^2 = 18x^2 (3x^3 + 2). Computed in the factored form: no cancellation near
    the root of u, x^3 = -2/3, where the expanded form's two terms (about 27 each) cancel."""
    x = as_float_array(x, "x")
    dg = 18.0 * x**2 * (3.0 * x**3 + 2.0)
    return dg if x.ndim else float(dg)


@dataclass(frozen=True)
class Landscape:
    """A 2-D test function: f(xy), grad(xy), known critical points and a plotting window.

    minima and saddles are tuples of (x, y) points; xlim and ylim are (low, high).
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    minima: tuple
    saddles: tuple
    xlim: tuple
    ylim: tuple


def _split(xy):
    xy = as_float_array(xy, "xy")
    if xy.ndim == 0 or xy.shape[-1] != 2:
        raise ValueError(f"xy must have shape (2,) or (..., 2), got {xy.shape}")
    return xy[..., 0], xy[..., 1]


def _result(value: np.ndarray):
    return float(value) if value.ndim == 0 else value


def quadratic_bowl(a=1.0, b=10.0) -> Landscape:
    """f(x, y) = (a x^2 + b y^2) / 2, grad = (a x, b y); minimum (0, 0).

    The Hessian is diag(a, b): condition number b/a, so gradient descent zig-zags across the narrow y
    direction when b/a is large (it diverges for lr > 2/b and crawls along x at rate 1 - lr*a).
    """
    a, b = check_positive(a, "a"), check_positive(b, "b")

    def f(xy):
        x, y = _split(xy)
        return _result((a * x**2 + b * y**2) / 2)

    def grad(xy):
        x, y = _split(xy)
        return np.stack([a * x, b * y], axis=-1)

    return Landscape(f"quadratic bowl (a={a:g}, b={b:g})", f, grad, ((0.0, 0.0),), (), (-3.0, 3.0), (-2.0, 2.0))


def saddle() -> Landscape:
    """f(x, y) = x^2/2 + y^4/4 - y^2/2, grad = (x, y^3 - y): saddle (0, 0), minima (0, -1) and (0, 1), f = -1/4.

    Near the origin it is the classic saddle (x^2 - y^2)/2 (Hessian diag(1, -1)), but the way down is bounded:
    gradient descent started exactly on y = 0 converges to the saddle; any y != 0 escapes to a minimum.
    """

    def f(xy):
        x, y = _split(xy)
        return _result(x**2 / 2 + y**4 / 4 - y**2 / 2)

    def grad(xy):
        x, y = _split(xy)
        return np.stack([x, y**3 - y], axis=-1)

    return Landscape("saddle", f, grad, ((0.0, -1.0), (0.0, 1.0)), ((0.0, 0.0),), (-2.0, 2.0), (-2.0, 2.0))


def local_global_minima() -> Landscape:
    """f(x, y) = x^4/4 + x^3/3 - x^2 + y^2/2, so df/dx = x (x - 1) (x + 2) and df/dy = y.

    Global minimum (-2, 0), f = -8/3; local minimum (1, 0), f = -5/12; between them a saddle at (0, 0), f = 0
    (a maximum along x). Gradient descent from x0 > 0 (with y0 anything) ends in the local minimum.
    """

    def f(xy):
        x, y = _split(xy)
        return _result(x**4 / 4 + x**3 / 3 - x**2 + y**2 / 2)

    def grad(xy):
        x, y = _split(xy)
        return np.stack([x * (x - 1) * (x + 2), y], axis=-1)

    return Landscape(
        "local and global minima", f, grad, ((-2.0, 0.0), (1.0, 0.0)), ((0.0, 0.0),), (-3.0, 2.0), (-1.5, 1.5)
    )


def rosenbrock(a=1.0, b=100.0) -> Landscape:
    """f(x, y) = (a - x)^2 + b (y - x^2)^2, grad = (-2 (a - x) - 4 b x (y - x^2), 2 b (y - x^2)).

    One minimum (a, a^2) at the end of a long curved flat valley: hard for plain gradient descent.
    """
    a, b = float(as_float_array(a, "a", ndim=0)), check_positive(b, "b")

    def f(xy):
        x, y = _split(xy)
        return _result((a - x) ** 2 + b * (y - x**2) ** 2)

    def grad(xy):
        x, y = _split(xy)
        return np.stack([-2 * (a - x) - 4 * b * x * (y - x**2), 2 * b * (y - x**2)], axis=-1)

    return Landscape(
        f"Rosenbrock (a={a:g}, b={b:g})", f, grad, ((a, a * a),), (), (a - 3.0, a + 1.0), (a * a - 2.0, a * a + 2.0)
    )
