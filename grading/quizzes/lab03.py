"""Quiz of lab03 (SGD and optimizers). Keys computed with lablib.data and lablib.optim."""
import numpy as np

from lablib import data, optim

from . import Choice, Number, Quiz

_N, _BATCH = 2000, 32
_SIZES = [len(yb) for _, yb in data.minibatches(np.zeros((_N, 1)), np.zeros(_N), _BATCH, rng=np.random.default_rng(0))]
_ADAM_X = float(optim.adam_step(np.array([1.0]), np.array([3.0]), {}, lr=0.1)[0][0])
_M, _V = 0.1 * 3.0, 0.001 * 9.0                              # Adam's first averages, without bias correction
_ADAGRAD_X = float(optim.adagrad_norm_step(np.zeros(2), np.array([3.0, 4.0]), {}, lr=0.5)[0][0])


def _momentum_step_size(lr=0.1, beta=0.9, steps=300):
    x, state = np.zeros(1), {}
    for _ in range(steps):
        new, state = optim.sgd_step(x, np.ones(1), state, lr=lr, momentum=beta)
        step, x = float(x[0] - new[0]), new
    return step


QUIZ = Quiz("lab03-optimizers", (
    Number(
        "q1", f"An epoch over n = {_N} rows in minibatches of {_BATCH} (every row once, the last batch may be smaller): "
              "how many steps is that?",
        answer=float(len(_SIZES)), abs_tol=0.5, tolerance="a whole number of steps",
        slips=((float(_N // _BATCH), "That drops the last, smaller batch: its 16 rows would never be trained on."),),
        why="ceil(2000 / 32) = 63 batches: 62 full ones and a last one of 16 rows."),
    Number(
        "q2", f"...and how many rows does the last batch of that epoch hold?",
        answer=float(_SIZES[-1]), abs_tol=0.5, tolerance="a whole number of rows",
        slips=((float(_BATCH), "Only when batch_size divides n is the last batch full."),),
        why="2000 - 62·32 = 16."),
    Number(
        "q3", r"Adam (β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸, η = 0.1) takes its first step from $x = 1$ with gradient 3. "
              r"What is the new $x$?",
        answer=_ADAM_X, abs_tol=1e-4, tolerance="four decimals (ε changes the 10th)",
        slips=((1 - 0.1 * _M / (np.sqrt(_V) + 1e-8), "Without bias correction: m = 0.3 and v = 0.009 must be divided "
                                                      "by 1 - β₁ and 1 - β₂ at t = 1."),
               (1 - 0.1 * 3.0, "That is a plain gradient step; Adam's first step is ±η whatever the gradient's size.")),
        why="At t = 1 the bias-corrected m̂ = 3 and v̂ = 9, so the step is η·3/√9 = η = 0.1: x = 0.9."),
    Number(
        "q4", r"Momentum ($g_t = \beta g_{t-1} + \nabla f$, $x_{t+1} = x_t - \eta g_t$) with β = 0.9, η = 0.1 and a "
              r"constant gradient of 1: how long does each step become after many steps?",
        answer=_momentum_step_size(), abs_tol=1e-3, tolerance="three decimals",
        slips=((0.1, "That is the first step; the running sum keeps growing towards 1/(1 - β) gradients."),),
        why="g_t tends to 1/(1 - β) = 10 gradients, so the step tends to η/(1 - β) = 1.0: ten times plain GD."),
    Number(
        "q5", r"AdaGrad-Norm (ε = 10⁻⁸ inside the root, η = 0.5) takes its first step from $x = (0, 0)$ with gradient "
              r"$(3, 4)$. What is the new $x_1$ (the first coordinate)?",
        answer=_ADAGRAD_X, abs_tol=1e-4, tolerance="four decimals",
        slips=((-0.5, "That divides by each coordinate's own |g| (per-coordinate AdaGrad); AdaGrad-Norm divides by "
                      "the norm ‖g‖ = 5."),
               (-1.5, "That is a plain gradient step; the first step is divided by √(ε + ‖g‖²) = 5.")),
        why="S_1 = ‖g‖² = 25, so x_1 = 0 - 0.5·3/5 = -0.3: the first step has length η whatever the gradient's size."),
    Choice(
        "q6", "Why do RMSprop's steps not shrink towards 0 over a long run, as AdaGrad's do?",
        options=("its average of squared gradients forgets old gradients (an exponential moving average)",
                 "it adds momentum", "it corrects a bias", "it uses a larger ε"),
        answer="a", shown_as="b",
        feedback={"b": "RMSprop has no momentum term; Adam adds one.",
                  "c": "Bias correction is Adam's (for averages started at 0).",
                  "d": "ε only prevents a division by zero."},
        why="AdaGrad divides by the root of a sum that only grows; RMSprop's s_t = ρ s_{t-1} + (1-ρ) g² tracks the "
            "recent gradients, so the step size stays about η."),
    Choice(
        "q7", "Why does minibatch SGD with a constant learning rate not settle exactly at the minimum?",
        options=("at the minimum the full gradient is 0 but the minibatch gradients are not: their noise keeps moving w",
                 "rounding errors of float64", "the last batch of an epoch is smaller",
                 "the rows are shuffled only once"),
        answer="a", shown_as="d",
        feedback={"b": "Rounding is around 10⁻¹⁶, far below what the loss curve shows.",
                  "c": "The last batch only changes one step per epoch.",
                  "d": "The order is drawn anew every epoch; and even a fixed order leaves noisy gradients."},
        why="Each step follows one batch's gradient, an unbiased but noisy estimate (variance ~ σ²/|B|): with constant η "
            "the iterate keeps wandering around the minimum; a decaying η (lab 4) or a larger batch reduces it."),
))
