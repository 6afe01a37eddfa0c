"""Gradient descent and the optimizers of the course: SGD (momentum, Nesterov), AdaGrad-Norm, Adagrad, RMSprop,
Adadelta, Adam.

Each update rule exists once, as an in-place kernel ``_<rule>_update(params, grads, state, scratch, ...)``
working on dicts name -> ndarray. Two faces share it:

* a pure step function ``<rule>_step(params, grads, state, *, lr, ...) -> (params, state)`` that copies its
  inputs first (params and grads are one ndarray or a dict of ndarrays; ``state`` is ``{}``/``None`` on the
  first call, then whatever the previous call returned);
* a thin class (``SGD``, ``AdaGradNorm``, ``Adagrad``, ``RMSprop``, ``Adadelta``, ``Adam``) whose ``step(params, grads)``
  updates the parameter arrays in place with preallocated temporaries, and whose ``lr`` is a float or a
  schedule ``t -> lr`` (``t`` = steps already taken).

``StepRule(step, lr, **hparams)`` makes an optimizer of a step function written like the labs' exercises,
``step(x, grad, state, lr, ...) -> (new_x, new_state)``, so that a network trains with the student's own rule.

Where PyTorch and Keras 3 differ (where eps goes, SGD momentum form, defaults) each docstring says how;
``eps_convention="torch"|"keras"`` and ``momentum_form="torch"|"keras"`` select between them.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._numeric import l2_norm
from ._validate import (
    _describe,
    as_float_array,
    check_choice,
    check_flag,
    check_fraction,
    check_int,
    check_nonnegative,
    check_positive,
)

__all__ = [
    "DivergenceWarning",
    "GradientOverflowError",
    "gradient_descent",
    "sgd_step",
    "adagrad_norm_step",
    "adagrad_step",
    "rmsprop_step",
    "adadelta_step",
    "adam_step",
    "Optimizer",
    "SGD",
    "AdaGradNorm",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adam",
    "StepRule",
]


class DivergenceWarning(RuntimeWarning):
    """Gradient descent produced a non-finite iterate (learning rate too large for the landscape)."""


# ---------------------------------------------------------------------------------------------------------
# Plain gradient descent on a function of one vector


def gradient_descent(grad, x0, lr, n_steps, tol=None) -> np.ndarray:
    """Run x_{t+1} = x_t - lr * grad(x_t) and return all iterates x_0, ..., x_k.

    Shape (k+1,) for a scalar ``x0``, (k+1, D) for a vector of length D; k = ``n_steps`` unless it stops early:
    when ||grad(x_t)|| < ``tol`` (x_t is then the last row), or when an iterate is no longer finite. Divergence
    is reported, not hidden: the finite iterates are kept and one ``DivergenceWarning`` names the step, lr and
    the largest |entry| of the last finite iterate (numpy's own overflow warnings are silenced so that this
    is the only one).
    """
    if not callable(grad):
        raise TypeError(f"grad must be a callable x -> gradient, got {_describe(grad)}")
    x0 = as_float_array(x0, "x0")
    if x0.ndim > 1 or x0.size == 0:
        raise ValueError(f"x0 must be a scalar or a non-empty 1-D vector, got shape {x0.shape}")
    lr = check_positive(lr, "lr")
    n_steps = check_int(n_steps, "n_steps", minimum=0)
    if tol is not None:
        tol = check_positive(tol, "tol")

    iterates = np.empty((n_steps + 1,) + x0.shape)
    iterates[0] = x0
    k = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(n_steps):
            x = iterates[t]
            g = grad(float(x) if x.ndim == 0 else x.copy())
            g = as_float_array(g, "grad(x)", finite=False)
            if g.shape != x.shape:
                raise ValueError(f"grad(x) must return the shape of x, {x.shape}, got {g.shape}")
            if tol is not None and l2_norm(g) < tol:
                break
            x_next = x - lr * g
            if not np.all(np.isfinite(x_next)):
                warnings.warn(
                    f"gradient descent diverged: iterate x_{t + 1} is not finite (lr={lr:g}, "
                    f"last finite max|x|={np.max(np.abs(x)):.4g} at step {t}); returning x_0..x_{t}",
                    DivergenceWarning,
                    stacklevel=2,
                )
                break
            iterates[t + 1] = x_next
            k = t + 1
    return iterates[: k + 1].copy()


# ---------------------------------------------------------------------------------------------------------
# Helpers shared by the kernels, the pure functions and the classes

_ONE = "params"  # internal name of the single tensor when params is one ndarray
_EPS_CONVENTIONS = ("torch", "keras")


def _buffers(state: dict, key: str, params: dict, fill: float = 0.0) -> dict:
    """state[key]: one array per parameter, created filled with ``fill`` on first use."""
    if key not in state:
        state[key] = {name: np.full_like(x, fill) for name, x in params.items()}
    return state[key]


def _tmp(scratch: dict, name: str, like: np.ndarray) -> np.ndarray:
    buf = scratch.get(name)
    if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
        buf = scratch[name] = np.empty_like(like)
    return buf


def _divide_step(x, numerator, second_moment, step_size, eps, eps_inside, tmp) -> None:
    """x -= step_size * numerator / denom, denom = sqrt(s + eps) (eps_inside) or sqrt(s) + eps."""
    if eps_inside:
        np.add(second_moment, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
    else:
        np.sqrt(second_moment, out=tmp)
        tmp += eps
    np.divide(numerator, tmp, out=tmp)
    tmp *= step_size
    x -= tmp


def _check_eps_convention(value) -> str:
    if value not in _EPS_CONVENTIONS:
        raise ValueError(f"eps_convention must be 'torch' or 'keras', got {value!r}")
    return value


def _check_state(state: dict, params: dict) -> None:
    """Per-parameter buffers in ``state`` must match ``params`` (names and shapes)."""
    for key, bufs in state.items():
        if not isinstance(bufs, dict):
            continue
        if bufs.keys() != params.keys():
            raise ValueError(f"state[{key!r}] has entries {sorted(bufs)}, params has {sorted(params)}")
        for name, buf in bufs.items():
            if np.shape(buf) != params[name].shape:
                raise ValueError(
                    f"state[{key!r}][{name!r}] has shape {np.shape(buf)}, params[{name!r}] has {params[name].shape}"
                )


def _check_step_args(params, grads) -> None:
    """The class step's checks: dicts with the same names, float param arrays, grads of matching shapes."""
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict name -> ndarray, got {_describe(params)}")
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict name -> ndarray, got {_describe(grads)}")
    if grads.keys() != params.keys():
        raise ValueError(f"grads must have the same names as params: params {sorted(params)}, grads {sorted(grads)}")
    for name, x in params.items():
        if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
            raise TypeError(f"params[{name!r}] must be a float ndarray (updated in place), got {_describe(x)}")
        g = grads[name]
        if not isinstance(g, np.ndarray) or g.dtype.kind not in "fiu":
            raise TypeError(f"grads[{name!r}] must be a real numeric ndarray, got {_describe(g)}")
        if g.shape != x.shape:
            raise ValueError(f"grads[{name!r}] must have the shape of params[{name!r}], {x.shape}, got {g.shape}")


class GradientOverflowError(ValueError):
    """A step rule's running statistics overflowed float64 (grad**2 beyond 1.8e308): its steps would be zero."""


def _check_finite_state(state: dict) -> None:
    """The pure steps never return an overflowed state: grad**2 beyond float64 (|grad| > 1.3e154) makes the
    denominators inf and the steps silently zero (torch and Keras take such zero steps). An iterate that
    overflows (lr * grad too large) is returned as it is: inf shows the divergence."""
    for value in state.values():
        for buf in value.values() if isinstance(value, dict) else [value]:
            if isinstance(buf, (np.ndarray, float)) and not np.all(np.isfinite(buf)):
                raise GradientOverflowError(
                    "grads are too large for this rule in float64: its running statistics overflowed (the squares "
                    "of the gradients exceed 1.8e308), so every later step would be zero; rescale the gradients")


def _pure_step(update, params, grads, state, **hparams):
    """Copy params/grads/state into dicts, run the in-place ``update`` on the copies, return them."""
    single = not isinstance(params, dict)
    if single:
        if isinstance(grads, dict):
            raise TypeError("grads must be one array when params is one array, got a dict")
        params, grads = {_ONE: params}, {_ONE: grads}
    elif not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict name -> array when params is a dict, got {_describe(grads)}")
    if grads.keys() != params.keys():
        raise ValueError(f"grads must have the same names as params: params {sorted(params)}, grads {sorted(grads)}")

    def label(kind, name):
        return kind if single else f"{kind}[{name!r}]"

    if not params:
        raise ValueError("params must hold at least one array, got an empty dict")
    new_params, new_grads = {}, {}
    for name in params:
        new_params[name] = np.array(as_float_array(params[name], label("params", name)))  # a copy
        if new_params[name].size == 0:
            raise ValueError(f"{label('params', name)} must not be empty, got shape {new_params[name].shape}")
        g = as_float_array(grads[name], label("grads", name))
        if g.shape != new_params[name].shape:
            raise ValueError(
                f"{label('grads', name)} must have the shape of {label('params', name)}, "
                f"{new_params[name].shape}, got {g.shape}"
            )
        new_grads[name] = g

    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict (or None on the first call), got {_describe(state)}")
    new_state = {}
    for key, value in state.items():
        if single and isinstance(value, np.ndarray):
            value = {_ONE: value}
        if isinstance(value, dict):
            value = {name: np.array(buf, dtype=np.float64) for name, buf in value.items()}
        new_state[key] = value
    _check_state(new_state, new_params)

    with np.errstate(over="ignore", invalid="ignore"):
        update(new_params, new_grads, new_state, {}, **hparams)
    _check_finite_state(new_state)

    if single:
        new_state = {k: (v[_ONE] if isinstance(v, dict) else v) for k, v in new_state.items()}
        return new_params[_ONE], new_state
    return new_params, new_state


# ---------------------------------------------------------------------------------------------------------
# The update rules: one in-place kernel each, plus the validation of its hyperparameters


_MOMENTUM_FORMS = ("torch", "keras")
_VELOCITY_KEY = {"torch": "velocity", "keras": "keras_velocity"}


def _sgd_hparams(momentum, nesterov, momentum_form):
    momentum = check_fraction(momentum, "momentum")
    nesterov = check_flag(nesterov, "nesterov")
    if nesterov and momentum == 0:
        raise ValueError("momentum must be > 0 when nesterov=True (Nesterov's look-ahead is along the velocity)")
    return {"momentum": momentum, "nesterov": nesterov,
            "momentum_form": check_choice(momentum_form, "momentum_form", _MOMENTUM_FORMS)}


def _sgd_update(params, grads, state, scratch, *, lr, momentum, nesterov=False, momentum_form="torch"):
    velocity = _buffers(state, _VELOCITY_KEY[momentum_form], params) if momentum else None
    for name, x in params.items():
        g, tmp = grads[name], _tmp(scratch, name, x)
        if not momentum:
            np.multiply(g, lr, out=tmp)
            x -= tmp
        elif momentum_form == "torch":  # v = momentum * v + g;  x -= lr * (v, or g + momentum * v)
            v = velocity[name]
            v *= momentum
            v += g
            if nesterov:
                np.multiply(v, momentum, out=tmp)
                tmp += g
                tmp *= lr
            else:
                np.multiply(v, lr, out=tmp)
            x -= tmp
        else:  # keras: v = momentum * v - lr * g;  x += (v, or momentum * v - lr * g)
            v = velocity[name]
            np.multiply(g, lr, out=tmp)
            v *= momentum
            v -= tmp
            if nesterov:
                x -= tmp
                np.multiply(v, momentum, out=tmp)
            else:
                np.copyto(tmp, v)
            x += tmp


def sgd_step(params, grads, state=None, *, lr, momentum=0.0, nesterov=False, momentum_form="torch"):
    """SGD with (heavy-ball) momentum or Nesterov momentum, in PyTorch's or Keras' form.

    momentum_form="torch" (default; torch.optim.SGD, dampening 0, and the course's momentum):
        g_t = momentum * g_{t-1} + grad        (g_0 = 0; state["velocity"] holds g_t)
        x  <- x - lr * g_t                                     (nesterov=False)
        x  <- x - lr * (grad + momentum * g_t)                 (nesterov=True, torch's nesterov=True)
    momentum_form="keras" (keras.optimizers.SGD):
        v_t = momentum * v_{t-1} - lr * grad   (v_0 = 0; state["keras_velocity"] holds v_t)
        x  <- x + v_t                                          (nesterov=False)
        x  <- x + momentum * v_t - lr * grad                   (nesterov=True, Keras' nesterov=True)

    With a constant lr the two forms give the same iterates (v_t = -lr * g_t); when lr changes between steps
    they differ: in the torch form a new lr scales the whole accumulated velocity at once, in Keras' only the
    new gradient term. Nesterov's accelerated gradient (NAG, Sutskever et al. 2013) evaluates the gradient at
    the look-ahead point; both frameworks use this equivalent form with the gradient at x itself.
    """
    hparams = _sgd_hparams(momentum, nesterov, momentum_form)
    if isinstance(state, dict):
        other = _VELOCITY_KEY["keras" if hparams["momentum_form"] == "torch" else "torch"]
        if other in state:
            raise ValueError(f"state holds {other!r}, the velocity of the other momentum_form: it was made with "
                             f"momentum_form={'keras' if hparams['momentum_form'] == 'torch' else 'torch'!r}")
    return _pure_step(_sgd_update, params, grads, state, lr=check_positive(lr, "lr"), **hparams)


def _adagrad_norm_hparams(eps):
    return {"eps": check_positive(eps, "eps")}


def _adagrad_norm_update(params, grads, state, scratch, *, lr, eps):
    sum_sq = 0.0
    for g in grads.values():
        flat = np.ravel(g)
        sum_sq += float(np.dot(flat, flat))
    state["accumulator"] = state.get("accumulator", 0.0) + sum_sq
    scale = lr / np.sqrt(eps + state["accumulator"])
    for name, x in params.items():
        tmp = _tmp(scratch, name, x)
        np.multiply(grads[name], scale, out=tmp)
        x -= tmp


def adagrad_norm_step(params, grads, state=None, *, lr, eps=1e-8):
    """AdaGrad-Norm, the course's version: one scalar accumulator for ALL parameters together.

        S_t = S_{t-1} + ||grad||^2             (S_0 = 0; squared global norm over all tensors)
        x  <- x - lr / sqrt(eps + S_t) * grad   (eps inside the root)

    state["accumulator"] holds S_t (a float). Neither torch nor Keras ships this rule.
    """
    hparams = _adagrad_norm_hparams(eps)
    return _pure_step(_adagrad_norm_update, params, grads, state, lr=check_positive(lr, "lr"), **hparams)


def _adagrad_hparams(eps, initial_accumulator, eps_convention):
    return {
        "eps": check_positive(eps, "eps"),
        "initial_accumulator": check_nonnegative(initial_accumulator, "initial_accumulator"),
        "eps_convention": _check_eps_convention(eps_convention),
    }


def _adagrad_update(params, grads, state, scratch, *, lr, eps, initial_accumulator, eps_convention):
    accumulator = _buffers(state, "accumulator", params, initial_accumulator)
    for name, x in params.items():
        g, s, tmp = grads[name], accumulator[name], _tmp(scratch, name, x)
        np.multiply(g, g, out=tmp)
        s += tmp
        _divide_step(x, g, s, lr, eps, eps_convention == "keras", tmp)


def adagrad_step(params, grads, state=None, *, lr, eps=1e-10, initial_accumulator=0.0, eps_convention="torch"):
    """Adagrad, one accumulator per coordinate (torch.optim.Adagrad without lr_decay/weight_decay).

        s_t = s_{t-1} + grad^2                  (s_0 = initial_accumulator, elementwise)
        torch:  x <- x - lr * grad / (sqrt(s_t) + eps)
        keras:  x <- x - lr * grad / sqrt(s_t + eps)

    The defaults are torch's (eps=1e-10, initial_accumulator=0). Keras 3's Adagrad is eps_convention="keras"
    with eps=1e-7, initial_accumulator=0.1 (and lr=0.001 there, 0.01 in torch).
    """
    hparams = _adagrad_hparams(eps, initial_accumulator, eps_convention)
    return _pure_step(_adagrad_update, params, grads, state, lr=check_positive(lr, "lr"), **hparams)


def _rmsprop_hparams(rho, eps, eps_convention):
    return {
        "rho": check_fraction(rho, "rho"),
        "eps": check_positive(eps, "eps"),
        "eps_convention": _check_eps_convention(eps_convention),
    }


def _rmsprop_update(params, grads, state, scratch, *, lr, rho, eps, eps_convention):
    square_avg = _buffers(state, "square_avg", params)
    for name, x in params.items():
        g, s, tmp = grads[name], square_avg[name], _tmp(scratch, name, x)
        s *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - rho
        s += tmp
        _divide_step(x, g, s, lr, eps, eps_convention == "keras", tmp)


def rmsprop_step(params, grads, state=None, *, lr, rho=0.9, eps=1e-8, eps_convention="torch"):
    """RMSprop (no momentum, not centered).

        s_t = rho * s_{t-1} + (1 - rho) * grad^2    (s_0 = 0)
        torch:  x <- x - lr * grad / (sqrt(s_t) + eps)
        keras:  x <- x - lr * grad / sqrt(s_t + eps)

    torch.optim.RMSprop calls rho ``alpha`` (default 0.99, eps=1e-8, lr=0.01); Keras 3 RMSprop has rho=0.9,
    eps=1e-7 inside the root, lr=0.001. The defaults here (rho=0.9, eps=1e-8, eps outside) are reproduced
    exactly by torch.optim.RMSprop(alpha=0.9).
    """
    hparams = _rmsprop_hparams(rho, eps, eps_convention)
    return _pure_step(_rmsprop_update, params, grads, state, lr=check_positive(lr, "lr"), **hparams)


def _adadelta_hparams(rho, eps):
    return {"rho": check_fraction(rho, "rho"), "eps": check_positive(eps, "eps")}


def _adadelta_update(params, grads, state, scratch, *, lr, rho, eps):
    square_avg = _buffers(state, "square_avg", params)
    acc_delta = _buffers(state, "acc_delta", params)
    for name, x in params.items():
        g, s, u, tmp = grads[name], square_avg[name], acc_delta[name], _tmp(scratch, name, x)
        s *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - rho
        s += tmp
        delta = np.add(u, eps)  # sqrt(u + eps) / sqrt(s + eps) * grad
        np.sqrt(delta, out=delta)
        np.add(s, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        delta /= tmp
        delta *= g
        u *= rho
        np.multiply(delta, delta, out=tmp)
        tmp *= 1.0 - rho
        u += tmp
        delta *= lr
        x -= delta


def adadelta_step(params, grads, state=None, *, lr=1.0, rho=0.9, eps=1e-6):
    """Adadelta (Zeiler 2012): the step size comes from the ratio of two running RMS values.

        s_t      = rho * s_{t-1} + (1 - rho) * grad^2                  (s_0 = 0; state["square_avg"])
        delta_t  = sqrt(u_{t-1} + eps) / sqrt(s_t + eps) * grad
        u_t      = rho * u_{t-1} + (1 - rho) * delta_t^2               (u_0 = 0; state["acc_delta"])
        x       <- x - lr * delta_t

    torch.optim.Adadelta and keras.optimizers.Adadelta compute exactly this; they differ in defaults only:
    torch lr=1.0, rho=0.9, eps=1e-6 (the defaults here; Zeiler's rule has no lr, i.e. lr=1) and Keras 3
    learning_rate=0.001, rho=0.95, epsilon=1e-7.
    """
    hparams = _adadelta_hparams(rho, eps)
    return _pure_step(_adadelta_update, params, grads, state, lr=check_positive(lr, "lr"), **hparams)


def _adam_hparams(beta1, beta2, eps, eps_convention):
    return {
        "beta1": check_fraction(beta1, "beta1"),
        "beta2": check_fraction(beta2, "beta2"),
        "eps": check_positive(eps, "eps"),
        "eps_convention": _check_eps_convention(eps_convention),
    }


def _adam_update(params, grads, state, scratch, *, lr, beta1, beta2, eps, eps_convention):
    t = state["t"] = state.get("t", 0) + 1
    m, v = _buffers(state, "m", params), _buffers(state, "v", params)
    sqrt_bc2 = np.sqrt(1.0 - beta2**t)
    step_size = lr * sqrt_bc2 / (1.0 - beta1**t)
    # lr * m_hat / (sqrt(v_hat) + eps) == step_size * m / (sqrt(v) + eps * sqrt_bc2): torch's eps sits on
    # sqrt(v_hat); Keras adds its eps to sqrt(v) itself.
    eps_on_sqrt_v = eps * sqrt_bc2 if eps_convention == "torch" else eps
    for name, x in params.items():
        g, m_, v_, tmp = grads[name], m[name], v[name], _tmp(scratch, name, x)
        m_ *= beta1
        np.multiply(g, 1.0 - beta1, out=tmp)
        m_ += tmp
        v_ *= beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - beta2
        v_ += tmp
        _divide_step(x, m_, v_, step_size, eps_on_sqrt_v, False, tmp)


def adam_step(params, grads, state=None, *, lr, beta1=0.9, beta2=0.999, eps=1e-8, eps_convention="torch"):
    """Adam (Kingma & Ba 2015; torch.optim.Adam). t counts steps from 1 (incremented before use).

        m_t = beta1 * m_{t-1} + (1 - beta1) * grad,   v_t = beta2 * v_{t-1} + (1 - beta2) * grad^2
        m_hat = m_t / (1 - beta1^t),                   v_hat = v_t / (1 - beta2^t)
        torch:  x <- x - lr * m_hat / (sqrt(v_hat) + eps)
        keras:  x <- x - lr_t * m_t / (sqrt(v_t) + eps),  lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)

    The two differ only in where eps acts (Keras' is eps * sqrt(1 - beta2^t) in torch's terms). Keras 3 Adam
    defaults to eps=1e-7; torch to eps=1e-8. state: {"t": int, "m": ..., "v": ...}.
    """
    hparams = _adam_hparams(beta1, beta2, eps, eps_convention)
    return _pure_step(_adam_update, params, grads, state, lr=check_positive(lr, "lr"), **hparams)


# ---------------------------------------------------------------------------------------------------------
# Classes: in-place steps over a dict of parameter arrays, constant lr or a schedule t -> lr


class Optimizer:
    """Base class: holds lr (float or schedule), the step count and the rule's state.

    ``step(params, grads)`` updates the arrays in ``params`` in place (grads are not checked for NaN/inf: that
    would cost a pass over the data; divergence shows in the loss). ``lr`` reads the current learning rate
    (the schedule evaluated at t = ``iterations``, the number of steps already taken); assigning a float to it
    replaces any schedule (as reduce-on-plateau does).
    """

    _update = None  # the rule's in-place kernel, set by subclasses

    def __init__(self, lr):
        self.iterations = 0
        self.lr = lr
        self.state: dict = {}
        self._scratch: dict = {}
        self._hparams: dict = {}

    @property
    def lr(self) -> float:
        if self._schedule is None:
            return self._lr
        value = self._schedule(self.iterations)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        return check_positive(value, f"lr schedule value at t={self.iterations}")

    @lr.setter
    def lr(self, value):
        if callable(value):
            self._schedule, self._lr = value, None
            _ = self.lr  # evaluate once now so that a bad schedule fails here, not mid-training
        else:
            self._schedule, self._lr = None, check_positive(value, "lr")

    def step(self, params: dict, grads: dict) -> None:
        """One update of every array in ``params`` (in place) from ``grads`` (same names and shapes)."""
        _check_step_args(params, grads)
        _check_state(self.state, params)
        lr = self.lr
        self._update(params, grads, self.state, self._scratch, lr=lr, **self._hparams)
        self.iterations += 1

    def __repr__(self) -> str:
        lr = self._lr if self._schedule is None else self._schedule
        args = ", ".join(f"{k}={v!r}" for k, v in self._hparams.items())
        return f"{type(self).__name__}(lr={lr!r}{', ' if args else ''}{args})"


class SGD(Optimizer):
    """SGD with momentum or Nesterov momentum, see ``sgd_step`` (default torch form: x -= lr * g_t,
    g_t = momentum * g_{t-1} + grad; ``momentum_form="keras"``: v = momentum * v - lr * grad, x += v)."""

    _update = staticmethod(_sgd_update)

    def __init__(self, lr, momentum=0.0, nesterov=False, momentum_form="torch"):
        super().__init__(lr)
        self._hparams = _sgd_hparams(momentum, nesterov, momentum_form)


class AdaGradNorm(Optimizer):
    """The course's AdaGrad-Norm, see ``adagrad_norm_step`` (one scalar accumulator over all tensors)."""

    _update = staticmethod(_adagrad_norm_update)

    def __init__(self, lr, eps=1e-8):
        super().__init__(lr)
        self._hparams = _adagrad_norm_hparams(eps)


class Adagrad(Optimizer):
    """Per-coordinate Adagrad, see ``adagrad_step`` (torch defaults; Keras: eps_convention='keras', ...)."""

    _update = staticmethod(_adagrad_update)

    def __init__(self, lr, eps=1e-10, initial_accumulator=0.0, eps_convention="torch"):
        super().__init__(lr)
        self._hparams = _adagrad_hparams(eps, initial_accumulator, eps_convention)


class RMSprop(Optimizer):
    """RMSprop, see ``rmsprop_step`` (torch.optim.RMSprop(alpha=rho) by default)."""

    _update = staticmethod(_rmsprop_update)

    def __init__(self, lr, rho=0.9, eps=1e-8, eps_convention="torch"):
        super().__init__(lr)
        self._hparams = _rmsprop_hparams(rho, eps, eps_convention)


class Adadelta(Optimizer):
    """Adadelta, see ``adadelta_step`` (torch defaults lr=1.0, rho=0.9, eps=1e-6; Keras 3: lr=0.001, rho=0.95,
    eps=1e-7)."""

    _update = staticmethod(_adadelta_update)

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6):
        super().__init__(lr)
        self._hparams = _adadelta_hparams(rho, eps)


class Adam(Optimizer):
    """Adam, see ``adam_step`` (torch.optim.Adam by default; Keras 3: eps=1e-7, eps_convention='keras')."""

    _update = staticmethod(_adam_update)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, eps_convention="torch"):
        super().__init__(lr)
        self._hparams = _adam_hparams(beta1, beta2, eps, eps_convention)


class StepRule(Optimizer):
    """An optimizer that runs a step function written like the labs' exercises over a whole network:

        step(x, grad, state, lr, **hparams) -> (new_x, new_state)      on ONE array x (any shape)

    ``StepRule(sgd_momentum_step, lr=0.05, momentum=0.9)`` trains an ``mlp.MLP`` with YOUR momentum. Each
    ``step(params, grads)`` joins every parameter array into one vector x (in the order of ``params``) and every
    gradient into one vector grad, calls ``step(x, grad, state, lr, **hparams)`` with the current lr (a float or a
    schedule t -> lr, t = steps already taken) and the state the previous call returned ({} at first), and writes
    new_x back into the parameter arrays in place. Per-coordinate rules (momentum, RMSprop, Adam) give exactly what
    they give array by array; a rule that uses a norm (AdaGrad-Norm) sees the norm of the whole network's gradient,
    as ``AdaGradNorm`` does.
    """

    def __init__(self, step, lr, **hparams):
        if not callable(step):
            raise TypeError(f"step must be a function step(x, grad, state, lr, ...) -> (new_x, new_state), "
                            f"got {_describe(step)}")
        super().__init__(lr)
        self.rule = step
        self._hparams = dict(hparams)

    def step(self, params: dict, grads: dict) -> None:
        """One update of every array in ``params`` (in place) by the step function, on all arrays joined."""
        _check_step_args(params, grads)
        x = np.concatenate([p.ravel() for p in params.values()])
        grad = np.concatenate([np.asarray(grads[name], dtype=np.float64).ravel() for name in params])
        result = self.rule(x, grad, self.state, self.lr, **self._hparams)
        name = getattr(self.rule, "__name__", "step")
        if not isinstance(result, tuple) or len(result) != 2:
            raise TypeError(f"{name} must return (new_x, new_state), got {_describe(result)}")
        new_x, new_state = result
        new_x = np.asarray(new_x)
        if new_x.shape != x.shape or new_x.dtype.kind not in "fiu":
            raise ValueError(f"{name} must return new_x of the shape of x, {x.shape} (every parameter joined), as "
                             f"numbers; got {_describe(new_x)}")
        if not isinstance(new_state, dict):
            raise TypeError(f"{name} must return a dict new_state, got {_describe(new_state)}")
        start = 0
        for p in params.values():
            p[...] = new_x[start:start + p.size].reshape(p.shape)
            start += p.size
        self.state = new_state
        self.iterations += 1

    def __repr__(self) -> str:
        lr = self._lr if self._schedule is None else self._schedule
        args = "".join(f", {k}={v!r}" for k, v in self._hparams.items())
        return f"StepRule({getattr(self.rule, '__name__', self.rule)!r}, lr={lr!r}{args})"
