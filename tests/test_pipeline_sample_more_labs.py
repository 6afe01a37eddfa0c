"""The sample class's later labs (MORE_LABS in grading/sample_class/make_sample_class.py) through the pipeline:
ada hands in the solution's answers, ben the same with one catalogued mistake, kim the untouched lab. So every
lab's solution earns every automatic point with every hidden check run, and the released lab earns zero
(lab01: tests/test_pipeline_end_to_end.py). ben also answers one quiz question wrong (make_sample_class.QUIZ): 0 for
it, and the feedback written for the option he chose."""
from __future__ import annotations

import shutil
from html import unescape

import nbformat
import pytest

from grading.pipeline.driver import Course, run
from _notebooks import assert_every_hidden_check_passed, assert_untouched_lab_says_not_implemented, exercise_points

from _grading_runs import SAMPLE, make_sample_class

# lab -> (the exercise ben gets wrong, the catalogued mistake his answer makes)
BEN = {
    "lab02-backpropagation": ("dense_backward", "divides by the batch size"),
    "lab03-optimizers": ("adam_step", "bias correction missing"),
    "lab04-schedules": ("plateau_step", "reduced one epoch late"),
    "lab05-vanishing-gradients": ("clip_by_global_norm", "norm after clipping returned"),
    "lab06-overfitting": ("early_stopping_step", "stops one epoch late"),
    "lab07-transfer-learning": ("split_tasks", "positive class swapped"),
}
# lab -> further (exercise, mistake) of ben's, beside BEN's
BEN_MORE = {"lab02-backpropagation": [("dg_dx", "inner derivative forgotten")]}


def test_the_sample_labs_are_the_ones_tested_here():
    assert set(make_sample_class.MORE_LABS) == set(BEN)
    for lab, students in make_sample_class.MORE_LABS.items():
        assert students["ada"] == {} and students["kim"] is None
        assert set(students["ben"]) == {BEN[lab][0]} | {name for name, _ in BEN_MORE.get(lab, [])}


@pytest.fixture(scope="module", params=sorted(BEN))
def graded(request, tmp_path_factory):
    lab = request.param
    work = tmp_path_factory.mktemp(lab)
    course = Course.in_directory(work, roster=SAMPLE / "roster.csv", link_labs=False, timeout=30, budget=120,
                                 hidden_seed="16180339")
    for student in make_sample_class.MORE_LABS[lab]:
        shutil.copytree(SAMPLE / "submitted" / student / lab, course.path("submitted") / student / lab)
    return lab, course, run(course, lab, progress=False)


def ben_quiz_slip(lab) -> str:
    return make_sample_class.QUIZ[lab]["ben"]["all but"]


def test_scores(graded):
    lab, _, report = graded
    points = exercise_points(lab)
    wrong = [BEN[lab][0]] + [name for name, _ in BEN_MORE.get(lab, [])] + [f"quiz_{ben_quiz_slip(lab)}"]
    full = sum(points.values())
    assert any(name.startswith("quiz_") for name in points)
    assert report.row("ada")["score"] == full, report.row("ada")["notes"]
    assert report.row("ben")["score"] == full - sum(points[name] for name in wrong), report.row("ben")["notes"]
    assert all(report.row("ben")[name] == 0 for name in wrong)
    assert report.row("kim")["score"] == 0
    assert not any("failed_autograde" in report.row(s)["flags"] for s in ("ada", "ben", "kim"))


def test_the_solution_passes_every_hidden_check(graded):
    lab, course, _ = graded
    assert_every_hidden_check_passed(course, lab, "ada")


def test_the_untouched_lab_says_not_implemented(graded):
    lab, course, _ = graded
    assert_untouched_lab_says_not_implemented(course, lab, "kim")


def test_feedback_names_the_mistake(graded):
    lab, course, _ = graded
    html = unescape(next((course.path("feedback") / "ben" / lab).glob("*.html")).read_text(encoding="utf-8"))
    for _, mistake in [BEN[lab]] + BEN_MORE.get(lab, []):
        assert f"known mistake — {mistake}:" in html


def test_quiz_feedback_explains_the_wrong_choice(graded):
    from grading.quizzes import load

    lab, course, _ = graded
    qid = ben_quiz_slip(lab)
    question = load(lab).question(qid)
    submitted = nbformat.read(SAMPLE / "submitted" / "ben" / lab / f"{lab.split('-')[0]}.ipynb", as_version=4)
    chosen = next(c.source for c in submitted.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"quiz_{qid}")
    letter = chosen.split("=")[1].strip().strip("'\"")
    html = unescape(next((course.path("feedback") / "ben" / lab).glob("*.html")).read_text(encoding="utf-8"))
    assert f"{qid}: your answer ({letter}) is not right." in html
    assert question.feedback[letter] in html and question.why in html
    ada = unescape(next((course.path("feedback") / "ada" / lab).glob("*.html")).read_text(encoding="utf-8"))
    assert "is not right" not in ada and f"✓ {qid}: correct" in ada
