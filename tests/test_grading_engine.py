"""lablib.grading's engine: the order and content of its messages, output capture, the tripwire, seeds.

The students here are small notebook functions written for one failure each; the messages asserted are the
ones the contract promises (exercise, case, quantity, worst index, expected vs got, tolerance).
"""
import re
import warnings

import numpy as np
import pytest

import lablib
from lablib import nn, optim
from lablib.grading import DEFAULT_HIDDEN_SEED, EXERCISES, CheckFailure, check
from lablib.grading.engine import run_check
from lablib.grading.engine import compare, hidden_seed
from lablib.grading.tripwire import ReferenceCalled, guard, resolve


def adam_ok(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * grad
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * grad**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return x - lr * m_hat / (np.sqrt(v_hat) + eps), {"t": t, "m": m, "v": v}


def dense_forward(x, W, b):  # a correct forward; its name is what dense_backward's check looks up
    return x @ W + b, (x, W)


def failure(name, fn, **kwargs) -> str:
    with pytest.raises(CheckFailure) as info:
        check(name, fn, **kwargs)
    return str(info.value)


def test_success_prints_one_line_and_returns_none(capfd):
    assert check("adam_step", adam_ok) is None
    out, err = capfd.readouterr()
    assert err == ""
    assert re.fullmatch(r"✓ adam_step: \d+ public checks passed \(all 4 cases\) — hidden cases run when your lab is graded\n", out)


def test_check_failure_is_an_assertion_error():
    assert issubclass(CheckFailure, AssertionError)


def test_unknown_exercise():
    with pytest.raises(CheckFailure, match="unknown exercise 'adam'; known: .*adam_step"):
        check("adam", adam_ok)


def test_not_callable():
    message = failure("adam_step", np.zeros(3))
    assert message.startswith("adam_step: expected your function, got an array of dtype float64 and shape (3,)")
    assert "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):" in message


def test_wrong_arity_names_the_call_and_the_lab_signature():
    def adam_step(x, grad, lr):
        return x, {}
    message = failure("adam_step", adam_step)
    assert "cannot be called as `adam_step(x, grad, state, lr)`" in message
    assert "The lab's signature is:\n    def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):" in message


def test_missing_keyword_parameter_is_an_arity_failure():
    def adam_step(x, grad, state, lr):  # no beta1/beta2/eps: fails on the case that passes them
        return adam_ok(x, grad, state, lr)
    message = failure("adam_step", adam_step)
    assert "public case 2" in message and "unexpected keyword argument 'beta1'" in message


def test_return_structure_tuple():
    message = failure("adam_step", lambda x, grad, state, lr, **kw: x - lr * grad)
    assert "the return value of step 1 (new_x, new_state): expected a tuple of 2 values, got an array" in message


def test_return_structure_none():
    message = failure("dense_forward", lambda x, W, b: None)
    assert "the return value (out, cache): expected a tuple of 2 values, got None — did you forget a `return`?" in message


def test_return_structure_dict_and_keys():
    message = failure("forward_222", lambda w: [0.5, 0.5, 0.5, 0.5])
    assert "expected a dict, got a list of length 4" in message
    message = failure("forward_222", lambda w: {"out_h1": 0.5, "out_h2": 0.5, "out_o1": 0.5})
    assert "the returned dict is missing the key 'out_o2'" in message


def test_type_message():
    message = failure("f", lambda x: "x squared")
    assert "f(x) should be a real number, got str 'x squared'" in message


def test_transposed_shape_hint():
    def dense_backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, dout.sum(axis=0)
    check("dense_backward", dense_backward)

    def dense_backward_t(dout, cache):
        x, W = cache
        return dout @ W.T, (x.T @ dout).T, dout.sum(axis=0)
    dense_backward_t.__globals__["dense_forward"] = dense_forward
    message = failure("dense_backward", dense_backward_t)
    assert "dW has shape (2, 3), expected (3, 2) — it looks transposed (rows and columns swapped)" in message
    assert "dW transposed" in message  # the catalogued mistake, too


def test_keepdims_hint():
    def dense_backward(dout, cache):
        x, W = cache
        return dout @ W.T, x.T @ dout, dout.sum(axis=0, keepdims=True)
    message = failure("dense_backward", dense_backward)
    assert "db has shape (1, 2), expected (2,) — same number of entries, different layout" in message


def test_nan_output():
    message = failure("softmax_cross_entropy", lambda logits, y: (np.nan, np.full(logits.shape, np.nan)))
    assert re.search(r"public case 1: logits of shape \(4, 3\):\n  loss is nan \(expected \d\.\d+\) — look for", message)
    message = failure("f", lambda x: x * x if np.ndim(x) == 0 else np.where(x > 0, np.inf, x * x))
    assert "f(x) contains inf at index (3,) (expected 1); 2 non-finite entries in all" in message


def test_wrong_values_name_case_quantity_index_and_tolerance():
    def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        new_x, state = adam_ok(x, grad, state, lr, beta1, beta2, eps)
        if state["t"] == 2:
            new_x = new_x.copy()
            new_x[1] += 1e-3
        return new_x, state
    message = failure("adam_step", adam_step)
    assert message.startswith("adam_step — public case 1: x of shape (3,), 3 steps, lr=0.1, default hyperparameters:")
    assert re.search(r"x after step 2 is wrong at index \(1,\): expected -?[\d.]+, got -?[\d.]+ "
                     r"\(\|difference\| 0\.001 > tolerance [\d.e-]+ = 1e-13 \+ 1e-10·\|expected\|\); "
                     r"1 of 3 entries differ", message)
    assert "Also different: x after step 3." in message  # the case ran on: every quantity is known
    assert "known mistake" not in message


def test_student_exception_shows_the_students_own_frames_and_is_chained():
    def helper(g):
        return g.reshape(-1, 7)  # a ValueError inside numpy, called from the student's helper

    def clip_by_value(g, clip_value):
        return np.clip(helper(g), -clip_value, clip_value)
    with pytest.raises(CheckFailure) as info:
        check("clip_by_value", clip_by_value)
    message = str(info.value)
    assert "`clip_by_value(g, clip_value)` raised ValueError: cannot reshape array" in message
    frames = message.split("Traceback of your code:\n")[1]
    assert "in clip_by_value\n    return np.clip(helper(g), -clip_value, clip_value)" in frames
    assert "in helper\n    return g.reshape(-1, 7)" in frames
    assert "lablib/grading" not in message and "numpy/" not in frames  # no lablib or numpy frames
    assert isinstance(info.value.__cause__, ValueError)


def test_partner_missing_and_partner_not_implemented():
    namespace = {"np": np}
    exec("def batchnorm_backward(dout, cache):\n    return None\n", namespace)
    message = failure("batchnorm_backward", namespace["batchnorm_backward"])
    assert "this check uses your `batchnorm_forward`" in message
    exec("def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
         "    raise NotImplementedError()\n", namespace)
    message = failure("batchnorm_backward", namespace["batchnorm_backward"])
    assert message == ("batchnorm_backward: this check uses your `batchnorm_forward`, which is not implemented yet — "
                       "fix `batchnorm_forward` first")


def test_output_and_warnings_are_captured_and_summarised(capfd, recwarn):
    def clip_by_value(g, clip_value):
        print("clipping", g.shape)
        print("done")
        warnings.warn("careful", RuntimeWarning, stacklevel=2)
        with np.errstate(divide="warn"):
            np.log(np.zeros(1))
        return np.clip(g, -clip_value, clip_value)
    assert check("clip_by_value", clip_by_value) is None
    out, err = capfd.readouterr()
    assert err == "" and len(recwarn) == 0
    assert out.count("\n") == 1
    assert "; note: your function printed 12 lines and emitted RuntimeWarning: careful (+1 more) (not an error)" in out


def test_notes_also_appear_in_failure_messages(capfd):
    def clip_by_value(g, clip_value):
        print("hello")
        return g
    message = failure("clip_by_value", clip_by_value)
    assert "(note: your function printed 1 line (not an error))" in message
    assert capfd.readouterr() == ("", "")


def test_optimizer_class_counts_as_the_reference():
    def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        opt = state.get("opt") or optim.Adam(lr, beta1, beta2, eps)
        params = {"x": np.array(x, dtype=float)}
        opt.step(params, {"x": np.asarray(grad, dtype=float)})
        return params["x"], {"opt": opt}
    message = failure("adam_step", adam_step)
    assert "calls lablib's reference `lablib.optim._adam_update`; implement it yourself" in message
    params = {"x": np.ones(2)}
    optim.Adam(0.1).step(params, {"x": np.ones(2)})  # restored: works again
    np.testing.assert_allclose(params["x"], [0.9, 0.9])


def test_reference_used_under_another_name_before_the_check():
    from lablib.nn import batchnorm_forward as my_bn  # imported long before the check

    def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
        return my_bn(x, gamma, beta, state, train=train, momentum=momentum, eps=eps)
    message = failure("batchnorm_forward", batchnorm_forward)
    assert "calls lablib's reference `lablib.nn.batchnorm_forward`" in message
    out, _ = nn.batchnorm_forward(np.array([[0.0], [2.0]]), np.ones(1), np.zeros(1), nn.batchnorm_init(1), train=True,
                                  eps=1e-12)
    np.testing.assert_allclose(out.ravel(), [-1.0, 1.0])


def test_tripwire_restores_after_errors_and_nests():
    funcs = resolve("lablib.clip.clip_by_value", "lablib.nn.dense._dense_forward")
    original = {name: f.__code__ for name, f in funcs.items()}
    with pytest.raises(ZeroDivisionError):
        with guard(funcs):
            raise ZeroDivisionError("inside the guard")
    assert {name: f.__code__ for name, f in funcs.items()} == original
    with guard(funcs) as outer:
        with guard({}) as inner:
            with pytest.raises(ReferenceCalled):
                lablib.clip.clip_by_value(np.ones(2), 1.0)
        assert inner.first == "lablib.clip.clip_by_value" and outer.first is None
    np.testing.assert_array_equal(lablib.clip.clip_by_value(np.array([3.0, -3.0]), 1.0), [1.0, -1.0])


def test_hidden_messages_describe_the_case_but_not_the_seed(monkeypatch):
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "987654321")
    message = failure("clip_by_value", lambda g, clip_value: np.minimum(g, clip_value), hidden=True)
    assert message.startswith("clip_by_value — hidden case ") and "g of shape" in message
    assert "987654321" not in message


def test_hidden_seed_environment_variable(monkeypatch):
    monkeypatch.delenv("LABLIB_HIDDEN_SEED", raising=False)
    from lablib.grading import DEFAULT_HIDDEN_SEED
    assert hidden_seed() == DEFAULT_HIDDEN_SEED
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "42")
    assert hidden_seed() == 42
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "forty-two")
    with pytest.raises(ValueError, match="LABLIB_HIDDEN_SEED must be an integer, got 'forty-two'"):
        check("adam_step", adam_ok, hidden=True)


def test_global_rng_neither_used_nor_needed():
    np.random.seed(1)
    before = np.random.get_state()[1].copy()
    check("dropout_forward", _dropout_ok)
    check("minibatches", _minibatches_ok, hidden=True)
    assert np.array_equal(np.random.get_state()[1], before)
    np.random.seed(2)  # a different global state changes nothing
    check("dropout_forward", _dropout_ok)


def _dropout_ok(x, rate, train, rng):
    if not train or rate == 0:
        return x, None
    keep = rng.random(x.shape) >= rate
    return x * keep / (1 - rate), keep


def _minibatches_ok(X, y, batch_size, rng=None, shuffle=True):
    order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
    for start in range(0, len(X), batch_size):
        yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]


def test_dropout_property_messages():
    def biased(x, rate, train, rng):  # keeps too many entries (rate halved)
        return _dropout_ok(x, rate / 2, train, rng)[0] * (1 - rate / 2) / (1 - rate), None
    message = failure("dropout_forward", biased)
    assert re.search(r"fraction of entries kept: is 0\.(89|90)\d\d over 2000 entries", message)
    assert "expected 1 - rate = 0.8 within ±" in message


def test_mistake_matching_for_nan_outputs():
    mistake = EXERCISES["adam_step"].mistake("step counter incremented late")
    message = failure("adam_step", mistake.impl)
    assert "x after step 1 contains nan at index (0,)" in message or "x after step 1 contains -inf" in message \
        or "x after step 1 contains inf" in message
    assert mistake.hint in message


@pytest.mark.parametrize("got, expected, text", [
    (None, 1.0, "is None, expected a single number — did you forget a `return`?"),
    (np.zeros(2), 1.0, "should be a single number, got an array of shape (2,)"),
    (1.0, np.zeros(2), "should be an array of shape (2,), got a single number"),
    (np.zeros((3, 2)), np.zeros((2, 3)), "has shape (3, 2), expected (2, 3) — it looks transposed"),
    ([1.0, "a"], np.zeros(2), "should be a numpy array of real numbers, shape (2,), got a list of length 2"),
    (np.array([1.0, 2.0 + 1e-3]), np.array([1.0, 2.0]), "is wrong at index (1,): expected 2, got 2.001"),
])
def test_compare_messages(got, expected, text):
    assert text in compare(got, expected, 1e-6, 1e-9)


def test_compare_integers_exactly():
    message = compare(np.array([0, 2, 1]), np.array([0, 1, 2]), 1e-6, 1e-9)
    assert message.startswith("is wrong at index (1,): expected 1, got 2; 2 of 3 entries differ")
    assert "tolerance" not in message


def test_compare_accepts_lists_and_tolerance():
    assert compare([1.0, 2.0], np.array([1.0, 2.0 + 1e-7]), 1e-6, 1e-9) is None
    assert compare(np.float32(0.5), 0.5, 1e-6, 1e-9) is None
    assert compare(np.array([np.nan]), np.array([np.nan]), 1e-6, 1e-9) is None  # both NaN: agree


def test_endless_generator_is_stopped():
    def minibatches(X, y, batch_size, rng=None, shuffle=True):
        while True:  # a Keras-style endless data generator
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for start in range(0, len(X), batch_size):
                yield X[order[start:start + batch_size]], y[order[start:start + batch_size]]
    message = failure("minibatches", minibatches)
    assert "`minibatches` yields more than 10 items: it should stop after one pass (an epoch)" in message


def test_public_labels_show_seeds_hidden_labels_do_not(monkeypatch):
    monkeypatch.setenv("LABLIB_HIDDEN_SEED", "7")
    for name in ("minibatches", "dropout_forward"):
        ex = EXERCISES[name]
        assert "rng=np.random.default_rng(0)" in ex.cases()[0].label
        hidden = [case.label for case in ex.cases(hidden=True)]
        assert any("default_rng(seed)" in label for label in hidden)
        assert not any(str(case.seed) in case.label for case in ex.cases(hidden=True) if case.seed is not None)


def _gd(grad, x0, lr, n_steps, tol=None, *, on_overflow="carry on", rewrite=False):
    xs = [np.asarray(x0, dtype=float)]
    with np.errstate(all="ignore"):
        for _ in range(n_steps):
            x = xs[-1]
            g = grad(x)
            if tol is not None and np.linalg.norm(g) < tol:
                break
            new = x * (1 - 2 * lr) if rewrite and np.ndim(x) == 0 else x - lr * g  # f = x**2 cases
            if not np.all(np.isfinite(new)):
                if on_overflow == "stop":
                    break
                if on_overflow == "include and stop":
                    xs.append(new)
                    break
                if on_overflow == "clip":
                    new = np.clip(new, -1e300, 1e300)
            xs.append(new)
    return np.array(xs)


@pytest.mark.parametrize("on_overflow", ["carry on", "stop", "include and stop"])
@pytest.mark.parametrize("rewrite", [False, True])
def test_gradient_descent_divergence_accepts_any_honest_ending(on_overflow, rewrite):
    def gradient_descent(grad, x0, lr, n_steps, tol=None):
        return _gd(grad, x0, lr, n_steps, tol, on_overflow=on_overflow, rewrite=rewrite)
    check("gradient_descent", gradient_descent)
    check("gradient_descent", gradient_descent, hidden=True)


def test_gradient_descent_divergence_rejects_made_up_finite_iterates():
    def gradient_descent(grad, x0, lr, n_steps, tol=None):
        return _gd(grad, x0, lr, n_steps, tol, on_overflow="clip")
    message = failure("gradient_descent", gradient_descent)
    assert "public case 6" in message and "(diverges: overflow after 134 steps)" in message
    assert "iterates: the iterates overflow after step 134, so row 136 cannot be finite" in message


# ---------------------------------------------------------------------------------------------------------
# Arguments changed in place, returned memory shared with an argument


def test_an_argument_changed_in_place_is_named_with_the_entry_before_and_after():
    def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        new_x, new_state = adam_ok(x, grad, state, lr, beta1, beta2, eps)
        x -= x - new_x  # right values, returned as the caller's own array
        return x, new_state
    message = failure("adam_step", adam_step)
    x0 = EXERCISES["adam_step"].cases()[0].x0
    assert message.startswith("adam_step — public case 1: x of shape (3,), 3 steps, lr=0.1, default hyperparameters:\n"
                              f"  you modified `x` in place: x[0] was {x0[0]:.10g}, is now ")
    assert "This matches a known mistake — x updated in place: `x -= ...` changes the caller's x" in message


def test_the_contract_lets_batchnorm_forward_update_state_but_not_x():
    def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
        out, cache = nn_batchnorm(x, gamma, beta, state, train, momentum, eps)
        return out, cache
    check("batchnorm_forward", batchnorm_forward)  # it writes into state: allowed

    def normalises_x(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
        out, cache = nn_batchnorm(x.copy(), gamma, beta, state, train, momentum, eps)
        x[0, 0] += 1.0
        return out, cache
    message = failure("batchnorm_forward", normalises_x)
    assert "you modified `x` in place: x[0, 0] was " in message


def nn_batchnorm(x, gamma, beta, state, train, momentum, eps):
    """A correct batch norm forward (course convention), written here."""
    if train:
        mu, var = x.mean(axis=0), x.var(axis=0)
        state["running_mean"] = momentum * state["running_mean"] + (1 - momentum) * mu
        state["running_var"] = momentum * state["running_var"] + (1 - momentum) * var
    else:
        mu, var = state["running_mean"], state["running_var"]
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (x_hat, gamma, 1 / np.sqrt(var + eps), train)


def test_numerical_gradient_may_move_x_during_the_call_if_it_puts_it_back():
    def numerical_gradient(f, x, h=1e-5):
        g = np.zeros_like(x)
        for i in np.ndindex(x.shape):
            x[i] += h
            up = f(x)
            x[i] -= 2 * h
            g[i] = (up - f(x)) / (2 * h)
            x[i] += h  # back within an ulp or two
        return g
    check("numerical_gradient", numerical_gradient)

    def nudges(f, x, h=1e-5):
        g = numerical_gradient(f, x, h)
        x.flat[0] += 1e-9  # a nudge of 1e-9 is no round-off: x was not restored
        return g
    message = failure("numerical_gradient", nudges)
    assert "you modified `x` in place: x[0] was" in message


def test_a_state_holding_the_callers_gradient_array_is_caught():
    def sgd_momentum_step(x, grad, state, lr, momentum=0.9):
        velocity = grad if not state else momentum * state["v"] + grad
        return x - lr * velocity, {"v": velocity}
    message = failure("sgd_momentum_step", sgd_momentum_step)
    assert "new_state['v'] shares memory with the argument `grad` (it is that array or a view of it)" in message
    assert "known mistake — velocity is the gradient array" in message

    def copies(x, grad, state, lr, momentum=0.9):
        velocity = np.array(grad) if not state else momentum * state["v"] + grad
        return x - lr * velocity, {"v": velocity}
    check("sgd_momentum_step", copies)


def test_dropout_in_test_mode_may_return_x_itself():
    def dropout_forward(x, rate, train, rng):  # what PyTorch does: the identity returns its input
        return (x, None) if not train or rate == 0 else _dropout_ok(x, rate, train, rng)
    check("dropout_forward", dropout_forward)


# ---------------------------------------------------------------------------------------------------------
# float32, rounded constants, expected warnings


def test_a_result_computed_in_float32_is_told_so():
    message = failure("elu", lambda x, alpha=1.0: np.where(np.asarray(x) > 0, x, alpha * np.expm1(
        np.minimum(np.float32(x), 0))).astype(np.float32))
    assert "it looks computed in float32 — keep float64, e.g. drop the `dtype=np.float32`" in message
    assert "known mistake" not in message
    message = failure("elu", lambda x, alpha=1.0: np.where(np.asarray(x) > 0, x, 0.99 * alpha * np.expm1(
        np.minimum(x, 0))))
    assert "float32" not in message  # float64, just wrong


def test_rounded_selu_constants_are_named_with_the_values_used():
    def selu(x):
        return 1.0507 * np.where(np.asarray(x) > 0, x, 1.67326 * np.expm1(np.minimum(x, 0)))
    message = failure("selu", selu)
    assert "This matches a known mistake — rounded constants: use the exact constants SELU_LAMBDA" in message
    assert "(your output matches lambda = 1.0507, alpha = 1.67326)" in message

    def lambda_only(x):  # alpha exact, lambda to 9 digits: 1e-10 off, still seen
        return 1.05070099 * np.where(np.asarray(x) > 0, x, nn.SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    assert "(your output matches lambda = 1.05070099)" in failure("selu", lambda_only)


def test_warnings_the_case_provokes_are_expected_others_are_reported(capfd):
    def gradient_descent(grad, x0, lr, n_steps, tol=None):
        return _gd(grad, x0, lr, n_steps, tol)  # carries on with inf and nan: numpy warns on the diverging cases
    check("gradient_descent", gradient_descent)
    out = capfd.readouterr().out
    assert "overflow" not in out and "note" not in out

    def warns_too(grad, x0, lr, n_steps, tol=None):
        warnings.warn("lr looks large", UserWarning)
        return _gd(grad, x0, lr, n_steps, tol)
    check("gradient_descent", warns_too)
    assert "emitted UserWarning: lr looks large (not an error)" in capfd.readouterr().out


# ---------------------------------------------------------------------------------------------------------
# A backward pass is judged once its forward pass is usable, against that forward's own values


BN_EPS_OUTSIDE = """
def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):
    mu, var = (x.mean(0), x.var(0)) if train else (state["running_mean"], state["running_var"])
    if train:
        state["running_mean"] = momentum * state["running_mean"] + (1 - momentum) * mu
        state["running_var"] = momentum * state["running_var"] + (1 - momentum) * var
    inv_std = 1 / (np.sqrt(var) + eps)                     # eps outside the root: out differs from the lab's
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std, train)

def batchnorm_backward(dout, cache):                       # the lab's formula: right for the cache it is given
    x_hat, gamma, inv_std, train = cache
    dx = gamma * inv_std * (dout - dout.mean(0) - x_hat * (dout * x_hat).mean(0)) if train else gamma * inv_std * dout
    return dx, (dout * x_hat).sum(0), dout.sum(0)
"""


def test_a_right_backward_passes_against_a_wrong_forward_that_gives_a_usable_cache():
    namespace = {"np": np}
    exec(BN_EPS_OUTSIDE, namespace)
    assert "eps outside the square root" in failure("batchnorm_forward", namespace["batchnorm_forward"])
    check("batchnorm_backward", namespace["batchnorm_backward"])  # one mistake, one deduction
    check("batchnorm_backward", namespace["batchnorm_backward"], hidden=True)


def test_a_wrong_backward_is_judged_against_the_students_forward_and_says_so():
    namespace = {"np": np}
    exec(BN_EPS_OUTSIDE.replace("dx = gamma * inv_std *", "dx = inv_std *"), namespace)
    message = failure("batchnorm_backward", namespace["batchnorm_backward"])
    assert "dx is wrong" in message
    assert "judged against YOUR batchnorm_forward's x_hat and 1/sqrt(var + eps)" in message


def test_an_unusable_forward_is_to_be_fixed_first():
    namespace = {"np": np}
    exec("def dense_forward(x, W, b):\n    return x @ W + b\n"          # no cache
         "def dense_backward(dout, cache):\n    return dout, dout, dout\n", namespace)
    message = failure("dense_backward", namespace["dense_backward"])
    assert message.startswith("dense_backward — public case 1: x of shape (4, 3), W of shape (3, 2), b of shape (2,):\n"
                              "  fix `dense_forward` first — this check uses it, and it should return (out, cache): "
                              "expected a tuple of 2 values, got an array")
    namespace = {"np": np}
    exec("def dense_forward(x, W, b):\n    x += b.sum()\n    return x @ W + b, (x, W)\n"
         "def dense_backward(dout, cache):\n    return dout, dout, dout\n", namespace)
    assert "fix `dense_forward` first — this check uses it, and you modified `x` in place" in \
        failure("dense_backward", namespace["dense_backward"])


# ---------------------------------------------------------------------------------------------------------
# The same verdicts in the grader, where the student's functions run in the sandbox


SANDBOXED = {
    "adam_step": "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                 "    t = state.get('t', 0) + 1\n    m = beta1 * state.get('m', 0.0) + (1 - beta1) * grad\n"
                 "    v = beta2 * state.get('v', 0.0) + (1 - beta2) * grad ** 2\n"
                 "    x -= lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)\n"
                 "    return x, {'t': t, 'm': m, 'v': v}",
    "sgd_momentum_step": "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n"
                         "    g = grad if 'g' not in state else momentum * state['g'] + grad\n"
                         "    return x - lr * g, {'g': g}",
    "early_stopping_step": "def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):\n"
                           "    epoch = state.get('epoch', -1) + 1\n"
                           "    if val_loss < state.get('best', np.inf) - min_delta:\n"
                           "        state.update(best=val_loss, wait=0, best_epoch=epoch)\n"
                           "    else:\n        state['wait'] = state.get('wait', 0) + 1\n"
                           "    state['epoch'] = epoch\n    return state['wait'] >= patience, state",
    "clip_by_global_norm": "def clip_by_global_norm(grads, max_norm):\n"
                           "    n = np.sqrt(sum(np.sum(g ** 2) for g in grads))\n"
                           "    for g in grads:\n        g *= max_norm / max(n, max_norm)\n    return grads, n",
    "selu": "def selu(x):\n    return 1.0507 * np.where(x > 0, x, 1.67326 * np.expm1(np.minimum(x, 0)))",
    "exponential_schedule": "def exponential_schedule(t, lr0, s):\n    return lr0 * 0.1 ** t / s",
    "numerical_gradient": "def numerical_gradient(f, x, h=1e-5):\n    g = np.zeros_like(x)\n"
                          "    for i in np.ndindex(x.shape):\n        x[i] += h\n        fp = f(x)\n"
                          "        x[i] -= 2 * h\n        g[i] = (fp - f(x)) / (2 * h)\n    return g",
}


@pytest.fixture(scope="module")
def sandboxed():
    from grading.pipeline.sandbox import Sandbox, available
    from grading.pipeline.verdict import Session

    source = "import numpy as np\n\n" + "\n\n".join(SANDBOXED.values())
    session = Session([{"label": "answers", "source": source, "guarded": []}],
                      sandbox=Sandbox(enabled=available() is None), call_timeout=20)
    yield session
    session.close()


@pytest.mark.parametrize("name", sorted(SANDBOXED))
def test_the_grader_sees_changed_arguments_and_shared_memory_as_the_kernel_does(name, sandboxed):
    namespace = {"np": np}
    exec(SANDBOXED[name], namespace)
    here = failure(name, namespace[name], hidden=True)
    remote = sandboxed.lookup(name)
    with pytest.raises(CheckFailure) as info:
        run_check(name, remote, hidden=True, seed=DEFAULT_HIDDEN_SEED)
    assert str(info.value) == here
    assert "known mistake" in here


# ---------------------------------------------------------------------------------------------------------
# The first screen in a Jupyter kernel: the message alone


def test_in_a_kernel_a_failed_check_is_its_message_and_a_passing_one_one_line(tmp_path):
    import nbclient
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "import numpy as np\nfrom lablib.grading import check",
        "def f(x):\n    raise NotImplementedError()",
        'check("f", f)',
        "def helper(x):\n    return x.reshape(7, -1)\n\ndef f(x):\n    return helper(x) ** 2",
        'check("f", f)',
        "def f(x):\n    return x * x",
        'check("f", f)')])
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=60, allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    [error] = nb.cells[2].outputs
    assert error.output_type == "error" and error.ename == "CheckFailure"
    assert error.traceback == ["f: not implemented yet — replace `raise NotImplementedError()` in the exercise cell "
                               "with your code"]
    [error] = nb.cells[4].outputs
    text = "\n".join(error.traceback)
    assert text.startswith("f — public case 1: x = 3:\n  `f(x)` raised AttributeError: 'float' object has no "
                           "attribute 'reshape'\n  Traceback of your code:\n")
    assert "Cell In[4], line 5, in f\n    return helper(x) ** 2" in text and "in helper" in text
    assert "lablib" not in text and "IPython" not in text and "Traceback (most recent call last)" not in text
    [ok] = nb.cells[6].outputs
    assert ok.output_type == "stream" and ok.text == (
        "✓ f: 5 public checks passed (all 5 cases) — hidden cases run when your lab is graded\n")
