"""lablib.plots: the Axes-level helpers draw exactly the data they are given, on the window asked for."""
import numpy as np
import pytest
from matplotlib.figure import Figure

from lablib import landscapes, schedules
from lablib.plots import plot_gd_1d, plot_landscape, plot_lr_schedules, plot_path


@pytest.fixture
def ax():
    return Figure().subplots()


def line_labelled(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


@pytest.mark.parametrize("make", [landscapes.quadratic_bowl, landscapes.saddle, landscapes.local_global_minima,
                                  landscapes.rosenbrock])
def test_plot_landscape_marks_the_critical_points_on_the_window(ax, make):
    land = make()
    plot_landscape(ax, land)
    assert ax.get_xlim() == land.xlim and ax.get_ylim() == land.ylim
    np.testing.assert_array_equal(line_labelled(ax, "minimum").get_xydata(), np.array(land.minima))
    if land.saddles:
        np.testing.assert_array_equal(line_labelled(ax, "saddle").get_xydata(), np.array(land.saddles))
    else:
        assert all(line.get_label() != "saddle" for line in ax.lines)
    assert ax.get_title() == land.name


def test_plot_landscape_levels_split_the_window_into_equal_areas(ax):
    land = landscapes.rosenbrock()
    contours = plot_landscape(ax, land, levels=9, resolution=101)
    xs, ys = np.linspace(*land.xlim, 101), np.linspace(*land.ylim, 101)
    z = np.array([[land.f(np.array([x, y])) for x in xs] for y in ys])
    levels = np.asarray(contours.levels)
    assert len(levels) == 9 and np.all(np.diff(levels) > 0)
    # the i-th of 9 levels has i/10 of the grid below it (quantiles), up to one grid point per level
    below = np.array([(z < level).mean() for level in levels])
    np.testing.assert_allclose(below, np.arange(1, 10) / 10, atol=2 / z.size)


def test_plot_landscape_custom_window_and_a_path_drawn_after_it_does_not_rescale(ax):
    land = landscapes.saddle()
    plot_landscape(ax, land, xlim=(-1, 1), ylim=(-0.5, 2))
    plot_path(ax, [[0.0, 0.0], [50.0, -80.0]], label="far away")
    assert ax.get_xlim() == (-1, 1) and ax.get_ylim() == (-0.5, 2)


def test_plot_path_draws_the_iterates_in_order(ax):
    path = np.array([[1.0, 2.0], [0.5, 1.0], [0.25, 0.5]])
    line = plot_path(ax, path, label="GD", color="tab:red")
    np.testing.assert_array_equal(line.get_xydata(), path)
    assert line.get_label() == "GD"
    start = [other for other in ax.lines if other is not line]
    assert len(start) == 1 and start[0].get_xydata().tolist() == [[1.0, 2.0]]


def test_plot_gd_1d_draws_f_and_the_points_on_it(ax):
    path = np.array([2.0, -1.0, 0.5])
    curve, iterates = plot_gd_1d(ax, landscapes.square, path)
    np.testing.assert_array_equal(iterates.get_xdata(), path)
    np.testing.assert_array_equal(iterates.get_ydata(), path**2)
    x = curve.get_xdata()
    np.testing.assert_allclose(curve.get_ydata(), x**2)
    # default window: the iterates' range [-1, 2] padded by a quarter of max(width 3, |-1|, |2|) = 0.75
    assert ax.get_xlim() == pytest.approx((-1.75, 2.75))
    assert (x[0], x[-1]) == pytest.approx((-1.75, 2.75))


def test_plot_gd_1d_window_given(ax):
    curve, _ = plot_gd_1d(ax, np.cos, [0.3], xlim=(-4, 4), resolution=9)
    np.testing.assert_allclose(curve.get_xdata(), np.arange(-4, 5))
    np.testing.assert_allclose(curve.get_ydata(), np.cos(np.arange(-4, 5)))


def test_plot_lr_schedules_draws_each_schedule(ax):
    t = np.arange(0, 500, 10.0)
    lines = plot_lr_schedules(ax, {"power": schedules.power(0.1, s=50), "exp": schedules.exponential(0.1, s=100)}, t)
    assert [line.get_label() for line in lines] == ["power", "exp"]
    np.testing.assert_allclose(lines[0].get_ydata(), 0.1 / (1 + t / 50))
    np.testing.assert_allclose(lines[1].get_ydata(), 0.1 * 0.1 ** (t / 100))
    assert ax.get_yscale() == "log"
    plot_lr_schedules(ax, {}, t, log=False)
    assert ax.get_yscale() == "linear"


def test_bad_arguments_name_the_argument(ax):
    land = landscapes.quadratic_bowl()
    with pytest.raises(TypeError, match="ax"):
        plot_path("not an axes", [[0.0, 0.0]])
    with pytest.raises(TypeError, match="landscape"):
        plot_landscape(ax, "rosenbrock")
    with pytest.raises(ValueError, match="xlim"):
        plot_landscape(ax, land, xlim=(1, -1))
    with pytest.raises(ValueError, match="ylim"):
        plot_landscape(ax, land, ylim=(0, 1, 2))
    with pytest.raises(ValueError, match="levels"):
        plot_landscape(ax, land, levels=0)
    with pytest.raises(ValueError, match="path"):
        plot_path(ax, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="path"):
        plot_path(ax, [[0.0, np.nan]])
    with pytest.raises(ValueError, match="path"):
        plot_gd_1d(ax, landscapes.square, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="path"):
        plot_gd_1d(ax, landscapes.square, [])
    with pytest.raises(TypeError, match="f must be"):
        plot_gd_1d(ax, 3.0, [1.0])
    with pytest.raises(ValueError, match="t must be >= 0"):
        plot_lr_schedules(ax, {"p": schedules.power(0.1, 10)}, [-1.0, 0.0])
    with pytest.raises(TypeError, match="schedules"):
        plot_lr_schedules(ax, [schedules.power(0.1, 10)], [0.0])
