"""lablib.schedules against closed forms and keras / torch numbers."""

import numpy as np
import pytest
from _reference import fixture, optim_reference_script
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib import optim, schedules

KERAS_FIX = fixture("schedules_keras")
TORCH_FIX = fixture("schedules_torch")


# ---------------------------------------------------------------------------------------------------------
# Closed forms


def test_power_and_exponential_closed_forms():
    assert schedules.power(1.0, 10)(0) == 1.0
    assert schedules.power(1.0, 10)(10) == 0.5  # 1 / (1 + 1)
    assert schedules.power(1.0, 10, c=2)(10) == 0.25
    assert schedules.power(0.3, 5, c=0.5)(15) == pytest.approx(0.3 / 2, rel=1e-15)  # 0.3 / sqrt(4)
    assert schedules.exponential(2.0, 10)(0) == 2.0
    assert schedules.exponential(2.0, 10)(10) == pytest.approx(0.2, rel=1e-15)
    assert schedules.exponential(2.0, 10)(30) == pytest.approx(0.002, rel=1e-14)
    assert schedules.exponential(2.0, 10)(5) == pytest.approx(2.0 / np.sqrt(10), rel=1e-15)


def test_vectorised_over_arrays():
    t = np.arange(12.0).reshape(3, 4)
    for sched, closed in [
        (schedules.power(0.1, 4, c=1.5), 0.1 / (1 + t / 4) ** 1.5),
        (schedules.exponential(0.1, 4), 0.1 * 0.1 ** (t / 4)),
        (schedules.piecewise_constant([2, 5], [1.0, 0.5, 0.25]), np.where(t <= 2, 1.0, np.where(t <= 5, 0.5, 0.25))),
    ]:
        out = sched(t)
        assert isinstance(out, np.ndarray) and out.shape == (3, 4)
        np.testing.assert_allclose(out, closed, rtol=1e-15)
        assert isinstance(sched(3), float)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1e6), st.floats(1e-3, 1e4), st.floats(0.1, 3))
def test_power_and_exponential_decrease_from_lr0(t, s, c):
    p, e = schedules.power(0.1, s, c), schedules.exponential(0.1, s)
    assert 0 < p(t) <= 0.1 and p(t + 1) <= p(t)
    assert 0 <= e(t) <= 0.1 and e(t + 1) <= e(t)


# ---------------------------------------------------------------------------------------------------------
# Keras and torch


def test_exponential_matches_keras_exponential_decay():
    ref = KERAS_FIX["exponential_decay"]
    assert ref["decay_rate"] == 0.1
    sched = schedules.exponential(ref["lr0"], ref["decay_steps"])
    np.testing.assert_allclose(sched(np.array(KERAS_FIX["steps"])), ref["lr"], rtol=1e-13)


def test_power_matches_keras_inverse_time_decay():
    ref = KERAS_FIX["inverse_time_decay"]
    sched = schedules.power(ref["lr0"], s=ref["decay_steps"] / ref["decay_rate"], c=1.0)
    np.testing.assert_allclose(sched(np.array(KERAS_FIX["steps"])), ref["lr"], rtol=1e-14)


def test_exponential_with_decay_rate_matches_keras():
    ref = KERAS_FIX["exponential_decay_rate_0.5"]
    sched = schedules.exponential(ref["lr0"], ref["decay_steps"], decay_rate=ref["decay_rate"])
    np.testing.assert_allclose(sched(np.array(KERAS_FIX["steps"])), ref["lr"], rtol=1e-13)


@pytest.mark.parametrize("key", ["exponential_decay_staircase", "exponential_decay_staircase_rate_0.1"])
def test_exponential_staircase_matches_keras(key):
    ref = KERAS_FIX[key]
    sched = schedules.exponential(ref["lr0"], ref["decay_steps"], decay_rate=ref["decay_rate"], staircase=True)
    steps = np.array(KERAS_FIX["steps"])
    assert {9.0, 10.0, 10.5, 11.0} <= set(steps.tolist())  # both sides of a step, and a fractional t
    np.testing.assert_allclose(sched(steps), ref["lr"], rtol=1e-13)
    # the direct equation: lr0 * rate ** floor(t / s)
    np.testing.assert_allclose(sched(steps), ref["lr0"] * ref["decay_rate"] ** np.floor(steps / ref["decay_steps"]),
                               rtol=1e-15)


@pytest.mark.parametrize("key", ["inverse_time_decay_staircase", "inverse_time_decay_staircase_rate_1"])
def test_power_staircase_matches_keras_inverse_time_decay(key):
    ref = KERAS_FIX[key]
    d, r, steps = ref["decay_steps"], ref["decay_rate"], np.array(KERAS_FIX["steps"])
    sched = schedules.power(ref["lr0"], s=d / r, staircase=d)
    np.testing.assert_allclose(sched(steps), ref["lr"], rtol=1e-14)
    np.testing.assert_allclose(sched(steps), ref["lr0"] / (1 + r * np.floor(steps / d)), rtol=1e-15)
    if r == 1:
        np.testing.assert_allclose(schedules.power(ref["lr0"], s=d, staircase=True)(steps), ref["lr"], rtol=1e-15)


@pytest.mark.parametrize("key", sorted(TORCH_FIX["steplr"]))
def test_exponential_staircase_reproduces_torch_steplr(key):
    ref = TORCH_FIX["steplr"][key]
    sched = schedules.exponential(ref["lr0"], s=ref["step_size"], decay_rate=ref["gamma"], staircase=True)
    t = np.arange(len(ref["lr"]))
    # torch multiplies by gamma every step_size epochs; lablib computes gamma ** k: the last bits may differ
    np.testing.assert_allclose(sched(t), ref["lr"], rtol=1e-14)
    assert sched(ref["step_size"] - 1) == ref["lr0"] and sched(ref["step_size"]) < ref["lr0"]


def test_staircase_by_hand():
    p = schedules.power(1.0, s=10, staircase=True)
    assert [p(t) for t in (0, 9, 9.99, 10, 19, 20)] == [1.0, 1.0, 1.0, 0.5, 0.5, 1 / 3]
    p5 = schedules.power(1.0, s=10, staircase=5)  # read the continuous curve every 5 steps
    assert [p5(t) for t in (0, 4, 5, 9, 10)] == [1.0, 1.0, 1 / 1.5, 1 / 1.5, 0.5]
    e = schedules.exponential(1.0, s=4, staircase=True)
    assert [e(t) for t in (0, 3, 4, 7, 8)] == [1.0, 1.0, 0.1, 0.1, 0.1**2]
    e2 = schedules.exponential(2.0, s=4, decay_rate=0.5, staircase=2)
    assert [e2(t) for t in (0, 1, 2, 3, 4)] == [2.0, 2.0, 2.0 * 0.5**0.5, 2.0 * 0.5**0.5, 1.0]
    assert schedules.exponential(1.0, 4, staircase=False)(2) == pytest.approx(0.1**0.5, rel=1e-15)
    assert "floor" in p.__doc__ and "floor" in e2.__doc__


def test_piecewise_constant_matches_keras_at_and_between_boundaries():
    ref = KERAS_FIX["piecewise_constant_decay"]
    sched = schedules.piecewise_constant(ref["boundaries"], ref["values"])
    steps = np.array(KERAS_FIX["steps"])
    assert {10.0, 20.0, 10.5, 9.0, 11.0} <= set(steps.tolist())
    assert sched(steps).tolist() == ref["lr"]
    assert sched(10) == 0.1 and sched(11) == 0.01 and sched(20) == 0.01 and sched(21) == 0.001


def test_piecewise_constant_reproduces_torch_multistep_with_boundaries_minus_one():
    ref = TORCH_FIX["multistep"]
    values = [ref["lr0"] * ref["gamma"] ** i for i in range(len(ref["milestones"]) + 1)]
    sched = schedules.piecewise_constant([m - 1 for m in ref["milestones"]], values)
    np.testing.assert_allclose(sched(np.arange(len(ref["lr"]))), ref["lr"], rtol=1e-15)


def run_plateau(sched, metrics, lr):
    rec = {"lr": [], "wait": [], "cooldown_counter": [], "best": []}
    for m in metrics:
        lr = sched.step(m, lr)
        rec["lr"].append(lr)
        rec["wait"].append(sched.wait)
        rec["cooldown_counter"].append(sched.cooldown_counter)
        rec["best"].append(sched.best)
    return rec


def assert_same_record(ours, ref):
    np.testing.assert_allclose(ours["lr"], ref["lr"], rtol=1e-14)
    assert ours["wait"] == ref["wait"]
    assert ours["cooldown_counter"] == ref["cooldown_counter"]
    assert ours["best"] == ref["best"]


@pytest.mark.parametrize("i", range(len(KERAS_FIX["reduce_lr_on_plateau"])))
def test_performance_scheduler_matches_keras_reduce_lr_on_plateau(i):
    ref = KERAS_FIX["reduce_lr_on_plateau"][i]
    sched = schedules.PerformanceScheduler(mode=ref["mode"], **ref["setting"])  # convention="keras" by default
    assert_same_record(run_plateau(sched, ref["metrics"], ref["lr0"]), ref)


@pytest.mark.parametrize("i", range(len(TORCH_FIX["reduce_lr_on_plateau"])))
def test_performance_scheduler_matches_torch_reduce_lr_on_plateau(i):
    ref = TORCH_FIX["reduce_lr_on_plateau"][i]
    sched = schedules.PerformanceScheduler(
        mode=ref["mode"], convention="torch", threshold_mode=ref["threshold_mode"], **ref["setting"]
    )
    assert_same_record(run_plateau(sched, ref["metrics"], ref["lr0"]), ref)


def test_plateau_fixtures_exercise_reductions_and_the_conventions_differ():
    keras_lrs = [r["lr"] for r in KERAS_FIX["reduce_lr_on_plateau"]]
    torch_abs = [r["lr"] for r in TORCH_FIX["reduce_lr_on_plateau"] if r["threshold_mode"] == "abs"]
    assert sum(lrs[-1] < lrs[0] for lrs in keras_lrs) >= 0.9 * len(keras_lrs)  # nearly all reduce the lr
    assert sum(k != t for k, t in zip(keras_lrs, torch_abs)) >= len(keras_lrs) // 2


def test_performance_scheduler_matches_live_torch():
    pytest.importorskip("torch", reason="torch not installed; the fixture test covers these numbers")
    script = optim_reference_script()
    for ref in TORCH_FIX["reduce_lr_on_plateau"][::3]:
        live = script.run_torch_plateau(ref["setting"], ref["mode"], ref["threshold_mode"], ref["metrics"], ref["lr0"])
        sched = schedules.PerformanceScheduler(
            mode=ref["mode"], convention="torch", threshold_mode=ref["threshold_mode"], **ref["setting"]
        )
        assert_same_record(run_plateau(sched, ref["metrics"], ref["lr0"]), live)


def test_patience_by_hand_keras_reduces_one_epoch_before_torch():
    metrics = [1.0, 1.0, 1.0, 1.0, 1.0]  # improvement, then only bad epochs
    keras_like = schedules.PerformanceScheduler(factor=0.5, patience=2, min_delta=0.0)
    torch_like = schedules.PerformanceScheduler(factor=0.5, patience=2, min_delta=0.0, convention="torch")
    # Keras: wait 0,1,2 -> reduce at the 3rd epoch (wait >= 2); torch: num_bad_epochs 0,1,2,3 -> at the 4th (> 2)
    assert run_plateau(keras_like, metrics, 1.0)["lr"] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert run_plateau(torch_like, metrics, 1.0)["lr"] == [1.0, 1.0, 1.0, 0.5, 0.5]
    assert keras_like.best == 1.0 and keras_like.wait == 0


def test_cooldown_shields_c_minus_one_epochs_in_keras_and_c_in_torch():
    lrs = {}
    for convention in ("keras", "torch"):
        sched = schedules.PerformanceScheduler(factor=0.5, patience=0, min_delta=0.0, cooldown=2, convention=convention)
        lrs[convention] = run_plateau(sched, [1.0] * 7, 1.0)["lr"]
    assert lrs["keras"] == [1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]  # reduce, 1 shielded epoch, reduce, ...
    assert lrs["torch"] == [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]  # reduce, 2 shielded epochs, reduce, ...


def test_cooldown_min_lr_mode_max_and_reset_by_hand():
    sched = schedules.PerformanceScheduler(factor=0.1, patience=1, min_delta=0.0, cooldown=2, min_lr=0.05, mode="max")
    # Keras order: the cooldown counter is decremented BEFORE the epoch is judged, so cooldown=2 shields one
    # epoch. Epoch 2 (0.4, bad): lr 1 -> 0.1, counter 2. Epoch 3: counter 1, ignored. Epoch 4: counter 0, bad
    # -> lr max(0.01, min_lr) = 0.05, counter 2. Epoch 5: counter 1. Epoch 6: 0.6 improves.
    rec = run_plateau(sched, [0.5, 0.4, 0.4, 0.4, 0.4, 0.6], 1.0)
    assert rec["lr"] == [1.0, 0.1, 0.1, 0.05, 0.05, 0.05]
    assert rec["cooldown_counter"] == [0, 2, 1, 2, 1, 0]
    assert rec["best"] == [0.5, 0.5, 0.5, 0.5, 0.5, 0.6]
    assert sched.step(0.1, 0.05) == 0.05  # at min_lr nothing changes
    sched.reset()
    assert (sched.best, sched.wait, sched.cooldown_counter) == (-np.inf, 0, 0)


def test_min_delta_abs_and_rel():
    abs_sched = schedules.PerformanceScheduler(patience=0, min_delta=0.1, factor=0.5)
    rel_sched = schedules.PerformanceScheduler(patience=0, min_delta=0.1, factor=0.5, threshold_mode="rel")
    abs_sched.step(10.0, 1.0)
    rel_sched.step(10.0, 1.0)
    # 9.95 improves by 0.05: not enough in abs terms (0.1), and not in rel terms (1.0)
    assert abs_sched.step(9.95, 1.0) == 0.5 and rel_sched.step(9.95, 1.0) == 0.5
    # 9.5 improves by 0.5: enough for abs (0.1) but not for rel (10% of 10 = 1.0)
    assert abs_sched.step(9.5, 1.0) == 1.0 and rel_sched.step(9.5, 1.0) == 0.5


def test_schedule_drives_an_optimizer_with_t_steps_taken():
    opt = optim.SGD(lr=schedules.exponential(0.1, 2))
    x = {"x": np.zeros(1)}
    seen = []
    for _ in range(4):
        seen.append(opt.lr)
        opt.step(x, {"x": np.ones(1)})
    np.testing.assert_allclose(seen, [0.1 * 0.1 ** (t / 2) for t in range(4)], rtol=1e-15)
    np.testing.assert_allclose(x["x"], -sum(seen), rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: schedules.power(0.0, 10), "lr0"),
        (lambda: schedules.power(0.1, -1), "s"),
        (lambda: schedules.power(0.1, 10, c=0), "c"),
        (lambda: schedules.exponential(-0.1, 10), "lr0"),
        (lambda: schedules.exponential(0.1, 0), "s"),
        (lambda: schedules.exponential(0.1, np.inf), "s"),
        (lambda: schedules.exponential(0.1, 10, decay_rate=0.0), "decay_rate"),
        (lambda: schedules.power(0.1, 10, staircase=-2), "staircase"),
        (lambda: schedules.exponential(0.1, 10, staircase=0.0), "staircase"),
        (lambda: schedules.piecewise_constant([10, 20], [0.1, 0.01]), "values"),
        (lambda: schedules.piecewise_constant([20, 10], [0.1, 0.01, 0.001]), "boundaries"),
        (lambda: schedules.piecewise_constant([10, 10], [0.1, 0.01, 0.001]), "boundaries"),
        (lambda: schedules.piecewise_constant([[10]], [0.1, 0.01]), "boundaries"),
        (lambda: schedules.piecewise_constant([10], [0.1, 0.0]), r"values\[1\]"),
        (lambda: schedules.piecewise_constant([np.nan], [0.1, 0.01]), "boundaries"),
        (lambda: schedules.power(0.1, 10)(-1), "t"),
        (lambda: schedules.exponential(0.1, 10)(np.array([1.0, np.nan])), "t"),
        (lambda: schedules.PerformanceScheduler(factor=1.0), "factor"),
        (lambda: schedules.PerformanceScheduler(factor=0.0), "factor"),
        (lambda: schedules.PerformanceScheduler(patience=-1), "patience"),
        (lambda: schedules.PerformanceScheduler(min_delta=-1e-4), "min_delta"),
        (lambda: schedules.PerformanceScheduler(cooldown=-1), "cooldown"),
        (lambda: schedules.PerformanceScheduler(min_lr=-0.1), "min_lr"),
        (lambda: schedules.PerformanceScheduler(mode="auto"), "mode"),
        (lambda: schedules.PerformanceScheduler(convention="tf"), "convention"),
        (lambda: schedules.PerformanceScheduler(threshold_mode="pct"), "threshold_mode"),
        (lambda: schedules.PerformanceScheduler().step(np.nan, 0.1), "metric"),
        (lambda: schedules.PerformanceScheduler().step(np.ones(2), 0.1), "metric"),
        (lambda: schedules.PerformanceScheduler().step(1.0, 0.0), "lr"),
    ],
)
def test_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types():
    with pytest.raises(TypeError, match="patience"):
        schedules.PerformanceScheduler(patience=2.5)
    with pytest.raises(TypeError, match="t"):
        schedules.power(0.1, 10)("3")
    with pytest.raises(TypeError, match="staircase"):
        schedules.power(0.1, 10, staircase="yes")
    with pytest.raises(TypeError, match="metric"):
        schedules.PerformanceScheduler().step("low", 0.1)
