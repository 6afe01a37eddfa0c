"""Quiz of lab02 (backpropagation). Keys computed with lablib.backprop (the blog post's network) and lablib.nn."""
import numpy as np

from lablib import backprop, nn

from . import Choice, Number, Quiz

_W = backprop.initial_weights()
_FORWARD = backprop.forward(_W)
_GRADS = backprop.gradients(_W)
_E0 = backprop.total_error(_W)
_LN10 = float(nn.softmax_cross_entropy(np.zeros((1, 10)), np.array([0]))[0])  # uniform logits: -ln(1/10)
_D_OUT_O1 = _FORWARD["out_o1"] - 0.01          # dE/dout_o1 = out_o1 - t1
_SIG_PRIME_O1 = _FORWARD["out_o1"] * (1 - _FORWARD["out_o1"])

QUIZ = Quiz("lab02-backpropagation", (
    Number(
        "q1", r"In the blog post's 2-2-2 network (initial weights, $i_1 = 0.05$, $i_2 = 0.10$), what is "
              r"$out_{h1} = \sigma(net_{h1})$? Give 6 decimals.",
        answer=_FORWARD["out_h1"], abs_tol=5e-6, tolerance="six decimals, as asked",
        slips=((_FORWARD["net_h1"], "That is net_h1 = 0.3775, before the sigmoid."),),
        why="net_h1 = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775 and σ(0.3775) = 0.593269992."),
    Number(
        "q2", r"Its total error before any update, $E_{total} = \frac12 (t_1 - out_{o1})^2 + \frac12 (t_2 - out_{o2})^2$? "
              "Give 6 decimals.",
        answer=_E0, abs_tol=5e-6, tolerance="six decimals, as asked",
        slips=((2 * _E0, "Without the factor 1/2 of each squared error."),),
        why="out_o1 = 0.751365, out_o2 = 0.772928: E = ½(0.01 - 0.751365)² + ½(0.99 - 0.772928)² = 0.298371."),
    Number(
        "q3", r"$\partial E_{total}/\partial w_5$ at the initial weights? Give 6 decimals.",
        answer=_GRADS["w5"], abs_tol=5e-6, tolerance="six decimals, as asked",
        slips=((_D_OUT_O1 * _FORWARD["out_h1"], "The sigmoid's derivative out_o1(1 - out_o1) = 0.1868 is missing."),
               (-_GRADS["w5"], "The sign: out_o1 = 0.75 is above its target 0.01, so increasing w5 increases E."),
               (_D_OUT_O1 * _SIG_PRIME_O1, "That is δ_o1 = ∂E/∂net_o1; ∂net_o1/∂w5 = out_h1 is still missing.")),
        why="Chain rule: (out_o1 - t1) · out_o1(1 - out_o1) · out_h1 = 0.741365 · 0.186816 · 0.593270 = 0.082167."),
    Choice(
        "q4", r"What is the largest value of the sigmoid's derivative $\sigma'(z) = \sigma(z)(1 - \sigma(z))$?",
        options=("1", "1/2", "1/4", "it is unbounded"),
        answer="c" if nn.sigmoid_derivative(0.0) == 0.25 else "?",
        feedback={"a": "1 is the largest slope of tanh and of ReLU, not of the sigmoid.",
                  "b": "σ(0) = 1/2 is the value; the derivative there is ½·½.",
                  "d": "σ(z)(1 - σ(z)) is a product of two numbers in (0, 1) that add up to 1."},
        why="σ'(z) = σ(1 - σ) is largest at σ = 1/2, i.e. z = 0, where it is 1/4: every sigmoid layer shrinks the "
            "backpropagated signal by at least 4 (vanishing gradients)."),
    Number(
        "q5", "A 10-class softmax classifier predicts nearly uniform probabilities at initialisation. What cross-entropy "
              "loss (natural logarithm) do you expect before training? Give 3 decimals.",
        answer=_LN10, abs_tol=5e-3, tolerance="three decimals, as asked (ln 10 = 2.3026)",
        slips=((1.0, "That is log10(10): the cross-entropy uses the natural logarithm."),
               (0.1, "0.1 is the predicted probability of the right class; the loss is -ln of it.")),
        why="-ln(1/10) = ln 10 ≈ 2.303: a quick sanity check of any 10-class classifier."),
    Choice(
        "q6", r"The central difference $(f(x + h) - f(x - h))/2h$ approximates $f'(x)$ with an error of order...",
        options=("h", "h²", "h³", "0: it is exact for smooth f"),
        answer="b",
        feedback={"a": "O(h) is the forward difference (f(x + h) - f(x))/h: its f'' terms do not cancel.",
                  "c": "The h² f'''/6 term does not cancel.",
                  "d": "It is exact only for polynomials of degree 2 or less."},
        why="In the Taylor expansions of f(x ± h) the f'' terms cancel and h²f'''/6 remains: O(h²)."),
    Choice(
        "q7", "The post's error after one step, 0.291027924, differs from correct backpropagation's 0.2910277737. Why?",
        options=("the post backpropagated the hidden deltas through the already-updated output weights",
                 "the post used another learning rate", "the post also updated the biases",
                 "rounding: the post printed fewer digits"),
        answer="a", shown_as="c",
        feedback={"b": "Both use η = 0.5: the post's own updated w5..w8 match ours exactly.",
                  "c": "The post keeps b1 and b2 fixed, as the lab does.",
                  "d": "The two differ in the 7th digit, far above rounding at 9 digits."},
        why="The hidden gradients were computed with w5⁺..w8⁺ instead of w5..w8, so w1..w4 moved along a vector that "
            "is not the gradient of E_total."),
))
