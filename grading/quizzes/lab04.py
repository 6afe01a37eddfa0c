"""Quiz of lab04 (learning-rate schedules). Keys computed with lablib.schedules and lab04's reference plateau rule."""
import numpy as np

from lablib import schedules
from lablib.grading import EXERCISES

from . import Choice, Number, Quiz

_POWER = float(schedules.power(0.1, 100, 1.0)(300))
_EXP = float(schedules.exponential(0.1, 100)(250))
_EXP_STAIRS = float(schedules.exponential(0.1, 100, staircase=True)(250))
_RATIO = float(schedules.power(0.1, 100, 2.0)(1000) / schedules.power(0.1, 100, 2.0)(900))
_THOUSANDFOLD = float(100 * np.log(1000) / np.log(10))               # 0.1^(t/s) = 10^-3  <=>  t = 3 s


def _halvings(losses, patience=2, min_delta=0.01):
    lr, state, epochs = 0.1, {}, []
    for epoch, loss in enumerate(losses, 1):
        new, state = EXERCISES["plateau_step"].reference(loss, lr, state, factor=0.5, patience=patience,
                                                         min_delta=min_delta)
        if new < lr:
            epochs.append(epoch)
        lr = new
    return epochs


_LOSSES = [0.9, 0.8, 0.805, 0.795, 0.7, 0.69]
_FIRST_HALVING = _halvings(_LOSSES)[0]

QUIZ = Quiz("lab04-schedules", (
    Number(
        "q1", r"Power scheduling $\eta(t) = \eta_0/(1 + t/s)^c$ with $\eta_0 = 0.1$, $s = 100$, $c = 1$: what is "
              r"$\eta$ at step $t = 300$?",
        answer=_POWER, abs_tol=1e-5, tolerance="the exact value to 4 significant digits",
        slips=((0.1 / 3, "1 + t/s = 4, not 3."),),
        why="η(300) = 0.1/(1 + 3) = 0.025."),
    Number(
        "q2", r"Exponential scheduling $\eta(t) = \eta_0\, 0.1^{t/s}$ with $\eta_0 = 0.1$, $s = 100$: what is $\eta$ at "
              r"step $t = 250$?",
        answer=_EXP, abs_tol=0.0, rel_tol=1e-3, tolerance="three significant digits (the value is about 3·10⁻⁴)",
        slips=((_EXP_STAIRS, "That rounds t/s down to 2: Keras' staircase=True, not the smooth schedule."),),
        why="η(250) = 0.1 · 0.1^2.5 = 10^-3.5 ≈ 3.16·10⁻⁴."),
    Number(
        "q3", r"For power scheduling with $c = 2$, what is the ratio $\eta(10 s)/\eta(9 s)$?",
        answer=_RATIO, abs_tol=1e-4, tolerance="four decimals",
        slips=((10 / 11, "That is (10/11)^1, the ratio for c = 1."),),
        why="η(ks) = η₀/(1 + k)^c, so the ratio is ((k + 1)/(k + 2))^c = (10/11)² ≈ 0.8264: it tends to 1, the decay "
            "slows down."),
    Number(
        "q4", r"After how many steps has exponential scheduling with $s = 100$ divided $\eta$ by 1000?",
        answer=_THOUSANDFOLD, abs_tol=0.5, tolerance="a whole number of steps",
        slips=((1000.0, "η is divided by 10 every s steps, not by 1000 every 1000 steps."),),
        why="0.1^(t/s) = 10⁻³ when t/s = 3: t = 300 steps (the same factor 10 every s steps, whatever t)."),
    Number(
        "q5", f"Reduce-on-plateau (Keras' rule: an epoch improves when its loss < best - min_delta; reduce when "
              f"patience = 2 consecutive epochs did not improve; min_delta = 0.01) sees the validation losses "
              f"{', '.join(f'{v:g}' for v in _LOSSES)} (epochs 1, 2, ...). After which epoch is η first reduced?",
        answer=float(_FIRST_HALVING), abs_tol=0.5, tolerance="a whole epoch number",
        slips=((_FIRST_HALVING + 1.0, "0.795 is below the best 0.8 but not by min_delta = 0.01: it is a bad epoch."),),
        why="Epochs 1 and 2 improve (best 0.8); 0.805 and 0.795 are both above 0.8 - 0.01 = 0.79: after the second bad "
            "epoch, epoch 4, η is reduced."),
    Choice(
        "q6", r"As $k$ grows, the ratio $\eta((k+1)s)/\eta(ks)$ of power scheduling...",
        options=("stays 0.1", "tends to 1: the decay slows down", "tends to 0: the decay speeds up",
                 "stays 2^(-c)"),
        answer="b",
        feedback={"a": "Constant 0.1 is exponential scheduling.",
                  "c": "((k + 1)/(k + 2))^c grows towards 1.",
                  "d": "2^(-c) is only the first ratio, k = 0."},
        why="((k + 1)/(k + 2))^c → 1: power scheduling decays fast early and ever more slowly later, while exponential "
            "scheduling divides by 10 every s steps forever."),
))
