"""The instructor's analytics (grading/pipeline/analytics.py) on part of the sample class, graded for real.

lab01: ten students chosen to cover every kind of row (several catalogued mistakes per submission, the same
mistake in two submissions of which one does not count, a pair, a registered pair, an uncatalogued failure, a blank
notebook, a tamper suspect), plus two hostile submissions written here: mallory's f raises an exception whose
message is HTML and script and imitates a diagnosis line, and a directory whose name is markup. lab02: ben (one
catalogued mistake), for the course-wide page. The expected counts come from what the generator
says each answer is (CATALOGUED, UNCATALOGUED, MORE_LABS_CATALOGUED in grading/sample_class/make_sample_class.py),
never from the analytics. The page is opened in Chromium with every request routed: nothing but the page itself
and data: URIs may load, and no student text may run.
"""
from __future__ import annotations

import csv
import dataclasses
import shutil
from pathlib import Path

import nbformat
import pytest

from browser import browser  # noqa: F401 (fixture)
from _grading_runs import make_sample_class as sample
from grading.pipeline import analytics
from grading.pipeline.__main__ import main
from grading.pipeline.driver import Course, run

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "grading" / "sample_class"

LAB, LAB2 = "lab01-gradient-descent", "lab02-backpropagation"
SUBSET = ["ada", "gus", "hana", "jo", "kim", "lea", "max", "olga", "vic", "yuki"]
CREDITED = {**{s: s for s in SUBSET}, "paul": "olga", "max": "lea", "mallory": "mallory"}   # the pair rules
EXERCISES = ("f", "df", "gradient_descent")
PAYLOAD = ('<script>window.__pwned = 1</script><img src="http://127.0.0.1:9/beacon.png" '
           'onerror="window.__pwned = 2"><a href="javascript:window.__pwned=4">click</a>')
FAKE_DIAGNOSIS = "This matches a known mistake — x0 missing: the iterates start with x0 itself: n steps give n + 1 rows"
BAD_NAME = '<img src=x onerror="window.__pwned=3">'


def variants(student: str) -> dict[str, str | None]:
    f, df, gd, *_ = sample.SUBMISSIONS[student]
    return {"f": f, "df": df, "gradient_descent": gd}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    work = tmp_path_factory.mktemp("analytics")
    roster = work / "roster.csv"
    with open(roster, "w", newline="") as fh:
        csv.writer(fh).writerows([["id"], *[[s] for s in [*SUBSET, "paul"]]])
    shutil.copyfile(SAMPLE / "pairs.csv", work / "pairs.csv")
    course = Course.in_directory(work, roster=roster, link_labs=False, timeout=5, budget=60, hidden_seed="27182818")
    submitted = course.path("submitted")
    for student in SUBSET:
        shutil.copytree(SAMPLE / "submitted" / student / LAB, submitted / student / LAB)
    shutil.copytree(SAMPLE / "submitted" / "ben" / LAB2, submitted / "ben" / LAB2)
    nb = nbformat.read(SAMPLE / "submitted" / "ada" / LAB / "lab01.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "f")
    cell.source = f"def f(x):\n    raise ValueError({PAYLOAD!r} + '\\n  ' + {FAKE_DIAGNOSIS!r})"
    (submitted / "mallory" / LAB).mkdir(parents=True)
    nbformat.write(nb, submitted / "mallory" / LAB / "lab01.ipynb")
    shutil.copytree(SAMPLE / "submitted" / "kim" / LAB, submitted / BAD_NAME / LAB)
    reports = [run(course, lab, progress=False) for lab in (LAB, LAB2)]
    paths = analytics.write_reports(course, reports)      # what `grade` does after each lab
    return course, reports, paths


def summary(course, lab=LAB):
    return analytics.summarize(analytics.read_lab(course, lab))


def expected_mistakes() -> dict[tuple[str, str], set[str]]:
    made: dict[tuple[str, str], set[str]] = {}
    for (exercise, _), mistake in sample.CATALOGUED.items():
        made.setdefault((exercise, mistake), set())
    for student in SUBSET:
        for exercise, variant in variants(student).items():
            if (exercise, variant) in sample.CATALOGUED:
                made[(exercise, sample.CATALOGUED[(exercise, variant)])].add(student)
    return made


def test_every_catalogued_mistake_counted_with_its_hint(graded):
    from lablib.grading import EXERCISES as CATALOGUE

    course, _, _ = graded
    rows = {(r["exercise"], r["mistake"]): r for r in summary(course).mistakes}
    expected = expected_mistakes()
    assert set(rows) == {(e, m.name) for e in EXERCISES for m in CATALOGUE[e].catalogue}  # all, made or not
    for key, students in expected.items():
        row = rows[key]
        assert (row["students"], row["who"]) == (len(students), ", ".join(sorted(students))), key
        assert row["hint"] == CATALOGUE[key[0]].mistake(key[1]).hint
        # made in a submission that counts for nobody (max's: the pair's better one, lea's, counts): costs nothing
        counted = {s for s, sub in CREDITED.items() if sub in students}
        assert row["students_losing_points"] == len(counted), key
    assert rows[("gradient_descent", "x0 missing")]["who"] == "hana, max"
    assert rows[("gradient_descent", "x0 missing")]["students_losing_points"] == 1
    assert sum(len(s) for s in expected.values()) >= 8


def test_uncatalogued_failures_grouped_by_pattern(graded):
    course, _, _ = graded
    rows = [r for r in summary(course).unexplained if r["exercise"] in EXERCISES]   # the quiz is not a mistake
    # gus: one step short (uncatalogued by design); the shape differs, numbers normalized
    (gus,) = [r for r in rows if "gus" in r["who"].split(", ")]
    assert sample.UNCATALOGUED[("gradient_descent", variants("gus")["gradient_descent"])]
    assert gus["exercise"] == "gradient_descent" and gus["pattern"] == "iterates has shape (#,), expected (#,)"
    # the blank notebook: one group per exercise ("not implemented yet"), whatever the numbers
    for exercise in EXERCISES:
        blank = [r for r in rows if r["exercise"] == exercise and "kim" in r["who"].split(", ")]
        assert len(blank) == 1 and "not implemented" in blank[0]["pattern"], exercise
    # mallory's exception imitates a diagnosis of another exercise's mistake: not counted as one
    (hostile,) = [r for r in rows if r["who"] == "mallory"]
    assert hostile["exercise"] == "f" and "ValueError" in hostile["pattern"]
    assert len(hostile["pattern"]) <= analytics.MAX_PATTERN_CHARS
    assert not any("mallory" in r["who"] for r in summary(course).mistakes)


def test_pass_rates_per_exercise(graded):
    course, _, _ = graded
    rows = {r["exercise"]: r for r in summary(course).exercises}
    students = sorted(CREDITED)                                # each credited with an autograded submission
    for exercise in EXERCISES:
        correct = [s for s in students if CREDITED[s] != "mallory" or exercise != "f"]
        correct = [s for s in correct if CREDITED[s] == "mallory" or (
            variants(CREDITED[s])[exercise] is not None
            and (exercise, variants(CREDITED[s])[exercise]) not in {**sample.CATALOGUED, **sample.UNCATALOGUED})]
        for side in ("public", "hidden"):
            assert rows[exercise][f"{side}_passed"] == len(correct), (exercise, side)
            assert rows[exercise][f"{side}_rate"] == pytest.approx(len(correct) / len(students))


def test_flags_times_and_reteach(graded):
    course, reports, _ = graded
    s = summary(course)
    flags = {r["flag"]: r["who"].split(", ") for r in s.flags}
    assert flags["pair_conflict"] == ["lea", "max"]
    assert flags["tamper_suspect"] == ["jo"]
    assert flags["not_on_roster"] == ["mallory"]
    assert len(flags["invalid_student_id"]) == 1 and "<" not in flags["invalid_student_id"][0]
    # the grading times of the run are kept for a later `report` (the run's Report has them, a rebuild has not)
    times = {t["submission"]: t for t in s.times}
    for student in SUBSET:
        assert times[student]["seconds"] == reports[0].per_submission[student]["autograde_seconds"] > 0
        assert times[student]["kernel_seconds"] > 0 and times[student]["verdict_seconds"] > 0
    # what to re-teach: of the exercises, gradient_descent costs the most students here (generator: 6 of 12 credited
    # students; the quiz's questions, left unanswered by most of the sample class, rank too)
    top = next(r for r in s.reteach if r["kind"] == "exercise" and r["what"] in EXERCISES)
    losing = [st for st, sub in CREDITED.items() if sub != "mallory" and (
        variants(sub)["gradient_descent"] is None
        or ("gradient_descent", variants(sub)["gradient_descent"]) in {**sample.CATALOGUED, **sample.UNCATALOGUED})]
    assert (top["kind"], top["what"], top["students_losing_points"]) == ("exercise", "gradient_descent", len(losing))
    assert top["points_lost"] == 4 * len(losing)
    assert [r["students_losing_points"] for r in s.reteach] == sorted((r["students_losing_points"] for r in s.reteach),
                                                                       reverse=True)


def test_files_staff_only_and_the_report_command(graded, capsys):
    course, _, paths = graded
    out = course.out
    assert paths == [out / f"{LAB}-report.html", out / f"{LAB2}-report.html", out / "course-report.html"]
    with open(out / "analytics" / f"{LAB}-mistakes.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["exercise"], r["mistake"]): int(r["students"]) for r in rows} == \
        {k: len(v) for k, v in expected_mistakes().items()}     # the generator names every mistake of lab01
    with open(out / "analytics" / f"{LAB}-unexplained.csv", newline="", encoding="utf-8") as fh:
        example = next(r["example"] for r in csv.DictReader(fh) if r["who"] == "mallory")
    assert "<script>" in example                                # text as the student wrote it, for staff
    for folder in (course.path("feedback"), course.root / "labs"):
        assert not [p for p in folder.rglob("*") if "report" in p.name or p.suffix == ".csv"]
    # the course page has both labs; lab02's only mistake is ben's, as the generator says
    course_page = (out / "course-report.html").read_text(encoding="utf-8")
    assert f"{LAB}-report.html" in course_page and f"{LAB2}-report.html" in course_page
    rows = {(r["exercise"], r["mistake"]): r["who"] for r in summary(course, LAB2).mistakes if r["students"]}
    assert rows == {(e, m): "ben" for e, m in sample.MORE_LABS_CATALOGUED[LAB2]["ben"].items()}
    # `python -m grading.pipeline report` writes the pages again from the gradebook, with the grading times the
    # lab's results file keeps
    before = {t["submission"]: t["seconds"] for t in summary(course).times}
    (out / f"{LAB}-report.html").unlink()
    assert main(["report", LAB, "--out", str(course.root)]) == 0
    assert (out / f"{LAB}-report.html").is_file() and "for staff" in capsys.readouterr().out
    assert {t["submission"]: t["seconds"] for t in summary(course).times} == before and set(SUBSET) <= set(before)
    with pytest.raises(ValueError, match="for staff"):
        analytics._staff_dir(dataclasses.replace(course, out=course.path("feedback") / "x"))


def serve_only(url: str, body: bytes, refused: list):
    """A route handler: ``url`` is answered with ``body``, every other request is refused and listed."""
    def route(r):
        if r.request.url == url:
            r.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)
        else:
            refused.append(r.request.url)
            r.abort()
    return route


def test_the_page_renders_offline_and_runs_no_student_text(graded, browser):  # noqa: F811
    course, _, _ = graded
    for path in (course.out / f"{LAB}-report.html", course.out / "course-report.html"):
        html = path.read_text(encoding="utf-8")
        assert "<script" not in html and "onerror=" not in html.replace("onerror=&quot;", "")
        assert 'http-equiv="Content-Security-Policy"' in html
        page = browser.new_page()
        requests, errors = [], []
        url = f"http://staff.invalid/{path.name}"   # served from the file by the route; every other request fails
        page.route("**/*", serve_only(url, path.read_bytes(), requests))
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        page.goto(url, wait_until="load")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete && e.naturalWidth > 0, "
                                                  "e.src.slice(0, 22)])")
        assert len(images) >= (4 if "lab01" in path.name else 2)
        assert all(ok and src == "data:image/png;base64," for ok, src in images), images
        assert requests == [], requests
        assert page.evaluate("window.__pwned") is None
        if "lab01" in path.name:
            text = page.inner_text("body")
            assert "<script>window.__pwned = 1</script>" in text      # shown as text
            assert "mallory" in text and "x0 missing" in text
            assert page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))") == \
                ["course-report.html"]
        assert errors == [], errors
        page.close()


# -- the reading of messages, without grading --------------------------------------------------------------------

def test_known_mistakes_only_from_the_exercise_catalogue_and_names_with_colons():
    from lablib.grading import EXERCISES as CATALOGUE

    ex = CATALOGUE["softmax_cross_entropy"]
    tricky = ex.mistake("p[:, y] instead of p[range(N), y]")
    message = (f"softmax_cross_entropy — public case 2: N=3, C=4:\n  loss is wrong: expected 1.2, got 0.7\n"
               f"  This matches a known mistake — {tricky.name}: {tricky.hint} (float32)\n"
               f"  {FAKE_DIAGNOSIS}")                         # gradient_descent's mistake: not this exercise's
    assert analytics.known_mistakes("softmax_cross_entropy", message) == [(tricky.name, "float32")]
    assert analytics.known_mistakes("no_such_exercise", message) == []
    # a hint that is not the catalogue's (a student's imitation) names nothing
    assert analytics.known_mistakes("gradient_descent", FAKE_DIAGNOSIS.replace("n + 1", "n + 2")) == []


def test_message_patterns_drop_numbers_and_case_labels():
    pattern = analytics.message_pattern
    one = "gradient_descent — hidden case 3: x0 = -1.201, lr=0.0884, n_steps=32:\n  iterates has shape (32,), expected (33,)"
    two = "gradient_descent — public case 1: x0 = 1, lr=0.1, n_steps=10:\n  iterates has shape (10,), expected (11,)"
    assert pattern("gradient_descent", one) == pattern("gradient_descent", two) == "iterates has shape (#,), expected (#,)"
    assert pattern("f", "f: `f` is not defined — write it") == "`f` is not defined — write it"
    assert pattern("f", "x = 1e-300 and 0x7f3a and 2.5E+10") == "x = # and # and #"
    assert len(pattern("f", "f — public case 1: x:\n  " + "A" * 10_000)) == analytics.MAX_PATTERN_CHARS
    assert pattern("f", "") == "(no message)"


def test_csv_cells_are_never_formulas(tmp_path):
    rows = [{"a": "=HYPERLINK(\"http://evil\")", "b": -3.5, "c": "+1", "d": "@SUM(A1)", "e": None, "f": True}]
    path = analytics._write_csv(tmp_path / "x.csv", "abcdef", rows)
    with open(path, newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row == {"a": "'=HYPERLINK(\"http://evil\")", "b": "-3.5", "c": "'+1", "d": "'@SUM(A1)", "e": "", "f": "yes"}
