"""Autograding checks for the course notebooks (public and hidden nbgrader test cells).

    from lablib.grading import check, CheckFailure, EXERCISES
    check("adam_step", adam_step)                # public cases: fixed, small, documented
    check("adam_step", adam_step, hidden=True)   # hidden cases, drawn from $LABLIB_HIDDEN_SEED

``check`` prints one line and returns None on success (how many public cases passed; the hidden ones run when
the lab is graded); otherwise it raises ``CheckFailure`` (an AssertionError) that names the case, the quantity, the
worst entry (expected vs got, tolerance) and, only when a catalogued mistake reproduces the student's output on
every case, that mistake and a hint. It also fails when the function changes an argument its contract keeps
unchanged ("you modified `x` in place: x[0] was 1, is now 0.9"), and says so when a result agrees only to float32
precision. In a Jupyter kernel a failure shows as its message alone. While the student's function runs, lablib's
own reference for the exercise is disabled (calling it fails the check). Hidden cases use the integer in the
environment variable LABLIB_HIDDEN_SEED, or the instructor default ``DEFAULT_HIDDEN_SEED`` when unset. When a lab is
graded, the points come from ``run_check`` called by the grader itself with the secret seed, on the student's
functions running in a sandbox (grading/pipeline/verdict.py); what a check prints in the student's kernel is
feedback only.

``check_quiz("lab01:q1", q1, choices="abcd")`` checks the form of a quiz answer (a letter, a finite number); the
keys are not in lablib: the grader marks the answers (lablib/grading/quiz.py).

``needs("name", ...)`` wraps an experiment cell that uses the student's functions: before the exercise is
written it prints one "not implemented yet" line instead of a traceback.

``EXERCISES`` maps each exercise name to its ``Exercise`` (``name``, ``lab``, ``signature``, ``summary``,
``contract``, ``edges``, ``tolerance``, ``mistakes`` as (name, hint) pairs, ``reference``); how to add one:
lablib/grading/exercises/__init__.py.
"""
from .engine import DEFAULT_HIDDEN_SEED, EXERCISES, HIDDEN_SEED_ENV, CheckFailure, Exercise, Mistake, check, run_check
from .experiments import needs
from .quiz import check_quiz
from . import exercises  # noqa: F401  (registers every exercise)

__all__ = ["check", "run_check", "needs", "check_quiz", "CheckFailure", "EXERCISES", "Exercise", "Mistake", "HIDDEN_SEED_ENV", "DEFAULT_HIDDEN_SEED"]
