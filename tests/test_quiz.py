"""The end-of-lab quizzes: keys only in grading/quizzes/, the quiz section written idempotently at the end of the
source notebook, answers read out of the sandbox as plain data and marked by the grader with the authored feedback,
and every malformed or hostile answer refused safely."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grading.pipeline.sandbox import Sandbox, available
from grading.pipeline.verdict import notebook_verdicts
from grading.quizzes import Choice, Number, is_quiz_cell, load, mark, quiz_cells, write_quiz
from lablib.grading import CheckFailure, check_quiz

REPO = Path(__file__).resolve().parents[1]
LABS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir() and p.name.startswith("lab"))


def notebook_of(root: Path, lab: str) -> Path:
    return root / lab / f"{lab.split('-')[0]}.ipynb"


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_ends_with_its_quiz_as_written_by_the_command(lab, tmp_path):
    quiz = load(lab)
    assert 5 <= len(quiz.questions) <= 8
    assert {type(q) for q in quiz.questions} == {Choice, Number}            # both kinds in every quiz
    copy = tmp_path / "lab.ipynb"
    shutil.copy(notebook_of(REPO / "solutions", lab), copy)
    assert write_quiz(copy, quiz) is False, f"run `python -m grading.pipeline quiz {lab}`"
    cells = nbformat.read(copy, as_version=4).cells
    tail = cells[-len(quiz_cells(quiz)):]
    assert all(is_quiz_cell(c) for c in tail) and not any(is_quiz_cell(c) for c in cells[:-len(tail)])


def test_the_quiz_command_is_idempotent_on_any_version_of_the_notebook(tmp_path):
    lab = "lab01-gradient-descent"
    path = tmp_path / "lab01.ipynb"
    shutil.copy(notebook_of(REPO / "solutions", lab), path)
    nb = nbformat.read(path, as_version=4)
    original_quiz = [c for c in nb.cells if is_quiz_cell(c)]
    body = [c for c in nb.cells if not is_quiz_cell(c)]
    # another helper's version: the quiz without it, a stray old quiz cell in the middle, a new cell at the end
    new_cell = nbformat.v4.new_markdown_cell("## A new part written after the quiz")
    nb.cells = body[:5] + [original_quiz[3]] + body[5:] + [new_cell]
    nbformat.write(nb, path)
    assert write_quiz(path, load(lab)) is True
    first = path.read_text(encoding="utf-8")
    assert write_quiz(path, load(lab)) is False and path.read_text(encoding="utf-8") == first
    cells = nbformat.read(path, as_version=4).cells
    assert [c.source for c in cells if not is_quiz_cell(c)] == [c.source for c in body] + [new_cell.source]
    assert [c.source for c in cells if is_quiz_cell(c)] == [c.source for c in original_quiz]
    assert all(is_quiz_cell(c) for c in cells[-len(original_quiz):])


def _text_files(root: Path):
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".json", ".txt", ".toml", ".cfg"):
            yield path, path.read_text(encoding="utf-8", errors="replace")


def test_no_key_no_feedback_and_no_solution_in_labs_or_lablib():
    files = [*_text_files(REPO / "labs"), *_text_files(REPO / "lablib")]
    for path, text in files:
        if path.suffix == ".py":
            assert "from grading" not in text and "import grading" not in text, path
    for lab in LABS:
        quiz = load(lab)
        released = nbformat.read(notebook_of(REPO / "labs", lab), as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in released.cells
                   if c.metadata.get("nbgrader", {}).get("solution") and is_quiz_cell(c)}
        for q in quiz.questions:
            assert answers[f"quiz_{q.id}"].endswith(f"\n{q.id} = None  # YOUR ANSWER HERE"), answers[f"quiz_{q.id}"]
            solution = f'{q.id} = "{q.answer}"' if isinstance(q, Choice) else f"{q.id} = {float(q.answer)!r}"
            secrets = [solution, q.why, *getattr(q, "feedback", {}).values(), *(text for _, text in getattr(q, "slips", ()))]
            for path, text in files:
                for secret in secrets:
                    assert secret not in text, f"{lab} {q.id}: {secret[:60]!r} is in {path.relative_to(REPO)}"


def test_numeric_keys_agree_with_closed_forms_and_published_numbers():
    """The keys are computed with lablib in grading/quizzes/; here from the closed forms the labs state."""
    key = {lab.split("-")[0]: {q.id: q.answer for q in load(lab).questions} for lab in LABS}
    assert key["lab01"]["q1"] == pytest.approx(0.8 ** 10, abs=1e-12)
    assert key["lab01"]["q3"] == math.ceil(math.log(1e-3 / 2) / math.log(0.8))
    assert key["lab01"]["q4"] == pytest.approx(2 / 11) and key["lab01"]["q5"] == pytest.approx(9 / 11)
    assert key["lab02"]["q1"] == pytest.approx(0.593269992, abs=1e-9)      # Mazur's post
    assert key["lab02"]["q2"] == pytest.approx(0.298371109, abs=1e-9)
    assert key["lab02"]["q3"] == pytest.approx(0.082167041, abs=1e-9)
    assert key["lab02"]["q5"] == pytest.approx(math.log(10))
    assert (key["lab03"]["q1"], key["lab03"]["q2"]) == (math.ceil(2000 / 32), 2000 - 32 * (2000 // 32))
    assert key["lab03"]["q3"] == pytest.approx(0.9, abs=1e-8) and key["lab03"]["q4"] == pytest.approx(0.1 / (1 - 0.9))
    assert key["lab03"]["q5"] == pytest.approx(-0.5 * 3 / 5, abs=1e-8)
    assert key["lab04"]["q1"] == pytest.approx(0.025) and key["lab04"]["q2"] == pytest.approx(10 ** -3.5)
    assert key["lab04"]["q3"] == pytest.approx((10 / 11) ** 2) and key["lab04"]["q4"] == pytest.approx(300)
    assert key["lab04"]["q5"] == 4                                          # lab04's worked example: epochs 3, 4 bad
    assert key["lab05"]["q1"] == pytest.approx(0.25 ** 10) and key["lab05"]["q2"] == pytest.approx(2 / 784)
    assert key["lab05"]["q3"] == pytest.approx(math.exp(-1)) and key["lab05"]["q4"] == pytest.approx(3 * 6.5 / 13)
    assert (key["lab06"]["q1"], key["lab06"]["q2"], key["lab06"]["q3"]) == pytest.approx((5, 1, 0.2))
    assert (key["lab06"]["q4"], key["lab06"]["q5"]) == (4, 2)
    acc = np.array([0.90, 0.92, 0.88, 0.94, 0.91])
    assert key["lab07"]["q1"] == pytest.approx(np.std(acc, ddof=1) / math.sqrt(5))
    assert (key["lab07"]["q2"], key["lab07"]["q3"]) == (5, 130)


def test_marking_with_the_authored_feedback():
    quiz = load("lab01")
    choice, number = quiz.question("q2"), quiz.question("q1")
    assert mark(choice, " B ") == (True, f"✓ q2: correct (b). {choice.why}")
    ok, text = mark(choice, "c")
    assert not ok and text == f"q2: your answer (c) is not right. {choice.feedback['c']} {choice.why}"
    assert mark(number, 0.1074)[0] and mark(number, np.float32(0.10737))[0]
    ok, text = mark(number, 0.8 ** 9)                                      # a known slip: its own feedback
    assert not ok and number.slips[0][1] in text and number.why in text
    ok, text = mark(number, 0.5)
    assert not ok and text == f"q1: your answer 0.5 is not right. {number.why}"
    for bad, reason in ((None, "not answered yet"), ("0.107", "got a string"), (True, "type bool"),
                        (float("inf"), "finite"), (10 ** 30, "sensible size")):
        ok, text = mark(number, bad)
        assert not ok and reason in text and text.endswith("no points"), text
    for bad in ("e", "bb", "", ["b"], 1):
        assert mark(choice, bad)[0] is False


def test_the_students_check_tells_the_form_only(capsys):
    check_quiz("lab01:q2", "d", choices="abcd")                            # wrong, but well-formed: no verdict
    check_quiz("lab01:q1", np.float64(0.5), number=True)
    out = capsys.readouterr().out
    assert "recorded" in out and "correct" not in out and "not right" not in out
    for answer, kwargs, reason in ((None, {"choices": "abcd"}, "not answered yet"),
                                   ("e", {"choices": "abcd"}, "expected one of"),
                                   ("0.5", {"number": True}, "without quotes"),
                                   (float("nan"), {"number": True}, "finite")):
        with pytest.raises(CheckFailure, match=reason):
            check_quiz("lab01:q1", answer, **kwargs)


# -- the grader's marks, through the sandbox -------------------------------------------------------------

HOSTILE = '''
class Hostile:
    def __eq__(self, other): raise SystemExit("eq")
    def __hash__(self): raise SystemExit("hash")
    def __float__(self): import os; os._exit(3)
    def __index__(self): import os; os._exit(3)
    def __repr__(self): raise SystemExit("repr")
    def __str__(self): raise SystemExit("str")


class Meta(type):
    def __eq__(cls, other): raise SystemExit("meta eq")
    __hash__ = None


class Sneaky(str, metaclass=Meta):
    def __eq__(self, other): return True
    def strip(self, *a): return "b"
    def lower(self): return "b"
'''


def _notebook(lab: str, answers: dict):
    """The quiz section alone, with these answer cells (question -> source)."""
    cells = quiz_cells(load(lab))
    for cell in cells:
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        if cell.metadata["nbgrader"]["solution"]:
            cell.source = answers.get(grade_id.removeprefix("quiz_"), cell.source)
        elif grade_id == "quiz_setup":
            cell.source += "\n" + HOSTILE
    return nbformat.v4.new_notebook(cells=cells)


def _verdicts(nb) -> dict:
    result = notebook_verdicts(nb, seed=1, sandbox=Sandbox(enabled=available() is None), call_timeout=5)
    assert result.flags == [] and result.notes == [], (result.flags, result.notes)
    texts = {}
    for index, verdict in result.cells.items():
        assert verdict.kernel_blind
        texts[nb.cells[index].metadata["nbgrader"]["grade_id"].removeprefix("test_quiz_")] = (verdict.passed,
                                                                                             verdict.text)
    return texts


def test_solution_answers_get_every_mark_and_released_ones_none():
    quiz = load("lab03")
    source = nbformat.read(notebook_of(REPO / "solutions", "lab03-optimizers"), as_version=4)
    right = {c.metadata["nbgrader"]["grade_id"][5:]: c.source for c in source.cells
             if is_quiz_cell(c) and c.metadata["nbgrader"]["solution"]}
    marks = _verdicts(_notebook("lab03", right))
    assert all(passed for passed, _ in marks.values()) and len(marks) == len(quiz.questions), marks
    released = nbformat.read(notebook_of(REPO / "labs", "lab03-optimizers"), as_version=4)
    stubs = {c.metadata["nbgrader"]["grade_id"][5:]: c.source for c in released.cells
             if is_quiz_cell(c) and c.metadata["nbgrader"]["solution"]}
    marks = _verdicts(_notebook("lab03", stubs))
    assert all(not passed and "not answered yet" in text for passed, text in marks.values()), marks


def test_wrong_malformed_and_hostile_answers_are_refused_safely():
    quiz = load("lab01")
    marks = _verdicts(_notebook("lab01", {
        "q1": "q1 = '0.107'",                                              # a string for a number
        "q2": "q2 = ['b']",                                                # a list
        "q3": "q3 = 10 ** 100000",                                         # an int too large to be an answer
        "q4": "q4 = Hostile()",                                            # hostile __eq__/__float__/__repr__
        "q5": "q5 = 'x' * 10_000_000",                                     # a huge string
        "q6": "q6 = Sneaky('c')",                                          # a str subclass claiming equality
        "q7": "q7 = 'a'",                                                  # well-formed, wrong
    }))
    assert marks["q1"] == (False, "q1: expected a number (e.g. 0.25), got a string — write the number without "
                                  "quotes — no points")
    assert marks["q2"] == (False, "q2: expected one letter as a string, got a value of type list — no points")
    assert marks["q3"] == (False, "q3: expected a number, got a value of type int (too large) — no points")
    assert marks["q4"] == (False, "q4: expected a number, got a value of type Hostile — no points")
    assert marks["q5"] == (False, "q5: expected a number, got a value of type str (too long) — no points")
    assert marks["q6"] == (False, "q6: expected one letter as a string, got a value of type Sneaky — no points")
    q7 = quiz.question("q7")
    assert marks["q7"] == (False, f"q7: your answer (a) is not right. {q7.feedback['a']} {q7.why}")
    right = _verdicts(_notebook("lab01", {"q1": "import numpy as np\nq1 = np.float32(0.8) ** 10", "q2": "q2 = 'B'",
                                          "q3": "q3 = 35"}))
    assert right["q1"][0] and right["q2"][0] and right["q3"][0], right


def test_a_question_without_a_key_is_flagged_never_given_points():
    nb = _notebook("lab01", {"q1": "q1 = 0.1074"})
    nb.cells[4].source = nb.cells[4].source.replace('"lab01:q1"', '"lab01:q9"')
    result = notebook_verdicts(nb, seed=1, sandbox=Sandbox(enabled=available() is None), call_timeout=5)
    assert result.flags == ["quiz_key_missing"]
    assert result.cells[4].passed is False and "no question q9" in result.cells[4].text
