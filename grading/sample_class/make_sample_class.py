"""Write the sample class (grading/sample_class/submitted/, roster.csv, pairs.csv) from the released notebooks.

Re-run after changing a lab:  python grading/sample_class/make_sample_class.py
lab01 has the full class: each submission is designed to exercise one behaviour of the pipeline (every
catalogued mistake, pairs, a blank notebook, an infinite loop, a dying kernel, tampering). The later labs
have a smaller sample each (MORE_LABS): answers taken from the lab's own solution notebook, so that they stay
in sync, one catalogued mistake, and a blank notebook. Every lab ends with a quiz (QUIZ): some students answer it
right (the solution's answers), some give a wrong option or number or a number written as a string, the others
leave it as released. tests/test_pipeline_end_to_end.py and test_pipeline_sample_more_labs.py state the scores.
"""
from __future__ import annotations

import ast
import copy
import json
import csv
import shutil
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
LAB = "lab01-gradient-descent"
RELEASE = HERE.parent.parent / "labs" / LAB / "lab01.ipynb"

F = {
    "power": "def f(x):\n    return x ** 2",
    "square": "def f(x):\n    return np.square(x)",
    "derivative_instead": "def f(x):\n    return 2 * x",            # f and f' confused
    "abs": "def f(x):\n    return abs(x)",
    "half_square": "def f(x):\n    return x ** 2 / 2",                 # catalogued: half the square
    "sum_of_squares": "def f(x):\n    return np.sum(np.square(x))",     # catalogued: one number for an array
    "in_place": "def f(x):\n    x **= 2\n    return x",                   # catalogued: squares the caller's array
    # Correct, but curious: prints the hidden-test seed while being graded (the feedback must not show it).
    "peeks": "import os\n\nprint(\"seed:\", os.environ.get(\"LABLIB_HIDDEN_SEED\"))\n\n\ndef f(x):\n    return x * x",
}
DF = {
    "times2": "def df(x):\n    return 2 * x",
    "sum": "def df(x):\n    return x + x",
    "f_instead": "def df(x):\n    return x ** 2",                       # catalogued: f instead of its derivative
    "sign_flipped": "def df(x):\n    return -2 * x",                   # catalogued: sign flipped
    "no_factor_2": "def df(x):\n    return x",                         # catalogued: missing factor 2
    "in_place": "def df(x):\n    x *= 2\n    return x",                   # catalogued: doubles the caller's array
    # A correct df that logs through a handler made before check() runs: the text reaches the test cell's stderr.
    "logs_to_stderr": ("import logging\n\nlogging.basicConfig(format=\"%(levelname)s: %(message)s\")\n"
                       "log = logging.getLogger(\"lab01\")\n\n\ndef df(x):\n"
                       "    log.warning(\"df: using the exact derivative 2x\")\n    return 2 * x"),
}
GD = {
    "loop": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
             "    for _ in range(n_steps):\n        g = grad(xs[-1])\n"
             "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
             "        xs.append(xs[-1] - lr * g)\n    return np.array(xs)"),
    "recursion": ("def small(g, tol):\n    \"\"\"Is the gradient below the tolerance?\"\"\"\n"
                  "    return tol is not None and np.sqrt(np.sum(np.square(g))) < tol\n\n\n"
                  "def descend(grad, x, lr, steps_left, tol):\n"
                  "    if steps_left == 0 or small(grad(x), tol):\n        return [x]\n"
                  "    return [x] + descend(grad, x - lr * grad(x), lr, steps_left - 1, tol)\n\n\n"
                  "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                  "    return np.array(descend(grad, np.asarray(x0, dtype=float), lr, n_steps, tol))"),
    "while_print": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                    "    x = np.array(x0, dtype=float)\n    history = [x.copy()]\n    t = 0\n"
                    "    while t < n_steps:\n        g = grad(x)\n"
                    "        if tol is not None and np.linalg.norm(g) < tol:\n"
                    "            print(f\"converged after {t} steps\")\n            break\n"
                    "        x = x - lr * g\n        history.append(x.copy())\n        t += 1\n"
                    "    print(f\"gradient descent: lr={lr}, {len(history) - 1} steps\")\n"
                    "    return np.stack(history)"),
    "warns": ("import warnings\n\n\ndef gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
              "    xs = [np.asarray(x0, dtype=float)]\n    for _ in range(n_steps):\n        g = grad(xs[-1])\n"
              "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
              "        xs.append(xs[-1] - lr * g)\n"
              "    if lr >= 1:\n        warnings.warn(f\"lr={lr} is large: gradient descent may diverge\")\n"
              "    return np.array(xs)"),
    "off_by_one": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
                   "    for _ in range(n_steps - 1):\n        g = grad(xs[-1])\n"
                   "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
                   "        xs.append(xs[-1] - lr * g)\n    return np.array(xs)"),
    "no_x0": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x, xs = np.asarray(x0, dtype=float), []\n"
              "    for _ in range(n_steps):\n        g = grad(x)\n"
              "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
              "        x = x - lr * g\n        xs.append(x)\n    return np.array(xs)"),
    "ascent": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
               "    for _ in range(n_steps):\n        g = grad(xs[-1])\n"
               "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
               "        xs.append(xs[-1] + lr * g)\n    return np.array(xs)"),
    "stop_on_x": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
                  "    for _ in range(n_steps):\n"
                  "        if tol is not None and np.linalg.norm(xs[-1]) < tol:\n            break\n"
                  "        xs.append(xs[-1] - lr * grad(xs[-1]))\n    return np.array(xs)"),
    "test_after_step": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x = np.asarray(x0, dtype=float)\n"
                        "    xs = [x]\n    for _ in range(n_steps):\n        g = grad(x)\n        x = x - lr * g\n"
                        "        xs.append(x)\n        if tol is not None and np.linalg.norm(g) < tol:\n"
                        "            break\n    return np.array(xs)"),        # catalogued: tests |grad| after stepping
    "x0_in_place": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x = np.asarray(x0, dtype=float)\n"
                    "    xs = [x.copy()]\n    for _ in range(n_steps):\n        g = grad(x)\n"
                    "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
                    "        x -= lr * g\n        xs.append(x.copy())\n    return np.array(xs)"),  # catalogued: x0 changed
    "shared_rows": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x = np.array(x0, dtype=float)\n"
                    "    xs = [x]\n    for _ in range(n_steps):\n        g = grad(x)\n"
                    "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
                    "        x -= lr * g\n        xs.append(x)\n    return np.array(xs)"),   # catalogued: rows all equal
    "stops_at_tie": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
                     "    for _ in range(n_steps):\n        g = grad(xs[-1])\n"
                     "        if tol is not None and np.linalg.norm(g) <= tol:\n            break\n"
                     "        xs.append(xs[-1] - lr * g)\n    return np.array(xs)"),       # catalogued: <= instead of <
    "infinite_loop": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs, t = [np.asarray(x0, dtype=float)], 0\n"
                      "    while t < n_steps:\n        g = grad(xs[-1])\n"
                      "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
                      "        xs.append(xs[-1] - lr * g)\n    return np.array(xs)"),   # forgot t += 1
    "os_exit": ("import os\n\n\ndef gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                "    xs = [np.asarray(x0, dtype=float)]\n    for _ in range(n_steps):\n"
                "        xs.append(xs[-1] - lr * grad(xs[-1]))\n"
                "    os._exit(0)  # meant to 'exit' when done: kills the kernel\n    return np.array(xs)"),
}
DISCUSSION = {
    "good": ("For lr = 1 the factor 1 - 2 lr is -1, so x_t = (-1)^t x0: the iterates flip between x0 and -x0 and never "
             "converge. For lr = 1000 the factor is -1999, |x_t| = 1999^t |x0| explodes: divergence."),
    "short": "lr=1 oscillates forever, lr=1000 blows up because |1-2*lr| > 1.",
}

# What each wrong answer above is (tests of the diagnosis and of the instructor's analytics count from here):
# (exercise, variant) -> the catalogued mistake it makes (lablib/grading/exercises/lab01.py) ...
CATALOGUED = {
    ("f", "derivative_instead"): "derivative instead of f",
    ("f", "abs"): "absolute value",
    ("f", "half_square"): "half the square",
    ("f", "sum_of_squares"): "sum of squares",
    ("f", "in_place"): "x squared in place",
    ("df", "f_instead"): "f instead of its derivative",
    ("df", "sign_flipped"): "sign flipped",
    ("df", "no_factor_2"): "missing factor 2",
    ("df", "in_place"): "x doubled in place",
    ("gradient_descent", "no_x0"): "x0 missing",
    ("gradient_descent", "ascent"): "gradient ascent",
    ("gradient_descent", "stop_on_x"): "stopping rule tests |x|",
    ("gradient_descent", "test_after_step"): "stop test after the step",
    ("gradient_descent", "x0_in_place"): "x0 updated in place",
    ("gradient_descent", "shared_rows"): "iterates share one array",
    ("gradient_descent", "stops_at_tie"): "stops when ||grad|| equals tol",
}
# ... or the wrong answers no catalogued mistake explains (every other variant is correct).
UNCATALOGUED = {
    ("gradient_descent", "off_by_one"): "one step short: n_steps - 1 steps",
    ("gradient_descent", "infinite_loop"): "never ends (timeout)",
    ("gradient_descent", "os_exit"): "kills its own process (sandbox_died)",
}

# student: (f, df, gradient_descent, discussion, partner, timestamp)   None = left as released
SUBMISSIONS = {
    "ada": ("power", "times2", "loop", "good", "", "2026-10-05 10:00:00 UTC"),
    "ben": ("square", "sum", "recursion", "short", "", "2026-10-05 11:00:00 UTC"),
    "chen": ("power", "times2", "while_print", "good", "", "2026-10-05 12:00:00 UTC"),
    "dana": ("power", "logs_to_stderr", "warns", "short", "", "2026-10-05 13:00:00 UTC"),
    "eli": ("derivative_instead", "times2", "loop", "short", "", "2026-10-05 14:00:00 UTC"),
    "fay": ("power", "f_instead", "loop", "good", "", "2026-10-05 15:00:00 UTC"),
    "gus": ("power", "times2", "off_by_one", "short", "", "2026-10-05 16:00:00 UTC"),
    "hana": ("power", "times2", "no_x0", "good", "", "2026-10-05 17:00:00 UTC"),
    "ivan": ("power", "times2", "ascent", "short", "", "2026-10-05 18:00:00 UTC"),
    "jo": ("peeks", "times2", "stop_on_x", "good", "", "2026-10-05 19:00:00 UTC"),
    "kim": (None, None, None, None, "", "2026-10-05 20:00:00 UTC"),                       # blank
    "lea": ("power", "times2", "loop", "good", "max", "2026-10-06 09:00:00 UTC"),        # pair with max ...
    "max": ("power", "times2", "no_x0", "short", "lea", "2026-10-06 10:00:00 UTC"),       # ... who also handed in, later
    "olga": ("power", "times2", "loop", "good", "paul", "2026-10-06 11:00:00 UTC"),      # pair, one submission (PAIRS)
    "quentin": ("power", "times2", "infinite_loop", "short", "", "2026-10-06 12:00:00 UTC"),
    "rosa": ("power", "times2", "os_exit", "good", "", "2026-10-06 13:00:00 UTC"),
    "sam": ("abs", "times2", "loop", "short", "", "2026-10-06 14:00:00 UTC"),            # tests deleted/edited/re-tagged
    "tara": ("power", "sign_flipped", "loop", "good", "", "2026-10-06 15:00:00 UTC"),        # metadata tampered
    "uma": ("power", "times2", "loop", "good", "zoe", "2026-10-06 16:00:00 UTC"),        # partner not on roster
    "vic": ("half_square", "no_factor_2", "test_after_step", "short", "", "2026-10-06 17:00:00 UTC"),
    "xia": ("sum_of_squares", "times2", "loop", "good", "", "2026-10-06 18:00:00 UTC"),
    "yan": ("power", "times2", "loop", "good", "wes", "2026-10-06 19:00:00 UTC"),        # names wes, not confirmed
    "nia": (None, None, None, None, "chen", "2026-10-07 09:00:00 UTC"),                   # blank, claims chen, later
    "yuki": ("in_place", "in_place", "x0_in_place", "short", "", "2026-10-06 19:00:00 UTC"),  # changes its arguments
    "yara": ("power", "times2", "shared_rows", "good", "", "2026-10-06 20:00:00 UTC"),
    "yves": ("power", "times2", "stops_at_tie", "short", "", "2026-10-06 21:00:00 UTC"),
}
ROSTER = [*SUBMISSIONS, "paul", "wes"]  # paul: credited through olga; wes: handed nothing in
# Pairs the instructor registered (grading/pairs.csv): olga's notebook is paul's too (he handed in nothing).
PAIRS = [(LAB, "olga", "paul", "instructor")]


# Later labs: student -> {exercise: wrong answer} (an empty dict: every answer as in the solution notebook);
# None: the released notebook handed in untouched.
MORE_LABS = {
    "lab02-backpropagation": {
        "ada": {},
        "ben": {"dense_backward": ("def dense_backward(dout, cache):\n    x, W = cache\n    n = len(x)\n"
                                   "    return dout @ W.T, x.T @ dout / n, dout.sum(axis=0) / n"),  # divides by N
                "dg_dx": "def dg_dx(x):\n    return 2 * (3 * x ** 3 + 2)"},  # the inner derivative 9x**2 forgotten
        "kim": None,
    },
    "lab03-optimizers": {
        "ada": {},
        "ben": {"adam_step": ("def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                              "    m = beta1 * state.get(\"m\", 0.0) + (1 - beta1) * grad\n"
                              "    v = beta2 * state.get(\"v\", 0.0) + (1 - beta2) * grad ** 2\n"
                              "    return x - lr * m / (np.sqrt(v) + eps), {\"m\": m, \"v\": v}")},  # no bias correction
        "kim": None,
    },
    "lab04-schedules": {
        "ada": {},
        "ben": {"plateau_step": ("def plateau_step(metric, lr, state, factor=0.1, patience=10, min_delta=1e-4):\n"
                                 "    best, wait = state.get(\"best\", np.inf), state.get(\"wait\", 0)\n"
                                 "    if metric < best - min_delta:\n        best, wait = metric, 0\n    else:\n"
                                 "        wait += 1\n        if wait > patience:\n"      # one epoch late
                                 "            lr, wait = lr * factor, 0\n"
                                 "    return lr, {\"best\": best, \"wait\": wait}")},
        "kim": None,
    },
    "lab05-vanishing-gradients": {
        "ada": {},
        "ben": {"clip_by_global_norm": (
            "def clip_by_global_norm(grads, max_norm):\n"
            "    global_norm = np.sqrt(sum(np.sum(np.square(g)) for g in grads))\n"
            "    scale = max_norm / max(global_norm, max_norm)\n"
            "    clipped = [g * scale for g in grads]\n"
            "    return clipped, np.sqrt(sum(np.sum(np.square(g)) for g in clipped))")},  # norm after clipping
        "kim": None,
    },
    "lab06-overfitting": {
        "ada": {},
        "ben": {"early_stopping_step": (
            "def early_stopping_step(val_loss, state, patience=5, min_delta=0.0):\n"
            "    epoch = state.get(\"epoch\", -1) + 1\n"
            "    best, wait, best_epoch = state.get(\"best\", np.inf), state.get(\"wait\", 0), state.get(\"best_epoch\")\n"
            "    if val_loss < best - min_delta:\n        best, wait, best_epoch = float(val_loss), 0, epoch\n"
            "    else:\n        wait += 1\n"
            "    return bool(wait > patience), {\"epoch\": epoch, \"best\": best, \"wait\": wait, "
            "\"best_epoch\": best_epoch}")},                                         # stops one epoch late
        "kim": None,
    },
    "lab07-transfer-learning": {
        "ada": {},
        "ben": {"split_tasks": (
            "def split_tasks(X, y, pretrain_classes, task_classes):\n"
            "    in_pretraining = np.isin(y, pretrain_classes)\n"
            "    new_label = np.zeros(max(max(pretrain_classes), int(np.max(y))) + 1, dtype=np.int64)\n"
            "    new_label[list(pretrain_classes)] = np.arange(len(pretrain_classes))\n"
            "    negative, positive = task_classes\n"
            "    in_task = (y == negative) | (y == positive)\n"
            "    return (X[in_pretraining], new_label[y[in_pretraining]],\n"
            "            X[in_task], (y[in_task] == negative).astype(np.int64))")},  # positive class swapped
        "kim": None,
    },
}

# The catalogued mistake each wrong answer of MORE_LABS makes: lab -> {student: {exercise: mistake}}.
MORE_LABS_CATALOGUED = {
    "lab02-backpropagation": {"ben": {"dense_backward": "divides by the batch size",
                                      "dg_dx": "inner derivative forgotten"}},
    "lab03-optimizers": {"ben": {"adam_step": "bias correction missing"}},
    "lab04-schedules": {"ben": {"plateau_step": "reduced one epoch late"}},
    "lab05-vanishing-gradients": {"ben": {"clip_by_global_norm": "norm after clipping returned"}},
    "lab06-overfitting": {"ben": {"early_stopping_step": "stops one epoch late"}},
    "lab07-transfer-learning": {"ben": {"split_tasks": "positive class swapped"}},
}

# Quiz answers: lab -> student -> {question: how}, how = "right" (the solution's answer), "wrong" (the next option,
# or twice the number plus one) or "text" (the right number written as a string: refused). "all": every question
# right. Students and questions not listed keep the released `qN = None`.
QUIZ = {
    LAB: {"ada": "all", "ben": {"q1": "right", "q2": "wrong", "q3": "right", "q4": "wrong", "q6": "right"},
          "chen": {"q1": "text", "q2": "right", "q7": "right"}},
    **{lab: {"ada": "all", "ben": {"all but": question}} for lab, question in {
        "lab02-backpropagation": "q6", "lab03-optimizers": "q6", "lab04-schedules": "q6",
        "lab05-vanishing-gradients": "q5", "lab06-overfitting": "q6", "lab07-transfer-learning": "q4"}.items()},
}


def quiz_answer(solution: str, how: str) -> str:
    """The answer cell's source: the solution's `qN = value` line, changed as ``how`` says."""
    line = next(line for line in solution.split("\n") if line.startswith("q") and " = " in line)
    name, value = line.split(" = ", 1)
    value = ast.literal_eval(value)
    if how == "wrong":
        value = "abcdefgh"[("abcdefgh".index(value) + 1) % 4] if isinstance(value, str) else 2 * value + 1
    elif how == "text":
        value = str(value)
    return f"{name} = {value!r}"


def fill_quiz(nb, answers: dict, plan) -> None:
    """Write the quiz answers of ``plan`` (see QUIZ) into ``nb``."""
    questions = sorted(grade_id[len("quiz_"):] for grade_id in answers if grade_id.startswith("quiz_"))
    if plan == "all":
        plan = {q: "right" for q in questions}
    elif "all but" in plan:
        plan = {q: "wrong" if q == plan["all but"] else "right" for q in questions}
    for question, how in plan.items():
        by_id(nb, f"quiz_{question}").source = quiz_answer(answers[f"quiz_{question}"], how)


def solution_answers(source) -> dict:
    """grade_id -> the solution notebook's answer with the nbgrader solution markers removed."""
    answers = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.split("\n") if line.strip() not in ("### BEGIN SOLUTION",
                                                                                        "### END SOLUTION")]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers


def write(out: Path, student: str, lab: str, nb, timestamp: str) -> None:
    folder = out / student / lab
    folder.mkdir(parents=True)
    name = lab.split("-")[0] + ".ipynb"
    (folder / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "timestamp.txt").write_text(timestamp + "\n")


def by_id(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def tamper_tests(nb):
    """sam: deletes f's tests, edits df's public test, re-tags gradient_descent's hidden test, inflates points."""
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in ("test_f", "test_f_hidden")]
    by_id(nb, "test_df").source = 'print("df passes")'
    hidden = by_id(nb, "test_gradient_descent_hidden")
    del hidden.metadata["nbgrader"]
    hidden.cell_type = "markdown"
    hidden.pop("outputs"), hidden.pop("execution_count")
    by_id(nb, "test_gradient_descent").metadata["nbgrader"]["points"] = 100


def tamper_metadata(nb):
    """tara: scrambles every cell's nbgrader metadata and the notebook's (ids, flags, schema, kernel)."""
    for i, cell in enumerate(nb.cells):
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"] = {"grade_id": f"cell-{i}", "grade": "yes", "solution": False,
                                         "locked": False, "points": 1000, "schema_version": 99}
        cell.metadata.pop("editable", None), cell.metadata.pop("deletable", None)
    nb.metadata["kernelspec"] = {"name": "not-a-kernel", "display_name": "?", "language": "python"}
    nb.metadata["nbgrader"] = {"tampered": True}


def lab01_submission(release, student: str):
    """The lab01 notebook the sample student ``student`` hands in (SUBMISSIONS), from the released notebook."""
    f, df, gd, discussion, partner, _ = SUBMISSIONS[student]
    nb = copy.deepcopy(release)
    for grade_id, table, key in (("f", F, f), ("df", DF, df), ("gradient_descent", GD, gd),
                                 ("discussion", DISCUSSION, discussion)):
        if key is not None:
            by_id(nb, grade_id).source = table[key]
    if partner:
        nb.cells[0].source = nb.cells[0].source.replace('PARTNER = ""', f'PARTNER = "{partner}"')
    if student in QUIZ[LAB]:
        fill_quiz(nb, solution_answers(nbformat.read(HERE.parent.parent / "solutions" / LAB / "lab01.ipynb",
                                                     as_version=4)), QUIZ[LAB][student])
    if student == "sam":
        tamper_tests(nb)
    if student == "tara":
        tamper_metadata(nb)
    return nb


def later_lab(lab: str):
    """(released notebook, the solution's answers) of a lab of MORE_LABS."""
    name = lab.split("-")[0] + ".ipynb"
    released = nbformat.read(HERE.parent.parent / "labs" / lab / name, as_version=4)
    return released, solution_answers(nbformat.read(HERE.parent.parent / "solutions" / lab / name, as_version=4))


def later_lab_submission(released, answers: dict, wrong: dict | None, quiz=None):
    """A later lab's notebook: the solution's answers with ``wrong`` ones instead (None: handed in untouched), the
    quiz answered as ``quiz`` says (see QUIZ; None: every question right)."""
    nb = copy.deepcopy(released)
    if wrong is not None:
        for grade_id, answer in {**answers, **wrong}.items():
            by_id(nb, grade_id).source = answer
        fill_quiz(nb, answers, quiz if quiz is not None else "all")
    return nb


def main(root: Path = HERE) -> None:
    """Write ``root/submitted/`` and ``root/roster.csv``."""
    release = nbformat.read(RELEASE, as_version=4)
    out = root / "submitted"
    if out.exists():
        shutil.rmtree(out)
    for student, spec in SUBMISSIONS.items():
        write(out, student, LAB, lab01_submission(release, student), spec[-1])
    for lab, students in MORE_LABS.items():
        released, answers = later_lab(lab)
        for student, wrong in students.items():
            write(out, student, lab, later_lab_submission(released, answers, wrong, QUIZ[lab].get(student, {})),
                  "2026-10-20 10:00:00 UTC")
    with open(root / "roster.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "first_name", "last_name", "email"])
        for sid in ROSTER:
            writer.writerow([sid, sid.capitalize(), "Sample", f"{sid}@example.org"])
    with open(root / "pairs.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["lab", "student", "partner", "source"])
        writer.writerows(PAIRS)


if __name__ == "__main__":
    main()
