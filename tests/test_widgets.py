"""lablib.widgets: every explorer driven from Python (no browser): each control change recomputes .data as
lablib (or a closed form) does, redraws the figure, and hides neither exceptions nor warnings."""
import math
import subprocess
from pathlib import Path

import ipywidgets
import numpy as np
import pytest

from lablib import data, landscapes, nn, optim, schedules
from lablib import widgets as W

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def quiet(capfd, recwarn):
    """Nothing on stdout/stderr and no warning escapes (the explorers show them in their status line)."""
    yield
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert [str(w.message) for w in recwarn] == []


def line_labelled(ax, label):
    (line,) = [line for line in ax.lines if line.get_label() == label]
    return line


def redraws(ex, name, value):
    """Set a control as a slider move would; check that the picture was re-rendered; return the new data."""
    before = ex.image.value
    ex.controls[name].value = value
    assert ex.image.value != before and ex.image.value[:4] == b"\x89PNG"
    assert ex.error is None
    return ex.data


# --------------------------------------------------------------------------------------------- the mechanics


def test_an_explorer_is_a_widget_with_its_controls_picture_and_status():
    ex = W.gd_explorer()
    assert isinstance(ex.widget, ipywidgets.VBox)
    controls_box, image, status = ex.widget.children
    assert list(controls_box.children) == list(ex.controls.values())
    assert image is ex.image and status is ex.status
    assert ex.image.value[:4] == b"\x89PNG"
    assert callable(ex._ipython_display_)
    assert ex.values() == {"lr": 0.1, "x0": 1.0, "n_steps": 20}
    assert isinstance(ex.controls["lr"], ipywidgets.FloatLogSlider)
    assert (ex.controls["lr"].min, ex.controls["lr"].max) == (-3, 3)  # 1e-3 .. 1e3


def test_an_error_in_the_students_function_is_shown_kept_and_raised():
    calls = {"fail": False}

    def student_gd(grad, x0, lr, n_steps):
        if calls["fail"]:
            raise NotImplementedError("write gradient_descent first")
        return optim.gradient_descent(grad, x0, lr, n_steps)

    ex = W.gd_explorer(gradient_descent=student_gd)
    good_data, good_image = ex.data, ex.image.value
    calls["fail"] = True
    with pytest.raises(NotImplementedError, match="write gradient_descent first"):
        ex.controls["lr"].value = 0.3
    assert isinstance(ex.error, NotImplementedError)
    assert "NotImplementedError: write gradient_descent first" in ex.status.value
    assert "Traceback" in ex.status.value
    assert ex.data is good_data and ex.image.value == good_image  # the last good state stays on screen
    calls["fail"] = False
    ex.controls["lr"].value = 0.2
    assert ex.error is None and "Traceback" not in ex.status.value


def test_what_the_students_function_prints_is_shown_not_lost():
    def student_gd(grad, x0, lr, n_steps):
        print(f"debug: lr={lr}")
        if lr > 0.5:
            raise ValueError("lr too large for my gd")
        return optim.gradient_descent(grad, x0, lr, n_steps)

    ex = W.gd_explorer(gradient_descent=student_gd, lr=0.1)
    assert ex.printed == "debug: lr=0.1\n" and "debug: lr=0.1" in ex.status.value
    with pytest.raises(ValueError, match="lr too large"):
        ex.controls["lr"].value = 0.8
    assert ex.printed == "debug: lr=0.8\n"
    assert "debug: lr=0.8" in ex.status.value and "ValueError: lr too large for my gd" in ex.status.value


def test_a_broken_student_function_fails_at_construction():
    def student_gd(grad, x0, lr, n_steps):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        W.gd_explorer(gradient_descent=student_gd)


# --------------------------------------------------------------------------------------------- 1. gd_explorer


def test_gd_explorer_follows_the_closed_form_and_lablib():
    ex = W.gd_explorer(lr=0.1, x0=1.0, n_steps=20)
    np.testing.assert_allclose(ex.data["path"], 0.8 ** np.arange(21), rtol=1e-12)  # x_t = x0 (1 - 2 lr)^t
    for name, value in (("lr", 0.3), ("x0", -2.5), ("n_steps", 7), ("lr", 0.75)):
        d = redraws(ex, name, value)
        lr, x0, n = ex.values()["lr"], ex.values()["x0"], ex.values()["n_steps"]
        np.testing.assert_array_equal(d["path"], optim.gradient_descent(landscapes.square_grad, x0, lr, n))
        np.testing.assert_allclose(d["path"], x0 * (1 - 2 * lr) ** np.arange(n + 1), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(d["closed_form"], abs(x0) * abs(1 - 2 * lr) ** np.arange(n + 1))
        np.testing.assert_array_equal(d["abs_x"], np.abs(d["path"]))
        np.testing.assert_array_equal(d["f_path"], d["path"] ** 2)
        ax_f, ax_abs = ex.axes
        np.testing.assert_array_equal(line_labelled(ax_f, "iterates x_t").get_xdata(), d["path"])
        np.testing.assert_array_equal(line_labelled(ax_abs, "|x_t|").get_ydata(), d["abs_x"])
        assert ax_abs.get_yscale() == "log"
    assert "converges" in ex.caption
    d = redraws(ex, "x0", 0.0)  # started at the minimum: zeros, no log axis, no warning
    np.testing.assert_array_equal(d["path"], np.zeros(8))
    assert ex.warnings == [] and ex.axes[1].get_yscale() == "linear"


def test_gd_explorer_says_when_it_diverges_and_keeps_the_warning_off_stderr():
    ex = W.gd_explorer(lr=1.0)
    assert "oscillates" in ex.caption
    np.testing.assert_array_equal(ex.data["path"], (-1.0) ** np.arange(21))
    redraws(ex, "lr", 2.0)
    assert "diverges" in ex.caption and ex.warnings == []
    np.testing.assert_array_equal(ex.data["path"], (-3.0) ** np.arange(21))
    ex.controls["n_steps"].value = 100
    redraws(ex, "lr", 1000.0)  # |x_t| = 1999^t overflows after ~93 steps: lablib stops and warns
    assert len(ex.warnings) == 1 and ex.warnings[0].startswith("DivergenceWarning")
    assert "DivergenceWarning" in ex.status.value and "stopped at step" in ex.caption
    assert np.all(np.isfinite(ex.data["path"])) and len(ex.data["path"]) < 101


def test_gd_explorer_shows_the_finite_iterates_of_a_students_gd_that_runs_into_inf():
    def student_gd(grad, x0, lr, n_steps, tol=None):
        xs = [float(x0)]
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(n_steps):
                xs.append(xs[-1] - lr * grad(xs[-1]))   # no divergence check: overflows to inf, then nan
        return np.array(xs)

    # the student's own f and f' (lablib's square_grad would refuse the inf input with a ValueError)
    ex = W.gd_explorer(lambda x: x * x, lambda x: 2 * x, gradient_descent=student_gd, lr=1000.0, n_steps=100)
    assert ex.error is None
    path = ex.data["path"]
    assert 90 < len(path) < 101 and np.all(np.isfinite(path)) and ex.data["cut_non_finite"]
    np.testing.assert_allclose(path, (-1999.0) ** np.arange(len(path)), rtol=1e-12)
    assert f"x_{len(path)} is not finite: diverged" in ex.caption


def test_gd_explorer_with_the_students_functions():
    seen = []

    def student_gd(grad, x0, lr, n_steps, tol=None):
        seen.append((x0, lr, n_steps))
        return optim.gradient_descent(grad, x0, lr, n_steps)

    ex = W.gd_explorer(lambda x: (x - 1) ** 2, lambda x: 2 * (x - 1), gradient_descent=student_gd, x0=3.0, lr=0.25)
    np.testing.assert_allclose(ex.data["path"], 1 + 2 * 0.5 ** np.arange(21))  # x_t - 1 = (x0 - 1)(1 - 2 lr)^t
    assert "closed_form" not in ex.data
    redraws(ex, "n_steps", 3)
    assert seen[-1] == (3.0, 0.25, 3)


def test_gd_explorer_bad_arguments():
    with pytest.raises(ValueError, match="lr"):
        W.gd_explorer(lr=0.0)
    with pytest.raises(ValueError, match=r"lr must be in \[0.001, 1000\]"):
        W.gd_explorer(lr=5000.0)
    with pytest.raises(ValueError, match="x0"):
        W.gd_explorer(x0=np.nan)
    with pytest.raises(ValueError, match="x0"):
        W.gd_explorer(x0=7.0)
    with pytest.raises(ValueError, match="n_steps"):
        W.gd_explorer(n_steps=-1)
    with pytest.raises(TypeError, match="n_steps"):
        W.gd_explorer(n_steps=2.5)
    with pytest.raises(ValueError, match="f and grad"):
        W.gd_explorer(f=landscapes.square)
    with pytest.raises(TypeError, match="gradient_descent"):
        W.gd_explorer(gradient_descent="gd")


# --------------------------------------------------------------------------------------------- 2. gd2d_explorer


def test_gd2d_explorer_on_a_bowl_follows_the_closed_form():
    a, b = 1.0, 10.0
    ex = W.gd2d_explorer(landscapes.quadratic_bowl(a, b), lr=0.05, start=(2.0, 1.5), n_steps=30)
    t = np.arange(31)
    expected = np.column_stack([2.0 * (1 - 0.05 * a) ** t, 1.5 * (1 - 0.05 * b) ** t])
    np.testing.assert_allclose(ex.data["path"], expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("make", [landscapes.saddle, landscapes.local_global_minima, landscapes.rosenbrock])
def test_gd2d_explorer_matches_lablib_after_each_control(make):
    land = make()
    ex = W.gd2d_explorer(land, lr=1e-3, n_steps=40)
    for name, value in (("lr", 0.01 if make is not landscapes.rosenbrock else 5e-4), ("x0", -0.5), ("y0", 0.5),
                        ("n_steps", 60)):
        d = redraws(ex, name, value)
        v = ex.values()
        expected = optim.gradient_descent(land.grad, np.array([v["x0"], v["y0"]]), v["lr"], v["n_steps"])
        np.testing.assert_array_equal(d["path"], expected)
        np.testing.assert_array_equal(d["loss"], land.f(expected))
        ax_path, ax_loss = ex.axes
        np.testing.assert_array_equal(line_labelled(ax_path, f"GD, lr = {v['lr']:.3g}").get_xydata(), expected)
        np.testing.assert_array_equal(line_labelled(ax_path, "minimum").get_xydata(), np.array(land.minima))
        assert ax_path.get_xlim() == land.xlim
        np.testing.assert_array_equal(ax_loss.lines[0].get_ydata(), land.f(expected))


def test_gd2d_explorer_shows_saddles_and_the_escape():
    ex = W.gd2d_explorer(landscapes.saddle(), lr=0.1, start=(1.0, 0.0), n_steps=200)
    np.testing.assert_array_equal(line_labelled(ex.axes[0], "saddle").get_xydata(), [[0.0, 0.0]])
    np.testing.assert_allclose(ex.data["path"][-1], [0.0, 0.0], atol=1e-8)  # y0 = 0: stuck at the saddle
    redraws(ex, "y0", 0.04)
    np.testing.assert_allclose(ex.data["path"][-1], [0.0, 1.0], atol=1e-6)  # any y0 != 0 escapes


def test_gd2d_explorer_bad_arguments():
    with pytest.raises(TypeError, match="landscape"):
        W.gd2d_explorer("rosenbrock")
    with pytest.raises(ValueError, match=r"start\[0\]"):
        W.gd2d_explorer(landscapes.saddle(), start=(5.0, 0.0))
    with pytest.raises(ValueError, match="start"):
        W.gd2d_explorer(start=(0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="lr"):
        W.gd2d_explorer(lr=-0.1)


# --------------------------------------------------------------------------------------------- 3. optimizer paths


def lablib_paths(land, start, lr, beta, n_steps):
    """The five rules run by hand with lablib's pure steps, state starting as {}."""
    rules = {
        "GD": (optim.sgd_step, {}),
        "momentum": (optim.sgd_step, {"momentum": beta}),
        "AdaGrad-Norm": (optim.adagrad_norm_step, {}),
        "RMSprop": (optim.rmsprop_step, {}),
        "Adam": (optim.adam_step, {"beta1": beta}),
    }
    paths = {}
    for label, (step, hparams) in rules.items():
        x, state, path = np.array(start), {}, [np.array(start)]
        for _ in range(n_steps):
            x, state = step(x, land.grad(x), state, lr=lr, **hparams)
            path.append(x)
        paths[label] = np.array(path)
    return paths


def test_optimizer_paths_explorer_matches_lablib_steps():
    land = landscapes.local_global_minima()
    ex = W.optimizer_paths_explorer(land, lr=0.05, beta=0.9, start=(0.5, 1.0), n_steps=50)
    assert list(ex.data) == ["GD", "momentum", "AdaGrad-Norm", "RMSprop", "Adam"]
    for name, value in (("lr", 0.02), ("beta", 0.5), ("n_steps", 80), ("x0", -0.4), ("y0", -1.2)):
        before = ex.data
        d = redraws(ex, name, value)
        v = ex.values()
        expected = lablib_paths(land, (v["x0"], v["y0"]), v["lr"], v["beta"], v["n_steps"])
        for label, path in expected.items():
            np.testing.assert_array_equal(d[label], path)
            np.testing.assert_array_equal(line_labelled(ex.axes[0], label).get_xydata(), path)
        if name == "beta":  # beta is the momentum coefficient of momentum and Adam only
            changed = {label for label in d if not np.array_equal(d[label], before[label])}
            assert changed == {"momentum", "Adam"}


def test_optimizer_paths_gd_on_a_bowl_is_the_closed_form_and_divergence_stops_a_path():
    ex = W.optimizer_paths_explorer(landscapes.quadratic_bowl(1.0, 10.0), lr=0.01, start=(2.0, 1.0), n_steps=40)
    t = np.arange(41)
    np.testing.assert_allclose(ex.data["GD"], np.column_stack([2 * 0.99**t, 0.9**t]), rtol=1e-12)  # 1 - lr a, 1 - lr b
    ex.controls["n_steps"].value = 500
    redraws(ex, "lr", 1.0)  # GD on b = 10 with lr = 1: y_t = (-9)^t overflows to inf after ~323 steps
    gd = ex.data["GD"]
    assert 300 < len(gd) - 1 < 500 and np.all(np.isfinite(gd))
    with np.errstate(over="ignore"):  # |y| ~ 1e300: f overflows to inf
        f_last = landscapes.quadratic_bowl().f(gd[-1])
    assert f"GD: f = {f_last:.3g} (stopped at step {len(gd) - 1} of 500)" in ex.caption
    assert len(ex.data["Adam"]) == 501  # Adam's steps are at most about lr: it does not diverge


def test_optimizer_paths_explorer_with_the_students_steps():
    def sgd_momentum_step(x, grad, state, lr, momentum=0.9):  # the lab's signature
        g = momentum * state.get("g", 0.0) + grad
        return x - lr * g, {"g": g}

    land = landscapes.rosenbrock()
    ex = W.optimizer_paths_explorer(land, steps={"momentum": sgd_momentum_step, "Adam": optim.adam_step},
                                    lr=1e-3, beta=0.8, start=(-1.0, 2.0), n_steps=30)
    expected = lablib_paths(land, (-1.0, 2.0), 1e-3, 0.8, 30)
    np.testing.assert_allclose(ex.data["momentum"], expected["momentum"], rtol=1e-12)
    np.testing.assert_array_equal(ex.data["Adam"], expected["Adam"])
    assert list(ex.data) == ["momentum", "Adam"]


def test_optimizer_paths_explorer_bad_arguments():
    with pytest.raises(TypeError, match="steps"):
        W.optimizer_paths_explorer(steps={"GD": "sgd"})
    with pytest.raises(TypeError, match="steps"):
        W.optimizer_paths_explorer(steps={})
    with pytest.raises(ValueError, match="beta"):
        W.optimizer_paths_explorer(beta=1.0)
    with pytest.raises(ValueError, match="lr"):
        W.optimizer_paths_explorer(lr=2.0)


# --------------------------------------------------------------------------------------------- 4. minibatch SGD


def sgd_by_hand(n, noise, seed, start, batch_size, lr, epochs):
    """The documented recipe, written out: data from the first spawned stream, shuffling from the second."""
    data_seq, shuffle_seq = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(data_seq)
    x = rng.normal(size=n)
    y = 2 * x - 1 + noise * rng.normal(size=n)
    shuffle = np.random.default_rng(shuffle_seq)
    w, b = start
    path = [(w, b)]
    for _ in range(epochs):
        order = shuffle.permutation(n)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            r = w * x[idx] + b - y[idx]
            w, b = w - lr * 2 * np.mean(r * x[idx]), b - lr * 2 * np.mean(r)
            path.append((w, b))
    path = np.array(path)
    loss = np.mean((path[:, :1] * x + path[:, 1:] - y) ** 2, axis=1)
    return x, y, path, loss


def test_sgd_batch_explorer_matches_the_recipe_after_each_control():
    ex = W.sgd_batch_explorer(batch_size=10, lr=0.05, epochs=3, n=100, seed=4)
    for name, value in (("batch_size", 7), ("lr", 0.2), ("epochs", 5), ("batch_size", 100), ("batch_size", 1)):
        d = redraws(ex, name, value)
        v = ex.values()
        x, y, path, loss = sgd_by_hand(100, 0.5, 4, (-1.0, 2.0), v["batch_size"], v["lr"], v["epochs"])
        assert d["steps_per_epoch"] == math.ceil(100 / v["batch_size"])
        assert len(d["path"]) == v["epochs"] * d["steps_per_epoch"] + 1
        np.testing.assert_allclose(d["path"], path, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(d["loss"], loss, rtol=1e-10)
        assert f"{d['steps_per_epoch']} steps per epoch" in ex.caption
        drawn = line_labelled(ex.axes[0], f"SGD, batch {v['batch_size']}").get_xydata()
        np.testing.assert_array_equal(drawn, d["path"])
    w_best, b_best = np.polyfit(x, y, 1)  # least squares, independently
    np.testing.assert_allclose(line_labelled(ex.axes[0], "minimum").get_xydata(), [[w_best, b_best]], rtol=1e-10)


def test_sgd_batch_explorer_uses_the_students_minibatches_and_stops_on_divergence():
    calls = []

    def student_minibatches(X, y, batch_size, rng=None, shuffle=True):
        calls.append(batch_size)
        return data.minibatches(X, y, batch_size, rng=rng, shuffle=shuffle)

    ex = W.sgd_batch_explorer(batch_size=25, epochs=2, minibatches=student_minibatches)
    assert calls == [25, 25]
    ex.controls["epochs"].value = 20
    ex.controls["batch_size"].value = 1
    redraws(ex, "lr", 1.0)  # one point per step: w <- w (1 - 2 x_i^2) + ..., |1 - 2 x_i^2| > 1 when x_i^2 > 1
    assert "diverged" in ex.caption and np.all(np.isfinite(ex.data["path"]))
    assert len(ex.data["path"]) < 20 * 100 + 1


def test_sgd_batch_explorer_bad_arguments():
    with pytest.raises(ValueError, match="n"):
        W.sgd_batch_explorer(n=1)
    with pytest.raises(ValueError, match="batch_size"):
        W.sgd_batch_explorer(n=50, batch_size=60)
    with pytest.raises(ValueError, match="noise"):
        W.sgd_batch_explorer(noise=-1.0)
    with pytest.raises(ValueError, match="seed"):
        W.sgd_batch_explorer(seed=-3)
    with pytest.raises(ValueError, match="start"):
        W.sgd_batch_explorer(start=(0.0,))


# --------------------------------------------------------------------------------------------- 5. schedules


def test_schedule_explorer_curves_and_ratios():
    ex = W.schedule_explorer(lr0=0.1, s=100.0, c=1.0, t_max=500, piecewise=([100, 300], [0.1, 0.01, 0.001]))
    t = np.arange(501.0)
    np.testing.assert_array_equal(ex.data["t"], t)
    np.testing.assert_array_equal(ex.data["piecewise"], schedules.piecewise_constant([100, 300], [0.1, 0.01, 0.001])(t))
    for name, value in (("lr0", 0.5), ("s", 20.0), ("c", 2.5)):
        d = redraws(ex, name, value)
        lr0, s, c = ex.values()["lr0"], ex.values()["s"], ex.values()["c"]
        np.testing.assert_array_equal(d["power"], schedules.power(lr0, s, c)(t))
        np.testing.assert_allclose(d["power"], lr0 / (1 + t / s) ** c, rtol=1e-12)
        np.testing.assert_allclose(d["exponential"], lr0 * 0.1 ** (t / s), rtol=1e-12)
        k = np.arange(10)
        np.testing.assert_allclose(d["power_ratio"], ((k + 1) / (k + 2)) ** c, rtol=1e-12)
        np.testing.assert_allclose(d["exponential_ratio"], 0.1, rtol=1e-12)
        ax_lr, ax_ratio = ex.axes
        np.testing.assert_array_equal(line_labelled(ax_lr, "power").get_ydata(), d["power"])
        np.testing.assert_array_equal(line_labelled(ax_lr, "exponential").get_ydata(), d["exponential"])
        np.testing.assert_array_equal(line_labelled(ax_ratio, "power").get_ydata(), d["power_ratio"])
    assert f"power x{2 ** -2.5:.3g} (= 2^-c)" in ex.caption


def test_schedule_explorer_with_the_students_schedules_and_bad_arguments():
    ex = W.schedule_explorer(power=lambda lr0, s, c: lambda t: lr0 * np.ones_like(t), t_max=10)
    np.testing.assert_array_equal(ex.data["power"], np.full(11, 0.1))
    np.testing.assert_array_equal(ex.data["power_ratio"], np.ones(10))
    with pytest.raises(ValueError, match="t_max"):
        W.schedule_explorer(t_max=0)
    with pytest.raises(ValueError, match="s must be in"):
        W.schedule_explorer(s=0.5)
    with pytest.raises(ValueError, match="c"):
        W.schedule_explorer(c=0.0)
    with pytest.raises(ValueError, match="values"):
        W.schedule_explorer(piecewise=([10], [0.1]))


# --------------------------------------------------------------------------------------------- 6. activations


def test_activation_explorer_each_activation_and_alpha():
    ex = W.activation_explorer(activation="relu", alpha=0.2)
    x = ex.data["x"]
    np.testing.assert_array_equal(x, np.linspace(-4, 4, 401))
    np.testing.assert_array_equal(ex.data["value"], np.maximum(x, 0))
    assert ex.controls["alpha"].disabled
    for name in ("leaky_relu", "elu", "selu", "sigmoid", "tanh"):
        d = redraws(ex, "activation", name)
        kwargs = {"alpha": 0.2} if name in ("leaky_relu", "elu") else {}
        np.testing.assert_array_equal(d["value"], getattr(nn, name)(x, **kwargs))
        np.testing.assert_array_equal(d["derivative"], getattr(nn, name + "_derivative")(x, **kwargs))
        np.testing.assert_array_equal(ex.axes[1].lines[0].get_ydata(), d["derivative"])
        assert ex.controls["alpha"].disabled == (not kwargs)
    ex.controls["activation"].value = "leaky_relu"
    d = redraws(ex, "alpha", 0.5)
    np.testing.assert_allclose(d["value"], np.where(x > 0, x, 0.5 * x))  # closed form
    np.testing.assert_allclose(d["derivative"], np.where(x > 0, 1.0, 0.5))
    ex.controls["activation"].value = "elu"
    np.testing.assert_allclose(ex.data["value"], np.where(x > 0, x, 0.5 * np.expm1(x)), rtol=1e-12)


def test_activation_explorer_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        W.activation_explorer(activation="swish")
    with pytest.raises(ValueError, match="alpha"):
        W.activation_explorer(alpha=-0.1)
    with pytest.raises(ValueError, match="x_range"):
        W.activation_explorer(x_range=(2, -2))


# --------------------------------------------------------------------------------------------- 7. dropout


def test_dropout_explorer_mask_and_output():
    images = data.load_fashion_mnist("mini", flatten=False).X_train
    ex = W.dropout_explorer(rate=0.5, seed=0, index=0)
    for name, value in (("rate", 0.3), ("seed", 7), ("index", 42), ("rate", 0.9)):
        d = redraws(ex, name, value)
        rate, seed, index = ex.values()["rate"], ex.values()["seed"], ex.values()["index"]
        x = images[index]
        keep = np.random.default_rng(seed).random((28, 28)) >= rate  # the documented draw
        np.testing.assert_array_equal(d["image"], x)
        np.testing.assert_array_equal(d["mask"], keep)
        np.testing.assert_allclose(d["out"], x * keep / (1 - rate), rtol=1e-15)
        np.testing.assert_array_equal(d["out"], nn.dropout_forward(x, rate, train=True,
                                                                   rng=np.random.default_rng(seed))[0])
        np.testing.assert_array_equal(ex.axes[1].images[0].get_array(), keep)
        np.testing.assert_array_equal(ex.axes[2].images[0].get_array(), d["out"])
    d = redraws(ex, "rate", 0.0)
    assert d["mask"].all()
    np.testing.assert_array_equal(d["out"], d["image"])


def test_dropout_explorer_with_the_students_dropout_and_bad_arguments():
    def dropout_forward(x, rate, train, rng):  # the lab's signature
        keep = rng.random(x.shape) >= rate
        return x * keep / (1 - rate), keep

    ex = W.dropout_explorer(rate=0.25, seed=3, dropout_forward=dropout_forward)
    np.testing.assert_array_equal(ex.data["mask"], np.random.default_rng(3).random((28, 28)) >= 0.25)
    with pytest.raises(ValueError, match="rate"):
        W.dropout_explorer(rate=1.0)
    with pytest.raises(ValueError, match="index"):
        W.dropout_explorer(index=10_000)


# --------------------------------------------------------------------------------------------- in a real notebook


def test_an_explorer_in_a_notebook_is_driven_from_a_later_cell():
    nbformat = pytest.importorskip("nbformat", reason="nbformat is a dev dependency")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is a dev dependency")
    pytest.importorskip("ipykernel", reason="ipykernel is a dev dependency")
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
                                  "from lablib.widgets import gd_explorer\n"
                                  "ex = gd_explorer(lr=0.1, x0=1.0, n_steps=20)\nex"),
        nbformat.v4.new_code_cell('png = ex.image.value\nex.controls["lr"].value = 0.25\n'
                                  'print(float(ex.data["path"][-1]), ex.error, ex.image.value != png)'),
    ]
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name=NATIVE_KERNEL_NAME, shutdown_kernel="immediate",
                                     resources={"metadata": {"path": str(ROOT)}})
    client.execute(stderr=subprocess.DEVNULL)  # the kernel process's own log (cells' stderr is checked below)
    shown, printed = nb.cells[0].outputs, nb.cells[1].outputs
    assert any("application/vnd.jupyter.widget-view+json" in out.get("data", {}) for out in shown)
    assert [out.get("name") for cell in nb.cells for out in cell.outputs if out.output_type == "stream"] == ["stdout"]
    # lr = 0.25 on x^2: x_t = 0.5^t exactly, so x_20 = 2^-20
    assert printed[0].text == f"{2.0 ** -20!r} None True\n"


def test_comparison_explorer_shows_each_seed_and_the_means():
    rng = np.random.default_rng(0)
    results = {n: rng.uniform(0.5, 1.0, size=(5, 3)) for n in (1, 2, 5, 10)}
    ex = W.comparison_explorer(results, ("scratch", "frozen", "fine-tuned"), value=5)
    assert list(ex.data) == ["scratch", "frozen", "fine-tuned"]
    np.testing.assert_array_equal(ex.data["frozen"], results[5][:, 1])
    ex.controls["n_per_class"].value = 1
    np.testing.assert_array_equal(ex.data["fine-tuned"], results[1][:, 2])
    assert ex.caption == ", ".join(f"{m} {results[1][:, j].mean():.1%}"
                                   for j, m in enumerate(("scratch", "frozen", "fine-tuned")))
    assert ex.image.value[:4] == b"\x89PNG"


def test_comparison_explorer_bad_arguments():
    with pytest.raises(ValueError, match="results must be a non-empty dict"):
        W.comparison_explorer({}, ("a",))
    with pytest.raises(ValueError, match=r"results\[1\] must have one column per method"):
        W.comparison_explorer({1: np.ones((3, 2))}, ("a", "b", "c"))
    with pytest.raises(ValueError, match="value must be one of"):
        W.comparison_explorer({1: np.ones((3, 1))}, ("a",), value=7)
    with pytest.raises(ValueError, match="results"):
        W.comparison_explorer({1: np.full((3, 1), np.nan)}, ("a",))


# ------------------------------------------------------------------------- updating in place, throttled drags

def _pixels(ex):
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(ex.image.value)).convert("RGB"))


_RESULTS = {4: np.array([[0.6, 0.7], [0.65, 0.8]]), 8: np.array([[0.7, 0.9], [0.75, 0.85]]),
            16: np.array([[0.8, 0.95], [0.85, 0.9]])}
MOVED = {  # explorer, its first values, the moves a student makes (several controls, a divergence and back)
    "gd": (W.gd_explorer, {"lr": 0.1}, [("lr", 1.2), ("x0", -2.0), ("lr", 0.7), ("n_steps", 7)]),
    "gd2d": (W.gd2d_explorer, {"lr": 0.05}, [("lr", 0.25), ("lr", 0.15), ("y0", 0.0), ("n_steps", 30)]),
    "paths": (W.optimizer_paths_explorer, {"lr": 0.05}, [("lr", 0.2), ("beta", 0.5), ("x0", -1.0)]),
    "sgd": (W.sgd_batch_explorer, {"batch_size": 10}, [("batch_size", 3), ("lr", 0.9), ("lr", 0.1), ("epochs", 5)]),
    "schedule": (W.schedule_explorer, {"s": 100.0}, [("s", 1000.0), ("c", 2.0), ("lr0", 0.01)]),
    "activation": (W.activation_explorer, {"alpha": 0.2}, [("alpha", 1.0), ("activation", "elu"),
                                                           ("activation", "sigmoid")]),
    "dropout": (W.dropout_explorer, {"rate": 0.5}, [("rate", 0.8), ("seed", 3), ("index", 5)]),
    "comparison": (lambda **kw: W.comparison_explorer(_RESULTS, ["scratch", "transfer"], **kw), {"value": 8},
                   [("n_per_class", 16), ("n_per_class", 4)]),
}


@pytest.mark.parametrize("name", sorted(MOVED))
def test_a_moved_explorer_shows_exactly_what_a_fresh_one_shows(name):
    """Moves update the artists in place (and only the moving parts are re-rendered): the picture after the moves is,
    pixel for pixel, the one a fresh explorer draws from scratch with the final values."""
    make, first, moves = MOVED[name]
    ex = make(**first)
    final = dict(first)
    for control, value in moves:
        redraws(ex, control, value)
        final[control if control != "n_per_class" else "value"] = value
    fresh = make(**{("start" if k in ("x0", "y0") else k): v for k, v in final.items() if k not in ("x0", "y0")})
    for control in ("x0", "y0"):  # the start sliders: set on the fresh one too
        if control in final:
            fresh.controls[control].value = final[control]
    assert ex.values() == fresh.values()
    np.testing.assert_array_equal(_pixels(ex), _pixels(fresh))
    assert ex.caption == fresh.caption


def test_drags_in_the_browser_are_throttled_and_changes_from_python_are_immediate():
    import asyncio

    ex = W.gd_explorer(lr=0.1)
    renders = []
    ex.image.observe(lambda change: renders.append(ex.values()["lr"]), names="value")
    ex.controls["lr"].value = 0.2                        # from Python: drawn before the assignment returns
    assert renders == [0.2] and ex.data["path"][1] == pytest.approx(1 - 2 * 0.2)

    async def drag():
        for lr in np.linspace(0.21, 0.6, 15):            # 15 moves from the browser within a few milliseconds
            ex.controls["lr"].set_state({"value": float(lr)})
        await asyncio.sleep(3 * ex.THROTTLE_S)

    ex._last_update = -np.inf                             # idle: the first move of the drag is drawn at once
    asyncio.run(drag())
    assert renders[1] == pytest.approx(0.21) and renders[-1] == pytest.approx(0.6) and len(renders) <= 4, renders
    assert ex.data["path"][1] == pytest.approx(1 - 2 * 0.6)   # the last values are the ones shown
    assert all(c.continuous_update for c in ex.controls.values())


def test_the_figure_itself_stays_complete_after_moves():
    """The picture is blitted (moving parts drawn on a kept background), but ex.figure is an ordinary figure: saved
    by itself it shows what the widget shows."""
    import io

    from PIL import Image

    ex = W.gd2d_explorer(lr=0.05)
    redraws(ex, "lr", 0.15)
    buffer = io.BytesIO()
    ex.figure.savefig(buffer, format="png")
    saved = np.asarray(Image.open(buffer).convert("RGB"))
    np.testing.assert_array_equal(saved, _pixels(ex))
