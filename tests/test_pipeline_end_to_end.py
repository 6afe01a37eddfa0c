"""End to end: the sample class of lab01 through generate, autograde, feedback and export, in one process.

One pipeline run (module fixture, about a minute on 2 cores) is shared by every test. Expected scores come
from what each sample submission is designed to do (grading/sample_class/make_sample_class.py), whatever the
hidden seed: points are f 1+1, df 1+1, gradient_descent 2+2 (public + hidden), 2+2+2+4 for the written answers,
which waits for a human grader, and 1 per quiz question (7), marked by the grader against grading/quizzes/lab01.py.
"""
from __future__ import annotations

import csv
import dataclasses
import filecmp
import importlib.util
import re
import shutil
from html import unescape
from pathlib import Path

import nbformat
import pytest

from grading.pipeline.driver import Course, run
from _notebooks import assert_every_hidden_check_passed, assert_untouched_lab_says_not_implemented

REPO = Path(__file__).resolve().parents[1]

LAB = "lab01-gradient-descent"
SAMPLE = REPO / "grading" / "sample_class"
SEED = "31415926"
CORRECT = (2, 2, 4)
# student: ((f, df, gradient_descent) auto points, flags) -- by design of each submission
EXPECTED = {
    "ada": (CORRECT, {"needs_review"}),                                  # loop
    "ben": (CORRECT, {"needs_review"}),                                  # np.square, x + x, recursion + helpers
    "chen": (CORRECT, {"needs_review", "partner_unconfirmed"}),          # while loop that prints; nia claims chen
    "dana": (CORRECT, {"needs_review", "stderr_in_tests"}),              # logs to stderr, warns: no penalty
    "eli": ((0, 2, 4), {"needs_review"}),                                # f returns 2x
    "fay": ((2, 0, 4), {"needs_review"}),                                # df returns x**2
    "gus": ((2, 2, 0), {"needs_review"}),                                # one step short
    "hana": ((2, 2, 0), {"needs_review"}),                               # x0 missing
    "ivan": ((2, 2, 0), {"needs_review"}),                               # gradient ascent
    "jo": ((2, 2, 0), {"needs_review", "tamper_suspect"}),               # stops on |x|; prints the seed
    "kim": ((0, 0, 0), set()),                                           # blank: nothing to review
    "lea": (CORRECT, {"needs_review", "pair_conflict"}),                 # pair with max (both named each other) ...
    "max": (CORRECT, {"needs_review", "pair_conflict"}),                 # ... x0 missing: lea's better one counts
    "olga": (CORRECT, {"needs_review"}),                                 # pair with paul (pairs.csv), one submission
    "paul": (CORRECT, {"needs_review"}),                                 # credited with olga's
    "quentin": ((2, 2, 0), {"needs_review", "timeout"}),                 # infinite loop in gradient_descent
    "rosa": ((2, 2, 0), {"needs_review", "kernel_died", "sandbox_died", "tamper_suspect"}),  # os._exit in gd
    "sam": ((0, 2, 4), {"needs_review", "restored_cells"}),              # |x| and deleted f's tests
    "tara": ((2, 0, 4), {"needs_review", "restored_cells", "answer_matched_by_content", "tamper_suspect"}),
    "uma": (CORRECT, {"needs_review", "partner_unknown"}),               # PARTNER not on the roster
    "vic": ((0, 0, 0), {"needs_review"}),                                # x**2/2, df = x, tests |grad| late
    "xia": ((0, 2, 4), {"needs_review"}),                                # f sums the squares of an array
    "yan": (CORRECT, {"needs_review", "partner_unconfirmed"}),           # names wes, who did not confirm
    "nia": ((0, 0, 0), {"partner_unconfirmed"}),                         # blank, names chen (handed in later)
    "yuki": ((0, 0, 0), {"needs_review"}),                                # f, df, gd change their argument in place
    "yara": ((2, 2, 0), {"needs_review"}),                               # gd's rows share one array
    "yves": ((2, 2, 0), {"needs_review"}),                               # gd stops when ||grad|| == tol
    "wes": ((0, 0, 0), {"no_submission", "partner_unconfirmed"}),        # on the roster, handed nothing in
    "zed": ((0, 0, 0), {"failed_autograde", "not_a_notebook", "not_on_roster"}),  # not a notebook (added by the test)
}


# Quiz points by design (make_sample_class.QUIZ): ada answers all 7 right; ben q1, q3, q6 right, q2 and q4 wrong,
# q5 and q7 left unanswered; chen q2 and q7 right and q1 as a string (refused); everybody else leaves the quiz as
# released.
QUIZ_POINTS = {"ada": 7, "ben": 3, "chen": 2}
QUIZ_MAX = 7


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("sample_class")
    course = Course.in_directory(work, roster=SAMPLE / "roster.csv", pairs=SAMPLE / "pairs.csv", link_labs=False,
                                 timeout=5, budget=60, hidden_seed=SEED)
    shutil.copytree(SAMPLE / "submitted", course.path("submitted"))
    corrupt = course.path("submitted") / "zed" / LAB
    corrupt.mkdir(parents=True)
    (corrupt / "lab01.ipynb").write_text("{ this is not a notebook")
    report = run(course, LAB, progress=False)
    return course, report


def test_sample_class_is_what_its_script_generates(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample_class", SAMPLE / "make_sample_class.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    assert filecmp.cmp(tmp_path / "roster.csv", SAMPLE / "roster.csv", shallow=False)
    assert filecmp.cmp(tmp_path / "pairs.csv", SAMPLE / "pairs.csv", shallow=False)
    fresh = sorted(p.relative_to(tmp_path) for p in (tmp_path / "submitted").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(SAMPLE) for p in (SAMPLE / "submitted").rglob("*") if p.is_file())
    assert fresh == committed and len(committed) >= 24
    for name in fresh:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), \
            f"{name}: run python grading/sample_class/make_sample_class.py"


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_scores_and_flags(graded, student):
    _, report = graded
    (f, df, gd), flags = EXPECTED[student]
    row = report.row(student)
    assert (row["f"], row["df"], row["gradient_descent"]) == (f, df, gd), row["notes"]
    assert row["discussion"] == 0                           # manual: nobody has graded it yet
    quiz = sum(row[f"quiz_q{i}"] for i in range(1, QUIZ_MAX + 1))
    assert quiz == QUIZ_POINTS.get(student, 0), row["notes"]
    assert row["score"] == f + df + gd + quiz
    assert row["max_score"] == 18 + QUIZ_MAX                # + discussion_bowl 2, discussion_start 2, report 4
    assert set(filter(None, row["flags"].split(";"))) == flags, row["notes"]


def test_quiz_feedback_comes_after_grading_with_the_authored_explanation(graded):
    """ben's wrong q2 gets the feedback written for the option he chose and the explanation; his right q1 says
    correct; chen's q1 (a number in quotes) is refused with the reason. The released notebook says nothing of it."""
    from grading.quizzes import load

    course, _ = graded
    quiz = load(LAB)
    ben = unescape(next((course.path("feedback") / "ben" / LAB).glob("*.html")).read_text(encoding="utf-8"))
    assert "q2: your answer (c) is not right." in ben
    assert quiz.question("q2").feedback["c"] in ben and quiz.question("q2").why in ben
    assert "✓ q1: correct" in ben and "q5: not answered yet" in ben
    chen = unescape(next((course.path("feedback") / "chen" / LAB).glob("*.html")).read_text(encoding="utf-8"))
    assert "q1: expected a number (e.g. 0.25), got a string" in chen
    released = (REPO / "labs" / LAB / "lab01.ipynb").read_text(encoding="utf-8")
    assert quiz.question("q2").why not in released and quiz.question("q2").feedback["c"] not in released


def test_a_correct_submission_passes_every_hidden_check(graded):
    course, _ = graded
    assert_every_hidden_check_passed(course, LAB, "ada")


def test_the_untouched_lab_says_not_implemented(graded):
    course, _ = graded
    assert_untouched_lab_says_not_implemented(course, LAB, "kim")


def test_every_student_has_a_row_and_every_submission_a_time(graded):
    _, report = graded
    assert [r["student"] for r in report.rows] == sorted(EXPECTED)
    graded_ones = [s for s, d in report.per_submission.items() if d["success"]]
    assert sorted(graded_ones) == sorted(set(EXPECTED) - {"paul", "wes", "zed"})
    assert all(d["autograde_seconds"] > 0 for s, d in report.per_submission.items() if s != "zed")


def test_pairs(graded):
    _, report = graded
    # registered by the instructor (pairs.csv): olga's notebook counts for paul, who handed in nothing
    assert report.row("paul")["graded_submission"] == "olga" and report.row("olga")["partner"] == "paul"
    assert report.row("paul")["partner"] == "olga"
    # both named each other and both handed in: the better submission (lea's) counts for both, never the worse
    assert report.row("lea")["graded_submission"] == report.row("max")["graded_submission"] == "lea"
    assert "lea (8 points) and max (4 points)" in report.row("max")["notes"]
    # a one-sided claim changes nobody's grade: both are told how the instructor confirms a real pair
    assert report.row("chen")["graded_submission"] == "chen" and report.row("nia")["graded_submission"] == "nia"
    assert report.row("chen")["partner"] == report.row("nia")["partner"] == ""
    assert f"python -m grading.pipeline pair {LAB} nia chen" in report.row("chen")["notes"]
    assert report.row("wes")["graded_submission"] == "" and report.row("yan")["partner"] == ""
    assert f"python -m grading.pipeline pair {LAB} yan wes" in report.row("wes")["notes"]
    assert "JSONDecodeError" in report.row("zed")["notes"]              # the reason, not a generic summary
    assert report.row("uma")["partner"] == ""


def test_feedback_for_every_graded_student_and_both_members_of_a_pair(graded):
    course, _ = graded
    feedback = course.path("feedback")
    have = sorted(p.parent.parent.name for p in feedback.glob(f"*/{LAB}/lab01.html"))
    assert have == sorted(set(EXPECTED) - {"wes", "zed"})
    for member, submitter in (("paul", "olga"), ("max", "lea")):
        assert (feedback / member / LAB / "lab01.html").read_bytes() == \
            (feedback / submitter / LAB / "lab01.html").read_bytes()


def test_feedback_contains_no_hidden_test(graded):
    course, _ = graded
    autograded = (course.path("autograded") / "ivan" / LAB / "lab01.ipynb").read_text()
    assert "hidden=True" in autograded and "hidden case 1 failed" in autograded   # what must not leak exists
    assert not re.search(r"hidden case \d+:", autograded)  # the grader's own text has no hidden values (issue 11)
    for html in course.path("feedback").glob(f"*/{LAB}/*.html"):
        text = html.read_text(encoding="utf-8")
        assert "hidden=True" not in text and "HIDDEN TESTS" not in text, html
        assert not re.search(r"hidden case \d+:", text), html                # no hidden case values
    # jo prints the seed from the environment: student code never has it, so not even the grader's copy shows it
    assert "seed: None" in (course.path("autograded") / "jo" / LAB / "lab01.ipynb").read_text()
    assert not any(SEED in path.read_text(encoding="utf-8") for path in course.path("autograded").rglob("*.ipynb"))
    assert not any(SEED in html.read_text(encoding="utf-8") for html in course.path("feedback").rglob("*.html"))
    ivan = (course.path("feedback") / "ivan" / LAB / "lab01.html").read_text(encoding="utf-8")
    assert "hidden case 1 failed" in ivan and "gradient ascent" in ivan    # but which case, and the hint


# Which sample student makes each catalogued mistake of lab01 (by design of the submission).
MISTAKE_MADE_BY = {
    ("f", "derivative instead of f"): "eli",
    ("f", "half the square"): "vic",
    ("f", "sum of squares"): "xia",
    ("f", "absolute value"): "sam",
    ("df", "f instead of its derivative"): "fay",
    ("df", "missing factor 2"): "vic",
    ("df", "sign flipped"): "tara",
    ("gradient_descent", "stopping rule tests |x|"): "jo",
    ("gradient_descent", "x0 missing"): "hana",
    ("gradient_descent", "gradient ascent"): "ivan",
    ("gradient_descent", "stop test after the step"): "vic",
    ("f", "x squared in place"): "yuki",
    ("df", "x doubled in place"): "yuki",
    ("gradient_descent", "x0 updated in place"): "yuki",
    ("gradient_descent", "iterates share one array"): "yara",
    ("gradient_descent", "stops when ||grad|| equals tol"): "yves",
}


def test_every_catalogued_mistake_is_in_the_sample_class_and_named_in_its_feedback(graded):
    from lablib.grading import EXERCISES

    catalogue = {(name, mistake) for name in ("f", "df", "gradient_descent")
                 for mistake, _ in EXERCISES[name].mistakes}
    assert catalogue == set(MISTAKE_MADE_BY)
    course, _ = graded
    for (exercise, mistake), student in MISTAKE_MADE_BY.items():
        text = unescape((course.path("feedback") / student / LAB / "lab01.html").read_text(encoding="utf-8"))
        assert f"known mistake — {mistake}:" in text, (student, exercise, mistake)


def test_hardening_is_visible_in_the_feedback(graded):
    course, _ = graded
    feedback = course.path("feedback")
    for student, words in (("quentin", "timed out"), ("rosa", "kernel died"), ("sam", "restored"),
                           ("tara", "matched by its content")):
        assert words in (feedback / student / LAB / "lab01.html").read_text(encoding="utf-8"), student


def test_stderr_costs_nothing_and_the_test_cell_shows_the_graders_verdict(graded):
    course, report = graded
    nb = nbformat.read(course.path("autograded") / "dana" / LAB / "lab01.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_df")
    assert [o.output_type for o in cell.outputs] == ["stream"]          # the kernel's output was replaced
    assert cell.outputs[0].text.startswith("✓ df: 5 public checks passed")
    assert report.row("dana")["df"] == 2


def test_csv_and_plot(graded):
    _, report = graded
    with open(report.csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["student"] for r in rows] == sorted(EXPECTED)
    assert {"f", "df", "gradient_descent", "discussion", "score", "max_score", "flags", "notes",
            "autograde_seconds", "graded_submission", "partner"} <= set(rows[0])
    assert report.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tables(graded, capsys):
    from grading.pipeline.__main__ import print_report

    _, report = graded
    print_report(report, 1.0)
    out = capsys.readouterr().out
    assert "autograding time per submission" in out
    assert re.search(r"^gradient_descent\s+4\s+", out, re.M)
    # f, df, gd; 4 written answers: 0; 7 quiz questions (unanswered): 0; total 4
    assert re.search(r"^quentin\s+quentin\s+2\s+2\s+0\s+0\s+0\s+0\s+0(\s+0){7}\s+4\b", out, re.M)


def test_manual_grades_and_scores_above_the_maximum_are_published(graded, tmp_path):
    """What a grader does in formgrader (a manual score, a comment, extra credit) reaches the next publish."""
    from nbgrader.api import Gradebook

    from grading.pipeline.driver import publish

    course, _ = graded
    with Gradebook(course.gradebook_url()) as gb:
        for cell, points in (("discussion", 2.0), ("discussion_bowl", 2.0), ("discussion_start", 2.0), ("report", 4.0)):
            grade = gb.find_grade(cell, "lab01", LAB, "olga")
            grade.manual_score, grade.needs_manual_grade = points, False
        gb.find_comment("discussion", "lab01", LAB, "olga").manual_comment = "Well argued from the closed form."
        gb.find_grade("test_f", "lab01", LAB, "olga").extra_credit = 8.0
        gb.db.commit()
    again = publish(dataclasses.replace(course, out=tmp_path), LAB, progress=False)
    for student in ("olga", "paul"):                         # the pair shares grade and feedback
        row = again.row(student)
        assert row["discussion"] == 2 and row["report"] == 4 and row["f"] == 10
        assert row["score"] == 26 > row["max_score"] == 18 + QUIZ_MAX  # 8 automatic + 8 extra + 10 written, no quiz
        assert set(row["flags"].split(";")) == {"above_max"}
        html = (course.path("feedback") / student / LAB / "lab01.html").read_text(encoding="utf-8")
        assert "Well argued from the closed form." in html
    assert again.row("ada")["flags"] == "needs_review"


def test_a_failure_in_one_submission_is_flagged_and_leaves_the_others_graded(graded, tmp_path):
    """A copy of the graded course where nbgrader cannot write ben's autograded folder, chen's feedback folder
    is a file and dana's autograded notebook is corrupt: each gets its own flag, the others their grades, and
    the CSV is written. The same publish applies a pair the instructor confirmed in one step (yan's claim on
    wes). Formgrader's raw Autograde of a submission is refused before anything is copied."""
    from grading.pipeline.driver import _api, autograde, import_roster, publish, results_on_disk
    from grading.pipeline.export import build
    from grading.pipeline.pairs import register_pair

    course, _ = graded
    work = tmp_path / "course"
    shutil.copytree(course.root, work, symlinks=True)
    shutil.copyfile(SAMPLE / "pairs.csv", work / "pairs.csv")
    copy = dataclasses.replace(course, root=work, db_url=f"sqlite:///{work / 'gradebook.db'}", out=work / "output",
                               pairs=work / "pairs.csv")
    report = build(copy, LAB, import_roster(copy), results_on_disk(copy, LAB))    # as graded (and hand-graded)
    register_pair(copy.pairs, LAB, "yan", "wes")       # what `python -m grading.pipeline pair LAB yan wes` adds
    shutil.rmtree(copy.path("autograded") / "ben")
    (copy.path("autograded") / "ben").write_text("not a folder")
    shutil.rmtree(copy.path("feedback") / "chen" / LAB)
    (copy.path("feedback") / "chen" / LAB).write_text("not a folder")
    (copy.path("autograded") / "dana" / LAB / "lab01.ipynb").write_text("{ corrupt")
    results = results_on_disk(copy, LAB) | autograde(copy, LAB, students=["ada", "ben"], progress=False)
    assert results["ada"]["success"] and results["ben"]["flags"] == ["autograde_error"]
    again = publish(copy, LAB, results, progress=False)
    flags = {r["student"]: set(r["flags"].split(";")) for r in again.rows}
    assert {"failed_autograde", "autograde_error"} <= flags["ben"] and again.row("ben")["score"] == 0
    assert "feedback_error" in flags["chen"] and again.row("chen")["score"] == report.row("chen")["score"]
    assert {"failed_autograde", "export_error"} <= flags["dana"]
    for student in set(EXPECTED) - {"ben", "dana", "wes"}:
        assert again.row(student)["score"] == report.row(student)["score"], student
    assert again.csv_path.is_file() and len(again.rows) == len(EXPECTED)
    assert again.row("wes")["graded_submission"] == "yan" and again.row("wes")["score"] == report.row("yan")["score"]
    assert "partner_unconfirmed" not in flags["wes"] | flags["yan"] and again.row("yan")["partner"] == "wes"
    assert (copy.path("feedback") / "wes" / LAB / "lab01.html").read_bytes() == \
        (copy.path("feedback") / "yan" / LAB / "lab01.html").read_bytes()

    secret = copy.path("submitted") / "ada" / LAB / "seed"
    secret.symlink_to(REPO / "grading" / ".secrets" / "hidden_seed")
    raw = _api(copy).autograde(LAB, "ada", force=True, create=True)       # what formgrader's button does
    assert not raw["success"] and "python -m grading.pipeline grade" in raw.get("log", "") + raw.get("error", "")
    assert not (copy.path("autograded") / "ada" / LAB).exists()


def test_an_error_inside_the_pipeline_is_caught_for_that_submission(graded, monkeypatch):
    from grading.pipeline import driver

    def broken(*args, **kwargs):
        raise MemoryError("the intake ran out of memory")

    monkeypatch.setattr(driver, "take", broken)
    result = driver.autograde_one(graded[0], LAB, "ada", api=object())
    assert result["flags"] == ["autograde_error"] and "MemoryError" in result["error"] and not result["success"]
