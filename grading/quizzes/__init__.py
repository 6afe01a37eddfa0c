"""The end-of-lab quizzes: questions, keys and feedback, authored here and nowhere else (instructors only).

One module per lab, ``grading/quizzes/labNN.py``, defines ``QUIZ = Quiz(lab, [Choice(...), Number(...), ...])``.
Numeric keys are *computed* there (with lablib or plain arithmetic), never typed in, and each tolerance states
why it is that wide. Then

    python -m grading.pipeline quiz lab01-gradient-descent      # (re)writes the quiz at the end of solutions/
    python -m grading.pipeline generate lab01-gradient-descent  # labs/ from solutions/

``quiz`` appends to the source notebook, after everything else, a locked heading, and per question: the locked
question, an answer cell (``q1 = "b"`` in solutions/, ``q1 = None`` in labs/), and a test cell whose public line
checks only the form of the answer (``lablib.grading.check_quiz``) and whose hidden line is where the answer is
marked. Re-running it replaces the quiz cells it wrote before (found by their nbgrader ids ``quiz_*``), so it works
on any version of the notebook and is idempotent.

Marking (grading/pipeline/verdict.py): the grader reads the answer out of the sandbox as plain data (a str, int or
float; anything else is refused there), checks its form with the same rule as the kernel
(``lablib.grading.quiz.answer_problem``) and compares it with the key loaded here, in the grader's process. The
verdict names the question, says whether the answer was right, and gives the authored feedback (for a wrong choice,
what that choice misses; for a wrong number, the known slip it matches) and the explanation; it reaches the
student in the feedback after grading.
"""
from __future__ import annotations

import importlib
import math
import re
from dataclasses import dataclass, field

import nbformat

from lablib.grading.quiz import answer_problem, normalized

__all__ = ["Choice", "Number", "Quiz", "load", "mark", "quiz_cells", "write_quiz", "QUIZ_ID_PREFIXES"]

QUIZ_ID_PREFIXES = ("quiz_", "test_quiz_")
LETTERS = "abcdefgh"


@dataclass(frozen=True)
class Choice:
    """A multiple-choice question: ``options`` in order (letters a, b, c, ...), ``answer`` the right letter,
    ``why`` the explanation shown after grading, ``feedback`` letter -> what that wrong choice misses.

    ``shown_as`` moves the right option to that letter in the notebook (the others keep their order; ``answer`` and
    ``feedback`` are rewritten to match): authors may write the right option first and still vary the key."""

    id: str
    text: str
    options: tuple
    answer: str
    why: str
    feedback: dict = field(default_factory=dict)
    points: int = 1
    shown_as: str | None = None

    def __post_init__(self):
        if self.shown_as is None or self.answer not in self.letters or self.shown_as not in self.letters:
            return
        order = [i for i in range(len(self.options)) if LETTERS[i] != self.answer]
        order.insert(LETTERS.index(self.shown_as), LETTERS.index(self.answer))  # order[new position] = old index
        letter = {LETTERS[old]: LETTERS[new] for new, old in enumerate(order)}
        object.__setattr__(self, "options", tuple(self.options[old] for old in order))
        object.__setattr__(self, "feedback", {letter[k]: v for k, v in self.feedback.items() if k in letter})
        object.__setattr__(self, "answer", self.shown_as)
        object.__setattr__(self, "shown_as", None)

    @property
    def letters(self) -> str:
        return LETTERS[:len(self.options)]

    def validate(self) -> None:
        if not 2 <= len(self.options) <= len(LETTERS):
            raise ValueError(f"{self.id}: 2 to {len(LETTERS)} options, got {len(self.options)}")
        if self.answer not in self.letters:
            raise ValueError(f"{self.id}: answer {self.answer!r} is not one of {self.letters!r}")
        extra = set(self.feedback) - set(self.letters) | ({self.answer} & set(self.feedback))
        if extra:
            raise ValueError(f"{self.id}: feedback for {sorted(extra)}, which are not wrong options")


@dataclass(frozen=True)
class Number:
    """A numeric question: ``answer`` (computed), accepted within ``abs_tol + rel_tol * |answer|``; ``tolerance``
    says why (e.g. 'three significant digits'); ``slips`` are (value, feedback) pairs of known wrong results."""

    id: str
    text: str
    answer: float
    why: str
    abs_tol: float
    tolerance: str
    rel_tol: float = 0.0
    slips: tuple = ()
    points: int = 1

    def accepts(self, value: float, target: float | None = None) -> bool:
        target = self.answer if target is None else target
        return abs(value - target) <= self.abs_tol + self.rel_tol * abs(target)

    def validate(self) -> None:
        if not math.isfinite(self.answer):
            raise ValueError(f"{self.id}: the answer must be finite, got {self.answer}")
        if not (self.abs_tol >= 0 and self.rel_tol >= 0 and self.abs_tol + self.rel_tol > 0):
            raise ValueError(f"{self.id}: a tolerance > 0 is needed")
        if not self.tolerance.strip():
            raise ValueError(f"{self.id}: say why the tolerance is what it is")
        for value, _ in self.slips:
            if self.accepts(value):
                raise ValueError(f"{self.id}: the slip {value!r} would be accepted as right")


@dataclass(frozen=True)
class Quiz:
    lab: str          # the lab's directory, e.g. "lab01-gradient-descent"
    questions: tuple

    @property
    def prefix(self) -> str:
        return self.lab.split("-")[0]

    def question(self, qid: str):
        return next((q for q in self.questions if q.id == qid), None)

    def validate(self) -> "Quiz":
        ids = [q.id for q in self.questions]
        if not 5 <= len(ids) <= 8:
            raise ValueError(f"{self.lab}: a quiz has 5 to 8 questions, got {len(ids)}")
        if ids != [f"q{i}" for i in range(1, len(ids) + 1)]:
            raise ValueError(f"{self.lab}: questions must be q1, q2, ... in order, got {ids}")
        for q in self.questions:
            q.validate()
        return self


def load(lab: str) -> Quiz:
    """The quiz of ``lab`` ("lab01" or "lab01-gradient-descent"); ValueError if there is none."""
    prefix = str(lab).split("-")[0]
    if not re.fullmatch(r"lab\d\d", prefix):
        raise ValueError(f"lab must look like 'lab01' or 'lab01-gradient-descent', got {lab!r}")
    try:
        module = importlib.import_module(f"{__name__}.{prefix}")
    except ModuleNotFoundError:
        raise ValueError(f"no quiz for {lab}: write grading/quizzes/{prefix}.py") from None
    return module.QUIZ.validate()


def mark(question, value) -> tuple[bool, str]:
    """(right?, the verdict line with the authored feedback) for the plain value the student gave."""
    choices = question.letters if isinstance(question, Choice) else None
    problem = answer_problem(value, choices=choices, number=choices is None)
    if problem is not None:
        return False, f"{question.id}: {problem} — no points"
    given = normalized(value, choices=choices)
    if isinstance(question, Choice):
        if given == question.answer:
            return True, f"✓ {question.id}: correct ({given}). {question.why}"
        hint = question.feedback.get(given, "")
        return False, " ".join(filter(None, [f"{question.id}: your answer ({given}) is not right.", hint,
                                             question.why]))
    if question.accepts(given):
        return True, f"✓ {question.id}: correct ({given:.6g}). {question.why}"
    hint = next((text for slip, text in question.slips if question.accepts(given, slip)), "")
    return False, " ".join(filter(None, [f"{question.id}: your answer {given:.6g} is not right.", hint, question.why]))


# ---------------------------------------------------------------------------------------------------------
# The quiz section of the source notebook


def _meta(grade_id: str, *, grade=False, solution=False, locked=True, points=None) -> dict:
    nbgrader = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
                "task": False}
    if points is not None:
        nbgrader["points"] = points
    meta = {"nbgrader": nbgrader}
    if locked:
        meta = {"deletable": False, "editable": False, **meta}
    return meta


def _cell(kind: str, cell_id: str, source: str, meta: dict):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    cell.id, cell.metadata = cell_id, meta  # fixed ids: writing the quiz again changes nothing
    return cell


def _question_markdown(quiz: Quiz, q) -> str:
    points = f"{q.points} point" + ("s" if q.points != 1 else "")
    lines = [f"**{q.id.upper()}** ({points}). {q.text.strip()}", ""]
    if isinstance(q, Choice):
        lines += [f"- **({letter})** {option}" for letter, option in zip(q.letters, q.options)]
        lines += ["", f'Answer with the letter of your choice, in quotes: `{q.id} = "?"`.']
    else:
        lines += [f"Answer with a number: `{q.id} = 0.25` (a Python number or an expression that computes it)."]
    return "\n".join(lines)


def quiz_cells(quiz: Quiz) -> list:
    """The quiz section: a heading, then per question its text, its answer cell and its test cell."""
    p = quiz.prefix
    total = sum(q.points for q in quiz.questions)
    cells = [
        _cell("markdown", f"{p}-quiz-intro", "\n".join([
            "## Quiz",
            "",
            f"{len(quiz.questions)} short questions on this lab ({total} points). Write each answer in its cell "
            "and run it: the check under it only tells you whether the answer has the right form (a letter from the "
            "list, or a finite number). Answers are marked when your lab is graded, and the feedback then explains "
            "each question."]), _meta("quiz_intro")),
        _cell("code", f"{p}-quiz-setup", "from lablib.grading import check_quiz", _meta("quiz_setup")),
    ]
    for q in quiz.questions:
        form = f'choices="{q.letters}"' if isinstance(q, Choice) else "number=True"
        answer = f'"{q.answer}"' if isinstance(q, Choice) else repr(float(q.answer))
        hint = (f'# one of {", ".join(repr(c) for c in q.letters)}' if isinstance(q, Choice)
                else "# a number")
        cells += [
            _cell("markdown", f"{p}-quiz-{q.id}-text", _question_markdown(quiz, q), _meta(f"quiz_{q.id}_text")),
            _cell("code", f"{p}-quiz-{q.id}", f"{hint}\n### BEGIN SOLUTION\n{q.id} = {answer}\n### END SOLUTION",
                  _meta(f"quiz_{q.id}", solution=True, locked=False)),
            _cell("code", f"{p}-quiz-{q.id}-check",
                  f'check_quiz("{p}:{q.id}", {q.id}, {form})\n### BEGIN HIDDEN TESTS\n'
                  f'check_quiz("{p}:{q.id}", {q.id}, hidden=True)\n### END HIDDEN TESTS',
                  _meta(f"test_quiz_{q.id}", grade=True, points=q.points)),
        ]
    return cells


def is_quiz_cell(cell) -> bool:
    grade_id = str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))
    return grade_id.startswith(QUIZ_ID_PREFIXES)


def write_quiz(path, quiz: Quiz) -> bool:
    """Replace the quiz section of the notebook at ``path`` (wherever its cells are) by a fresh one at its end;
    True when the file changed."""
    nb = nbformat.read(path, as_version=4)
    with open(path, encoding="utf-8") as fh:
        before = fh.read()
    nb.cells = [c for c in nb.cells if not is_quiz_cell(c)] + quiz_cells(quiz)
    after = nbformat.writes(nb) + "\n"
    if after == before:
        return False
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(after)
    return True
