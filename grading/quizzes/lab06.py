"""Quiz of lab06 (early stopping and dropout). Keys computed with lablib.nn and lab06's reference stopping rule."""
import numpy as np

from lablib import nn
from lablib.grading import EXERCISES

from . import Choice, Number, Quiz

_ONES = np.ones((1000, 100))
_OUT, _ = nn.dropout_forward(_ONES, 0.8, train=True, rng=np.random.default_rng(0))
_KEPT_VALUE = float(_OUT.max())
_TEST_SCALE = float(nn.dropout_forward(_ONES, 0.8, train=False, inverted=False)[0][0, 0])
_LOSSES = [1.0, 0.8, 0.79, 0.81, 0.82, 0.80, 0.83]


def _stop(losses, patience=2):
    state = {}
    for epoch, loss in enumerate(losses):
        stop, state = EXERCISES["early_stopping_step"].reference(loss, state, patience=patience)
        if stop:
            return epoch, state["best_epoch"]
    raise AssertionError("the quiz's losses must make the rule stop")


_STOP_EPOCH, _BEST_EPOCH = _stop(_LOSSES)

QUIZ = Quiz("lab06-overfitting", (
    Number(
        "q1", "Inverted dropout with rate r = 0.8 on an array of ones, in train mode: what value does a kept entry have?",
        answer=_KEPT_VALUE, abs_tol=1e-6, tolerance="exact up to rounding",
        slips=((0.2, "0.2 is the keep probability 1 - r; a kept entry is divided by it."),
               (1 / 0.8, "The scale is 1/(1 - r), with r the rate of dropped units.")),
        why="out = x·m/(1 - r): a kept 1 becomes 1/0.2 = 5, so that E[out] = x."),
    Number(
        "q2", "...and what is the expected value of an entry of `out` (over the random mask)?",
        answer=float(_ONES[0, 0]), abs_tol=1e-9, tolerance="an exact expectation",
        slips=((0.2, "Without the 1/(1 - r) scale it would be 0.2; inverted dropout keeps the expectation."),),
        why="E[out] = (1 - r)·x/(1 - r) = x = 1: the next layer sees pre-activations of the same size in training and "
            "at test time."),
    Number(
        "q3", "In the original (non-inverted) dropout of Srivastava et al., with rate 0.8, by what factor are the "
              "activations multiplied at test time?",
        answer=_TEST_SCALE, abs_tol=1e-9, tolerance="exact",
        slips=((5.0, "5 = 1/(1 - r) is inverted dropout's train-time scale."),
               (0.8, "0.8 is the rate of dropped units; the keep probability is 1 - 0.8.")),
        why="Without a train-time scale, test-time activations are multiplied by the keep probability 1 - r = 0.2."),
    Number(
        "q4", f"Early stopping (stop when the validation loss has not improved on the best for patience = 2 epochs; "
              f"min_delta = 0) sees the losses {', '.join(f'{v:g}' for v in _LOSSES)} at epochs 0, 1, 2, ... "
              "At which epoch does it stop?",
        answer=float(_STOP_EPOCH), abs_tol=0.5, tolerance="a whole epoch number",
        slips=((float(_STOP_EPOCH + 1), "One epoch late: stop as soon as wait reaches patience."),
               (float(_BEST_EPOCH), "That is the best epoch, whose weights are restored.")),
        why="Best 0.79 at epoch 2; epochs 3 (0.81) and 4 (0.82) do not improve: wait = 2 = patience at epoch 4."),
    Number(
        "q5", "...and which epoch's weights does it restore?",
        answer=float(_BEST_EPOCH), abs_tol=0.5, tolerance="a whole epoch number",
        slips=((float(_STOP_EPOCH), "Those are the last weights, already overfitting; keep the best ones."),),
        why="The best validation loss, 0.79, was at epoch 2: its copy of the weights is written back."),
    Choice(
        "q6", "Which set decides when to stop and which weights to keep?",
        options=("the validation set", "the training set", "the test set", "any of them"),
        answer="a", shown_as="b",
        feedback={"b": "The training loss keeps falling while the network memorises: it never says stop.",
                  "c": "The test set is looked at once, at the end; choosing with it makes its score optimistic.",
                  "d": "Only data not trained on, and not used for the final score, can decide."},
        why="The validation set is held out from training and used for decisions; the test set only measures the "
            "final model."),
))
