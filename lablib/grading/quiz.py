"""The end-of-lab quiz in the student's notebook: the *format* of an answer, never its key.

    q1 = "b"                                          # a multiple-choice answer: one letter
    q3 = 0.25                                         # a numeric answer: a finite number
    check_quiz("lab01:q1", q1, choices="abcd")        # public check: a valid letter?  (the kernel)
    check_quiz("lab01:q3", q3, number=True)           # public check: a finite number?

The keys live only in the instructors' repository (``grading/quizzes/``); when the lab is graded the grader reads
each answer as plain data out of the sandbox that ran the student's cells and compares it with the key itself
(grading/pipeline/verdict.py). Here, in the student's kernel, ``check_quiz`` can only say whether the answer has
the right form, so nothing in lablib or in the released lab gives an answer away.

``answer_problem`` is the one rule for the form of an answer, shared by the kernel and the grader: a choice is a
plain ``str`` naming one of the letters (case and surrounding spaces ignored); a number is a plain ``int`` or
``float`` or a numpy integer/floating scalar, finite, not a ``bool``. Only these exact types are accepted (a
subclass could redefine comparison or conversion), and nothing of the answer's own code is ever called.
"""
from __future__ import annotations

import math

import numpy as np

from .engine import CheckFailure, show_check_failures

__all__ = ["check_quiz", "answer_problem", "normalized", "MAX_ANSWER_CHARS", "NUMBER_TYPES"]

MAX_ANSWER_CHARS = 100
NUMBER_TYPES = frozenset({int, float, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
                          np.uint64, np.uint32, np.uint16, np.uint8})
_MAX_INT = 2 ** 63


def _kind_of(value) -> str:
    """The name of ``value``'s class (never its repr, never a metaclass's idea of it)."""
    try:
        return type.__dict__["__name__"].__get__(type(value))[:60]
    except Exception:
        return "object"


def _is_number(value) -> bool:
    kind = type(value)
    return any(kind is number for number in NUMBER_TYPES)  # `is`: no __eq__/__hash__ of a metaclass is called


def answer_problem(value, *, choices: str | None = None, number: bool = False) -> str | None:
    """Why ``value`` is not a well-formed answer (a sentence), or None when it is.

    Exactly one of ``choices`` (the valid letters, e.g. ``"abcd"``) and ``number=True``."""
    if (choices is None) == (not number):
        raise ValueError("give exactly one of choices (the letters, e.g. 'abcd') and number=True")
    if value is None or value is Ellipsis:
        return "not answered yet"
    if choices is not None:
        options = ", ".join(f'"{c}"' for c in choices)
        if type(value) is not str:
            return f"expected one letter as a string ({options}), got a value of type {_kind_of(value)}"
        if len(value) > MAX_ANSWER_CHARS or value.strip().lower() not in choices or len(value.strip()) != 1:
            shown = value if len(value) <= 20 else value[:20] + "…"
            return f"expected one of {options}, got {shown!r}"
        return None
    if type(value) is str:
        return "expected a number (e.g. 0.25), got a string — write the number without quotes"
    if not _is_number(value):
        return f"expected a number (e.g. 0.25), got a value of type {_kind_of(value)}"
    if type(value) is int and not -_MAX_INT < value < _MAX_INT:
        return "expected a number of a sensible size, got an integer with more than 18 digits"
    if not math.isfinite(float(value)):
        return f"expected a finite number, got {float(value)}"
    return None


def normalized(value, *, choices: str | None = None):
    """A well-formed answer as the grader compares it: the lower-case letter, or a Python float."""
    return value.strip().lower() if choices is not None else float(value)


def check_quiz(question: str, answer, *, choices: str | None = None, number: bool = False,
               hidden: bool = False) -> None:
    """The quiz cell's check in the student's kernel: is ``answer`` well-formed? Prints one line or raises
    CheckFailure. The answer is marked only when the lab is graded (``hidden=True`` cells run there)."""
    show_check_failures()
    if not isinstance(question, str) or ":" not in question:
        raise ValueError(f"question must name the lab and the question, e.g. 'lab01:q1', got {question!r}")
    label = question.split(":", 1)[1]
    if hidden:  # the key is not here: the grader marks the answer
        print(f"✓ {label}: answer recorded — marked when your lab is graded")
        return
    problem = answer_problem(answer, choices=choices, number=number)
    if problem is not None:
        raise CheckFailure(f"{label}: {problem} — set `{label}` in the cell above and run it")
    shown = normalized(answer, choices=choices)
    print(f"✓ {label}: your answer {shown!r} is recorded (it is marked when your lab is graded)")
