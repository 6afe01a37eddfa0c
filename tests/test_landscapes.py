"""lablib.landscapes: gradients vs central differences, critical points, and gradient descent on them."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib import landscapes, optim

ALL = {
    "bowl": landscapes.quadratic_bowl(),
    "bowl_custom": landscapes.quadratic_bowl(a=2.0, b=50.0),
    "saddle": landscapes.saddle(),
    "local_global": landscapes.local_global_minima(),
    "rosenbrock": landscapes.rosenbrock(),
    "rosenbrock_custom": landscapes.rosenbrock(a=-0.5, b=10.0),
}


def central_difference(f, p, h=1e-6):
    """(f(p + h e_i) - f(p - h e_i)) / 2h for i = x, y; written here, independent of lablib."""
    p = np.asarray(p, dtype=float)
    return np.array([(f(p + h * e) - f(p - h * e)) / (2 * h) for e in np.eye(2)])


def hessian(grad, p, h=1e-5):
    p = np.asarray(p, dtype=float)
    return np.array([(grad(p + h * e) - grad(p - h * e)) / (2 * h) for e in np.eye(2)])


def test_square_and_its_gradient():
    assert landscapes.square(3.0) == 9.0 and isinstance(landscapes.square(3.0), float)
    assert landscapes.square_grad(-1.5) == -3.0 and isinstance(landscapes.square_grad(2), float)
    x = np.array([[-2.0, 0.5], [0.0, 3.0]])
    np.testing.assert_array_equal(landscapes.square(x), x * x)
    np.testing.assert_array_equal(landscapes.square_grad(x), x + x)
    for x0 in (-1.3, 0.2, 7.0):
        numeric = (landscapes.square(x0 + 1e-6) - landscapes.square(x0 - 1e-6)) / 2e-6
        assert landscapes.square_grad(x0) == pytest.approx(numeric, rel=1e-8)


def test_squared_cubic_is_the_lectures_chain_rule_example():
    # g(x) = (3x^3 + 2)^2, g'(x) = 54x^5 + 36x^2 (the lecture): values by hand at exact binary points
    assert landscapes.squared_cubic(1.0) == 25.0 and isinstance(landscapes.squared_cubic(1.0), float)
    assert landscapes.squared_cubic(-1.0) == 1.0 and landscapes.squared_cubic(0.0) == 4.0
    assert landscapes.squared_cubic_grad(1.0) == 90.0 and isinstance(landscapes.squared_cubic_grad(2), float)
    assert landscapes.squared_cubic_grad(-1.0) == -18.0 and landscapes.squared_cubic_grad(0.0) == 0.0
    assert landscapes.squared_cubic_grad(0.5) == 54 / 32 + 36 / 4
    x = np.array([[-2.0, 0.5], [0.0, 3.0]])
    np.testing.assert_allclose(landscapes.squared_cubic_grad(x), 54 * x**5 + 36 * x**2, rtol=1e-15)
    for x0 in (-1.3, -(2 / 3) ** (1 / 3), 0.2, 2.5):
        numeric = (landscapes.squared_cubic(x0 + 1e-6) - landscapes.squared_cubic(x0 - 1e-6)) / 2e-6
        assert landscapes.squared_cubic_grad(x0) == pytest.approx(numeric, rel=1e-7, abs=1e-7)
    with pytest.raises(ValueError, match="x"):
        landscapes.squared_cubic_grad(np.nan)


@pytest.mark.parametrize("name", ALL)
def test_gradient_matches_central_differences(name):
    land = ALL[name]
    rng = np.random.default_rng(1)
    lo = np.array([land.xlim[0], land.ylim[0]])
    hi = np.array([land.xlim[1], land.ylim[1]])
    for p in rng.uniform(lo, hi, size=(20, 2)):
        np.testing.assert_allclose(land.grad(p), central_difference(land.f, p), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_grid_shapes_and_pointwise_agreement(name):
    land = ALL[name]
    X, Y = np.meshgrid(np.linspace(*land.xlim, 5), np.linspace(*land.ylim, 4))
    grid = np.stack([X, Y], axis=-1)
    Z, G = land.f(grid), land.grad(grid)
    assert Z.shape == (4, 5) and G.shape == (4, 5, 2)
    assert isinstance(land.f(grid[1, 2]), float) and land.grad(grid[1, 2]).shape == (2,)
    assert Z[1, 2] == land.f(grid[1, 2])
    np.testing.assert_array_equal(G[1, 2], land.grad(grid[1, 2]))


@pytest.mark.parametrize("name", ALL)
def test_critical_points_have_zero_gradient_and_the_right_curvature(name):
    land = ALL[name]
    assert land.minima, "every landscape has at least one minimum"
    for p in land.minima:
        assert np.all(land.grad(np.array(p)) == 0)
        eig = np.linalg.eigvalsh(hessian(land.grad, p))
        assert np.all(eig > 0), f"{p} should be a minimum, Hessian eigenvalues {eig}"
    for p in land.saddles:
        assert np.all(land.grad(np.array(p)) == 0)
        eig = np.linalg.eigvalsh(hessian(land.grad, p))
        assert eig.min() < 0 < eig.max(), f"{p} should be a saddle, Hessian eigenvalues {eig}"
    for p in land.minima + land.saddles:
        assert land.xlim[0] < p[0] < land.xlim[1] and land.ylim[0] < p[1] < land.ylim[1]


def test_documented_values():
    bowl = landscapes.quadratic_bowl(a=2.0, b=6.0)
    assert bowl.f(np.array([1.0, 1.0])) == 4.0  # (2 + 6) / 2
    np.testing.assert_array_equal(bowl.grad(np.array([1.0, -1.0])), [2.0, -6.0])
    s = landscapes.saddle()
    assert s.minima == ((0.0, -1.0), (0.0, 1.0)) and s.saddles == ((0.0, 0.0),)
    assert s.f(np.array([0.0, 1.0])) == -0.25
    lg = landscapes.local_global_minima()
    assert lg.minima == ((-2.0, 0.0), (1.0, 0.0)) and lg.saddles == ((0.0, 0.0),)
    assert lg.f(np.array([-2.0, 0.0])) == pytest.approx(-8 / 3, rel=1e-15)
    assert lg.f(np.array([1.0, 0.0])) == pytest.approx(-5 / 12, rel=1e-15)
    assert lg.f(np.array([0.0, 0.0])) == 0.0
    # the global minimum is the lowest point of a fine grid over the window
    X, Y = np.meshgrid(np.linspace(*lg.xlim, 501), np.linspace(*lg.ylim, 301))
    Z = lg.f(np.stack([X, Y], axis=-1))
    i = np.unravel_index(np.argmin(Z), Z.shape)
    assert (X[i], Y[i]) == pytest.approx((-2.0, 0.0), abs=0.02)
    r = landscapes.rosenbrock(a=1.0, b=100.0)
    assert r.minima == ((1.0, 1.0),) and r.f(np.array([1.0, 1.0])) == 0.0
    assert r.f(np.array([0.0, 0.0])) == 1.0 and r.f(np.array([-1.0, 1.0])) == 4.0
    assert dataclasses.is_dataclass(r) and "Rosenbrock" in r.name


def test_landscape_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        landscapes.saddle().name = "other"


def test_gradient_descent_finds_the_documented_behaviour():
    lg = landscapes.local_global_minima()
    to_local = optim.gradient_descent(lg.grad, np.array([1.8, 0.5]), 0.05, 2000, tol=1e-10)
    to_global = optim.gradient_descent(lg.grad, np.array([-0.5, 0.5]), 0.05, 2000, tol=1e-10)
    np.testing.assert_allclose(to_local[-1], [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(to_global[-1], [-2.0, 0.0], atol=1e-9)

    s = landscapes.saddle()
    stuck = optim.gradient_descent(s.grad, np.array([1.0, 0.0]), 0.1, 500)
    escaped = optim.gradient_descent(s.grad, np.array([1.0, 1e-3]), 0.1, 500)
    np.testing.assert_allclose(stuck[-1], [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(escaped[-1], [0.0, 1.0], atol=1e-9)

    bowl = landscapes.quadratic_bowl(a=1.0, b=10.0)  # GD is stable iff lr < 2 / b = 0.2
    with pytest.warns(optim.DivergenceWarning):
        optim.gradient_descent(bowl.grad, np.array([1.0, 1.0]), 0.21, 10_000)
    ok = optim.gradient_descent(bowl.grad, np.array([1.0, 1.0]), 0.19, 2000)
    np.testing.assert_allclose(ok[-1], [0.0, 0.0], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 10), st.floats(0.1, 100), st.floats(-3, 3), st.floats(-3, 3))
def test_parametrised_landscapes_gradients(a, b, x, y):
    p = np.array([x, y])
    bowl = landscapes.quadratic_bowl(a, b)
    np.testing.assert_allclose(bowl.grad(p), [a * x, b * y], rtol=1e-15)
    r = landscapes.rosenbrock(a=a, b=b)
    scale = 1 + np.abs(r.grad(p))
    np.testing.assert_allclose(r.grad(p) / scale, central_difference(r.f, p, h=1e-5) / scale, atol=1e-5)
    assert r.f(np.array(r.minima[0])) == 0.0


def test_bad_input():
    land = landscapes.saddle()
    for bad in (np.zeros(3), np.zeros((4, 3)), 1.0):
        with pytest.raises(ValueError, match="xy"):
            land.f(bad)
        with pytest.raises(ValueError, match="xy"):
            land.grad(bad)
    with pytest.raises(ValueError, match="xy"):
        land.f(np.array([np.nan, 0.0]))
    with pytest.raises(TypeError, match="xy"):
        land.grad("1, 2")
    with pytest.raises(ValueError, match="x"):
        landscapes.square(np.inf)
    with pytest.raises(TypeError, match="x"):
        landscapes.square_grad("3")
    for make, match in [
        (lambda: landscapes.quadratic_bowl(a=0.0), "a"),
        (lambda: landscapes.quadratic_bowl(b=-1.0), "b"),
        (lambda: landscapes.rosenbrock(b=0.0), "b"),
        (lambda: landscapes.rosenbrock(a=np.nan), "a"),
    ]:
        with pytest.raises(ValueError, match=match):
            make()
