"""Quiz of lab07 (transfer learning). Keys computed with lab07's reference functions."""
import numpy as np

from lablib.grading import EXERCISES

from . import Choice, Number, Quiz

_ACC = np.array([0.90, 0.92, 0.88, 0.94, 0.91])
_MEAN, _SE = (float(v) for v in EXERCISES["seed_summary"].reference(_ACC))
_SE_POPULATION = float(np.std(_ACC) / np.sqrt(len(_ACC)))
_PRETRAIN = [0, 1, 2, 3, 4, 7, 8, 9]
_y = np.arange(10)
_LABEL_OF_7 = int(EXERCISES["split_tasks"].reference(np.zeros((10, 1)), _y, _PRETRAIN, [6, 5])[1][_y[np.isin(_y, _PRETRAIN)] == 7][0])
_HEAD_PARAMS = 64 * 2 + 2                                  # the new output layer 64 -> 2: weights and biases

QUIZ = Quiz("lab07-transfer-learning", (
    Number(
        "q1", f"Five seeds give the test accuracies {', '.join(f'{a:g}' for a in _ACC)}. What is the standard error of "
              "their mean (with the sample standard deviation)? Give 4 decimals.",
        answer=_SE, abs_tol=5e-5, tolerance="four decimals, as asked",
        slips=((_SE_POPULATION, "That uses the population standard deviation (divide by n); the sample one divides "
                                "by n - 1."),
               (_SE * np.sqrt(len(_ACC)), "That is the standard deviation s itself; the standard error is s/√n.")),
        why="s = √(Σ(aᵢ - ā)²/(n - 1)) ≈ 0.0224 and SE = s/√5 ≈ 0.0100."),
    Number(
        "q2", f"`split_tasks` re-indexes the pretraining classes {_PRETRAIN} as 0, 1, ..., 7 in the order given. Which "
              "label does class 7 get?",
        answer=float(_LABEL_OF_7), abs_tol=0.5, tolerance="a whole label",
        slips=((7.0, "Labels must be 0..k-1 for a k-class output layer: class 7 takes the position it has in the list."),),
        why="Class pretrain_classes[j] gets label j; 7 is at position 5 of the list."),
    Number(
        "q3", "Transfer with frozen layers: the pretrained 784 → 128 → 64 body is kept and a new 64 → 2 output layer is "
              "trained. How many parameters are trained?",
        answer=float(_HEAD_PARAMS), abs_tol=0.5, tolerance="a whole number",
        slips=((128.0, "The new layer has a bias per output too."),),
        why="64·2 weights + 2 biases = 130 parameters; the frozen body's 108,608 are not updated."),
    Choice(
        "q4", "Why is the new output layer trained first with the reused layers frozen?",
        options=("its random initial errors would send large, random gradients into the pretrained layers and spoil "
                 "their features", "frozen layers make the forward pass exact", "to save memory only",
                 "because the new task has more classes"),
        answer="a", shown_as="d",
        feedback={"b": "Freezing changes training, not what the forward pass computes.",
                  "c": "It saves computation too, but that is not why the recipe freezes first.",
                  "d": "The new task here has 2 classes; the number of classes is not the reason."},
        why="A random head's first gradients are large and meaningless; with the body frozen the head first learns on "
            "fixed features, then the top layer can be fine-tuned gently."),
    Choice(
        "q5", "When fine-tuning after that, which layers are unfrozen, and with what learning rate?",
        options=("the top hidden layer, with a lower learning rate", "all layers, with the original learning rate",
                 "the lowest layer, with a higher learning rate", "none: fine-tuning only retrains the head"),
        answer="a", shown_as="b",
        feedback={"b": "With few examples, full-rate updates of every layer overfit and destroy the general features.",
                  "c": "The lowest layers hold the most general features (edges, strokes): they are the last to unfreeze.",
                  "d": "Fine-tuning means letting some reused layers move."},
        why="The top hidden layer is the most task-specific; a small learning rate adapts it without losing what "
            "pretraining learned."),
    Choice(
        "q6", "A few-shot sample with `n_per_class` images per class is stratified when...",
        options=("every class gets exactly n_per_class distinct rows", "the rows are drawn with replacement",
                 "the classes are drawn in proportion to their frequency", "the first n rows of each class are taken"),
        answer="a", shown_as="c",
        feedback={"b": "With replacement a row could appear twice: fewer distinct images than asked.",
                  "c": "Proportional sampling can leave a class with almost no example in a tiny sample.",
                  "d": "Taking the first rows is not random: every seed would give the same sample."},
        why="Stratified: exactly n distinct rows of each class, drawn at random with the given rng (reproducible)."),
))
