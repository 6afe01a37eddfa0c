"""Quiz of lab01 (gradient descent). Keys computed with lablib (the lab's reference) and checked against the closed
form x_t = x0 (1 - 2 eta)^t in tests/test_quiz.py."""
import numpy as np

from lablib import landscapes, optim

from . import Choice, Number, Quiz

_BOWL_A, _BOWL_B = 1.0, 10.0
_STAR = 2 / (_BOWL_A + _BOWL_B)                        # eta* = 2/(a+b): both factors have the same modulus
_X10 = float(optim.gradient_descent(landscapes.square_grad, 1.0, 0.1, 10)[-1])
_STOP = len(optim.gradient_descent(landscapes.square_grad, 1.0, 0.1, 1000, tol=1e-3)) - 1
_SADDLE_END = optim.gradient_descent(landscapes.local_global_minima().grad, np.array([0.0, 1.0]), 0.05, 300, tol=1e-6)[-1]

QUIZ = Quiz("lab01-gradient-descent", (
    Number(
        "q1", r"Gradient descent on $f(x) = x^2$ from $x_0 = 1$ with $\eta = 0.1$: what is $x_{10}$, after 10 steps?",
        answer=_X10, abs_tol=5e-4, tolerance="three decimals: 0.8^9 = 0.134 and 0.8^11 = 0.086 are far outside",
        slips=((0.8 ** 9, "That is x_9: ten steps give x_10 = x0 (0.8)^10 (count the steps, not the iterates)."),
               (0.9 ** 10, "0.9 is 1 - eta: on f = x^2 the factor is 1 - 2 eta, since f'(x) = 2x.")),
        why=r"Each step multiplies x by 1 - 2η = 0.8, so x_10 = 0.8^10 ≈ 0.1074."),
    Choice(
        "q2", r"For which learning rates does gradient descent on $f(x) = x^2$ converge to 0 (from any $x_0 \neq 0$)?",
        options=(r"$0 < \eta < 2$", r"$0 < \eta < 1$", r"$0 < \eta \le 1$", r"$0 < \eta < 1/2$"),
        answer="b",
        feedback={"a": "0 < η < 2 is the condition for f = x²/2, whose derivative is x, not 2x.",
                  "c": "At η = 1 the factor 1 - 2η is -1: the iterates jump between x0 and -x0 forever.",
                  "d": "Between 1/2 and 1 the factor is negative but of modulus below 1: it converges, oscillating."},
        why="x_t = x0 (1 - 2η)^t goes to 0 exactly when |1 - 2η| < 1, i.e. 0 < η < 1 (fastest at η = 1/2)."),
    Number(
        "q3", r"From $x_0 = 1$ with $\eta = 0.1$ and the stopping rule $|f'(x_t)| < 10^{-3}$ (tested before each "
              r"step), how many steps does gradient descent take (the index $t$ of the last iterate)?",
        answer=float(_STOP), abs_tol=0.5, tolerance="a whole number of steps",
        slips=((_STOP + 1.0, "That counts the iterates, x_0 included; the steps are one fewer."),
               (_STOP - 1.0, "At that t, |f'(x_t)| = 2 (0.8)^t is still just above 10^-3.")),
        why="|f'(x_t)| = 2 (0.8)^t < 10^-3 first holds at t = 35 (log(5·10^-4)/log 0.8 ≈ 34.06)."),
    Number(
        "q4", r"On the bowl $f(x, y) = \frac12(x^2 + 10 y^2)$, which learning rate makes the slowest coordinate "
              r"contract fastest (the best compromise $\eta^*$)? Give it to 3 decimals.",
        answer=_STAR, abs_tol=1e-3, tolerance="three decimals, as asked (2/11 = 0.1818...)",
        slips=((2 / _BOWL_B, "2/b = 0.2 is the largest stable rate: there y's factor is -1 and y never decays."),
               (1 / _BOWL_B, "1/b = 0.1 solves y in one step but leaves x crawling with factor 0.9.")),
        why="The factors are 1 - η and 1 - 10η; the slower one is smallest when they have equal modulus: "
            "η* = 2/(a + b) = 2/11 ≈ 0.182, where both are 9/11 in modulus."),
    Number(
        "q5", r"At that $\eta^*$, by what factor does the distance to the minimum (at worst) shrink per step on this "
              r"bowl of condition number $\kappa = b/a = 10$?",
        answer=abs(1 - _STAR * _BOWL_A), abs_tol=2e-3, tolerance="three decimals (9/11 = 0.818...)",
        slips=((1 - 1 / 10, "0.9 is the factor at η = 0.1, not at η*."),),
        why="(κ - 1)/(κ + 1) = 9/11 ≈ 0.818: an ill-conditioned bowl (large κ) makes this close to 1."),
    Choice(
        "q6", r"On `local_global_minima()` (global minimum at $(-2, 0)$, local minimum at $(1, 0)$, saddle at "
              r"$(0, 0)$), gradient descent with $\eta = 0.05$ starts at $(0, 1)$. Where does it end?",
        options=(r"the global minimum $(-2, 0)$", r"the local minimum $(1, 0)$", r"the saddle $(0, 0)$",
                 "it diverges"),
        answer="c" if np.allclose(_SADDLE_END, 0, atol=1e-5) else "?",
        feedback={"a": "The x-gradient x(x - 1)(x + 2) is exactly 0 at x = 0: nothing pushes x to either side.",
                  "b": "The x-gradient x(x - 1)(x + 2) is exactly 0 at x = 0: nothing pushes x to either side.",
                  "d": "η = 0.05 is small for this landscape; only y moves, and it decays by 0.95 per step."},
        why="With x_0 = 0 the x-gradient stays 0 forever and y decays: the iterates converge to the saddle point. "
            "Any tiny x_0 ≠ 0 would leave it (its sign picks the basin)."),
    Choice(
        "q7", r"On $f(x) = x^2$ with $\eta = 1.01$, the iterates $x_t$...",
        options=("converge to 0, oscillating", "oscillate forever between x0 and -x0",
                 "diverge, changing sign at every step", "diverge without changing sign"),
        answer="c",
        feedback={"a": "The factor 1 - 2η = -1.02 has modulus above 1: |x_t| grows.",
                  "b": "That is η = 1 exactly (factor -1); here the factor is -1.02.",
                  "d": "The factor 1 - 2η = -1.02 is negative: the sign flips at every step."},
        why="x_t = x0 (-1.02)^t: |x_t| grows by 2 % per step and the sign alternates."),
))
