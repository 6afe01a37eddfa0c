"""Quiz of lab05 (vanishing and exploding gradients). Keys computed with lablib.nn, lablib.mlp and lablib.clip."""
import numpy as np

from lablib import clip, mlp, nn

from . import Choice, Number, Quiz

_SIGMOID_10 = float(nn.sigmoid_derivative(0.0)) ** 10                      # the largest factor through 10 sigmoids
_HE_VAR = mlp.INITIALISERS["he"](784, 64) ** 2
_GLOROT_VAR = mlp.INITIALISERS["glorot"](784, 64) ** 2
_LECUN_VAR = mlp.INITIALISERS["lecun"](784, 64) ** 2
_ELU_SLOPE = float(nn.elu_derivative(-1.0))
_GRADS = [np.array([3.0, 4.0]), np.array([12.0])]
_CLIPPED = clip.clip_by_global_norm(_GRADS, 6.5)[0][0][0]
_PER_ARRAY = clip.clip_by_norm(_GRADS[0], 6.5)

QUIZ = Quiz("lab05-vanishing-gradients", (
    Number(
        "q1", r"Backpropagating through 10 sigmoid layers multiplies the signal by $\sigma'(z)$ ten times. At most by "
              r"how much (weights aside)? Give 3 significant digits.",
        answer=_SIGMOID_10, abs_tol=0.0, rel_tol=5e-3, tolerance="three significant digits (the value is about 10⁻⁶)",
        slips=((0.5 ** 10, "σ(0) = 1/2 is the sigmoid's value; its largest derivative is 1/4."),),
        why="max σ' = 1/4, so (1/4)^10 ≈ 9.54·10⁻⁷: the first layers of a deep sigmoid network barely learn."),
    Number(
        "q2", r"He initialisation for a dense layer with 784 inputs and 64 outputs: what is the **variance** of the "
              r"weights? Give 3 significant digits.",
        answer=_HE_VAR, abs_tol=0.0, rel_tol=5e-3, tolerance="three significant digits",
        slips=((_GLOROT_VAR, "That is Glorot's 2/(fan_in + fan_out)."),
               (_LECUN_VAR, "That is LeCun's 1/fan_in."),
               (np.sqrt(_HE_VAR), "That is the standard deviation √(2/784); the variance is its square.")),
        why="He: σ² = 2/fan_in = 2/784 ≈ 2.55·10⁻³, which keeps the variance of ReLU activations from layer to layer."),
    Number(
        "q3", r"The derivative of ELU (α = 1) at $x = -1$? Give 4 decimals.",
        answer=_ELU_SLOPE, abs_tol=5e-5, tolerance="four decimals, as asked",
        slips=((float(nn.elu(-1.0)), "That is elu(-1) = e⁻¹ - 1, the value, not the slope."),
               (0.0, "0 is ReLU's slope for x < 0; ELU keeps α eˣ > 0.")),
        why="elu'(x) = α eˣ for x ≤ 0: e⁻¹ ≈ 0.3679."),
    Number(
        "q4", r"Clipping by **global** norm with max_norm = 6.5 the two gradient arrays $(3, 4)$ and $(12)$: what does "
              r"the first entry (3) become?",
        answer=float(_CLIPPED), abs_tol=1e-6, tolerance="six decimals",
        slips=((float(_PER_ARRAY[0]), "That clips each array by its own norm (‖(3, 4)‖ = 5 < 6.5, unchanged); the "
                                      "global norm is √(9 + 16 + 144) = 13."),),
        why="The global norm is 13 > 6.5, so every array is scaled by 6.5/13 = 0.5: 3 becomes 1.5 and directions are "
            "kept."),
    Choice(
        "q5", r"What is $\mathrm{relu}'(0)$ in this course (and PyTorch's autograd)?",
        options=("0 (the left-hand value)", "1 (the right-hand value)", "1/2 (the average)", "undefined: an error"),
        answer="a" if nn.relu_derivative(0.0) == 0 else "?",
        feedback={"b": "The course takes the left-hand value at a kink.",
                  "c": "1/2 is what a central difference returns at the kink, not the convention.",
                  "d": "A derivative function must return a number everywhere; the kink's value is a convention."},
        why="At the kink the derivative takes its left-hand value: relu'(0) = 0, as PyTorch's autograd."),
    Choice(
        "q6", "What does batch normalization use to normalize in training mode, and at test time?",
        options=("the batch's mean and variance in training; running averages of them at test time",
                 "running averages in both modes", "the batch's statistics in both modes",
                 "the whole training set's statistics in both modes"),
        answer="a", shown_as="c",
        feedback={"b": "In training the layer normalizes with the current batch (and backpropagates through it).",
                  "c": "At test time a single example has no batch statistics; predictions must not depend on the batch.",
                  "d": "The statistics change as the weights train; batch norm tracks them with running averages."},
        why="Training: μ_B, σ²_B of the batch (and their gradients); test: the running averages collected in training."),
    Choice(
        "q7", "A ReLU unit is 'dead' when...",
        options=("its input is negative for every example, so it outputs 0 and gets no gradient",
                 "its weights are exactly 0", "its output is always positive", "its gradient explodes"),
        answer="a", shown_as="b",
        feedback={"b": "Zero weights still get gradients (if the unit's input can be positive, e.g. via its bias).",
                  "c": "Then the unit is linear, with slope 1: very much alive.",
                  "d": "Exploding gradients are the opposite problem (cured by clipping)."},
        why="relu'(z) = 0 for z ≤ 0: with z ≤ 0 for every example no gradient reaches the unit's weights, and nothing "
            "can revive it (leaky ReLU / ELU keep a slope there)."),
))
