"""lablib.optim against closed forms, hand-derived steps, and torch.optim / keras.optimizers numbers."""
import math
import os
import warnings

import numpy as np
import pytest
from _reference import fixture, optim_reference_script
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib import optim

TORCH_FIX = fixture("optim_torch")
KERAS_FIX = fixture("optim_keras")


# ---------------------------------------------------------------------------------------------------------
# gradient_descent on f(x) = x^2: x_t = x0 (1 - 2 lr)^t


def df(x):
    return 2 * x


@pytest.mark.parametrize("lr", [0.01, 0.1, 1.0])
def test_gd_on_square_follows_closed_form(lr):
    x0, n = 1.5, 40
    xs = optim.gradient_descent(df, x0, lr, n)
    expected = x0 * (1 - 2 * lr) ** np.arange(n + 1)
    assert xs.shape == (n + 1,)
    np.testing.assert_allclose(xs, expected, rtol=1e-12, atol=0)


def test_gd_lr_one_oscillates_exactly():
    xs = optim.gradient_descent(df, 3.0, 1.0, 5)
    assert xs.tolist() == [3.0, -3.0, 3.0, -3.0, 3.0, -3.0]


@pytest.mark.parametrize("lr", [100.0, 1000.0])
def test_gd_divergence_keeps_finite_prefix_and_warns_once(lr):
    x0 = 1.0
    # |x_t| = (2 lr - 1)^t stays finite while t <= log(max float) / log(2 lr - 1)
    n_finite = math.floor(math.log(np.finfo(float).max) / math.log(2 * lr - 1)) + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xs = optim.gradient_descent(df, x0, lr, 1000)
    assert [w.category for w in caught] == [optim.DivergenceWarning]
    message = str(caught[0].message)
    assert f"lr={lr:g}" in message and f"x_{n_finite}" in message and "|x|" in message
    assert issubclass(optim.DivergenceWarning, RuntimeWarning)
    assert xs.shape == (n_finite,) and np.all(np.isfinite(xs))
    np.testing.assert_allclose(xs, x0 * (1 - 2 * lr) ** np.arange(n_finite), rtol=1e-12)


def test_gd_vector_on_bowl_and_tolerance():
    a = np.array([1.0, 10.0])  # f = (x^2 + 10 y^2)/2, grad = a * v
    x0 = np.array([1.0, -0.5])
    xs = optim.gradient_descent(lambda v: a * v, x0, 0.05, 20)
    assert xs.shape == (21, 2)
    np.testing.assert_allclose(xs, x0 * (1 - 0.05 * a) ** np.arange(21)[:, None], rtol=1e-12)

    # stops at the first x_t with |2 x_t| < tol: 2 * 0.8^t < 1e-3  <=>  t > log(5e-4)/log(0.8) = 34.06
    xs = optim.gradient_descent(df, 1.0, 0.1, 1000, tol=1e-3)
    assert xs.shape == (36,) and abs(2 * xs[-1]) < 1e-3 <= abs(2 * xs[-2])


def test_gd_edge_cases():
    assert optim.gradient_descent(df, 2.0, 0.1, 0).tolist() == [2.0]
    x0 = np.array([1.0, 2.0])

    def grad_that_mutates(v):
        v *= 100  # must not corrupt the recorded iterates
        return np.zeros(2)

    xs = optim.gradient_descent(grad_that_mutates, x0, 0.1, 3)
    assert xs.tolist() == [[1.0, 2.0]] * 4 and x0.tolist() == [1.0, 2.0]


def test_gd_bad_input():
    with pytest.raises(TypeError, match="grad"):
        optim.gradient_descent(3.0, 1.0, 0.1, 5)
    with pytest.raises(ValueError, match="x0"):
        optim.gradient_descent(df, np.nan, 0.1, 5)
    with pytest.raises(ValueError, match="x0"):
        optim.gradient_descent(df, np.ones((2, 2)), 0.1, 5)
    for lr in (0.0, -0.1, np.inf):
        with pytest.raises(ValueError, match="lr"):
            optim.gradient_descent(df, 1.0, lr, 5)
    with pytest.raises(ValueError, match="n_steps"):
        optim.gradient_descent(df, 1.0, 0.1, -1)
    with pytest.raises(TypeError, match="n_steps"):
        optim.gradient_descent(df, 1.0, 0.1, 2.5)
    with pytest.raises(ValueError, match="tol"):
        optim.gradient_descent(df, 1.0, 0.1, 5, tol=0.0)
    with pytest.raises(ValueError, match="grad"):
        optim.gradient_descent(lambda v: np.zeros(3), np.zeros(2), 0.1, 5)
    with pytest.raises(TypeError, match="grad"):
        optim.gradient_descent(lambda v: "down", 1.0, 0.1, 5)


# ---------------------------------------------------------------------------------------------------------
# First steps derived by hand


def test_sgd_momentum_by_hand():
    x0, g1, g2 = np.array([1.0, 2.0]), np.array([0.5, -1.0]), np.array([1.0, 1.0])
    x1, state = optim.sgd_step(x0, g1, None, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(x1, [0.95, 2.1], rtol=1e-15)
    x2, state = optim.sgd_step(x1, g2, state, lr=0.1, momentum=0.9)
    # velocity 0.9 * [0.5, -1] + [1, 1] = [1.45, 0.1]
    np.testing.assert_allclose(state["velocity"], [1.45, 0.1], rtol=1e-15)
    np.testing.assert_allclose(x2, [0.95 - 0.145, 2.1 - 0.01], rtol=1e-15)
    x1_plain, state = optim.sgd_step(x0, g1, {}, lr=0.1)
    np.testing.assert_allclose(x1_plain, [0.95, 2.1], rtol=1e-15)
    assert state == {}


def test_first_steps_of_adaptive_rules_by_hand():
    x0, g, lr = np.array([1.0, -2.0, 0.5]), np.array([0.3, -4.0, 1e-3]), 0.1
    # Adagrad: s_1 = g^2, so x_1 = x_0 - lr g / (|g| + eps) (torch) or lr g / sqrt(g^2 + eps) (keras)
    x1, s = optim.adagrad_step(x0, g, None, lr=lr, eps=1e-3)
    np.testing.assert_allclose(x1, x0 - lr * g / (np.abs(g) + 1e-3), rtol=1e-14)
    np.testing.assert_allclose(s["accumulator"], g**2, rtol=1e-15)
    x1, _ = optim.adagrad_step(x0, g, None, lr=lr, eps=1e-3, initial_accumulator=0.1, eps_convention="keras")
    np.testing.assert_allclose(x1, x0 - lr * g / np.sqrt(0.1 + g**2 + 1e-3), rtol=1e-14)
    # RMSprop: s_1 = (1 - rho) g^2
    x1, _ = optim.rmsprop_step(x0, g, None, lr=lr, rho=0.9, eps=1e-3)
    np.testing.assert_allclose(x1, x0 - lr * g / (np.sqrt(0.1) * np.abs(g) + 1e-3), rtol=1e-14)
    x1, _ = optim.rmsprop_step(x0, g, None, lr=lr, rho=0.9, eps=1e-3, eps_convention="keras")
    np.testing.assert_allclose(x1, x0 - lr * g / np.sqrt(0.1 * g**2 + 1e-3), rtol=1e-14)
    # Adam: m_hat_1 = g, v_hat_1 = g^2, so x_1 = x_0 - lr g / (|g| + eps) (torch);
    # keras: lr sqrt(1-b2)/(1-b1) * (1-b1) g / (sqrt(1-b2) |g| + eps) = lr g / (|g| + eps / sqrt(1-b2))
    x1, st_ = optim.adam_step(x0, g, None, lr=lr, eps=1e-3)
    np.testing.assert_allclose(x1, x0 - lr * g / (np.abs(g) + 1e-3), rtol=1e-14)
    assert st_["t"] == 1
    x1, _ = optim.adam_step(x0, g, None, lr=lr, eps=1e-3, eps_convention="keras")
    np.testing.assert_allclose(x1, x0 - lr * g / (np.abs(g) + 1e-3 / np.sqrt(0.001)), rtol=1e-14)


def test_adam_second_step_by_hand():
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    x, g1, g2 = np.array([1.0]), np.array([2.0]), np.array([-1.0])
    x1, state = optim.adam_step(x, g1, None, lr=lr)
    x2, state = optim.adam_step(x1, g2, state, lr=lr)
    m = b1 * (1 - b1) * 2.0 + (1 - b1) * -1.0
    v = b2 * (1 - b2) * 4.0 + (1 - b2) * 1.0
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    assert state["t"] == 2
    np.testing.assert_allclose(x2, x1 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-14)


def course_adagrad_norm(params, grads_seq, lr, eps):
    """The course's AdaGrad-Norm, written out: S += ||g||^2 over all tensors; x -= lr / sqrt(eps + S) * g."""
    params = {k: v.copy() for k, v in params.items()}
    S = 0.0
    for grads in grads_seq:
        S += sum(float(np.sum(g**2)) for g in grads.values())
        for k in params:
            params[k] = params[k] - lr / math.sqrt(eps + S) * grads[k]
    return params


def test_adagrad_norm_matches_course_formula():
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    grads_seq = [{"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)} for _ in range(5)]
    expected = course_adagrad_norm(params, grads_seq, lr=0.5, eps=1e-8)

    opt = optim.AdaGradNorm(0.5, eps=1e-8)
    live = {k: v.copy() for k, v in params.items()}
    pure, state = params, None
    for grads in grads_seq:
        opt.step(live, grads)
        pure, state = optim.adagrad_norm_step(pure, grads, state, lr=0.5, eps=1e-8)
    for k in params:
        np.testing.assert_allclose(live[k], expected[k], rtol=1e-13)
        np.testing.assert_allclose(pure[k], expected[k], rtol=1e-13)
    total = sum(float(np.sum(g**2)) for grads in grads_seq for g in grads.values())
    assert state["accumulator"] == pytest.approx(total, rel=1e-14)
    assert opt.state["accumulator"] == pytest.approx(total, rel=1e-14)
    # one step on a 3-4-5 gradient: x -= lr / sqrt(eps + 25) * g
    x1, _ = optim.adagrad_norm_step(np.zeros(2), np.array([3.0, 4.0]), None, lr=1.0, eps=1e-8)
    np.testing.assert_allclose(x1, -np.array([3.0, 4.0]) / math.sqrt(25 + 1e-8), rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Against the frameworks (fixtures always; live torch when installed)

CLASSES = {"sgd": optim.SGD, "adagrad": optim.Adagrad, "rmsprop": optim.RMSprop, "adadelta": optim.Adadelta,
           "adam": optim.Adam}
STEPS = {"sgd": optim.sgd_step, "adagrad": optim.adagrad_step, "rmsprop": optim.rmsprop_step,
         "adadelta": optim.adadelta_step, "adam": optim.adam_step}


def lablib_trajectories(case, fixture):
    """Run the class (lr as a schedule t -> lrs[t]) and the pure function on the fixture's gradients."""
    lrs = case["lrs"]
    opt = CLASSES[case["rule"]](lambda t: lrs[t], **case["lablib"])
    live = {k: np.array(v) for k, v in fixture["params0"].items()}
    pure, state = {k: np.array(v) for k, v in fixture["params0"].items()}, None
    by_class, by_function = [], []
    for t, g in enumerate(fixture["grads"]):
        grads = {k: np.array(v) for k, v in g.items()}
        assert opt.lr == lrs[t]
        opt.step(live, grads)
        pure, state = STEPS[case["rule"]](pure, grads, state, lr=lrs[t], **case["lablib"])
        by_class.append({k: v.copy() for k, v in live.items()})
        by_function.append(pure)
    assert opt.iterations == len(lrs)
    return by_class, by_function


def assert_trajectories_close(ours, reference, rtol=1e-12):
    assert len(ours) == len(reference)
    for step_ours, step_ref in zip(ours, reference):
        for k in step_ref:
            np.testing.assert_allclose(step_ours[k], step_ref[k], rtol=rtol, atol=1e-15)


@pytest.mark.parametrize("case", TORCH_FIX["cases"], ids=lambda c: c["name"])
def test_matches_torch_fixture(case):
    by_class, by_function = lablib_trajectories(case, TORCH_FIX)
    assert_trajectories_close(by_class, case["trajectory"])
    assert_trajectories_close(by_function, case["trajectory"])


def torch_form_with_changing_lr(case):
    """SGD momentum in lablib's default (torch) form under a changing lr: Keras' numbers differ, as documented."""
    return case["rule"] == "sgd" and len(set(case["lrs"])) > 1 and case["lablib"].get("momentum_form") != "keras"


@pytest.mark.parametrize("case", KERAS_FIX["cases"], ids=lambda c: c["name"])
def test_matches_keras_fixture(case):
    by_class, by_function = lablib_trajectories(case, KERAS_FIX)
    if torch_form_with_changing_lr(case):
        assert not np.allclose(by_class[-1]["W"], case["trajectory"][-1]["W"], rtol=1e-3)
    else:
        assert_trajectories_close(by_class, case["trajectory"])
        assert_trajectories_close(by_function, case["trajectory"])


@pytest.fixture(scope="module")
def live_keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("torch", reason="keras runs on its torch backend here; the fixture test covers these numbers")
    keras = pytest.importorskip("keras", reason="keras not installed; the fixture test covers these numbers")
    if keras.backend.backend() != "torch":
        pytest.skip("keras was imported with another backend")
    keras.config.set_floatx("float64")
    return keras


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras' own numpy-2 notice on the torch backend
@pytest.mark.parametrize("case", KERAS_FIX["cases"], ids=lambda c: c["name"])
def test_matches_live_keras(live_keras, case):
    live = optim_reference_script().run_keras_optim(case, KERAS_FIX)
    by_class, _ = lablib_trajectories(case, KERAS_FIX)
    if torch_form_with_changing_lr(case):
        assert not np.allclose(by_class[-1]["W"], live[-1]["W"], rtol=1e-3)
    else:
        assert_trajectories_close(by_class, live)


def test_keras_sgd_momentum_form_is_what_the_docstring_says():
    """Keras: v = m v - lr g, x += v. Coincides with lablib for a constant lr, not for a changing one."""
    case = next(c for c in KERAS_FIX["cases"] if c["name"] == "sgd_momentum_changing_lr")
    x = {k: np.array(v) for k, v in KERAS_FIX["params0"].items()}
    v = {k: np.zeros_like(a) for k, a in x.items()}
    for lr, g, ref in zip(case["lrs"], KERAS_FIX["grads"], case["trajectory"]):
        for k in x:
            v[k] = 0.9 * v[k] - lr * np.array(g[k])
            x[k] = x[k] + v[k]
            np.testing.assert_allclose(x[k], ref[k], rtol=1e-12)


def test_eps_conventions_really_differ():
    """The big-eps Adam case separates the conventions: torch's result is not Keras', and vice versa."""
    torch_case = next(c for c in TORCH_FIX["cases"] if c["name"] == "adam_betas_big_eps")
    keras_case = next(c for c in KERAS_FIX["cases"] if c["name"] == "adam_betas_big_eps")
    assert TORCH_FIX["grads"] == KERAS_FIX["grads"] and TORCH_FIX["params0"] == KERAS_FIX["params0"]
    same_hparams = {k: v for k, v in keras_case["lablib"].items() if k != "eps_convention"}
    assert torch_case["lablib"] == same_hparams and torch_case["lrs"] == keras_case["lrs"]
    t_b = np.array(torch_case["trajectory"][-1]["b"])
    k_b = np.array(keras_case["trajectory"][-1]["b"])
    assert not np.allclose(t_b, k_b, rtol=1e-3)


@pytest.mark.parametrize("case", TORCH_FIX["cases"], ids=lambda c: c["name"])
def test_matches_live_torch(case):
    pytest.importorskip("torch", reason="torch not installed; the fixture test covers these numbers")
    live = optim_reference_script().run_torch_optim(case, TORCH_FIX)
    by_class, _ = lablib_trajectories(case, TORCH_FIX)
    assert_trajectories_close(by_class, live)


# ---------------------------------------------------------------------------------------------------------
# The new conventions against direct implementations of their equations


def run_rule(rule, grads_seq, x0, lrs, **hparams):
    """lablib's class on one array, the lr of step t being lrs[t]."""
    opt = CLASSES[rule](lambda t: lrs[t], **hparams)
    x = {"x": np.array(x0, dtype=float)}
    path = []
    for g in grads_seq:
        opt.step(x, {"x": np.array(g, dtype=float)})
        path.append(x["x"].copy())
    return np.array(path)


GRADS = np.random.default_rng(5).normal(size=(8, 3))
LRS = [0.1, 0.05, 0.2, 0.01, 0.1, 0.3, 0.2, 0.1]


@pytest.mark.parametrize("form", ["torch", "keras"])
def test_momentum_and_nesterov_follow_their_equations(form):
    x0, m = np.array([1.0, -2.0, 0.5]), 0.8
    for nesterov in (False, True):
        x, v, expected = x0.copy(), np.zeros(3), []
        for lr, g in zip(LRS, GRADS):
            if form == "torch":  # b = m b + g;  x -= lr (b or g + m b)
                v = m * v + g
                x = x - lr * (g + m * v if nesterov else v)
            else:  # v = m v - lr g;  x += (v or m v - lr g)
                v = m * v - lr * g
                x = x + (m * v - lr * g if nesterov else v)
            expected.append(x)
        got = run_rule("sgd", GRADS, x0, LRS, momentum=m, nesterov=nesterov, momentum_form=form)
        np.testing.assert_allclose(got, expected, rtol=1e-14, atol=1e-15)
        pure, state = x0, None
        for lr, g in zip(LRS, GRADS):
            pure, state = optim.sgd_step(pure, g, state, lr=lr, momentum=m, nesterov=nesterov, momentum_form=form)
        np.testing.assert_allclose(pure, expected[-1], rtol=1e-14)
        assert set(state) == {"velocity" if form == "torch" else "keras_velocity"}


def test_nesterov_form_is_sutskevers_nag_at_the_look_ahead_point():
    """Sutskever et al. (2013): v <- m v - lr grad f(x + m v), x <- x + v. The frameworks' form tracks the
    look-ahead point y = x + m v with the gradient at y: y_t = x_t + m v_t for every t (constant lr)."""
    a = np.array([1.0, 10.0, 0.3])  # f = sum a x^2 / 2, grad = a x

    def grad(z):
        return a * z

    m, lr, x, v = 0.9, 0.05, np.array([1.0, -1.0, 2.0]), np.zeros(3)
    opts = {form: optim.SGD(lr, momentum=m, nesterov=True, momentum_form=form) for form in ("torch", "keras")}
    ys = {form: {"x": x.copy()} for form in opts}
    for _ in range(30):
        v = m * v - lr * grad(x + m * v)
        x = x + v
        for form, opt in opts.items():
            opt.step(ys[form], {"x": grad(ys[form]["x"])})
            np.testing.assert_allclose(ys[form]["x"], x + m * v, rtol=1e-12, atol=1e-15)


def test_adadelta_follows_its_equations():
    x0, rho, eps = np.array([1.0, -2.0, 0.5]), 0.9, 1e-6
    x, s, u, expected = x0.copy(), np.zeros(3), np.zeros(3), []
    for lr, g in zip(LRS, GRADS):
        s = rho * s + (1 - rho) * g**2
        delta = np.sqrt(u + eps) / np.sqrt(s + eps) * g
        u = rho * u + (1 - rho) * delta**2
        x = x - lr * delta
        expected.append(x)
    np.testing.assert_allclose(run_rule("adadelta", GRADS, x0, LRS, rho=rho, eps=eps), expected, rtol=1e-14)
    pure, state = x0, None
    for lr, g in zip(LRS, GRADS):
        pure, state = optim.adadelta_step(pure, g, state, lr=lr, rho=rho, eps=eps)
    np.testing.assert_allclose(pure, expected[-1], rtol=1e-14)
    np.testing.assert_allclose(state["acc_delta"], u, rtol=1e-14)
    # the first step is sqrt(eps) / sqrt((1 - rho) g^2 + eps) * g: tiny, Adadelta's slow start
    x1, _ = optim.adadelta_step(np.zeros(1), np.array([1.0]), lr=1.0)
    assert x1[0] == pytest.approx(-np.sqrt(1e-6) / np.sqrt(0.1 + 1e-6), rel=1e-14)


def test_adadelta_defaults_are_torchs_and_the_keras_fixture_uses_keras_defaults():
    assert repr(optim.Adadelta()) == "Adadelta(lr=1.0, rho=0.9, eps=1e-06)"
    keras_case = next(c for c in KERAS_FIX["cases"] if c["name"] == "adadelta_defaults")
    assert keras_case["framework"] == {} and keras_case["lrs"][0] == 0.001
    assert keras_case["lablib"] == {"rho": 0.95, "eps": 1e-7}


def test_momentum_forms_and_nesterov_bad_input():
    with pytest.raises(ValueError, match="momentum_form"):
        optim.SGD(0.1, momentum=0.9, momentum_form="tf")
    with pytest.raises(TypeError, match="nesterov"):
        optim.SGD(0.1, momentum=0.9, nesterov="yes")
    with pytest.raises(ValueError, match="momentum must be > 0 when nesterov"):
        optim.sgd_step(np.ones(2), np.ones(2), lr=0.1, nesterov=True)
    _, state = optim.sgd_step(np.ones(2), np.ones(2), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="state holds 'velocity'"):
        optim.sgd_step(np.ones(2), np.ones(2), state, lr=0.1, momentum=0.9, momentum_form="keras")
    with pytest.raises(ValueError, match="rho"):
        optim.Adadelta(rho=1.0)
    with pytest.raises(ValueError, match="eps"):
        optim.adadelta_step(np.ones(2), np.ones(2), eps=0.0)


def test_pure_steps_refuse_overflowing_gradients_instead_of_stalling():
    # g^2 = 1e400 overflows: torch and Keras then take a zero step; the pure functions say so instead
    for step in (optim.adam_step, optim.rmsprop_step, optim.adagrad_step, optim.adagrad_norm_step,
                 optim.adadelta_step):
        with pytest.raises(ValueError, match="grads are too large"):
            step(np.ones(2), np.array([1e200, 1.0]), lr=0.1)
    x, _ = optim.sgd_step(np.ones(2), np.array([1e200, 1.0]), lr=1e-200)  # no square: fine
    np.testing.assert_allclose(x, [0.0, 1.0], atol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Class behaviour


def test_class_updates_in_place_and_tracks_lr():
    W, b = np.ones((2, 3)), np.zeros(3)
    params = {"W": W, "b": b}
    grads = {"W": np.full((2, 3), 2.0), "b": np.array([1.0, -1.0, 0.0])}
    opt = optim.SGD(lr=lambda t: 0.1 / (t + 1))
    assert opt.lr == 0.1 and opt.iterations == 0
    opt.step(params, grads)
    assert params["W"] is W and params["b"] is b  # the MLP holds references to these arrays
    np.testing.assert_allclose(W, 1 - 0.2)
    np.testing.assert_allclose(b, [-0.1, 0.1, 0.0])
    assert opt.iterations == 1 and opt.lr == 0.05
    opt.lr = 0.5  # replaces the schedule (reduce-on-plateau does this)
    opt.step(params, grads)
    np.testing.assert_allclose(W, 0.8 - 1.0)
    assert opt.lr == 0.5 and opt.iterations == 2
    assert grads["W"].tolist() == [[2.0] * 3] * 2  # grads untouched


def test_class_keeps_float32_params_float32():
    W = np.ones(3, dtype=np.float32)
    optim.Adam(lr=0.1).step({"W": W}, {"W": np.ones(3, dtype=np.float32)})
    assert W.dtype == np.float32
    np.testing.assert_allclose(W, 0.9, rtol=1e-6)


def test_sgd_class_equals_gradient_descent():
    xs = optim.gradient_descent(lambda v: 2 * v, np.array([1.0, -3.0]), 0.1, 10)
    x = {"x": np.array([1.0, -3.0])}
    opt = optim.SGD(0.1)
    for t in range(10):
        opt.step(x, {"x": 2 * x["x"]})
        np.testing.assert_allclose(x["x"], xs[t + 1], rtol=1e-15)


ARRAYS = st.integers(1, 4).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-10, 10), min_size=n, max_size=n),
        st.lists(st.lists(st.floats(-10, 10), min_size=n, max_size=n), min_size=3, max_size=3),
    )
)
RULES = st.sampled_from(
    [
        ("sgd", {"lr": 0.1, "momentum": 0.9}),
        ("adagrad", {"lr": 0.1}),
        ("rmsprop", {"lr": 0.01}),
        ("adam", {"lr": 0.01, "eps_convention": "keras", "eps": 1e-7}),
    ]
)


@settings(max_examples=40, deadline=None)
@given(ARRAYS, RULES)
def test_pure_function_does_not_mutate_and_equals_class(data, rule):
    x0, grads = np.array(data[0]), [np.array(g) for g in data[1]]
    name, kwargs = rule[0], dict(rule[1])
    lr = kwargs.pop("lr")
    opt = CLASSES[name](lr, **kwargs)
    live = {"p": x0.copy()}
    x, state = x0.copy(), None
    for g in grads:
        x_before, g_before = x.copy(), g.copy()
        state_before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in (state or {}).items()}
        new_x, new_state = STEPS[name](x, g, state, lr=lr, **kwargs)
        assert np.array_equal(x, x_before) and np.array_equal(g, g_before)
        for k, v in state_before.items():
            assert np.array_equal(state[k], v)
        opt.step(live, {"p": g})
        np.testing.assert_array_equal(new_x, live["p"])
        x, state = new_x, new_state


# ---------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: optim.SGD(0.0), "lr"),
        (lambda: optim.SGD(-0.1), "lr"),
        (lambda: optim.SGD(np.nan), "lr"),
        (lambda: optim.SGD(0.1, momentum=1.0), "momentum"),
        (lambda: optim.SGD(0.1, momentum=-0.1), "momentum"),
        (lambda: optim.AdaGradNorm(0.1, eps=0.0), "eps"),
        (lambda: optim.Adagrad(0.1, initial_accumulator=-1.0), "initial_accumulator"),
        (lambda: optim.Adagrad(0.1, eps_convention="tf"), "eps_convention"),
        (lambda: optim.RMSprop(0.1, rho=1.0), "rho"),
        (lambda: optim.RMSprop(0.1, eps=-1e-8), "eps"),
        (lambda: optim.Adam(beta1=1.0), "beta1"),
        (lambda: optim.Adam(beta2=-0.5), "beta2"),
        (lambda: optim.Adam(eps=0.0), "eps"),
        (lambda: optim.Adam(eps_convention="jax"), "eps_convention"),
        (lambda: optim.SGD(lambda t: -1.0), "lr"),
        (lambda: optim.sgd_step(np.ones(2), np.ones(2), lr=0.0), "lr"),
        (lambda: optim.adam_step(np.ones(2), np.ones(2), lr=0.1, beta1=1.5), "beta1"),
        (lambda: optim.rmsprop_step(np.ones(2), np.ones(2), lr=0.1, rho=-0.1), "rho"),
        (lambda: optim.adagrad_norm_step(np.ones(2), np.ones(2), lr=0.1, eps=-1.0), "eps"),
        (lambda: optim.adagrad_step(np.ones(2), np.ones(2), lr=-1.0), "lr"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_type_hyperparameters():
    with pytest.raises(TypeError, match="lr"):
        optim.SGD("0.1")
    with pytest.raises(TypeError, match="momentum"):
        optim.SGD(0.1, momentum=True)


def test_bad_step_arguments():
    opt = optim.Adam(lr=0.1)
    params = {"W": np.ones((2, 2)), "b": np.zeros(2)}
    with pytest.raises(ValueError, match="grads"):
        opt.step(params, {"W": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"grads\['b'\]"):
        opt.step(params, {"W": np.ones((2, 2)), "b": np.ones(3)})
    with pytest.raises(TypeError, match="params"):
        opt.step(np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match=r"params\['W'\]"):
        opt.step({"W": np.ones(2, dtype=int)}, {"W": np.ones(2)})
    with pytest.raises(TypeError, match=r"grads\['W'\]"):
        opt.step({"W": np.ones(2)}, {"W": [1.0, 2.0]})
    opt.step(params, {"W": np.ones((2, 2)), "b": np.ones(2)})
    with pytest.raises(ValueError, match="state"):  # same names, but shapes changed under the optimizer
        opt.step({"W": np.ones((3, 3)), "b": np.zeros(2)}, {"W": np.ones((3, 3)), "b": np.ones(2)})
    sched_opt = optim.SGD(lambda t: 0.1 if t < 1 else np.nan)
    sched_opt.step({"x": np.ones(1)}, {"x": np.ones(1)})
    with pytest.raises(ValueError, match="lr"):
        sched_opt.step({"x": np.ones(1)}, {"x": np.ones(1)})


def test_bad_pure_step_arguments():
    with pytest.raises(ValueError, match="params"):
        optim.sgd_step(np.array([np.nan, 1.0]), np.ones(2), lr=0.1)
    with pytest.raises(ValueError, match="grads"):
        optim.sgd_step(np.ones(2), np.array([np.inf, 1.0]), lr=0.1)
    with pytest.raises(ValueError, match="grads"):
        optim.sgd_step(np.ones(2), np.ones(3), lr=0.1)
    with pytest.raises(TypeError, match="grads"):
        optim.sgd_step({"W": np.ones(2)}, np.ones(2), lr=0.1)
    with pytest.raises(TypeError, match="grads"):
        optim.sgd_step(np.ones(2), {"W": np.ones(2)}, lr=0.1)
    with pytest.raises(ValueError, match="grads"):
        optim.sgd_step({"W": np.ones(2)}, {"V": np.ones(2)}, lr=0.1)
    with pytest.raises(TypeError, match="state"):
        optim.adam_step(np.ones(2), np.ones(2), [1, 2], lr=0.1)
    with pytest.raises(ValueError, match="state"):
        optim.adam_step(np.ones(2), np.ones(2), {"t": 1, "m": np.ones(3), "v": np.ones(3)}, lr=0.1)


# --- StepRule: a lab's step function (x, grad, state, lr, ...) -> (new_x, new_state) over a whole network

def _network(rng):
    return {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "V": rng.normal(size=(2, 4))}


def _momentum_by_hand(x, grad, state, lr, momentum=0.9):
    """The course's momentum written as a student would: g_t = momentum g_{t-1} + grad, x - lr g_t."""
    g = momentum * state.get("g", 0.0) + grad
    return x - lr * g, {"g": g}


def _adagrad_norm_by_hand(x, grad, state, lr, eps=1e-8):
    S = state.get("S", 0.0) + float(np.sum(grad * grad))
    return x - lr / np.sqrt(eps + S) * grad, {"S": S}


@pytest.mark.parametrize("rule, make_class, hparams", [
    (_momentum_by_hand, lambda lr: optim.SGD(lr, momentum=0.7), {"momentum": 0.7}),
    (_adagrad_norm_by_hand, lambda lr: optim.AdaGradNorm(lr), {}),  # ONE accumulator for all arrays
    (lambda x, grad, state, lr: optim.adam_step(x, grad, state, lr=lr), lambda lr: optim.Adam(lr), {}),
])
def test_step_rule_trains_like_the_class(rule, make_class, hparams):
    rng = np.random.default_rng(3)
    params = _network(rng)
    by_class = {k: v.copy() for k, v in params.items()}
    schedule = lambda t: 0.1 / (1 + t)  # noqa: E731  a schedule t -> lr, t = steps already taken
    ours, theirs = optim.StepRule(rule, lr=schedule, **hparams), make_class(schedule)
    for _ in range(6):
        grads = {k: rng.normal(size=v.shape) for k, v in params.items()}
        ours.step(params, {k: g.copy() for k, g in grads.items()})
        theirs.step(by_class, grads)
    assert ours.iterations == 6 and ours.lr == pytest.approx(0.1 / 7)
    for k in params:
        np.testing.assert_allclose(params[k], by_class[k], rtol=1e-13, atol=1e-15)


def test_step_rule_joins_the_arrays_for_a_norm():
    # two arrays, gradients (3, 4) and (0,): AdaGrad-Norm's first step is lr * grad / ||grad|| with the norm of
    # the whole gradient, 5 (by hand), not of each array (which would move W by lr * (0.6, 0.8) and b by 0)
    params = {"W": np.zeros(2), "b": np.zeros(1)}
    opt = optim.StepRule(_adagrad_norm_by_hand, lr=1.0, eps=0.0)
    opt.step(params, {"W": np.array([3.0, 4.0]), "b": np.array([0.0])})
    np.testing.assert_allclose(params["W"], [-0.6, -0.8], rtol=1e-15)
    assert params["b"][0] == 0.0 and opt.state == {"S": 25.0}
    assert repr(opt) == "StepRule('_adagrad_norm_by_hand', lr=1.0, eps=0.0)"


def test_step_rule_reports_a_step_function_that_breaks_the_contract():
    params, grads = {"W": np.ones(3)}, {"W": np.ones(3)}
    with pytest.raises(TypeError, match="step must be a function"):
        optim.StepRule("adam", lr=0.1)
    with pytest.raises(TypeError, match=r"must return \(new_x, new_state\)"):
        optim.StepRule(lambda x, grad, state, lr: x - lr * grad, lr=0.1).step(params, grads)
    with pytest.raises(ValueError, match=r"new_x of the shape of x, \(3,\)"):
        optim.StepRule(lambda x, grad, state, lr: (x[:2], {}), lr=0.1).step(params, grads)
    with pytest.raises(TypeError, match="new_state"):
        optim.StepRule(lambda x, grad, state, lr: (x, None), lr=0.1).step(params, grads)
    np.testing.assert_array_equal(params["W"], np.ones(3))  # nothing written when the step is refused
    with pytest.raises(NotImplementedError):  # a lab's stub: the experiment cell's needs(...) reports it
        optim.StepRule(lambda x, grad, state, lr: (_ for _ in ()).throw(NotImplementedError()), lr=0.1).step(
            params, grads)
