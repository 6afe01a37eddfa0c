"""lablib.clip: the course's examples, closed forms, keras / torch numbers, structure and bad input."""

import numpy as np
import pytest
from _reference import fixture, optim_reference_script
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lablib import clip

KERAS_FIX = fixture("clip_keras")
TORCH_FIX = fixture("clip_torch")


COURSE = np.array([0.9, 100.0])


def test_course_clip_by_value():
    assert clip.clip_by_value(COURSE, 1.0).tolist() == [0.9, 1.0]


def test_course_clip_by_norm_printed_digits_and_closed_form():
    out = clip.clip_by_norm(COURSE, 1.0)
    # printed in the course as [0.00899964, 0.9999595]
    assert abs(out[0] - 0.00899964) < 5e-9 and abs(out[1] - 0.9999595) < 5e-8
    norm = np.sqrt(0.9**2 + 100.0**2)
    np.testing.assert_allclose(out, [0.9 / norm, 100.0 / norm], rtol=0, atol=1e-15)
    assert np.linalg.norm(out) == pytest.approx(1.0, abs=1e-15)


def test_small_gradients_pass_unchanged_and_zero_stays_zero():
    g = np.array([0.3, -0.4])  # norm 0.5
    assert clip.clip_by_norm(g, 1.0).tolist() == g.tolist()
    clipped, norm = clip.clip_by_global_norm([g, np.array([1.2])], 2.0)  # global norm 1.3
    assert [c.tolist() for c in clipped] == [g.tolist(), [1.2]] and norm == pytest.approx(1.3, rel=1e-15)
    assert clip.clip_by_norm(np.zeros(3), 1.0).tolist() == [0.0] * 3
    clipped, norm = clip.clip_by_global_norm({"a": np.zeros(2)}, 1.0)
    assert clipped["a"].tolist() == [0.0, 0.0] and norm == 0.0


def test_global_norm_by_hand():
    a, b = np.array([3.0, 0.0]), np.array([[0.0], [4.0]])  # global norm 5
    (ca, cb), norm = clip.clip_by_global_norm((a, b), 1.0)
    assert norm == 5.0
    np.testing.assert_allclose(ca, [0.6, 0.0], rtol=1e-15)
    np.testing.assert_allclose(cb, [[0.0], [0.8]], rtol=1e-15)
    # per-tensor clipping of the same pair scales each to norm 1 instead
    pa, pb = clip.clip_by_norm([a, b], 1.0)
    np.testing.assert_allclose(pa, [1.0, 0.0], rtol=1e-15)
    np.testing.assert_allclose(pb, [[0.0], [1.0]], rtol=1e-15)


def test_structure_is_preserved_and_inputs_untouched():
    a, b = np.array([3.0, -4.0]), np.array([[10.0, 0.0]])
    for fn in (lambda g: clip.clip_by_value(g, 1.0), lambda g: clip.clip_by_norm(g, 1.0),
               lambda g: clip.clip_by_global_norm(g, 1.0)[0]):
        out = fn({"W": a, "b": b})
        assert isinstance(out, dict) and list(out) == ["W", "b"]
        out = fn([a, b])
        assert isinstance(out, list) and len(out) == 2
        out = fn((a, b))
        assert isinstance(out, tuple) and len(out) == 2 and out[0] is not a and out[1] is not b
        out = fn(a)
        assert isinstance(out, np.ndarray) and out.shape == a.shape and out is not a
    assert a.tolist() == [3.0, -4.0] and b.tolist() == [[10.0, 0.0]]


# ---------------------------------------------------------------------------------------------------------
# Keras and torch


def test_matches_keras_clipnorm_clipvalue_global_clipnorm():
    # Keras 3.15 computes the clip factor in float32 (keras.ops.maximum/minimum of a float64 tensor and a Python
    # float promote to float32), so its clipnorm results are only float32-accurate: rtol 1e-7. The exact values
    # are pinned by the closed-form test above.
    grads = [np.array(g) for g in KERAS_FIX["grads"]]
    checks = {
        "clipnorm=1": clip.clip_by_norm(grads, 1.0),
        "clipnorm=5": clip.clip_by_norm(grads, 5.0),
        "global_clipnorm=5": clip.clip_by_global_norm(grads, 5.0)[0],
        "global_clipnorm=1000": clip.clip_by_global_norm(grads, 1e3)[0],
        "clipvalue=1": clip.clip_by_value(grads, 1.0),
    }
    for key, ours in checks.items():
        for o, ref in zip(ours, KERAS_FIX[key]):
            np.testing.assert_allclose(o, ref, rtol=1e-7, atol=1e-300, err_msg=key)
    np.testing.assert_allclose(KERAS_FIX["clipnorm=1"][0], [0.00899964, 0.9999595], atol=5e-8)


def check_torch_case(case, grads):
    if case["kind"] == "clip_grad_value_":
        ours = clip.clip_by_value(grads, case["value"])
        for o, ref in zip(ours, case["clipped"]):
            np.testing.assert_array_equal(o, ref)
        return
    ours, norm = clip.clip_by_global_norm(grads, case["value"])
    assert norm == pytest.approx(case["total_norm"], rel=1e-14)
    # torch scales by min(1, max_norm / (N + 1e-6)) instead of max_norm / max(N, max_norm)
    torch_factor = min(1.0, case["value"] / (norm + 1e-6)) / min(1.0, case["value"] / norm)
    for o, ref in zip(ours, case["clipped"]):
        np.testing.assert_allclose(o * torch_factor, ref, rtol=1e-14)


@pytest.mark.parametrize("case", TORCH_FIX["cases"], ids=lambda c: f"{c['kind']}={c['value']:g}")
def test_matches_torch_fixture(case):
    check_torch_case(case, [np.array(g) for g in TORCH_FIX["grads"]])


def test_torch_epsilon_makes_a_visible_difference_at_small_norms():
    # N = 1e-5 > max_norm = 1e-6: ours gives exactly max_norm, torch max_norm * N / (N + 1e-6) ~ 0.91 max_norm
    g = np.array([6e-6, 8e-6])
    clipped, norm = clip.clip_by_global_norm([g], 1e-6)
    assert np.linalg.norm(clipped[0]) == pytest.approx(1e-6, rel=1e-14)
    torch = pytest.importorskip("torch", reason="torch not installed; the fixture test covers the formula")
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_([p], 1e-6)
    assert float(p.grad.norm()) == pytest.approx(1e-6 * 1e-5 / (1e-5 + 1e-6), rel=1e-12)


def test_matches_live_torch():
    pytest.importorskip("torch", reason="torch not installed; the fixture test covers these numbers")
    script = optim_reference_script()
    grads = [np.array(g) for g in TORCH_FIX["grads"]]
    for case in TORCH_FIX["cases"]:
        live = script.run_torch_clip(case["kind"], case["value"], TORCH_FIX["grads"])
        check_torch_case({**case, **live}, grads)


# ---------------------------------------------------------------------------------------------------------
# Properties

GRADS = st.lists(
    hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=4), elements=st.floats(-1e3, 1e3)),
    min_size=1,
    max_size=3,
)


@settings(max_examples=60, deadline=None)
@given(GRADS, st.floats(1e-3, 1e2))
def test_clipping_properties(grads, c):
    for g, v in zip(grads, clip.clip_by_value(grads, c)):
        assert np.all(np.abs(v) <= c) and np.array_equal(v, np.clip(g, -c, c))
    for g, n in zip(grads, clip.clip_by_norm(grads, c)):
        assert np.linalg.norm(n) <= c * (1 + 1e-12)
        scale = c / max(np.linalg.norm(g), c)  # same direction, factor in (0, 1]
        np.testing.assert_allclose(n, g * scale, rtol=1e-12, atol=1e-300)
    clipped, norm = clip.clip_by_global_norm(grads, c)
    assert norm == pytest.approx(np.sqrt(sum(np.sum(g**2) for g in grads)), rel=1e-12)
    assert np.sqrt(sum(np.sum(g**2) for g in clipped)) <= c * (1 + 1e-12)


# ---------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize("fn", [clip.clip_by_value, clip.clip_by_norm, clip.clip_by_global_norm])
def test_bad_input(fn):
    name = "clip_value" if fn is clip.clip_by_value else "max_norm"
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=name):
            fn(COURSE, bad)
    with pytest.raises(TypeError, match=name):
        fn(COURSE, "1")
    with pytest.raises(ValueError, match=r"grads\[1\]"):
        fn([COURSE, np.array([np.nan])], 1.0)
    with pytest.raises(ValueError, match=r"grads\['b'\]"):
        fn({"W": COURSE, "b": np.array([np.inf])}, 1.0)
    with pytest.raises(TypeError, match=r"grads\[0\]"):  # a list of numbers is ambiguous: ask for an array
        fn([0.9, 100.0], 1.0)
    with pytest.raises(TypeError, match="grads"):
        fn("0.9, 100", 1.0)
    with pytest.raises(TypeError, match="grads"):
        fn(np.array(["a"]), 1.0)
