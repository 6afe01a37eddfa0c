"""Analytics for the instructor: what the class got wrong, per lab and course-wide (staff only).

After grading, ``<out>/<lab>-report.html`` and ``<out>/course-report.html`` (``out`` is the course's output
directory, ``Course.out``: grading/output, or ``<work>/output`` for a work directory such as the demo's), with the
tables as CSV in ``<out>/analytics/``. Written by ``python -m grading.pipeline grade/publish/demo`` after the
export, and again by ``python -m grading.pipeline report [LAB ...]``. Never in feedback/ or labs/ (``_staff_dir``).

What a lab's page says, all counted over **students** (each student once, through the submission credited to
them: a pair's submission counts for both partners, the worse submission of a pair for nobody) unless a column
says *submissions*:

* per exercise: the share of students whose public and hidden test cells passed (the grader's own verdicts,
  verdict.py), and the points the class lost on it;
* per catalogued mistake (``lablib.grading.exercises``: each exercise's ``catalogue``): how many students the
  diagnosis named it for, in a public or hidden check, and the hint they were shown;
* failed checks that no catalogued mistake explains, grouped by their message pattern (the first line saying
  what differs, numbers replaced by ``#``, the student's own text cut to 160 characters);
* flags (timeouts, tamper suspects, pair conflicts, what the intake refused, ...), from the export's rows;
* grading time per submission (``grading_times``; see there where it is kept);
* "what to re-teach": exercises, catalogued mistakes and uncatalogued patterns ranked by the number of students
  they cost points, then by the points lost.

Everything a student wrote (exception messages in failed checks, notes, directory names) is hostile: the page is
built from ``html.escape``-d text and ``html_safety.page`` (a no-script Content-Security-Policy, no external
resource: the plots are PNG ``data:`` URIs), and every CSV cell that a spreadsheet would read as a formula is
prefixed with ``'``. A student can write text that imitates a diagnosis line; only names of the exercise's own
catalogue are counted, and the counts never change a grade.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .export import MAX_AUTOGRADED_BYTES, Report, exercise_of, prepare_gradebook, spreadsheet_text
from .journal import journal_path, read_journal
from .names import valid_student_id

MISTAKE_LINE = "This matches a known mistake — "
MAX_PATTERN_CHARS = 160
MAX_MESSAGE_CHARS = 600

# -- what grading left: one record per graded submission --------------------------------------------------------


@dataclass
class CellResult:
    """One autograded test cell of one submission."""

    grade_id: str
    exercise: str              # exercise_of(grade_id): test_<name>[_hidden] belongs to <name>
    hidden: bool
    points: float              # in the gradebook (a manual override counts)
    max_points: float
    passed: bool               # the grader's verdict (verdict.py): no error output
    message: str               # the verdict's failure message ('' when passed)


@dataclass
class SubmissionRecord:
    submission: str            # the submitter's id (or the export's label of an invalid name)
    students: list[str]        # the students credited with it (a pair: both; none when a partner's counts)
    graded: bool               # autograded (else the intake refused it or autograding failed)
    score: float
    cells: list[CellResult] = field(default_factory=list)
    manual: dict = field(default_factory=dict)   # manually graded exercise -> points (None: not graded yet)
    seconds: float | None = None           # autograding, whole (intake, kernel, verdicts, nbgrader), wall clock
    kernel_seconds: float | None = None    # the notebook's run in its kernel (GradingExecute)
    verdict_seconds: float | None = None   # the trusted verdicts (verdict.py; overlaps the kernel's run)

    @property
    def authors(self) -> list[str]:
        """The students credited with it and its submitter."""
        return sorted({*self.students, *([self.submission] if valid_student_id(self.submission) else [])})


@dataclass
class LabData:
    lab: str
    report: Report
    records: dict[str, SubmissionRecord]   # submission -> record
    tests: dict[str, dict]                 # exercise -> {"public": points, "hidden": points} of its test cells
    manual: dict[str, float]               # manually graded exercise -> points


def read_lab(course, lab: str, report: Report | None = None) -> LabData:
    """Everything the analytics use, read from what grading left (the one place that reads it).

    ``report``: the export's Report of the run that just graded (with its autograding times); without it the
    export is rebuilt from the gradebook and the course's folders (``driver.results_on_disk``). Per submission:
    the gradebook's points per grade cell, the grader's verdict text of each test cell (the autograded
    notebook's outputs, written by TrustedVerdict), the kernel's and the verdicts' seconds (its grading metadata)
    and the autograding time (``grading_times``)."""
    from nbgrader.api import Gradebook, MissingEntry

    from .driver import import_roster, results_on_disk
    from .export import build
    from .preprocessors import METADATA_KEY

    if report is None:
        if lab not in gradebook_labs(course):
            raise ValueError(f"{lab} is not in the gradebook {course.gradebook_url()}: grade it first")
        report = build(course, lab, import_roster(course), results_on_disk(course, lab))
    credited = defaultdict(list)
    for student, credit in sorted(report.credits.items()):
        if credit.submission:
            credited[credit.submission].append(student)
    tests: dict[str, dict] = {}
    manual: dict[str, float] = {}
    records: dict[str, SubmissionRecord] = {}
    prepare_gradebook()
    with Gradebook(course.gradebook_url()) as gb:
        kinds = {}
        for notebook in gb.find_assignment(lab).notebooks:
            for cell in notebook.grade_cells:
                name = exercise_of(cell.name)
                if cell.cell_type == "code" and cell.name.startswith("test_"):
                    side = "hidden" if cell.name.endswith("_hidden") else "public"
                    tests.setdefault(name, {"public": 0.0, "hidden": 0.0})[side] += cell.max_score
                else:
                    manual[name] = manual.get(name, 0.0) + cell.max_score
                kinds[cell.name] = cell.cell_type == "code" and cell.name.startswith("test_")
        times = grading_times(course, lab, report)
        for submission, data in report.per_submission.items():
            record = SubmissionRecord(submission, credited.get(submission, []), bool(data["success"]),
                                      float(data["score"]), seconds=times.get(submission, {}).get("seconds"))
            records[submission] = record
            if not record.graded:
                continue
            try:
                sub = gb.find_submission(lab, submission)
            except MissingEntry:
                record.graded = False
                continue
            verdicts = {}
            for path in sorted((course.path("autograded") / submission / lab).glob("*.ipynb")):
                if path.is_symlink() or path.stat().st_size > MAX_AUTOGRADED_BYTES:
                    continue
                nb = json.loads(path.read_text(encoding="utf-8"))
                verdicts.update(_test_cell_verdicts(nb))
                md = nb.get("metadata", {}).get(METADATA_KEY, {})
                for key, attr in (("execution_seconds", "kernel_seconds"), ("verdict_seconds", "verdict_seconds")):
                    if isinstance(md.get(key), (int, float)):
                        setattr(record, attr, (getattr(record, attr) or 0.0) + float(md[key]))
            for nb in sub.notebooks:
                for grade in nb.grades:
                    name = exercise_of(grade.name)
                    if not kinds.get(grade.name):
                        record.manual[name] = None if grade.needs_manual_grade else \
                            (record.manual.get(name) or 0.0) + float(grade.score)
                        continue
                    passed, message = verdicts.get(grade.name, (grade.score >= grade.max_score, ""))
                    record.cells.append(CellResult(grade.name, name, grade.name.endswith("_hidden"),
                                                   float(grade.score), float(grade.max_score), passed, message))
    return LabData(lab, report, records, tests, manual)


def _test_cell_verdicts(nb: dict) -> dict[str, tuple[bool, str]]:
    """grade_id -> (passed, failure message) of each autograded test cell of a notebook (as JSON)."""
    found = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell.get("metadata"), dict) else {}
        if cell.get("cell_type") != "code" or not isinstance(meta, dict) or not meta.get("grade") \
                or meta.get("solution") or not isinstance(meta.get("grade_id"), str):
            continue
        errors = [o for o in cell.get("outputs", []) if isinstance(o, dict) and o.get("output_type") == "error"]
        message = "" if not errors else str(errors[0].get("evalue") or errors[0].get("ename") or "error")
        found[meta["grade_id"]] = (not errors, message[:20_000])
    return found




def grading_times(course, lab: str, report: Report | None) -> dict[str, dict]:
    """submission -> {"seconds": autograding wall time}, from the lab's results file (journal.py: the coordinator
    records each submission's time as it stores it, so a later ``publish`` or ``report`` still knows it); the
    times in ``report`` fill in what the file lacks."""
    times = {student: {"seconds": float(record["seconds"])}
             for student, record in read_journal(journal_path(course.out, lab)).items()
             if isinstance(record.get("seconds"), (int, float))}
    for submission, data in (report.per_submission if report else {}).items():
        if submission not in times and isinstance(data.get("autograde_seconds"), (int, float)):
            times[submission] = {"seconds": float(data["autograde_seconds"])}
    return times


# -- what the records say -------------------------------------------------------------------------------------


def known_mistakes(exercise: str, message: str) -> list[tuple[str, str]]:
    """The catalogued mistakes a failure message names, as (name, label of the variant or ''): only names of the
    exercise's own catalogue (a student's text imitating a diagnosis line names nothing unknown)."""
    from lablib.grading import EXERCISES

    ex = EXERCISES.get(exercise)
    if ex is None:
        return []
    found = []
    for line in message.splitlines():
        line = line.strip()
        if not line.startswith(MISTAKE_LINE):
            continue
        rest = line[len(MISTAKE_LINE):]
        for mistake in sorted(ex.catalogue, key=lambda m: -len(m.name)):
            if rest.startswith(f"{mistake.name}: {mistake.hint}"):
                tail = rest[len(mistake.name) + 2 + len(mistake.hint):].strip()
                label = tail[1:-1] if tail.startswith("(") and tail.endswith(")") else ""
                if (mistake.name, label) not in found:
                    found.append((mistake.name, label))
                break
    return found


_CASE_HEADER = re.compile(r"^\S+ — (public|hidden) case \d+\b.*:$")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(0x[0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)")


def message_pattern(exercise: str, message: str) -> str:
    """The pattern of a failure message that names no catalogued mistake: the line saying what differs (after
    ``<exercise> — <public|hidden> case N: <label>:``, else the message's first line without the exercise's
    name), numbers as ``#``, spaces collapsed, at most ``MAX_PATTERN_CHARS`` characters."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return "(no message)"
    line = lines[1] if _CASE_HEADER.match(lines[0]) and len(lines) > 1 else lines[0]
    for prefix in (f"{exercise} — ", f"{exercise}: "):
        if line.startswith(prefix):
            line = line[len(prefix):]
    line = " ".join(_NUMBER.sub("#", line).split())
    return line if len(line) <= MAX_PATTERN_CHARS else line[:MAX_PATTERN_CHARS - 1] + "…"


@dataclass
class LabSummary:
    """The tables of a lab's page (``summarize``); every count is of students unless named ``submissions``."""

    lab: str
    students: int                       # on the roster or handing in
    graded_students: int                # credited with an autograded submission
    graded_submissions: int
    max_score: float
    scores: list[float]                 # per graded student
    exercises: list[dict]
    mistakes: list[dict]
    unexplained: list[dict]
    flags: list[dict]
    times: list[dict]
    reteach: list[dict]
    manual: list[dict]


def _students_of(records, submissions) -> list[str]:
    """The students credited with any of ``submissions``."""
    return sorted({s for sub in submissions for s in records[sub].students})


def _authors(records, submissions) -> list[str]:
    """Who wrote ``submissions``: the students credited with each, and its submitter (whose own submission may
    not count, e.g. the worse one of a pair)."""
    return sorted({s for sub in submissions for s in records[sub].authors})


def summarize(data: LabData) -> LabSummary:
    from lablib.grading import EXERCISES

    records = data.records
    made = {s: r for s, r in records.items() if r.graded}           # every autograded submission: who made what
    graded = {s: r for s, r in made.items() if r.students}         # those that count for someone
    students = sorted({s for r in graded.values() for s in r.students})
    by_exercise: dict[str, dict] = {}
    for name, points in data.tests.items():
        row = {"exercise": name, "points": points["public"] + points["hidden"], "students": len(students)}
        for side in ("public", "hidden"):
            cells = [(r, [c for c in r.cells if c.exercise == name and c.hidden == (side == "hidden")])
                     for r in graded.values()]
            passing = [s for r, cs in cells if cs and all(c.passed for c in cs) for s in r.students]
            with_cell = [s for r, cs in cells if cs for s in r.students]
            row[f"{side}_passed"] = len(passing)
            row[f"{side}_rate"] = len(passing) / len(with_cell) if with_cell else None
        lost = {r.submission: sum(c.max_points - c.points for c in r.cells if c.exercise == name) for r in graded.values()}
        row["students_losing_points"] = sum(len(graded[s].students) for s, v in lost.items() if v > 1e-9)
        row["points_lost"] = sum(v * len(graded[s].students) for s, v in lost.items())
        by_exercise[name] = row

    # catalogued mistakes: every one of the lab's exercises, made or not
    mistakes: dict[tuple[str, str], dict] = {}
    for name in data.tests:
        ex = EXERCISES.get(name)
        for m in (ex.catalogue if ex else ()):
            mistakes[(name, m.name)] = {"exercise": name, "mistake": m.name, "hint": m.hint, "labels": set(),
                                        "public": set(), "hidden": set(), "lost": {}}
    unexplained: dict[tuple[str, str], dict] = {}
    for record in made.values():
        for cell in sorted(record.cells, key=lambda c: c.hidden):   # public checks first
            if cell.passed:
                continue
            named = known_mistakes(cell.exercise, cell.message)
            lost = cell.max_points - cell.points
            for mistake, label in named:
                entry = mistakes[(cell.exercise, mistake)]
                entry["public" if not cell.hidden else "hidden"].add(record.submission)
                entry["lost"][record.submission] = entry["lost"].get(record.submission, 0.0) + lost
                if label:
                    entry["labels"].add(label)
            if not named:
                # a hidden check's text is generic (facts only, no student values): a submission that failed the
                # public check of the exercise too is counted under the public message's pattern
                key = next((k for k, e in unexplained.items() if cell.hidden and k[0] == cell.exercise
                            and record.submission in e["public"]),
                           (cell.exercise, message_pattern(cell.exercise, cell.message)))
                entry = unexplained.setdefault(key, {"exercise": key[0], "pattern": key[1], "public": set(),
                                                     "hidden": set(), "lost": {}, "example": cell.message})
                entry["public" if not cell.hidden else "hidden"].add(record.submission)
                entry["lost"][record.submission] = entry["lost"].get(record.submission, 0.0) + lost

    def counted(entry: dict, kind: str) -> dict:
        subs = entry["public"] | entry["hidden"]
        costly = [s for s, v in entry["lost"].items() if v > 1e-9]
        return {"kind": kind, "exercise": entry["exercise"], "students": len(_authors(made, subs)),
                "submissions": len(subs), "public_students": len(_authors(made, entry["public"])),
                "hidden_students": len(_authors(made, entry["hidden"])),
                "students_losing_points": len(_students_of(made, costly)),
                "points_lost": sum(v * len(made[s].students) for s, v in entry["lost"].items()),
                "who": ", ".join(_authors(made, subs))}

    mistake_rows = [{**counted(e, "catalogued mistake"), "mistake": e["mistake"], "hint": e["hint"],
                     "variants": "; ".join(sorted(e["labels"]))} for e in mistakes.values()]
    mistake_rows.sort(key=lambda r: (-r["students"], r["exercise"], r["mistake"]))
    unexplained_rows = [{**counted(e, "uncatalogued failure"), "pattern": e["pattern"],
                         "example": _cut(e["example"], MAX_MESSAGE_CHARS)} for e in unexplained.values()]
    unexplained_rows.sort(key=lambda r: (-r["students"], r["exercise"], r["pattern"]))

    flags: dict[str, list[str]] = defaultdict(list)
    for row in data.report.rows:
        for flag in filter(None, row["flags"].split(";")):
            flags[flag].append(row["student"])
    flag_rows = [{"flag": f, "students": len(who), "who": ", ".join(who), "meaning": FLAG_MEANING.get(f, "")}
                 for f, who in sorted(flags.items(), key=lambda kv: (-len(kv[1]), kv[0]))]

    time_rows = [{"submission": r.submission, "seconds": r.seconds, "kernel_seconds": r.kernel_seconds,
                  "verdict_seconds": r.verdict_seconds, "graded": r.graded}
                 for r in sorted(records.values(), key=lambda r: (-(r.seconds or 0.0), -(r.kernel_seconds or 0.0)))]

    reteach = [{"kind": "exercise", "what": row["exercise"], "exercise": row["exercise"],
                "students_losing_points": row["students_losing_points"], "points_lost": row["points_lost"]}
               for row in by_exercise.values()]
    reteach += [{"kind": r["kind"], "what": r.get("mistake") or r.get("pattern"), "exercise": r["exercise"],
                 "students_losing_points": r["students_losing_points"], "points_lost": r["points_lost"]}
                for r in [*mistake_rows, *unexplained_rows]]
    reteach = [r for r in reteach if r["students_losing_points"]]
    reteach.sort(key=lambda r: (-r["students_losing_points"], -r["points_lost"], r["kind"] != "exercise", r["what"]))

    manual_rows = []
    for name, points in data.manual.items():
        values = [(r.manual.get(name), r.students) for r in graded.values()]
        done = [v for v, _ in values if v is not None]
        manual_rows.append({"exercise": name, "points": points, "graded": len(done),
                            "waiting": sum(v is None for v, _ in values),
                            "mean": statistics.fmean(done) if done else None})

    scores = [graded[s].score for s in graded for _ in graded[s].students]
    return LabSummary(data.lab, len(data.report.rows), len(students), len(graded), data.report.max_score, scores,
                      list(by_exercise.values()), mistake_rows, unexplained_rows, flag_rows, time_rows, reteach,
                      manual_rows)


FLAG_MEANING = {
    "timeout": "a cell or a call of the student's function ran out of time",
    "kernel_died": "the kernel died (os._exit, crash, out of memory)",
    "sandbox_died": "the grader's sandboxed run of the student's code died",
    "tamper_suspect": "static tamper report found suspicious code (a flag, not a verdict)",
    "pair_conflict": "an agreed pair handed in two submissions with different scores",
    "partner_unconfirmed": "a PARTNER claim the other side did not confirm",
    "partner_unknown": "the PARTNER named is not on the roster",
    "unconfirmed_pass": "passed in the kernel, failed the grader's own check",
    "failed_autograde": "no automatic grade (refused by the intake or autograding failed)",
    "needs_review": "a manually graded answer waits for a grader",
    "no_submission": "nothing counts for this student",
    "not_on_roster": "the submitter is not on the roster",
    "restored_cells": "cells of the lab were missing or changed and were restored",
    "answer_matched_by_content": "an answer cell was found by its content (its metadata was changed)",
    "stderr_in_tests": "a test cell wrote to stderr without an error (no penalty)",
    "kernel_disagrees": "failed in the kernel, passed the grader's own check (the check counts)",
    "budget_exceeded": "the notebook's time budget was used up",
    "above_max": "score above the maximum",
    "feedback_error": "the feedback could not be written (the grade stands)",
    "export_error": "the grades could not be read back (score 0 until fixed)",
    "autograde_error": "nbgrader or the pipeline failed on the submission",
    "unsafe_content": "outputs or markdown not shown to graders and students (HTML, scripts)",
}


def _cut(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


# -- writing --------------------------------------------------------------------------------------------------


def _staff_dir(course) -> Path:
    """``<out>/analytics``, refused inside the feedback or release directories (which students see)."""
    out = Path(course.out).resolve()
    cd = course.config().CourseDirectory
    for public in (course.path("feedback"), Path(course.root) / cd.release_directory):
        public = Path(public).resolve()
        if out == public or public in out.parents:
            raise ValueError(f"the analytics are for staff: the output directory {out} is inside {public}")
    return out / "analytics"




def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int,)):
        return str(value)
    return spreadsheet_text(str(value))


def _write_csv(path: Path, columns, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return path


CSV_TABLES = {
    "exercises": ("exercise", "points", "students", "public_passed", "public_rate", "hidden_passed", "hidden_rate",
                  "students_losing_points", "points_lost"),
    "mistakes": ("exercise", "mistake", "students", "submissions", "public_students", "hidden_students",
                 "students_losing_points", "points_lost", "hint", "variants", "who"),
    "unexplained": ("exercise", "pattern", "students", "submissions", "public_students", "hidden_students",
                    "students_losing_points", "points_lost", "who", "example"),
    "flags": ("flag", "students", "who", "meaning"),
    "times": ("submission", "graded", "seconds", "kernel_seconds", "verdict_seconds"),
    "reteach": ("kind", "exercise", "what", "students_losing_points", "points_lost"),
}


def write_lab_report(course, lab: str, report: Report | None = None) -> Path:
    """``<out>/<lab>-report.html`` and the CSV tables ``<out>/analytics/<lab>-<table>.csv``; returns the page."""
    summary = summarize(read_lab(course, lab, report))
    staff = _staff_dir(course)
    for table, columns in CSV_TABLES.items():
        _write_csv(staff / f"{lab}-{table}.csv", columns, getattr(summary, table))
    path = Path(course.out).resolve() / f"{lab}-report.html"
    path.write_text(lab_page(summary), encoding="utf-8")
    return path


def gradebook_labs(course) -> list[str]:
    from nbgrader.api import Gradebook

    prepare_gradebook()
    with Gradebook(course.gradebook_url()) as gb:
        return sorted(a.name for a in gb.assignments)


def graded_labs(course) -> list[str]:
    """The labs of the gradebook with an autograded folder (sorted)."""
    autograded = course.path("autograded")
    return [lab for lab in gradebook_labs(course) if any(autograded.glob(f"*/{glob_escape(lab)}"))]


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def write_course_report(course, fresh: dict[str, Report] | None = None) -> Path:
    """``<out>/course-report.html`` and ``<out>/analytics/course-*.csv`` over every graded lab; ``fresh``: the
    Reports of labs graded in this run (the others are read back from the gradebook)."""
    fresh = fresh or {}
    summaries = [summarize(read_lab(course, lab, fresh.get(lab))) for lab in sorted(set(graded_labs(course)) | set(fresh))]
    labs = [_lab_overview(s) for s in summaries]
    reteach = [{"lab": s.lab, **r} for s in summaries for r in s.reteach]
    reteach.sort(key=lambda r: (-r["students_losing_points"], -r["points_lost"], r["lab"], r["what"]))
    staff = _staff_dir(course)
    _write_csv(staff / "course-labs.csv", COURSE_COLUMNS, labs)
    _write_csv(staff / "course-reteach.csv", ("lab", *CSV_TABLES["reteach"]), reteach)
    path = Path(course.out).resolve() / "course-report.html"
    path.write_text(course_page(summaries, labs, reteach), encoding="utf-8")
    return path


def write_reports(course, reports: list[Report] | None = None, labs: list[str] | None = None) -> list[Path]:
    """The pages of ``reports``' labs (this run's) and of ``labs`` (read back), then the course page."""
    reports = reports or []
    paths = [write_lab_report(course, r.lab, r) for r in reports]
    paths += [write_lab_report(course, lab) for lab in labs or [] if lab not in {r.lab for r in reports}]
    paths.append(write_course_report(course, {r.lab: r for r in reports}))
    return paths


COURSE_COLUMNS = ("lab", "students", "graded_students", "mean_score", "max_score", "public_rate", "hidden_rate",
                  "flagged_students", "median_seconds", "top_reteach")


def _lab_overview(s: LabSummary) -> dict:
    def rate(side):
        rates = [e[f"{side}_rate"] for e in s.exercises if e[f"{side}_rate"] is not None]
        return statistics.fmean(rates) if rates else None

    seconds = [t["seconds"] for t in s.times if t["seconds"] is not None]
    flagged = {w for f in s.flags if f["flag"] not in ("needs_review",) for w in f["who"].split(", ") if w}
    return {"lab": s.lab, "students": s.students, "graded_students": s.graded_students,
            "mean_score": statistics.fmean(s.scores) if s.scores else None, "max_score": s.max_score,
            "public_rate": rate("public"), "hidden_rate": rate("hidden"), "flagged_students": len(flagged),
            "median_seconds": statistics.median(seconds) if seconds else None,
            "top_reteach": "; ".join(f"{r['exercise']}: {r['what']}" if r["kind"] != "exercise" else r["what"]
                                     for r in s.reteach[:3])}


# -- plots (PNG data: URIs) -----------------------------------------------------------------------------------


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain(text: str) -> str:
    """Text for a matplotlib label: no mathtext."""
    return str(text).replace("$", r"\$")


def plot_pass_rates(s: LabSummary) -> str | None:
    if not s.exercises:
        return None
    plt = _plt()
    names = [e["exercise"] for e in s.exercises]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
    y = range(len(names))
    for offset, side, color in ((-0.2, "public", "#4c72b0"), (0.2, "hidden", "#dd8452")):
        ax.barh([i + offset for i in y], [100 * (e[f"{side}_rate"] or 0.0) for e in s.exercises], height=0.4,
                color=color, label=f"{side} checks")
    ax.set_yticks(list(y), [_plain(n) for n in names])
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="% of graded students passing", title=f"{s.lab}: pass rates")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def plot_ranking(rows: list[dict], key: str, title: str, label, limit: int = 15) -> str | None:
    """A horizontal bar per row with ``row[key]`` students (the first ``limit`` rows with any)."""
    rows = [r for r in rows if r[key]][:limit]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(rows) + 1.2))
    ax.barh(range(len(rows)), [r[key] for r in rows], color="#c44e52")
    ax.set_yticks(range(len(rows)), [_plain(_cut(label(r), 60)) for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set(xlabel="students", title=title)
    return _png(fig)


def plot_times(s: LabSummary) -> str | None:
    seconds = [t["seconds"] for t in s.times if t["seconds"] is not None]
    if not seconds:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(seconds, bins=min(30, max(5, len(seconds) // 2)), color="#55a868", edgecolor="white")
    ax.set(xlabel="autograding time per submission (s)", ylabel="submissions", title=f"{s.lab}: grading time")
    return _png(fig)


def plot_scores(s: LabSummary) -> str | None:
    if not s.scores:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(s.scores, bins=[b - 0.5 for b in range(int(s.max_score) + 2)], color="#4c72b0", edgecolor="white")
    ax.set(xlabel=f"score (out of {s.max_score:g})", ylabel="students", title=f"{s.lab}: scores")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def plot_course(labs: list[dict]) -> str | None:
    if not labs:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labs) + 1.4))
    y = range(len(labs))
    series = (("mean score", lambda r: r["mean_score"] / r["max_score"] if r["mean_score"] is not None and
               r["max_score"] else 0.0, "#4c72b0"),
              ("public checks passed", lambda r: r["public_rate"] or 0.0, "#55a868"),
              ("hidden checks passed", lambda r: r["hidden_rate"] or 0.0, "#dd8452"))
    for k, (name, value, color) in enumerate(series):
        ax.barh([i + (k - 1) * 0.27 for i in y], [100 * value(r) for r in labs], height=0.27, color=color, label=name)
    ax.set_yticks(list(y), [_plain(r["lab"]) for r in labs], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="%", title="the course, lab by lab")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


# -- pages ----------------------------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 78em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.zero td { color: #999; } .note { color: #555; font-size: 0.9em; } code, pre { font-size: 0.85em; }
pre { white-space: pre-wrap; max-width: 60em; margin: 0; } img { max-width: 100%; }
.staff { background: #fff3cd; padding: 0.4em 0.8em; border: 1px solid #e0c36a; }
"""


def _e(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return html.escape(str(value), quote=True)


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _table(columns: list[tuple[str, str]], rows: list[dict], *, numeric=(), pre=(), formats=None, zero=None) -> str:
    """An HTML table of ``rows`` (every value escaped); ``columns``: (key, heading)."""
    formats = formats or {}
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            text = formats[key](value) if key in formats else _e(value)
            if key in pre:
                text = f"<pre>{_e(value)}</pre>"
            cells.append(f'<td class="n">{text}</td>' if key in numeric else f"<td>{text}</td>")
        cls = ' class="zero"' if zero and zero(row) else ""
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    if not body:
        return '<p class="note">(none)</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _img(uri: str | None, alt: str) -> str:
    return "" if uri is None else f'<p><img src="{uri}" alt="{html.escape(alt)}"></p>'


STAFF_NOTE = ('<p class="staff">For staff only: names students and quotes what their code printed. Not for '
              "feedback/ or labs/.</p>")


def lab_page(s: LabSummary) -> str:
    seconds = [t["seconds"] for t in s.times if t["seconds"] is not None]
    timing = "no autograding times known (graded before the analytics kept them)" if not seconds else (
        f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s, total {sum(seconds):.0f} s over "
        f"{len(seconds)} submissions")
    mean = statistics.fmean(s.scores) if s.scores else None
    parts = [
        f"<h1>{_e(s.lab)}: what the class got wrong</h1>", STAFF_NOTE,
        f"<p>{s.students} students; {s.graded_students} credited with an autograded submission "
        f"({s.graded_submissions} submissions); mean score {_e(mean)} of {_e(s.max_score)}. Generated "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Tables as CSV: <code>analytics/{_e(s.lab)}-*.csv</code>. "
        '<a href="course-report.html">The course page</a>.</p>',
        "<h2>What to re-teach</h2>",
        '<p class="note">Exercises, catalogued mistakes and uncatalogued failures, ranked by how many students they '
        "cost points, then by the points lost (a pair's points count for both partners).</p>",
        _table([("kind", "kind"), ("exercise", "exercise"), ("what", "what"),
                ("students_losing_points", "students losing points"), ("points_lost", "points lost")],
               s.reteach[:25], numeric=("students_losing_points", "points_lost")),
        "<h2>Per exercise</h2>", _img(plot_pass_rates(s), "pass rates per exercise"),
        _table([("exercise", "exercise"), ("points", "points"), ("public_rate", "public checks passed"),
                ("hidden_rate", "hidden checks passed"), ("students_losing_points", "students losing points"),
                ("points_lost", "points lost")], s.exercises,
               numeric=("points", "public_rate", "hidden_rate", "students_losing_points", "points_lost"),
               formats={"public_rate": _pct, "hidden_rate": _pct}),
        _table([("exercise", "manually graded"), ("points", "points"), ("graded", "graded"),
                ("waiting", "waiting for a grader"), ("mean", "mean points")], s.manual,
               numeric=("points", "graded", "waiting", "mean")) if s.manual else "",
        _img(plot_scores(s), "score distribution"),
        "<h2>Catalogued mistakes</h2>",
        '<p class="note">Named by the check engine when the mistake\'s implementation reproduces the student\'s '
        "output on every quantity of a case; the hint is what the student was shown. Greyed: nobody made it.</p>",
        _img(plot_ranking(s.mistakes, "students", f"{s.lab}: catalogued mistakes", lambda r: f"{r['exercise']}: {r['mistake']}"),
             "catalogued mistakes"),
        _table([("exercise", "exercise"), ("mistake", "mistake"), ("students", "students"),
                ("public_students", "in public checks"), ("hidden_students", "in hidden checks"),
                ("students_losing_points", "losing points"), ("hint", "hint shown"), ("variants", "variant"),
                ("who", "students")], s.mistakes,
               numeric=("students", "public_students", "hidden_students", "students_losing_points"),
               zero=lambda r: not r["students"]),
        "<h2>Failures no catalogued mistake explains</h2>",
        '<p class="note">Grouped by the line that says what differs, numbers as #. The example is one student\'s '
        "message, shown as text. A frequent pattern is a candidate for the catalogue.</p>",
        _table([("exercise", "exercise"), ("pattern", "pattern"), ("students", "students"),
                ("public_students", "in public checks"), ("hidden_students", "in hidden checks"),
                ("who", "students"), ("example", "example")], s.unexplained,
               numeric=("students", "public_students", "hidden_students"), pre=("example",)),
        "<h2>Flags</h2>",
        _table([("flag", "flag"), ("students", "students"), ("meaning", "meaning"), ("who", "who")], s.flags,
               numeric=("students",)),
        "<h2>Grading time</h2>", f"<p>{_e(timing)}. Kernel: the notebook's run; verdicts: the grader's own checks, "
                                 "which run at the same time.</p>",
        _img(plot_times(s), "grading time per submission"),
        _table([("submission", "submission"), ("seconds", "autograding s"), ("kernel_seconds", "kernel s"),
                ("verdict_seconds", "verdicts s"), ("graded", "graded")], s.times[:10],
               numeric=("seconds", "kernel_seconds", "verdict_seconds"),
               formats={"graded": lambda v: "yes" if v else "no"}),
        '<p class="note">The 10 slowest; all in the CSV.</p>',
    ]
    from .html_safety import page

    return page(f"{s.lab}: grading report", "\n".join(parts), css=CSS)


def course_page(summaries: list[LabSummary], labs: list[dict], reteach: list[dict]) -> str:
    from .html_safety import page

    links = "".join(f'<li><a href="{_e(s.lab)}-report.html">{_e(s.lab)}</a></li>' for s in summaries)
    parts = [
        "<h1>The course: what to re-teach</h1>", STAFF_NOTE,
        f"<p>{len(summaries)} graded labs. Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Tables as "
        "CSV: <code>analytics/course-*.csv</code>.</p>", f"<ul>{links}</ul>",
        _img(plot_course(labs), "the course, lab by lab"),
        _table([("lab", "lab"), ("students", "students"), ("graded_students", "graded"), ("mean_score", "mean score"),
                ("max_score", "of"), ("public_rate", "public checks passed"), ("hidden_rate", "hidden checks passed"),
                ("flagged_students", "flagged students"), ("median_seconds", "median s per submission"),
                ("top_reteach", "top to re-teach")], labs,
               numeric=("students", "graded_students", "mean_score", "max_score", "public_rate", "hidden_rate",
                        "flagged_students", "median_seconds"), formats={"public_rate": _pct, "hidden_rate": _pct}),
        '<p class="note">Pass rates: the mean over the lab\'s exercises of the share of graded students passing.</p>',
        "<h2>What to re-teach, across the course</h2>",
        _img(plot_ranking(reteach, "students_losing_points", "costliest across the course",
                          lambda r: f"{r['lab'].split('-')[0]} {r['what']}" if r["kind"] == "exercise" else
                          f"{r['lab'].split('-')[0]} {r['exercise']}: {r['what']}"), "what to re-teach"),
        _table([("lab", "lab"), ("kind", "kind"), ("exercise", "exercise"), ("what", "what"),
                ("students_losing_points", "students losing points"), ("points_lost", "points lost")], reteach[:40],
               numeric=("students_losing_points", "points_lost")),
    ]
    return page("The course: grading report", "\n".join(parts), css=CSS)
