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
from lablib.grading import EXERCISES, CheckFailure, check
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
    assert re.fullmatch(r"✓ adam_step: \d+ public checks passed \(3 cases\)\n", out)


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
                     r"\(\|difference\| 0\.001 > tolerance [\d.e-]+ = 1e-09 \+ 1e-06·\|expected\|\); "
                     r"1 of 3 entries differ", message)
    assert "known mistake" not in message


def test_student_exception_is_chained():
    def clip_by_value(g, clip_value):
        raise ValueError("boom")
    with pytest.raises(CheckFailure) as info:
        check("clip_by_value", clip_by_value)
    assert "`clip_by_value(g, clip_value)` raised ValueError: boom (see the traceback above)" in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)


def test_partner_missing_and_partner_not_implemented():
    namespace = {"np": np}
    exec("def batchnorm_backward(dout, cache):\n    return None\n", namespace)
    message = failure("batchnorm_backward", namespace["batchnorm_backward"])
    assert "this check uses your `batchnorm_forward`" in message
    exec("def batchnorm_forward(x, gamma, beta, state, train, momentum=0.99, eps=1e-3):\n"
         "    raise NotImplementedError()\n", namespace)
    message = failure("batchnorm_backward", namespace["batchnorm_backward"])
    assert message.startswith("batchnorm_backward: not implemented yet (this check uses your `batchnorm_forward`")


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
    assert "— note: your function printed 8 lines and emitted RuntimeWarning: careful (+1 more) (not an error)" in out


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
