"""lablib.nn against PyTorch and Keras 3 numbers.

Always against the fixtures tests/reference/nn_*.json (written by
tests/reference/make_nn_reference.py from the real frameworks); also live against torch when
it is installed.
"""

import numpy as np
import pytest
from _reference import fixture

from lablib.nn import (
    COURSE_BATCHNORM,
    KERAS_BATCHNORM,
    TORCH_BATCHNORM,
    activations,
    batchnorm_backward,
    batchnorm_forward,
    batchnorm_init,
    half_mse,
    log_softmax,
    mse,
    softmax,
    softmax_cross_entropy,
)

BATCHNORM = fixture("nn_batchnorm")
ACTIVATIONS = fixture("nn_activations")
LOSSES = fixture("nn_losses")

# float64 framework numbers: agreement to 1e-12 relative to the largest entry of each array.
# Keras 3 on the torch backend computes float64 batch norm partly in float32 (its result_type
# maps float64 to float32, keras-team/keras#23704), so its numbers are only float32-accurate.
RTOL = 1e-12
KERAS_RTOL = 1e-5


def close(actual, expected, rtol=RTOL):
    expected = np.asarray(expected, dtype=np.float64)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.max(np.abs(expected), initial=1e-300))


def replay_batchnorm(case, rtol, **options):
    gamma, beta = np.array(case["gamma"]), np.array(case["beta"])
    state = batchnorm_init(len(gamma))
    for step in case["steps"]:
        out, cache = batchnorm_forward(np.array(step["x"]), gamma, beta, state, train=step["train"], **options)
        close(out, step["out"], rtol)
        close(state["running_mean"], step["running_mean"], rtol)
        close(state["running_var"], step["running_var"], rtol)
        if "dx" in step:
            dx, dgamma, dbeta = batchnorm_backward(np.array(step["dout"]), cache)
            close(dx, step["dx"], rtol)
            close(dgamma, step["dgamma"], rtol)
            close(dbeta, step["dbeta"], rtol)


def test_torch_preset_reproduces_torch_batchnorm1d_defaults():
    case = BATCHNORM["torch_default"]
    assert (case["torch_momentum"], case["eps"]) == (0.1, 1e-5)
    replay_batchnorm(case, RTOL, **TORCH_BATCHNORM)


def test_torch_momentum_is_one_minus_ours():
    case = BATCHNORM["torch_custom"]
    replay_batchnorm(case, RTOL, momentum=1 - case["torch_momentum"], eps=case["eps"], unbiased_running_var=True)


def test_keras_preset_reproduces_keras_batchnormalization_defaults():
    case = BATCHNORM["keras_default"]
    assert (case["keras_momentum"], case["eps"]) == (0.99, 1e-3)
    replay_batchnorm(case, KERAS_RTOL, **KERAS_BATCHNORM)


def test_keras_custom_momentum_is_ours():
    case = BATCHNORM["keras_custom"]
    replay_batchnorm(case, KERAS_RTOL, momentum=case["keras_momentum"], eps=case["eps"], unbiased_running_var=False)


@pytest.mark.parametrize("wrong", [
    {"unbiased_running_var": True},             # Keras keeps the biased variance
    {"momentum": 0.01},                          # the torch-style reading of momentum
    {"eps": 1e-5},
])
def test_keras_tolerance_still_tells_the_conventions_apart(wrong):
    with pytest.raises(AssertionError):
        replay_batchnorm(BATCHNORM["keras_default"], KERAS_RTOL, **{**KERAS_BATCHNORM, **wrong})


@pytest.mark.parametrize("key", ["torch_default", "keras_default"])
def test_course_preset_trains_like_the_frameworks_but_keeps_other_running_statistics(key):
    """No framework has the course's running average; what they share with it (train-mode outputs and
    gradients) matches their numbers, and the running statistics they keep do not."""
    case = BATCHNORM[key]
    rtol = RTOL if key.startswith("torch") else KERAS_RTOL
    gamma, beta = np.array(case["gamma"]), np.array(case["beta"])
    state = batchnorm_init(len(gamma))
    for step in case["steps"]:
        out, cache = batchnorm_forward(np.array(step["x"]), gamma, beta, state, train=step["train"],
                                       **{**COURSE_BATCHNORM, "eps": case["eps"]})
        if step["train"]:
            close(out, step["out"], rtol)
            if "dx" in step:
                dx, dgamma, dbeta = batchnorm_backward(np.array(step["dout"]), cache)
                close(dx, step["dx"], rtol)
                close(dgamma, step["dgamma"], rtol)
                close(dbeta, step["dbeta"], rtol)
        assert not np.allclose(state["running_mean"], step["running_mean"], rtol=1e-3)
        assert not np.allclose(state["running_var"], step["running_var"], rtol=1e-3)


@pytest.mark.parametrize("key", sorted(ACTIVATIONS["cases"]))
def test_activation_values_and_derivatives(key):
    case = ACTIVATIONS["cases"][key]
    x = np.array(ACTIVATIONS["x"])  # includes x = 0: the derivative convention at the kink
    kwargs = {"alpha": case["alpha"]} if "alpha" in case else {}
    close(getattr(activations, case["name"])(x, **kwargs), case["value"])
    close(getattr(activations, case["name"] + "_derivative")(x, **kwargs), case["derivative"])


def test_default_alphas():
    cases = ACTIVATIONS["cases"]
    x = np.array(ACTIVATIONS["x"])
    assert cases["torch_leaky_relu_default"]["alpha"] == 0.01
    close(activations.leaky_relu(x), cases["torch_leaky_relu_default"]["value"])   # lablib default = torch
    assert cases["keras_LeakyReLU_layer_default"]["alpha"] == 0.3                   # as documented
    assert cases["keras_leaky_relu_function_default"]["alpha"] == 0.2
    close(activations.elu(x), cases["torch_elu_default"]["value"])
    close(activations.elu(x), cases["keras_elu_default"]["value"])
    lam, alpha = ACTIVATIONS["torch_selu_lambda_alpha_from_value"]
    assert activations.SELU_LAMBDA == pytest.approx(lam, rel=1e-15)
    assert activations.SELU_ALPHA == pytest.approx(alpha, rel=1e-15)


@pytest.mark.parametrize("i", range(len(LOSSES["cross_entropy"])))
def test_softmax_cross_entropy(i):
    case = LOSSES["cross_entropy"][i]
    loss, dlogits = softmax_cross_entropy(np.array(case["logits"]), np.array(case["y"]))
    assert loss == pytest.approx(case["loss"], rel=RTOL)
    assert loss == pytest.approx(case["keras_loss"], rel=RTOL)
    close(dlogits, case["dlogits"])


def test_mse():
    case = LOSSES["mse"]
    loss, dpred = mse(np.array(case["pred"]), np.array(case["target"]))
    assert loss == pytest.approx(case["loss"], rel=RTOL)
    close(dpred, case["dpred"])
    # keras.losses.mean_squared_error is float32-accurate on the torch backend (see make_nn_reference.py)
    assert loss == pytest.approx(case["keras_loss"], rel=1e-6)


def test_squared_errors_sum_and_half():
    case = LOSSES["squared_errors"]
    pred, target = np.array(case["pred"]), np.array(case["target"])
    for name, (fn, reduction) in {"mse_sum": (mse, "sum"), "half_mse_mean": (half_mse, "mean"),
                                  "half_mse_sum": (half_mse, "sum")}.items():
        loss, dpred = fn(pred, target, reduction=reduction)
        assert loss == pytest.approx(case[name]["loss"], rel=RTOL), name
        close(dpred, case[name]["dpred"])
    assert half_mse(pred, target)[0] == pytest.approx(case["keras_half_mse_mean"], rel=1e-6)  # float32 in keras


def test_half_mse_by_hand_and_as_the_222_networks_error():
    from lablib import backprop

    pred, target = np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.0, 2.0], [1.5, 1.0]])  # r = 1, 0, -1, -2
    assert half_mse(pred, target) == (pytest.approx(6 / 2 / 4), pytest.approx(np.array([[1, 0], [-1, -2]]) / 4))
    loss, dpred = half_mse(pred, target, reduction="sum")
    assert loss == 3.0 and dpred.tolist() == [[1.0, 0.0], [-1.0, -2.0]]
    f = backprop.forward(backprop.INITIAL)
    out = np.array([[f["out_o1"], f["out_o2"]]])
    assert half_mse(out, np.array([backprop.TARGETS]), reduction="sum")[0] == pytest.approx(
        backprop.total_error(backprop.INITIAL), rel=1e-15)
    with pytest.raises(ValueError, match="reduction"):
        half_mse(pred, target, reduction="none")


def test_softmax():
    case = LOSSES["softmax"]
    x = np.array(case["x"])
    close(softmax(x, axis=1), case["softmax_axis1"])
    close(softmax(x), case["softmax_axis-1"])
    close(log_softmax(x), case["log_softmax_axis-1"])


# ----------------------------------------------------------------------------- live torch
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="torch not installed: compared with the fixtures only")


@pytest.mark.parametrize("seed", [10, 11])
def test_live_torch_batchnorm1d(torch, seed):
    rng = np.random.default_rng(seed)
    d, momentum, eps = 3, float(rng.uniform(0.05, 0.5)), float(rng.uniform(1e-5, 1e-2))
    layer = torch.nn.BatchNorm1d(d, momentum=momentum, eps=eps).double()
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    state = batchnorm_init(d)
    options = {"momentum": 1 - momentum, "eps": eps, "unbiased_running_var": True}
    for train, n in [(True, 7), (True, 4), (False, 5)]:
        x, dout = rng.normal(1, 2, size=(n, d)), rng.normal(size=(n, d))
        layer.train(train)
        layer.zero_grad()
        xt = torch.tensor(x, requires_grad=True)
        out_t = layer(xt)
        out_t.backward(torch.from_numpy(dout))
        out, cache = batchnorm_forward(x, gamma, beta, state, train=train, **options)
        dx, dgamma, dbeta = batchnorm_backward(dout, cache)
        close(out, out_t.detach().numpy())
        close(state["running_mean"], layer.running_mean.numpy())
        close(state["running_var"], layer.running_var.numpy())
        close(dx, xt.grad.numpy())
        close(dgamma, layer.weight.grad.numpy())
        close(dbeta, layer.bias.grad.numpy())


def test_live_torch_activations(torch):
    x = np.concatenate([np.random.default_rng(12).normal(0, 3, size=50), [0.0]])
    F = torch.nn.functional
    for name, kwargs, tfn in [
        ("sigmoid", {}, torch.sigmoid), ("tanh", {}, torch.tanh), ("relu", {}, F.relu),
        ("leaky_relu", {"alpha": 0.15}, lambda t: F.leaky_relu(t, 0.15)),
        ("elu", {"alpha": 0.7}, lambda t: F.elu(t, 0.7)), ("selu", {}, F.selu),
    ]:
        xt = torch.tensor(x, requires_grad=True)
        out = tfn(xt)
        out.sum().backward()
        close(getattr(activations, name)(x, **kwargs), out.detach().numpy())
        close(getattr(activations, name + "_derivative")(x, **kwargs), xt.grad.numpy())


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_live_torch_squared_errors(torch, reduction):
    rng = np.random.default_rng(14)
    pred, target = rng.normal(size=(7, 3)), rng.normal(size=(7, 3))
    for fn, factor in ((mse, 1.0), (half_mse, 0.5)):
        pt = torch.tensor(pred, requires_grad=True)
        loss_t = factor * torch.nn.functional.mse_loss(pt, torch.from_numpy(target), reduction=reduction)
        loss_t.backward()
        loss, dpred = fn(pred, target, reduction=reduction)
        assert loss == pytest.approx(loss_t.item(), rel=RTOL)
        close(dpred, pt.grad.numpy())


def test_live_torch_cross_entropy(torch):
    rng = np.random.default_rng(13)
    logits, y = rng.normal(0, 4, size=(9, 5)), rng.integers(0, 5, size=9)
    lt = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(lt, torch.from_numpy(y))
    loss_t.backward()
    loss, dlogits = softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(loss_t.item(), rel=RTOL)
    close(dlogits, lt.grad.numpy())
