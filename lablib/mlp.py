"""A multi-layer perceptron built from the ``lablib.nn`` layers, and its training loop.

Architecture of ``MLP([784, 256, 128, 10])``: every hidden layer is
``dense -> [batch norm] -> activation -> [dropout]``; the last layer is dense and
outputs logits, trained with softmax cross-entropy. Parameters live in one dict
``model.params`` ({"W1", "b1", "gamma1", "beta1", ..., "WL", "bL"}) whose arrays
the optimizers update in place; ``model.backward`` returns a dict of the same keys.
"""
from __future__ import annotations

import copy
import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import _validate as v
from .data import _minibatches
from .nn import activations as _act
from .nn.batchnorm import _DEFAULTS as _BATCHNORM_DEFAULTS
from .nn.batchnorm import KERAS_BATCHNORM, _batchnorm_backward, _batchnorm_forward, batchnorm_init
from .nn.dense import _dense_backward, _dense_forward
from .nn.dropout import _dropout_backward, _dropout_forward
from .nn.losses import _softmax, _softmax_cross_entropy
from .optim import DivergenceWarning, Optimizer
from .schedules import PerformanceScheduler

__all__ = ["MLP", "History", "EarlyStopping", "fit", "evaluate", "mc_dropout_predict"]

# Standard deviation of the normal initialisation, as a function of (fan_in, fan_out).
# He for ReLU-like, Glorot (Xavier) for sigmoid/tanh, LeCun for SELU (Géron, ch. 11).
# Keras' defaults draw from a (truncated or uniform) distribution with the same variance.
INITIALISERS = {
    "he": lambda fan_in, fan_out: math.sqrt(2.0 / fan_in),
    "glorot": lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    "lecun": lambda fan_in, fan_out: math.sqrt(1.0 / fan_in),
}


class MLP:
    """Fully connected classifier: ``sizes = [n_inputs, hidden..., n_classes]``.

    activation: a name in ``lablib.nn.ACTIVATIONS`` (relu, leaky_relu, elu, selu, sigmoid, tanh).
    batchnorm:  False, True (Keras' defaults ``lablib.nn.KERAS_BATCHNORM``) or a dict of batch-norm
                options such as ``lablib.nn.COURSE_BATCHNORM`` or ``lablib.nn.TORCH_BATCHNORM``.
    dropout:    drop probability ``rate`` after every hidden activation.
    inverted_dropout: True (Keras, PyTorch: scale by 1/(1 - rate) in training) or False (scale by
                1 - rate at test time); see ``lablib.nn.dropout``.
    init:       "he" (std sqrt(2/fan_in)), "glorot" (std sqrt(2/(fan_in+fan_out))) or "lecun"
                (std sqrt(1/fan_in)); weights ~ Normal(0, std^2), biases 0, gamma 1, beta 0.
    rng:        numpy Generator used for the initial weights.
    """

    def __init__(self, sizes, activation="relu", *, batchnorm=False, dropout=0.0, inverted_dropout=True, init="he",
                 rng):
        if not isinstance(sizes, (list, tuple)):
            raise TypeError(f"sizes must be a list of layer sizes such as [784, 128, 10], got {v._describe(sizes)}")
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least the input and output sizes, got {sizes}")
        self.sizes = [v.check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]
        v.check_choice(activation, "activation", tuple(sorted(_act.ACTIVATIONS)))
        v.check_choice(init, "init", tuple(sorted(INITIALISERS)))
        if batchnorm is True:
            batchnorm = dict(KERAS_BATCHNORM)
        elif batchnorm is False or batchnorm is None:
            batchnorm = None
        elif isinstance(batchnorm, dict):
            unknown = set(batchnorm) - set(_BATCHNORM_DEFAULTS)
            if unknown:
                raise ValueError(f"batchnorm has unknown options {sorted(unknown)} (allowed: {sorted(_BATCHNORM_DEFAULTS)})")
            batchnorm = {**KERAS_BATCHNORM, **batchnorm}
            _check_batchnorm_options(batchnorm)
        else:
            raise TypeError(f"batchnorm must be a bool or a dict of options, got {batchnorm!r}")
        self.activation = activation
        self.batchnorm = batchnorm
        self.dropout = v.check_rate(dropout, "dropout")
        self.inverted_dropout = v.check_flag(inverted_dropout, "inverted_dropout")
        self.init = init
        v.check_rng(rng)

        self.n_layers = len(self.sizes) - 1
        self.params: dict[str, np.ndarray] = {}
        self.layer_of: dict[str, int] = {}  # parameter name -> its layer (1-based)
        self.bn_state: dict[int, dict] = {}
        self.frozen: set[int] = set()
        for layer, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]), start=1):
            std = INITIALISERS[init](fan_in, fan_out)
            self.params[f"W{layer}"] = rng.normal(0.0, std, size=(fan_in, fan_out))
            self.params[f"b{layer}"] = np.zeros(fan_out)
            if self.batchnorm is not None and layer < self.n_layers:
                self.params[f"gamma{layer}"] = np.ones(fan_out)
                self.params[f"beta{layer}"] = np.zeros(fan_out)
                self.bn_state[layer] = batchnorm_init(fan_out)
        self.layer_of = {name: int(re.search(r"\d+$", name).group()) for name in self.params}
        self._caches: list | None = None

    def __repr__(self):
        extras = [f"activation={self.activation!r}", f"init={self.init!r}"]
        if self.batchnorm is not None:
            extras.append(f"batchnorm={self.batchnorm}")
        if self.dropout:
            extras.append(f"dropout={self.dropout}")
            if not self.inverted_dropout:
                extras.append("inverted_dropout=False")
        if self.frozen:
            extras.append(f"frozen={sorted(self.frozen)}")
        return f"MLP({self.sizes}, {', '.join(extras)})"

    # ----------------------------------------------------------------- forward / backward
    def forward(self, X, *, train=False, rng=None, dropout_active=None):
        """Logits for a batch ``X`` of shape (N, sizes[0]).

        train: batch norm uses batch statistics and updates its running averages; dropout is
        active. ``dropout_active`` overrides the dropout part alone (MC dropout: dropout on,
        batch norm in inference mode). ``rng`` is required whenever dropout is active.
        The caches for ``backward`` are kept on the model.
        """
        X = _check_inputs(self, X, "X")
        train = v.check_flag(train, "train")
        drop = train if dropout_active is None else v.check_flag(dropout_active, "dropout_active")
        if rng is not None or (drop and self.dropout > 0):
            v.check_rng(rng)
        return self._forward(X, train, drop, rng)

    def _forward(self, X, train, drop, rng):
        act_forward = _act.ACTIVATION_KERNELS[self.activation][0]
        caches = []
        out = X
        self._batch_size = X.shape[0]
        for layer in range(1, self.n_layers + 1):
            out, dense_cache = _dense_forward(out, self.params[f"W{layer}"], self.params[f"b{layer}"])
            if layer == self.n_layers:
                caches.append((dense_cache,))
                break
            bn_cache = drop_cache = None
            if self.batchnorm is not None:
                out, bn_cache = _batchnorm_forward(
                    out, self.params[f"gamma{layer}"], self.params[f"beta{layer}"], self.bn_state[layer],
                    train=train and layer not in self.frozen, **self.batchnorm,
                )
            out, act_cache = act_forward(out)
            if self.dropout > 0:
                out, drop_cache = _dropout_forward(out, self.dropout, train=drop, rng=rng, mask=None,
                                                   inverted=self.inverted_dropout)
            caches.append((dense_cache, bn_cache, act_cache, drop_cache))
        self._caches = caches
        return out

    def backward(self, dlogits):
        """Gradients of the loss w.r.t. every parameter, given dL/dlogits of the last ``forward``."""
        if self._caches is None:
            raise RuntimeError("backward needs a forward pass first: call model.forward(X, train=True)")
        dlogits = v.as_float_array(dlogits, "dlogits", ndim=2)
        n = self._batch_size
        if dlogits.shape != (n, self.sizes[-1]):
            raise ValueError(f"dlogits must have shape ({n}, {self.sizes[-1]}), got {dlogits.shape}")
        return self._backward(dlogits)

    def _backward(self, dout):
        act_backward = _act.ACTIVATION_KERNELS[self.activation][1]
        grads = {}
        for layer in range(self.n_layers, 0, -1):
            cache = self._caches[layer - 1]
            if layer < self.n_layers:
                dense_cache, bn_cache, act_cache, drop_cache = cache
                if drop_cache is not None:
                    dout = _dropout_backward(dout, drop_cache)
                dout = act_backward(dout, act_cache)
                if bn_cache is not None:
                    dout, grads[f"gamma{layer}"], grads[f"beta{layer}"] = _batchnorm_backward(dout, bn_cache)
            else:
                (dense_cache,) = cache
            # The input layer's dx is never used: skip computing it.
            dout, grads[f"W{layer}"], grads[f"b{layer}"] = _dense_backward(dout, dense_cache, need_dx=layer > 1)
        return grads

    # ----------------------------------------------------------------- predictions
    def predict_proba(self, X):
        """Class probabilities in inference mode (running batch-norm stats, no dropout)."""
        return _softmax(self.forward(X, train=False))

    def predict(self, X):
        """Most probable class per row."""
        return np.argmax(self.forward(X, train=False), axis=1)

    # ----------------------------------------------------------------- transfer learning
    def layer_params(self, layer):
        """Names of the parameters of ``layer`` (1-based)."""
        layer = self._check_layer(layer)
        return [name for name, owner in self.layer_of.items() if owner == layer]

    def _check_layer(self, layer, name="layer"):
        layer = v.check_int(layer, name)
        if not 1 <= layer <= self.n_layers:
            raise ValueError(f"{name} must be in [1, {self.n_layers}], got {layer}")
        return layer

    def freeze(self, *layers):
        """Exclude the parameters of these layers (1-based) from training; batch norm of a frozen
        layer uses its running statistics and stops updating them (Keras' behaviour)."""
        for layer in layers:
            self.frozen.add(self._check_layer(layer, "layers"))

    def unfreeze(self, *layers):
        """Train these layers again (all layers if none are named)."""
        for layer in layers or range(1, self.n_layers + 1):
            self.frozen.discard(self._check_layer(layer, "layers"))

    def trainable_params(self):
        """The parameters the optimizer may update (not in a frozen layer)."""
        return {name: p for name, p in self.params.items() if self.layer_of[name] not in self.frozen}

    def copy_layers_from(self, other: "MLP", layers):
        """Copy the weights (and batch-norm state) of ``layers`` from ``other``; shapes must match."""
        if not isinstance(other, MLP):
            raise TypeError(f"other must be an MLP, got {v._describe(other)}")
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of layer numbers (1-based), got {v._describe(layers)}")
        layers = [self._check_layer(layer, "layers") for layer in layers]
        for layer in layers:
            for name in self.layer_params(layer):
                if name not in other.params or other.params[name].shape != self.params[name].shape:
                    got = other.params[name].shape if name in other.params else "missing"
                    raise ValueError(f"cannot copy {name}: shape {self.params[name].shape} here, {got} in the source")
                self.params[name][...] = other.params[name]
            if layer in self.bn_state and layer in other.bn_state:
                self.bn_state[layer] = copy.deepcopy(other.bn_state[layer])

    def get_weights(self):
        """A deep copy of every parameter and batch-norm running statistic."""
        return {"params": {k: p.copy() for k, p in self.params.items()}, "bn_state": copy.deepcopy(self.bn_state)}

    def set_weights(self, weights):
        """Restore what ``get_weights`` returned (in place: optimizers keep their references)."""
        if not isinstance(weights, dict) or not {"params", "bn_state"} <= weights.keys():
            raise TypeError(f"weights must be the dict returned by get_weights(), got {v._describe(weights)}")
        if weights["params"].keys() != self.params.keys():
            raise ValueError(f"weights['params'] has {sorted(weights['params'])}, this model has {sorted(self.params)}")
        for name, value in weights["params"].items():
            value = v.as_float_array(value, f"weights['params'][{name!r}]")
            if value.shape != self.params[name].shape:
                raise ValueError(f"weights['params'][{name!r}] must have shape {self.params[name].shape}, "
                                 f"got {value.shape}")
        for name, value in weights["params"].items():
            self.params[name][...] = value
        self.bn_state = copy.deepcopy(weights["bn_state"])


# --------------------------------------------------------------------------- training
@dataclass
class History:
    """Per-epoch records of ``fit``: loss/accuracy on the training batches (train mode, as Keras
    reports them), on the validation set (inference mode), and the learning rate used."""

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    diverged_epoch: int | None = None

    @property
    def epochs(self):
        return len(self.loss)

    def as_dict(self):
        return {k: list(getattr(self, k)) for k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr")}


class EarlyStopping:
    """Stop when the monitored validation loss has not improved by more than ``min_delta``
    for ``patience`` consecutive epochs (keras.callbacks.EarlyStopping(monitor="val_loss")):

        epoch t improves  <=>  val_loss(t) < best - min_delta   (then best = val_loss(t), wait = 0)
        otherwise wait += 1;  stop when wait >= patience

    patience=0 (Keras' default) stops at the first epoch that does not improve, exactly as patience=1
    does (wait is already 1 then), here and in Keras. Keras compares ``val_loss + min_delta < best``, which rounds differently only
    when a difference of losses equals min_delta to the last bit, and never stops at epoch 0 (here
    epoch 0 always improves on best = inf unless its loss is NaN, which fit reports as divergence).
    With ``restore_best`` the model gets the weights of its best epoch back when training ends."""

    def __init__(self, patience=5, min_delta=0.0, restore_best=True):
        self.patience = v.check_int(patience, "patience", minimum=0)
        self.min_delta = v.check_nonnegative(min_delta, "min_delta")
        self.restore_best = v.check_flag(restore_best, "restore_best")
        self.reset()

    def reset(self):
        self.best = math.inf
        self.best_epoch = None
        self.wait = 0
        self.best_weights = None

    def update(self, epoch: int, val_loss: float, model: MLP | None = None) -> bool:
        """Record one epoch's validation loss; return True when training should stop."""
        epoch = v.check_int(epoch, "epoch", minimum=0)
        val_loss = float(v.as_float_array(val_loss, "val_loss", ndim=0, finite=False))
        if math.isnan(val_loss):
            raise ValueError("val_loss must not be NaN")
        if model is not None and not isinstance(model, MLP):
            raise TypeError(f"model must be an MLP or None, got {v._describe(model)}")
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = float(val_loss), epoch, 0
            if self.restore_best and model is not None:
                self.best_weights = model.get_weights()
            return False
        self.wait += 1
        return self.wait >= self.patience


def _check_model(model):
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a lablib.mlp.MLP, got {v._describe(model)}")
    return model


def _check_inputs(model, X, name):
    X = v.as_float_array(X, name, ndim=2)
    if X.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, got shape {X.shape}")
    if X.shape[1] != model.sizes[0]:
        raise ValueError(f"{name} must have shape (N, {model.sizes[0]}), got {X.shape}")
    return X


def _check_batchnorm_options(options):
    """The MLP's batch-norm options, checked once here (the training loop calls the unchecked kernel)."""
    v.check_fraction(options["momentum"], "batchnorm['momentum']", high_open=False)
    v.check_positive(options["eps"], "batchnorm['eps']")
    for key in ("unbiased_running_var", "average_std", "init_from_first_batch"):
        if key in options:
            v.check_flag(options[key], f"batchnorm[{key!r}]")


def evaluate(model: MLP, X, y, *, batch_size=2048):
    """(mean cross-entropy loss, accuracy) in inference mode, over batches of ``batch_size`` rows."""
    _check_model(model)
    X = _check_inputs(model, X, "X")
    y = v.check_labels(y, "y", n=X.shape[0], n_classes=model.sizes[-1])
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    total_loss, correct = 0.0, 0
    for start in range(0, X.shape[0], batch_size):
        logits = model._forward(X[start:start + batch_size], False, False, None)
        yb = y[start:start + batch_size]
        loss, _ = _softmax_cross_entropy(logits, yb)
        total_loss += loss * len(yb)
        correct += int(np.sum(np.argmax(logits, axis=1) == yb))
    return total_loss / X.shape[0], correct / X.shape[0]


def fit(model: MLP, X, y, optimizer, epochs, batch_size, *, val=None, schedule=None, clip=None,
        early_stopping=None, rng, progress=True) -> History:
    """Train ``model`` with minibatch SGD-style updates of ``optimizer`` (see ``lablib.optim``).

    val:            (X_val, y_val), needed by early stopping and a PerformanceScheduler.
    schedule:       a callable epoch -> lr applied at the start of each epoch (epoch counts from 0),
                    or a ``PerformanceScheduler`` stepped with the validation loss after each epoch.
                    For a per-iteration schedule give it to the optimizer instead (``Adam(lr=power(...))``).
    clip:           a callable grads -> grads applied before each step, e.g.
                    ``functools.partial(lablib.clip.clip_by_norm, max_norm=1.0)`` or
                    ``lambda g: lablib.clip.clip_by_global_norm(g, 5.0)[0]``.
    early_stopping: an ``EarlyStopping``; restores the best weights at the end when asked to.
    rng:            numpy Generator for shuffling and dropout masks.

    A non-finite training loss stops training and raises a ``DivergenceWarning``; the epoch is in
    ``history.diverged_epoch``.
    """
    _check_model(model)
    X = _check_inputs(model, X, "X")
    y = v.check_labels(y, "y", n=X.shape[0], n_classes=model.sizes[-1])
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a lablib.optim optimizer such as optim.SGD(lr=0.1) or optim.Adam(), "
                        f"got {v._describe(optimizer)}")
    epochs = v.check_int(epochs, "epochs", minimum=0)
    batch_size = v.check_int(batch_size, "batch_size", minimum=1)
    v.check_rng(rng)
    progress = v.check_flag(progress, "progress")
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"val must be a pair (X_val, y_val), got {v._describe(val)}")
        X_val = _check_inputs(model, val[0], "val[0]")
        y_val = v.check_labels(val[1], "val[1]", n=X_val.shape[0], n_classes=model.sizes[-1])
    if (early_stopping is not None or isinstance(schedule, PerformanceScheduler)) and val is None:
        raise ValueError("val=(X_val, y_val) is required by early_stopping and by a PerformanceScheduler")
    if schedule is not None and not callable(schedule) and not isinstance(schedule, PerformanceScheduler):
        raise TypeError(f"schedule must be a callable epoch -> lr or a PerformanceScheduler, got {schedule!r}")
    if clip is not None and not callable(clip):
        raise TypeError(f"clip must be a callable grads -> grads, got {clip!r}")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be an EarlyStopping or None, got {v._describe(early_stopping)}")
    if early_stopping is not None:
        early_stopping.reset()

    history = History()
    bar = _progress_bar(epochs, progress)
    try:
        for epoch in range(epochs):
            if schedule is not None and not isinstance(schedule, PerformanceScheduler):
                optimizer.lr = float(schedule(epoch))
            history.lr.append(float(optimizer.lr))
            loss, acc = _train_epoch(model, X, y, optimizer, batch_size, clip, rng)
            history.loss.append(loss)
            history.accuracy.append(acc)
            if not math.isfinite(loss):
                history.diverged_epoch = epoch
                warnings.warn(
                    f"training diverged in epoch {epoch}: the loss is {loss} (lr={history.lr[-1]:g}); "
                    "lower the learning rate or clip the gradients", DivergenceWarning, stacklevel=2)
                break
            postfix = {"loss": f"{loss:.4f}", "acc": f"{acc:.4f}"}
            if val is not None:
                val_loss, val_acc = evaluate(model, X_val, y_val)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_acc)
                postfix.update(val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.4f}")
                if isinstance(schedule, PerformanceScheduler):
                    optimizer.lr = schedule.step(val_loss, optimizer.lr)
            bar.set_postfix(postfix, refresh=False)
            bar.update(1)
            if early_stopping is not None and early_stopping.update(epoch, history.val_loss[-1], model):
                history.stopped_epoch = epoch
                break
    finally:
        bar.close()
    if early_stopping is not None:
        history.best_epoch = early_stopping.best_epoch
        if early_stopping.restore_best and early_stopping.best_weights is not None:
            model.set_weights(early_stopping.best_weights)
    return history


def _train_epoch(model, X, y, optimizer, batch_size, clip, rng):
    total_loss, correct = 0.0, 0
    drop = model.dropout > 0
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported by fit
        for Xb, yb in _minibatches(X, y, batch_size, rng=rng, shuffle=True):
            logits = model._forward(Xb, True, drop, rng)
            loss, dlogits = _softmax_cross_entropy(logits, yb)
            grads = model._backward(dlogits)
            trainable = model.trainable_params()
            grads = {k: grads[k] for k in trainable}
            if clip is not None:
                grads = clip(grads)
            optimizer.step(trainable, grads)
            total_loss += loss * len(yb)
            correct += int(np.sum(np.argmax(logits, axis=1) == yb))
            if not math.isfinite(loss):
                return math.nan if math.isnan(loss) else loss, correct / X.shape[0]
    return total_loss / X.shape[0], correct / X.shape[0]


def _progress_bar(total, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="epochs", unit="epoch", disable=not enabled, leave=True)


def mc_dropout_predict(model: MLP, X, n_samples=100, *, rng):
    """Monte-Carlo dropout (Gal & Ghahramani 2016): average the softmax of ``n_samples``
    forward passes with dropout active and batch norm in inference mode.
    Returns (mean probabilities (N, C), their standard deviation over the samples (N, C))."""
    _check_model(model)
    n_samples = v.check_int(n_samples, "n_samples", minimum=1)
    v.check_rng(rng)
    if model.dropout == 0:
        raise ValueError("model must have dropout > 0 for mc_dropout_predict (every pass would be identical)")
    X = _check_inputs(model, X, "X")
    probs = np.stack([_softmax(model.forward(X, train=False, dropout_active=True, rng=rng))
                      for _ in range(n_samples)])
    return probs.mean(axis=0), probs.std(axis=0)
