import math
import warnings

import numpy as np
import pytest

from _reference import fixture

from lablib import nn, optim, schedules
from lablib.gradcheck import numerical_gradient
from lablib.mlp import MLP, EarlyStopping, evaluate, fit, mc_dropout_predict


def blobs(n, d, k, seed, spread=1.0):
    """k Gaussian clusters in d dimensions (labels 0..k-1), an easy classification problem."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3.0, (k, d))
    y = rng.integers(0, k, n)
    return centers[y] + rng.normal(0, spread, (n, d)), y


def loss_of(model, X, y, mask_seed):
    """Cross-entropy in train mode with dropout masks drawn from a fresh Generator each call,
    so the numerical and analytic gradients see the same masks."""
    logits = model.forward(X, train=True, rng=np.random.default_rng(mask_seed))
    loss, dlogits = nn.softmax_cross_entropy(logits, y)
    return loss, dlogits


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "elu", "selu", "leaky_relu", "relu"])
@pytest.mark.parametrize("batchnorm", [False, True, nn.TORCH_BATCHNORM])
def test_full_backward_matches_numerical_gradient(activation, batchnorm):
    X, y = blobs(8, 5, 3, seed=1)
    model = MLP([5, 7, 6, 3], activation, batchnorm=batchnorm, dropout=0.25, init="glorot",
                rng=np.random.default_rng(2))
    _, dlogits = loss_of(model, X, y, 3)
    grads = model.backward(dlogits)
    assert set(grads) == set(model.params)
    for name, p in model.params.items():
        num = numerical_gradient(lambda _: loss_of(model, X, y, 3)[0], p)
        if batchnorm and name in ("b1", "b2"):
            # Batch norm subtracts the batch mean: the bias before it has zero gradient, and
            # the numerical one is pure rounding noise.
            assert np.abs(grads[name]).max() < 1e-15 and np.abs(num).max() < 1e-9, name
            continue
        # Norm-wise relative error: entries of ~1e-5 make the elementwise ratio rounding-bound.
        err = np.linalg.norm(grads[name] - num) / (np.linalg.norm(grads[name]) + np.linalg.norm(num))
        assert err < 1e-7, (name, err)


def test_forward_in_inference_mode_is_deterministic_and_leaves_running_stats_alone():
    X, _ = blobs(20, 4, 2, seed=0)
    model = MLP([4, 8, 2], batchnorm=True, dropout=0.5, rng=np.random.default_rng(0))
    before = {k: np.copy(v) for k, v in model.bn_state[1].items()}
    out1 = model.forward(X)
    out2 = model.forward(X)
    np.testing.assert_array_equal(out1, out2)
    for k in before:
        np.testing.assert_array_equal(model.bn_state[1][k], before[k])
    model.forward(X, train=True, rng=np.random.default_rng(0))
    assert not np.array_equal(model.bn_state[1]["running_mean"], before["running_mean"])


def test_initialisers_have_the_documented_standard_deviation():
    for init, std in [("he", math.sqrt(2 / 1000)), ("glorot", math.sqrt(2 / 1400)), ("lecun", math.sqrt(1 / 1000))]:
        W = MLP([1000, 400, 2], init=init, rng=np.random.default_rng(0)).params["W1"]
        assert abs(W.std() / std - 1) < 0.01, init
        assert abs(W.mean()) < 0.01 * std * 10


def test_fit_learns_an_easy_problem_and_records_history():
    X, y = blobs(600, 10, 4, seed=3)
    Xv, yv = blobs(200, 10, 4, seed=3)  # same cluster centers (drawn first), other points
    rng = np.random.default_rng(0)
    model = MLP([10, 32, 4], batchnorm=True, dropout=0.1, rng=rng)
    hist = fit(model, X, y, optim.Adam(lr=1e-2), 10, 32, val=(Xv, yv), rng=rng, progress=False)
    assert hist.epochs == 10 and len(hist.val_loss) == 10 and hist.lr == [1e-2] * 10
    assert hist.loss[-1] < hist.loss[0] / 3
    assert hist.val_accuracy[-1] > 0.95
    loss, acc = evaluate(model, Xv, yv)
    assert acc > 0.95 and loss < 0.2
    assert (loss, acc) == (hist.val_loss[-1], hist.val_accuracy[-1])


def test_fit_applies_an_epoch_schedule_and_a_performance_scheduler():
    X, y = blobs(200, 5, 3, seed=4)
    rng = np.random.default_rng(0)
    model = MLP([5, 8, 3], rng=rng)
    sched = schedules.exponential(0.1, s=2)
    hist = fit(model, X, y, optim.SGD(lr=0.1), 4, 50, schedule=sched, rng=rng, progress=False)
    np.testing.assert_allclose(hist.lr, [0.1 * 0.1 ** (e / 2) for e in range(4)], rtol=1e-15)

    # Validation loss that cannot improve (learning rate tiny) -> the plateau scheduler reduces.
    model = MLP([5, 8, 3], rng=rng)
    plateau = schedules.PerformanceScheduler(factor=0.5, patience=1, min_delta=1.0)
    hist = fit(model, X, y, optim.SGD(lr=1e-6), 4, 50, val=(X, y), schedule=plateau, rng=rng, progress=False)
    assert hist.lr[0] == 1e-6 and hist.lr[-1] < hist.lr[0]


def test_early_stopping_stops_and_restores_the_best_weights():
    X, y = blobs(60, 20, 3, seed=5, spread=4.0)      # few, noisy rows: a big net overfits fast
    Xv, yv = blobs(400, 20, 3, seed=5, spread=4.0)
    rng = np.random.default_rng(1)
    model = MLP([20, 256, 256, 3], rng=rng)
    early = EarlyStopping(patience=3, min_delta=0.0, restore_best=True)
    hist = fit(model, X, y, optim.Adam(lr=1e-2), 100, 20, val=(Xv, yv), early_stopping=early, rng=rng,
               progress=False)
    assert hist.stopped_epoch is not None and hist.stopped_epoch < 99
    assert hist.stopped_epoch - hist.best_epoch == 3
    assert hist.best_epoch == int(np.argmin(hist.val_loss))
    val_loss, _ = evaluate(model, Xv, yv)
    assert val_loss == pytest.approx(min(hist.val_loss), rel=1e-12)


def test_early_stopping_min_delta_counts_small_improvements_as_none():
    es = EarlyStopping(patience=2, min_delta=0.1)
    assert [es.update(e, loss) for e, loss in enumerate([1.0, 0.95, 0.92])] == [False, False, True]
    assert (es.best_epoch, es.best) == (0, 1.0)  # 0.95 and 0.92 are within min_delta of 1.0
    es.reset()
    assert [es.update(e, loss) for e, loss in enumerate([1.0, 0.95, 0.85])] == [False, False, False]
    assert (es.best_epoch, es.best, es.wait) == (2, 0.85, 0)


SCHEDULES_KERAS = fixture("schedules_keras")


@pytest.mark.parametrize("case", SCHEDULES_KERAS["early_stopping"],
                         ids=lambda c: f"patience={c['patience']},min_delta={c['min_delta']}")
def test_early_stopping_matches_keras_including_patience_zero(case):
    es = EarlyStopping(patience=case["patience"], min_delta=case["min_delta"], restore_best=False)
    stopped, waits = None, []
    for epoch, loss in enumerate(case["losses"]):
        stop = es.update(epoch, loss)
        waits.append(es.wait)
        if stop:
            stopped = epoch
            break
    assert stopped == case["stopped_epoch"]
    assert es.best_epoch == case["best_epoch"]
    assert waits == case["wait"]


def test_early_stopping_patience_zero_stops_at_the_first_epoch_without_improvement():
    es = EarlyStopping(patience=0)
    assert [es.update(e, loss) for e, loss in enumerate([1.0, 0.9, 0.8])] == [False, False, False]
    assert es.update(3, 0.85) is True and es.best_epoch == 2
    # In Keras as here, patience=0 is patience=1: the wait counter is 1 at the first epoch without improvement.
    by_setting = {(c["patience"], c["min_delta"], tuple(c["losses"])): c for c in SCHEDULES_KERAS["early_stopping"]}
    for (patience, min_delta, losses), case in by_setting.items():
        if patience == 0:
            one = by_setting[(1, min_delta, losses)]
            assert (case["stopped_epoch"], case["best_epoch"]) == (one["stopped_epoch"], one["best_epoch"])
            assert case["stopped_epoch"] is not None


def test_freeze_keeps_layers_fixed_and_transfer_copies_them():
    X, y = blobs(100, 6, 2, seed=6)
    rng = np.random.default_rng(0)
    base = MLP([6, 16, 8, 2], batchnorm=True, rng=rng)
    fit(base, X, y, optim.Adam(lr=1e-2), 2, 20, rng=rng, progress=False)
    new = MLP([6, 16, 8, 2], batchnorm=True, rng=rng)
    new.copy_layers_from(base, [1, 2])
    for name in ["W1", "b1", "gamma1", "beta1", "W2"]:
        np.testing.assert_array_equal(new.params[name], base.params[name])
    assert not np.array_equal(new.params["W3"], base.params["W3"])
    new.freeze(1, 2)
    frozen = {k: v.copy() for k, v in new.params.items() if new.layer_of[k] in (1, 2)}
    bn_before = {k: np.copy(v) for k, v in new.bn_state[1].items()}
    w3 = new.params["W3"].copy()
    fit(new, X, y, optim.Adam(lr=1e-2), 2, 20, rng=rng, progress=False)
    for k, value in frozen.items():
        np.testing.assert_array_equal(new.params[k], value)
    np.testing.assert_array_equal(new.bn_state[1]["running_mean"], bn_before["running_mean"])
    assert not np.array_equal(new.params["W3"], w3)
    new.unfreeze(2)
    assert set(new.trainable_params()) == {"W2", "b2", "gamma2", "beta2", "W3", "b3"}


def test_mc_dropout_gives_probabilities_and_a_spread():
    X, y = blobs(50, 6, 3, seed=7)
    model = MLP([6, 32, 3], dropout=0.5, rng=np.random.default_rng(0))
    mean, std = mc_dropout_predict(model, X, 30, rng=np.random.default_rng(1))
    np.testing.assert_allclose(mean.sum(axis=1), 1.0, rtol=1e-12)
    assert mean.shape == std.shape == (50, 3) and std.max() > 0
    again, _ = mc_dropout_predict(model, X, 30, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(mean, again)
    with pytest.raises(ValueError, match="dropout"):
        mc_dropout_predict(MLP([6, 3], rng=np.random.default_rng(0)), X, 5, rng=np.random.default_rng(0))


def test_divergence_is_reported_not_hidden():
    X, y = blobs(100, 5, 3, seed=8)
    rng = np.random.default_rng(0)
    model = MLP([5, 16, 3], rng=rng)
    with pytest.warns(optim.DivergenceWarning, match="diverged in epoch"):
        hist = fit(model, X * 1e3, y, optim.SGD(lr=1e6), 5, 10, rng=rng, progress=False)
    assert hist.diverged_epoch is not None and not math.isfinite(hist.loss[-1])


def test_progress_bar_goes_to_stderr_only_when_asked(capsys):
    X, y = blobs(40, 3, 2, seed=9)
    rng = np.random.default_rng(0)
    fit(MLP([3, 4, 2], rng=rng), X, y, optim.SGD(lr=0.1), 2, 10, rng=rng, progress=False)
    assert capsys.readouterr() == ("", "")
    fit(MLP([3, 4, 2], rng=rng), X, y, optim.SGD(lr=0.1), 2, 10, rng=rng, progress=True)
    assert "epochs" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, match", [
    (dict(sizes=[5]), "sizes"),
    (dict(sizes=[5, 0, 2]), r"sizes\[1\]"),
    (dict(activation="swish"), "activation"),
    (dict(init="orthogonal"), "init"),
    (dict(dropout=1.0), "dropout"),
    (dict(dropout=-0.1), "dropout"),
    (dict(batchnorm={"momentum": 0.9, "epsilon": 1e-3}), "batchnorm"),
])
def test_bad_model_arguments_are_named(kwargs, match):
    args = dict(sizes=[5, 4, 2], rng=np.random.default_rng(0)) | kwargs
    with pytest.raises(ValueError, match=match):
        MLP(**args)


def test_bad_fit_and_forward_inputs_are_named():
    rng = np.random.default_rng(0)
    model = MLP([4, 3, 2], dropout=0.5, rng=rng)
    X, y = np.ones((6, 4)), np.zeros(6, dtype=int)
    with pytest.raises(TypeError, match="rng"):
        MLP([4, 2], rng=None)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 4\)"):
        model.forward(np.ones((6, 5)))
    with pytest.raises(TypeError, match="rng"):
        model.forward(X, train=True)
    with pytest.raises(ValueError, match="y must have 6 labels"):
        fit(model, X, y[:5], optim.SGD(lr=0.1), 1, 2, rng=rng, progress=False)
    with pytest.raises(ValueError, match=r"y must be in \[0, 2\)"):
        fit(model, X, y + 2, optim.SGD(lr=0.1), 1, 2, rng=rng, progress=False)
    with pytest.raises(ValueError, match="X must be finite"):
        fit(model, X * np.nan, y, optim.SGD(lr=0.1), 1, 2, rng=rng, progress=False)
    with pytest.raises(ValueError, match="val="):
        fit(model, X, y, optim.SGD(lr=0.1), 1, 2, early_stopping=EarlyStopping(), rng=rng, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, X, y, optim.SGD(lr=0.1), 1, 0, rng=rng, progress=False)
    with pytest.raises(RuntimeError, match="forward"):
        MLP([4, 2], rng=rng).backward(np.ones((6, 2)))
    model.forward(X, train=True, rng=rng)
    with pytest.raises(ValueError, match="dlogits must have shape"):
        model.backward(np.ones((2, 6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X)


def test_fit_clips_every_gradient_before_the_step():
    from functools import partial

    from lablib.clip import clip_by_norm

    X, y = blobs(64, 5, 3, seed=10)
    rng = np.random.default_rng(0)
    model = MLP([5, 8, 3], batchnorm=True, rng=rng)
    model.freeze(1)
    seen = []

    def spy(grads):
        seen.append(sorted(grads))
        return partial(clip_by_norm, max_norm=1e-3)(grads)

    before = {k: v.copy() for k, v in model.params.items()}
    fit(model, X, y, optim.SGD(lr=1.0), 1, 16, clip=spy, rng=rng, progress=False)
    assert len(seen) == 4 and seen[0] == ["W2", "b2"]   # frozen layer 1 is not offered
    # SGD with lr=1 moves each tensor by at most 4 steps * max_norm.
    for name in ("W2", "b2"):
        assert 0 < np.linalg.norm(model.params[name] - before[name]) <= 4e-3 + 1e-15


def test_non_inverted_dropout_in_the_mlp():
    X, y = blobs(8, 5, 3, seed=11)
    kwargs = dict(batchnorm=nn.COURSE_BATCHNORM, dropout=0.4, init="glorot")
    plain = MLP([5, 7, 3], "tanh", inverted_dropout=False, rng=np.random.default_rng(2), **kwargs)
    inverted = MLP([5, 7, 3], "tanh", rng=np.random.default_rng(2), **kwargs)
    assert "inverted_dropout=False" in repr(plain)
    # same weights, same masks: the non-inverted hidden activations are (1 - rate) times the inverted ones, in
    # training and at test time, so a net whose next-layer weights are scaled by 1/(1 - rate) gives the same logits
    inverted.params["W2"] = plain.params["W2"] * 0.6
    for train in (True, False):
        np.testing.assert_allclose(
            plain.forward(X, train=train, rng=np.random.default_rng(5)) - plain.params["b2"],
            inverted.forward(X, train=train, rng=np.random.default_rng(5)) - inverted.params["b2"], rtol=1e-12)
    _, dlogits = nn.softmax_cross_entropy(plain.forward(X, train=True, rng=np.random.default_rng(3)), y)
    grads = plain.backward(dlogits)
    num = numerical_gradient(lambda _: loss_of(plain, X, y, 3)[0], plain.params["W1"])
    assert np.linalg.norm(grads["W1"] - num) / (np.linalg.norm(grads["W1"]) + np.linalg.norm(num)) < 1e-7
