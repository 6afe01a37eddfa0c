"""lablib.backprop against the numbers printed in Matt Mazur's "A Step by Step Backpropagation
Example" (mattmazur.com, 2015), central differences, and (when installed) PyTorch autograd.

Published numbers are checked to the digits printed: |value - printed| <= half a unit in the last
printed decimal.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib import backprop as bp


def assert_printed(value, printed: str):
    decimals = len(printed.split(".")[1])
    assert abs(value - float(printed)) <= 0.5 * 10.0**-decimals + 1e-15, (value, printed)


# --- the forward pass and the error -------------------------------------------------------------

def test_forward_pass_matches_the_post():
    f = bp.forward(bp.INITIAL)
    assert_printed(f["net_h1"], "0.3775")
    assert_printed(f["out_h1"], "0.593269992")
    assert_printed(f["out_h2"], "0.596884378")
    assert_printed(f["net_o1"], "1.105905967")
    assert_printed(f["out_o1"], "0.75136507")
    assert_printed(f["out_o2"], "0.772928465")
    assert set(f) == {"net_h1", "out_h1", "net_h2", "out_h2", "net_o1", "out_o1", "net_o2", "out_o2"}


def test_total_error_matches_the_post():
    assert_printed(bp.total_error(bp.INITIAL), "0.298371109")


# --- gradients ------------------------------------------------------------------------------

def test_chain_rule_factors_of_dE_dw5_match_the_post():
    g = bp.gradients(bp.INITIAL)
    assert_printed(g["dE/dout_o1"], "0.74136507")
    assert_printed(g["dout_o1/dnet_o1"], "0.186815602")
    assert_printed(g["dnet_o1/dw5"], "0.593269992")
    assert_printed(g["w5"], "0.082167041")
    assert g["w5"] == pytest.approx(g["dE/dout_o1"] * g["dout_o1/dnet_o1"] * g["dnet_o1/dw5"], rel=1e-15)


def test_hidden_layer_factors_match_the_post():
    g = bp.gradients(bp.INITIAL)
    assert_printed(g["dE/dout_h1"], "0.036350306")
    assert_printed(g["dout_h1/dnet_h1"], "0.241300709")
    assert_printed(g["w1"], "0.000438568")


def _numerical_gradient(weights, h=1e-6):
    """Central differences of E_total for every weight and bias of ``weights`` (either bias layout)."""
    out = {}
    for name in weights:
        plus, minus = dict(weights), dict(weights)
        plus[name] += h
        minus[name] -= h
        out[name] = (bp.total_error(plus) - bp.total_error(minus)) / (2 * h)
    return out


def test_gradients_match_central_differences_at_the_initial_weights():
    g, num = bp.gradients(bp.INITIAL), _numerical_gradient(bp.INITIAL)
    for name in bp.NAMES:
        assert g[name] == pytest.approx(num[name], rel=1e-6, abs=1e-11), name


@pytest.mark.parametrize("names", [bp.NAMES, bp.NAMES_PER_NEURON], ids=["shared biases", "per-neuron biases"])
@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(-2, 2), min_size=12, max_size=12))
def test_gradients_match_central_differences_anywhere(names, values):
    weights = dict(zip(names, values))
    g, num = bp.gradients(weights), _numerical_gradient(weights)
    for name in names:
        assert g[name] == pytest.approx(num[name], rel=1e-5, abs=1e-9), name


def test_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: autograd cross-check skipped")
    w = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in bp.INITIAL.items()}
    i1, i2 = bp.INPUTS
    h1 = torch.sigmoid(w["w1"] * i1 + w["w2"] * i2 + w["b1"])
    h2 = torch.sigmoid(w["w3"] * i1 + w["w4"] * i2 + w["b1"])
    o1 = torch.sigmoid(w["w5"] * h1 + w["w6"] * h2 + w["b2"])
    o2 = torch.sigmoid(w["w7"] * h1 + w["w8"] * h2 + w["b2"])
    loss = 0.5 * (bp.TARGETS[0] - o1) ** 2 + 0.5 * (bp.TARGETS[1] - o2) ** 2
    loss.backward()
    g = bp.gradients(bp.INITIAL)
    assert bp.total_error(bp.INITIAL) == pytest.approx(loss.item(), rel=1e-14)
    for name in bp.NAMES:
        assert g[name] == pytest.approx(w[name].grad.item(), rel=1e-12, abs=1e-16), name
    # and one torch.optim.SGD step equals a standard step that also moves the biases
    opt = torch.optim.SGD(list(w.values()), lr=0.5)
    opt.step()
    new = bp.train_step(bp.INITIAL, update_biases=True)
    for name in bp.NAMES:
        assert new[name] == pytest.approx(w[name].item(), rel=1e-14), name


# --- one update --------------------------------------------------------------------------------

PUBLISHED_AFTER_ONE_STEP = {
    "w5": "0.35891648", "w6": "0.408666186", "w7": "0.511301270", "w8": "0.561370121",
    "w1": "0.149780716", "w2": "0.19956143", "w3": "0.24975114", "w4": "0.29950229",
}


def test_one_standard_step_gives_the_posts_updated_weights():
    new = bp.train_step(bp.INITIAL)
    for name, printed in PUBLISHED_AFTER_ONE_STEP.items():
        assert_printed(new[name], printed)
    assert new["b1"] == 0.35 and new["b2"] == 0.60  # biases fixed by default


def test_update_is_w_minus_eta_times_gradient():
    g = bp.gradients(bp.INITIAL)
    new = bp.update(bp.INITIAL, g, eta=0.5)
    assert new == bp.train_step(bp.INITIAL)
    assert new["w5"] == 0.40 - 0.5 * g["w5"]
    moved = bp.update(bp.INITIAL, g, eta=0.1, update_biases=True)
    assert moved["b1"] == 0.35 - 0.1 * g["b1"] and moved["b2"] == 0.60 - 0.1 * g["b2"]


def test_one_step_errors_standard_and_blog():
    # Standard backprop: 0.2910277737 (brief, derived independently of the post).
    assert bp.total_error(bp.train_step(bp.INITIAL)) == pytest.approx(0.2910277737, abs=1e-10)
    # The post prints 0.291027924, which is the "blog" rule (hidden deltas through updated w5..w8).
    assert_printed(bp.total_error(bp.train_step(bp.INITIAL, variant="blog")), "0.291027924")
    assert abs(bp.total_error(bp.train_step(bp.INITIAL)) - 0.291027924) > 1e-7


def test_blog_variant_moves_output_weights_like_standard_but_not_hidden_ones():
    std, blog = bp.train_step(bp.INITIAL), bp.train_step(bp.INITIAL, variant="blog")
    for name in ("w5", "w6", "w7", "w8", "b1", "b2"):
        assert blog[name] == std[name]
    # w1+ printed in the post (0.149780716) is the standard value; the blog rule gives another one.
    assert abs(blog["w1"] - 0.149780716) > 1e-5


def test_steps_are_pure():
    weights = bp.initial_weights()
    before = dict(weights)
    bp.train_step(weights, variant="blog", update_biases=True)
    bp.gradients(weights)
    bp.train(3, weights=weights)
    assert weights == before
    with pytest.raises(TypeError):
        bp.INITIAL["w1"] = 1.0  # read-only
    fresh = bp.initial_weights()
    fresh["w1"] = 9.0
    assert bp.INITIAL["w1"] == 0.15


# --- training ----------------------------------------------------------------------------------

def test_train_errors_start_at_the_initial_error_and_follow_train_step():
    weights, errors = bp.train(3)
    assert errors.shape == (4,)
    assert_printed(errors[0], "0.298371109")
    assert errors[1] == pytest.approx(0.2910277737, abs=1e-10)
    w = dict(bp.INITIAL)
    for _ in range(3):
        w = bp.train_step(w)
    assert weights == w
    assert errors[3] == bp.total_error(w)
    same, only_initial = bp.train(0)
    assert same == dict(bp.INITIAL) and only_initial.shape == (1,)


def test_blog_variant_after_10000_steps_reproduces_the_posts_outputs():
    weights, errors = bp.train(10_000, variant="blog")
    f = bp.forward(weights)
    assert_printed(f["out_o1"], "0.015912196")
    assert_printed(f["out_o2"], "0.984065734")
    assert_printed(errors[1], "0.291027924")
    assert np.all(np.diff(errors) < 0)
    # The post prints E = 0.0000351085 next to these outputs, but those very outputs give
    # E = 1/2 (0.01 - 0.015912196)^2 + 1/2 (0.99 - 0.984065734)^2 = 0.0000350848; the rounding
    # of the outputs (5e-10) moves that by < 1e-11. So the printed error is inconsistent with the
    # printed outputs (a slip in the post), and we check the error the outputs imply.
    implied = 0.5 * (0.01 - 0.015912196) ** 2 + 0.5 * (0.99 - 0.984065734) ** 2
    assert errors[-1] == pytest.approx(implied, abs=1e-11)
    assert abs(errors[-1] - 0.0000351085) > 2e-8


def test_standard_backprop_does_not_give_the_posts_10000_step_outputs():
    weights, errors = bp.train(10_000)
    f = bp.forward(weights)
    assert abs(f["out_o1"] - 0.015912196) > 1e-6 and abs(f["out_o2"] - 0.984065734) > 1e-6
    # ... but its error after 9,999 steps is the post's printed 0.0000351085 (to all ten decimals)
    assert_printed(errors[9_999], "0.0000351085")
    assert abs(errors[10_000] - 0.0000351085) > 5e-9
    assert np.all(np.diff(errors) < 0)


def test_update_biases_changes_the_trajectory():
    w_fixed, e_fixed = bp.train(100)
    w_moving, e_moving = bp.train(100, update_biases=True)
    assert w_fixed["b1"] == 0.35 and w_moving["b1"] != 0.35
    assert e_moving[-1] < e_fixed[-1]  # one more pair of free parameters on a single example


def test_custom_inputs_and_targets():
    f = bp.forward(bp.INITIAL, inputs=(0.0, 0.0))
    assert f["net_h1"] == 0.35 and f["out_h1"] == pytest.approx(1 / (1 + math.exp(-0.35)), rel=1e-15)
    assert bp.total_error(bp.INITIAL, targets=(f["out_o1"], f["out_o2"]), inputs=(0.0, 0.0)) == 0.0


def test_sigmoid_is_stable_for_large_arguments():
    assert bp.sigmoid(0.0) == 0.5
    assert bp.sigmoid(-1000.0) == 0.0 and bp.sigmoid(1000.0) == 1.0
    assert bp.sigmoid(-3.0) == pytest.approx(1 - bp.sigmoid(3.0), rel=1e-15)


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["Blog", "mazur", "", None])
def test_unknown_variant(variant):
    with pytest.raises(ValueError, match="variant"):
        bp.train_step(bp.INITIAL, variant=variant)
    with pytest.raises(ValueError, match="variant"):
        bp.train(1, variant=variant)


@pytest.mark.parametrize("eta", [0, 0.0, -0.5, float("nan"), float("inf")])
def test_bad_eta(eta):
    for call in (lambda: bp.train_step(bp.INITIAL, eta=eta), lambda: bp.train(1, eta=eta),
                 lambda: bp.update(bp.INITIAL, bp.gradients(bp.INITIAL), eta=eta)):
        with pytest.raises(ValueError, match="eta"):
            call()


def test_missing_unknown_and_bad_weight_values():
    partial = {k: v for k, v in bp.INITIAL.items() if k not in ("w3", "b2")}
    with pytest.raises(ValueError, match="w3.*b2|missing"):
        bp.forward(partial)
    with pytest.raises(ValueError, match="W1"):
        bp.forward({**bp.INITIAL, "W1": 0.1})
    with pytest.raises(ValueError, match="w4"):
        bp.gradients({**bp.INITIAL, "w4": float("nan")})
    with pytest.raises(TypeError, match="w2"):
        bp.total_error({**bp.INITIAL, "w2": "0.2"})
    with pytest.raises(TypeError, match="weights"):
        bp.forward([0.15] * 10)
    with pytest.raises(ValueError, match="grads"):
        bp.update(bp.INITIAL, {"w1": 0.1})


def test_bad_inputs_targets_steps_and_flags():
    with pytest.raises(ValueError, match="inputs"):
        bp.forward(bp.INITIAL, inputs=(0.05, 0.1, 0.2))
    with pytest.raises(ValueError, match="targets"):
        bp.total_error(bp.INITIAL, targets=(0.01, float("inf")))
    with pytest.raises(ValueError, match="n_steps"):
        bp.train(-1)
    with pytest.raises(TypeError, match="n_steps"):
        bp.train(10.0)
    with pytest.raises(TypeError, match="update_biases"):
        bp.train_step(bp.INITIAL, update_biases="yes")


# --- per-neuron biases -----------------------------------------------------------------------------

def test_per_neuron_initial_weights_give_the_posts_forward_pass():
    w = bp.initial_weights("per_neuron")
    assert set(w) == set(bp.NAMES_PER_NEURON)
    assert bp.forward(w) == bp.forward(bp.INITIAL)
    g_shared, g_own = bp.gradients(bp.INITIAL), bp.gradients(w)
    # a shared bias collects its neurons' deltas
    assert g_shared["b1"] == pytest.approx(g_own["b_h1"] + g_own["b_h2"], rel=1e-15)
    assert g_shared["b2"] == pytest.approx(g_own["b_o1"] + g_own["b_o2"], rel=1e-15)
    assert (g_own["b_o1"], g_own["b_h2"]) == (g_own["delta_o1"], g_own["delta_h2"])
    assert "b1" not in g_own and "b_h1" not in g_shared


@pytest.mark.parametrize("variant", ["standard", "blog"])
def test_bias_updates_per_neuron_and_shared(variant):
    for layout in ("shared", "per_neuron"):
        w = bp.initial_weights(layout)
        fixed = bp.train_step(w, variant=variant)
        assert all(fixed[k] == w[k] for k in w if k.startswith("b"))
        moved = bp.train_step(w, variant=variant, update_biases=True)
        g = bp.gradients(w)
        for k in w:
            if k in ("w5", "w6", "w7", "w8", "b2", "b_o1", "b_o2") or variant == "standard":
                assert moved[k] == pytest.approx(w[k] - 0.5 * g[k], rel=1e-15, abs=1e-17), (layout, k)
    # the standard step with moving per-neuron biases is gradient descent: E falls, and faster than shared
    _, e_own = bp.train(200, weights=bp.initial_weights("per_neuron"), update_biases=True)
    _, e_shared = bp.train(200, update_biases=True)
    assert np.all(np.diff(e_own) < 0) and e_own[-1] < e_shared[-1]


def test_per_neuron_gradients_match_torch_autograd():
    torch = pytest.importorskip("torch", reason="PyTorch not installed: autograd cross-check skipped")
    w0 = dict(zip(bp.NAMES_PER_NEURON, np.random.default_rng(3).uniform(-1, 1, size=12)))
    w = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in w0.items()}
    i1, i2 = bp.INPUTS
    h1 = torch.sigmoid(w["w1"] * i1 + w["w2"] * i2 + w["b_h1"])
    h2 = torch.sigmoid(w["w3"] * i1 + w["w4"] * i2 + w["b_h2"])
    o1 = torch.sigmoid(w["w5"] * h1 + w["w6"] * h2 + w["b_o1"])
    o2 = torch.sigmoid(w["w7"] * h1 + w["w8"] * h2 + w["b_o2"])
    (0.5 * (bp.TARGETS[0] - o1) ** 2 + 0.5 * (bp.TARGETS[1] - o2) ** 2).backward()
    g = bp.gradients(w0)
    for name in bp.NAMES_PER_NEURON:
        assert g[name] == pytest.approx(w[name].grad.item(), rel=1e-12, abs=1e-16), name


def test_bias_layouts_bad_input():
    with pytest.raises(ValueError, match="mixes shared biases"):
        bp.forward({**bp.INITIAL, "b_h1": 0.1})
    with pytest.raises(ValueError, match="b_o2"):
        bp.forward({k: v for k, v in bp.initial_weights("per_neuron").items() if k != "b_o2"})
    with pytest.raises(ValueError, match="biases"):
        bp.initial_weights("per_layer")
    with pytest.raises(ValueError, match="grads is missing b_h1"):
        bp.update(bp.initial_weights("per_neuron"), bp.gradients(bp.INITIAL))


@pytest.mark.parametrize("z", ["a", np.array([0.1, 0.2]), None, True])
def test_scalar_sigmoid_names_its_argument(z):
    with pytest.raises(TypeError, match="z must be a real number"):
        bp.sigmoid(z)
