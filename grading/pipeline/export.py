"""Export: grades from the gradebook, credited per student (pairs), flagged, as CSV, tables and a plot.

One row per student (roster and submitters). Exercise columns add up the grade cells of an exercise (the
public and hidden test cells ``test_<name>`` / ``test_<name>_hidden`` belong to ``<name>``; a manually graded
answer is its own exercise). ``flags`` (';'-separated) marks what needs a look:

    failed_autograde  no automatic grade (the score is 0, not a grade): the intake refused the submission or
                      autograding failed; a more specific flag says which:
      invalid_student_id, symlink, not_a_regular_file, hard_link, too_large, too_many_files, not_a_notebook,
      too_many_cells, notebook_missing   refused by the intake (intake.py; the reason is in ``notes``)
      autograde_error   nbgrader or the pipeline failed on it (the first error named is in ``notes``)
    feedback_error    its feedback could not be written (the grade stands)
    export_error      its grades could not be read back for the export (score 0 until fixed)
    oversized_cell, bad_timestamp, notebook_renamed   the intake dropped a cell's text or the timestamp, or
                      graded a notebook under another name; anything else it did not read is in ``notes``
    needs_review      a manually graded answer is waiting for a grader (formgrader), or a grade needs review
    above_max         score above the maximum (extra credit or a manual grade above the points)
    no_submission     nothing counts for this student
    not_on_roster     the submitter is not on the roster
    partner_unknown   the PARTNER named is not another student on the roster
    partner_unconfirmed  a PARTNER claim the other side did not confirm (pairs.py): each is graded on their own
    pair_conflict     an agreed pair handed in two submissions with different scores (the better counts for
                      both), or the pairs file is contradictory
    timeout, kernel_died, budget_exceeded, restored_cells, answer_matched_by_content, answer_missing,
    stderr_in_tests   what happened while autograding (details in ``notes`` and at the top of the feedback)
    unconfirmed_pass  a test cell passed in the student's kernel but not in the grader's own check (0 points)
    kernel_disagrees  a test cell failed in the kernel but passed the grader's own check (the check counts)
    sandbox_died, protocol_error   the grader's sandboxed run of the student's code died or sent garbage
    too_many_restarts the grader's run died or hung too often; what was left is not checked (0 points)
    copied_reference  a function ran a copy of lablib's reference: no points for that exercise (grading/README.md)
    verdict_timeout, verdict_error   the grader's own check of the notebook did not finish or failed: no points
                      for its check cells, the other submissions are graded as usual
    tamper_suspect    the static tamper report found suspicious code (output/tamper/<lab>/<student>-*.md);
                      a flag for a person to look at, never a verdict
"""
from __future__ import annotations

import contextlib
import csv
import functools
import json
import re
import threading
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .names import valid_student_id

from .pairs import Credit, Submission, assign_credit, read_pairs
from .preprocessors import METADATA_KEY

MAX_AUTOGRADED_BYTES = 256 << 20   # an autograded notebook larger than this is not read back (export_error)


def prepare_gradebook() -> None:
    """Before using nbgrader's gradebook: a new gradebook gets its migration revision from ``alembic_head`` (in
    this process) instead of nbgrader's ``alembic heads`` subprocess, every ``Gradebook`` of a database uses this
    process's one engine for it (``shared_engine``), a ``Gradebook`` of a database ``tables_made`` vouches for does
    not check its tables again, and SQLAlchemy 2's autoflush warnings, which say nothing about the grades, are
    silenced."""
    import nbgrader.api
    from sqlalchemy.exc import SAWarning

    nbgrader.api.get_alembic_version = alembic_head
    nbgrader.api.create_engine = shared_engine
    if nbgrader.api.Gradebook.__init__ is not _gradebook_init:
        global _NBGRADER_INIT
        _NBGRADER_INIT = nbgrader.api.Gradebook.__init__
        nbgrader.api.Gradebook.__init__ = _gradebook_init
    warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session", category=SAWarning)


_ENGINES: dict = {}      # (url, options) -> engine, the most recently used last
_ENGINES_LOCK = threading.Lock()
MAX_ENGINES = 8          # a grading worker opens a new private gradebook per submission: the older ones go


def shared_engine(url, **options):
    """nbgrader's ``create_engine`` for its ``Gradebook``: one engine per database and process. Grading a submission
    opens the gradebook about 13 times, and a new engine compiles every query again; a shared one keeps its compiled
    statements. ``Gradebook.close`` still disposes of it (its connections are closed; it makes new ones when used
    again), so nothing stays open on a database that is gone."""
    from sqlalchemy import create_engine

    key = (str(url), tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _ENGINES_LOCK:
        engine = _ENGINES.pop(key, None)
        if engine is None:
            engine = create_engine(url, **options)
            _share_sqlite_compiled(engine, key[1])
        _ENGINES[key] = engine
        while len(_ENGINES) > MAX_ENGINES:
            _ENGINES.pop(next(iter(_ENGINES))).dispose()
    return engine


_SQLITE_DIALECTS: dict = {}  # engine options -> (dialect, compiled statements) of this process's SQLite files


def _share_sqlite_compiled(engine, options_key) -> None:
    """A new engine on an SQLite file compiles nothing its process compiled before for another SQLite file: it
    takes the dialect and the compiled-statement cache of the first one (SQLAlchemy keys that cache by dialect
    object). A grading worker's private gradebook is a new file per submission, and compiling nbgrader's queries
    for it again was a tenth of the worker's CPU. Safe because an SQLite dialect holds nothing of its database:
    what it learns on its first connection (the SQLite library's version and options) is the process's."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query:
        return
    shared = _SQLITE_DIALECTS.get(options_key)
    if shared is None:
        try:
            with engine.connect():   # the dialect learns what it needs of the library (SQLAlchemy does this once)
                pass
        except Exception:  # noqa: BLE001 — no such directory, ...: the Gradebook opening it says so itself
            return
        _SQLITE_DIALECTS[options_key] = (engine.dialect, engine._compiled_cache)
    elif type(shared[0]) is type(engine.dialect):
        engine.dialect, engine._compiled_cache = shared


_TABLES_MADE: dict[str, int] = {}   # gradebook URL -> how many open ``tables_made`` vouch for its tables
_NBGRADER_INIT = None


@contextlib.contextmanager
def tables_made(url: str):
    """While open: ``Gradebook(url)`` skips nbgrader's check that the database has every table (a table listing,
    then one query per table), made about 13 times per submission. Only for a database whose tables are there and
    stay there while this is open: a grading task's private gradebook (parallel.grade_task), made by the task,
    read and written by it alone, removed after it."""
    url = str(url)
    _TABLES_MADE[url] = _TABLES_MADE.get(url, 0) + 1
    try:
        yield
    finally:
        _TABLES_MADE[url] -= 1
        if not _TABLES_MADE[url]:
            del _TABLES_MADE[url]


def _gradebook_init(self, db_url, course_id="default_course", authenticator=None):
    """nbgrader's ``Gradebook.__init__``, without the table check for a database ``tables_made`` vouches for."""
    import nbgrader.api
    from sqlalchemy.orm import scoped_session, sessionmaker

    if str(db_url) not in _TABLES_MADE:
        return _NBGRADER_INIT(self, db_url, course_id=course_id, authenticator=authenticator)
    self.engine = nbgrader.api.create_engine(db_url, echo=False, future=True)
    self.db = scoped_session(sessionmaker(autoflush=True, bind=self.engine, future=True))
    self.check_course(course_id=course_id)
    self.course_id = course_id
    self.authenticator = authenticator


def submission_rows(gb, kind: str, lab: str, student: str) -> dict:
    """{"notebook/cell": row}: the gradebook's grade (``kind`` "grade") or comment rows of one submission, read in
    two queries instead of one ``find_grade``/``find_comment`` per cell; a cell name is looked up as those do
    (a grade or solution cell of that name first, then a task cell). The cells come along, so a row's ``cell``
    (``Grade.max_score``) costs no query."""
    from nbgrader.api import (Assignment, Comment, Grade, GradeCell, Notebook, SolutionCell, Student,
                              SubmittedAssignment, SubmittedNotebook, TaskCell)

    model, first = (Grade, GradeCell) if kind == "grade" else (Comment, SolutionCell)
    rows = {}
    for cells in (TaskCell, first):   # the first kind of cell overwrites a task cell of the same name
        query = (gb.db.query(model, Notebook.name, cells)
                 .join(cells, cells.id == model.cell_id)
                 .join(SubmittedNotebook, SubmittedNotebook.id == model.notebook_id)
                 .join(Notebook, Notebook.id == SubmittedNotebook.notebook_id)
                 .join(SubmittedAssignment, SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                 .join(Assignment, Assignment.id == SubmittedAssignment.assignment_id)
                 .join(Student, Student.id == SubmittedAssignment.student_id)
                 .filter(Assignment.name == lab, Student.id == student))
        rows.update({f"{notebook}/{cell.name}": row for row, notebook, cell in query})
    return rows


def entry(rows: dict, kind: str, key: str, lab: str, student: str):
    """``rows[key]``; nbgrader's MissingEntry, as its finders raise it, for a cell the gradebook does not have."""
    from nbgrader.api import MissingEntry

    if key not in rows:
        raise MissingEntry(f"No such {kind}: {lab}/{key} for {student}")
    return rows[key]


@functools.cache
def alembic_head() -> str:
    """The head revision of nbgrader's gradebook migrations, which nbgrader stamps on every new gradebook. nbgrader
    asks the ``alembic heads`` script, a Python start-up of about 3 s per gradebook (and the script must be on
    PATH); the same answer, read here from the same migration scripts, takes a fraction of a second."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def failure_reason(log: str) -> str:
    """': <the first exception named in nbgrader's log>' (not nbgrader's generic summary), or ''."""
    for line in log.splitlines():
        match = re.match(r"\s*([\w.]*(Error|Exception|Exit)\b:.*)", line)
        if match and "NbGraderException" not in match.group(1):
            return f": {match.group(1).strip()[:200]}"
    return ""


def exercise_of(grade_id: str) -> str:
    return re.sub(r"_hidden$", "", re.sub(r"^test_", "", grade_id))


@dataclass
class Report:
    lab: str
    exercises: dict[str, float]                 # exercise -> points
    max_score: float
    rows: list[dict]                            # one per student, see COLUMNS
    submissions: dict[str, Submission]
    per_submission: dict[str, dict] = field(default_factory=dict)
    credits: dict[str, Credit] = field(default_factory=dict)
    csv_path: Path | None = None
    plot_path: Path | None = None

    def row(self, student: str) -> dict:
        return next(r for r in self.rows if r["student"] == student)

    def flag(self, student: str, flag: str, note: str) -> None:
        """Add a flag and a note to a student's row (before ``write``)."""
        row = self.row(student)
        flags = list(filter(None, row["flags"].split(";")))
        row["flags"] = ";".join(dict.fromkeys([*flags, flag]))
        row["notes"] = " | ".join(filter(None, [row["notes"], note]))

    def write(self, out: Path) -> None:
        """The CSV (one row per student) and the grade distribution's plot into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.csv_path = out / f"{self.lab}-grades.csv"
        with open(self.csv_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(self.rows[0]) if self.rows else ["student"])
            writer.writeheader()
            writer.writerows({k: _fmt(v) for k, v in r.items()} for r in self.rows)
        self.plot_path = plot_distribution(self, out / f"{self.lab}-grade-distribution.png")

    def student_table(self) -> str:
        cols = ["student", "graded_submission", *self.exercises, "score", "autograde_seconds", "flags"]
        head = {c: c for c in cols} | {e: f"{e} /{_fmt(p)}" for e, p in self.exercises.items()}
        head["score"] = f"score /{_fmt(self.max_score)}"
        cells = [[head[c] for c in cols]] + [[_fmt(r[c]) for c in cols] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])

    def exercise_table(self) -> str:
        graded = [d for d in self.per_submission.values() if d["success"]]
        lines = [f"{'exercise':<20}{'points':>8}{'mean':>8}{'full marks':>12}", "-" * 48]
        for name, points in self.exercises.items():
            scores = [d["exercises"][name] for d in graded]
            mean = sum(scores) / len(scores) if scores else 0.0
            full = sum(abs(s - points) < 1e-9 for s in scores)
            lines.append(f"{name:<20}{_fmt(points):>8}{mean:>8.2f}{f'{full}/{len(scores)}':>12}")
        return "\n".join(lines)


SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """``text`` for a CSV cell that a spreadsheet opens: one that would start a formula (a student's partner claim,
    a message quoted in the notes) gets a leading apostrophe, so it is shown as text and never evaluated."""
    return "'" + text if text.startswith(SPREADSHEET_FORMULA) else text


def _fmt(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return "" if value is None else spreadsheet_text(str(value))


def _notebook_info(course, lab: str, student: str) -> dict:
    info = {"flags": [], "notes": [], "execution_seconds": None, "intake": None}
    for path in sorted((course.path("autograded") / student / lab).glob("*.ipynb")):
        if path.is_symlink() or path.stat().st_size > MAX_AUTOGRADED_BYTES:
            raise ValueError(f"{path.name} is not a file of the grader's or larger than {MAX_AUTOGRADED_BYTES:,} bytes")
        md = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(METADATA_KEY, {})
        info["flags"] += [f for f in md.get("flags", []) if f not in info["flags"]]
        info["notes"] += md.get("notes", [])
        info["intake"] = md.get("intake") or info["intake"]
        if md.get("tamper"):
            report = Path(course.out) / "tamper" / lab / f"{student}-{path.stem}.md"
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(f"# Tamper report: {student}, {lab}/{path.name}\n\n{md['tamper']}", encoding="utf-8")
            info["notes"].append(f"static tamper report (a flag, not a verdict): {report}")
        if md.get("execution_seconds") is not None:
            info["execution_seconds"] = (info["execution_seconds"] or 0) + md["execution_seconds"]
    return info


def _submission_data(gb, course, lab: str, student: str, result: dict, exercises: dict) -> tuple[dict, Submission]:
    """One submission's grades, flags, notes and pair facts (the intake's record travels in the autograded
    notebook; a refused submission has only the intake's result)."""
    from nbgrader.api import MissingEntry
    from nbgrader.utils import parse_utc

    intake = result.get("intake") or {}
    data = {"success": result["success"], "exercises": dict.fromkeys(exercises, 0.0), "score": 0.0,
            "needs_manual_grade": False, "autograde_seconds": result["seconds"], "execution_seconds": None,
            "flags": [*intake.get("flags", []), *result.get("flags", [])], "notes": list(intake.get("notes", []))}
    timestamp = intake.get("timestamp") or None
    if result["success"]:
        info = _notebook_info(course, lab, student)
        recorded = info.pop("intake") or {}
        data.update(info, flags=[*dict.fromkeys([*recorded.get("flags", []), *info["flags"],
                                                 *result.get("flags", [])])])
        intake = recorded or intake
        try:
            sub = gb.find_submission(lab, student)
        except MissingEntry:
            data["success"] = False
            data["flags"].append("export_error")
            data["notes"].append("autograded, but the gradebook has no submission")
        else:
            data["score"], data["needs_manual_grade"] = float(sub.score), bool(sub.needs_manual_grade)
            timestamp = parse_utc(sub.timestamp).isoformat() if sub.timestamp else None
            for nb in sub.notebooks:
                for grade in nb.grades:
                    data["exercises"][exercise_of(grade.name)] += float(grade.score)
    elif intake.get("notebook"):
        data["notes"].append("autograding failed" + failure_reason(result.get("error") or ""))
    if not data["success"]:
        data["flags"].append("failed_autograde")
    if result.get("feedback_error"):
        data["flags"].append("feedback_error")
        data["notes"].append("feedback could not be generated" + failure_reason(result["feedback_error"]))
    data["flags"] = list(dict.fromkeys(data["flags"]))
    submission = Submission(student, datetime.fromisoformat(timestamp) if timestamp else None,
                            intake.get("partner", ""), data["score"], data["success"])
    return data, submission


def collect(course, lab: str, results: dict) -> tuple[dict, float, dict, dict]:
    """Per-submission grades, flags and partners from the gradebook and the autograded notebooks; a submission
    whose data cannot be read is flagged ``export_error`` (the others are not affected)."""
    from nbgrader.api import Gradebook

    prepare_gradebook()
    exercises: dict[str, float] = {}
    per_submission: dict[str, dict] = {}
    submissions: dict[str, Submission] = {}
    with Gradebook(course.gradebook_url()) as gb:
        assignment = gb.find_assignment(lab)
        for notebook in assignment.notebooks:
            for cell in notebook.grade_cells:
                exercises[exercise_of(cell.name)] = exercises.get(exercise_of(cell.name), 0.0) + cell.max_score
        max_score = float(assignment.max_score)
        for student, result in results.items():
            try:
                data, sub = _submission_data(gb, course, lab, student, result, exercises)
            except Exception as exc:  # one unreadable submission never stops the export of the others
                gb.db.rollback()
                data = {"success": False, "exercises": dict.fromkeys(exercises, 0.0), "score": 0.0,
                        "needs_manual_grade": False, "autograde_seconds": result.get("seconds"),
                        "execution_seconds": None, "flags": ["failed_autograde", "export_error"],
                        "notes": [f"its grades could not be read for the export ({type(exc).__name__}: "
                                  f"{str(exc)[:200]})"]}
                sub = Submission(student, None, "", 0.0, False)
            per_submission[student], submissions[student] = data, sub
    return exercises, max_score, per_submission, submissions


def build(course, lab: str, roster: dict, results: dict) -> Report:
    """The report: one row per student of the roster and per submission, pairs credited (pairs.py)."""
    exercises, max_score, per_submission, submissions = collect(course, lab, results)
    credits = assign_credit(submissions, roster, read_pairs(course.pairs, lab), lab)
    rows = []
    for student in sorted(credits):
        credit = credits[student]
        flags: list[str] = []
        row = {"student": student, "lab": lab, "graded_submission": credit.submission or "",
               "partner": credit.partner, "submitted_at": "", **dict.fromkeys(exercises, 0.0), "score": 0.0,
               "max_score": max_score, "autograde_seconds": None, "flags": "", "notes": ""}
        notes: list[str] = []
        if student not in roster and student in submissions and valid_student_id(student):
            flags.append("not_on_roster")
        if credit.submission is None:
            flags.append("no_submission")
        else:
            data, sub = per_submission[credit.submission], submissions[credit.submission]
            row.update(data["exercises"], score=data["score"], autograde_seconds=data["autograde_seconds"],
                       submitted_at=sub.timestamp.isoformat() if sub.timestamp else "")
            flags += ["needs_review"] if data["needs_manual_grade"] else []
            flags += ["above_max"] if data["score"] > max_score + 1e-9 else []
            flags += data["flags"]
            notes += data["notes"]
            if credit.submission != student:
                notes.append(f"credited with the pair submission of {credit.submission}")
        if student in submissions and credit.submission != student:  # their own, which does not count
            flags += [f for f in per_submission[student]["flags"] if f not in flags]
            notes += [f"own submission: {note}" for note in per_submission[student]["notes"]]
        flags += credit.flags
        notes += credit.notes
        row["flags"], row["notes"] = ";".join(dict.fromkeys(flags)), " | ".join(notes)
        rows.append(row)
    return Report(lab, exercises, max_score, rows, submissions, per_submission, credits)


def export(course, lab: str, roster: dict, results: dict) -> Report:
    """``build`` and write the CSV and the plot into ``course.out``."""
    report = build(course, lab, roster, results)
    report.write(course.out)
    return report


def plot_distribution(report: Report, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scores = [r["score"] for r in report.rows if r["graded_submission"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = [b - 0.5 for b in range(int(report.max_score) + 2)]
    ax.hist(scores, bins=bins, color="#4c72b0", edgecolor="white")
    pending = sum("needs_review" in r["flags"].split(";") for r in report.rows)
    ax.set(xlabel=f"score (out of {_fmt(report.max_score)})", ylabel="students",
           title=f"{report.lab}: {len(scores)} students" + (f", {pending} awaiting manual grading" if pending else ""))
    ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
