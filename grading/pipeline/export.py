"""Export: grades from the gradebook, credited per student (pairs), flagged, as CSV, tables and a plot.

One row per student (roster and submitters). Exercise columns add up the grade cells of an exercise (the
public and hidden test cells ``test_<name>`` / ``test_<name>_hidden`` belong to ``<name>``; a manually graded
answer is its own exercise). ``flags`` (';'-separated) marks what needs a look:

    failed_autograde  nbgrader could not grade the submission (score unreliable)
    needs_review      a manually graded answer is waiting for a grader (formgrader), or a grade needs review
    above_max         score above the maximum (extra credit or a manual grade above the points)
    no_submission     nothing counts for this student
    not_on_roster     the submitter is not on the roster
    partner_unknown   the PARTNER named is not on the roster (or is the submitter)
    pair_conflict     more than one submission could count for this student (the latest counts)
    timeout, kernel_died, budget_exceeded, restored_cells, answer_matched_by_content, answer_missing,
    stderr_in_tests   what happened while autograding (details in ``notes`` and at the top of the feedback)
    unconfirmed_pass  a test cell passed in the student's kernel but not in the grader's own check (0 points)
    kernel_disagrees  a test cell failed in the kernel but passed the grader's own check (the check counts)
    sandbox_died, protocol_error   the grader's sandboxed run of the student's code died or sent garbage
    tamper_suspect    the static tamper report found suspicious code (output/tamper/<lab>/<student>-*.md);
                      a flag for a person to look at, never a verdict
"""
from __future__ import annotations

import csv
import functools
import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .pairs import Submission, assign_credit, read_partner
from .preprocessors import METADATA_KEY


def prepare_gradebook() -> None:
    """Before using nbgrader's gradebook: a new gradebook gets its migration revision from ``alembic_head`` (in
    this process) instead of nbgrader's ``alembic heads`` subprocess, and SQLAlchemy 2's autoflush warnings, which
    say nothing about the grades, are silenced."""
    import nbgrader.api
    from sqlalchemy.exc import SAWarning

    nbgrader.api.get_alembic_version = alembic_head
    warnings.filterwarnings("ignore", message=r"Object of type <\w+> not in session", category=SAWarning)


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
    csv_path: Path | None = None
    plot_path: Path | None = None

    def row(self, student: str) -> dict:
        return next(r for r in self.rows if r["student"] == student)

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


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


def _notebook_info(course, lab: str, student: str) -> dict:
    info = {"flags": [], "notes": [], "execution_seconds": None}
    for path in sorted((course.path("autograded") / student / lab).glob("*.ipynb")):
        md = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get(METADATA_KEY, {})
        info["flags"] += [f for f in md.get("flags", []) if f not in info["flags"]]
        info["notes"] += md.get("notes", [])
        if md.get("tamper"):
            report = Path(course.out) / "tamper" / lab / f"{student}-{path.stem}.md"
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(f"# Tamper report: {student}, {lab}/{path.name}\n\n{md['tamper']}", encoding="utf-8")
            info["notes"].append(f"static tamper report (a flag, not a verdict): {report}")
        if md.get("execution_seconds") is not None:
            info["execution_seconds"] = (info["execution_seconds"] or 0) + md["execution_seconds"]
    return info


def collect(course, lab: str, results: dict) -> tuple[dict, float, dict, dict]:
    """Per-submission grades, flags and partners from the gradebook and the autograded notebooks."""
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.utils import parse_utc

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
            data = {"success": result["success"], "exercises": dict.fromkeys(exercises, 0.0), "score": 0.0,
                    "needs_manual_grade": False, "autograde_seconds": result["seconds"],
                    **_notebook_info(course, lab, student)}
            if not result["success"]:
                data["notes"].append("autograding failed" + failure_reason(result.get("error") or ""))
            timestamp = None
            try:
                sub = gb.find_submission(lab, student)
                data["score"], data["needs_manual_grade"] = float(sub.score), bool(sub.needs_manual_grade)
                timestamp = parse_utc(sub.timestamp) if sub.timestamp else None
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        data["exercises"][exercise_of(grade.name)] += float(grade.score)
            except MissingEntry:
                data["success"] = False
            if result.get("feedback_error"):
                data["notes"].append("feedback could not be generated")
            per_submission[student] = data
            notebooks = sorted((course.path("submitted") / student / lab).glob("*.ipynb"))
            partner = read_partner(notebooks[0]) if notebooks else ""
            submissions[student] = Submission(student, timestamp, partner)
    return exercises, max_score, per_submission, submissions


def export(course, lab: str, roster: dict, results: dict) -> Report:
    exercises, max_score, per_submission, submissions = collect(course, lab, results)
    credits = assign_credit(submissions, roster)
    rows = []
    for student in sorted(credits):
        credit = credits[student]
        flags: list[str] = []
        row = {"student": student, "lab": lab, "graded_submission": credit.submission or "",
               "partner": "", "submitted_at": "", **dict.fromkeys(exercises, 0.0), "score": 0.0,
               "max_score": max_score, "autograde_seconds": None, "flags": "", "notes": ""}
        notes: list[str] = []
        if student not in roster:
            flags.append("not_on_roster")
        if credit.submission is None:
            flags.append("no_submission")
        else:
            data, sub = per_submission[credit.submission], submissions[credit.submission]
            row.update(data["exercises"], score=data["score"], autograde_seconds=data["autograde_seconds"],
                       submitted_at=sub.timestamp.isoformat() if sub.timestamp else "",
                       partner=(sub.valid_partner if credit.submission == student else credit.submission))
            flags += [] if data["success"] else ["failed_autograde"]
            flags += ["needs_review"] if data["needs_manual_grade"] else []
            flags += ["above_max"] if data["score"] > max_score + 1e-9 else []
            flags += data["flags"]
            notes += data["notes"]
            if credit.submission != student:
                notes.append(f"credited with the pair submission of {credit.submission}")
        own = submissions.get(student)
        if own is not None and own.partner and not own.valid_partner:
            flags.append("partner_unknown")
            notes.append(f"PARTNER '{own.partner}' is not another student on the roster: not credited")
        if len(credit.candidates) > 1:
            flags.append("pair_conflict")
            notes.append(f"submissions of {', '.join(credit.candidates)} all count for {student}; "
                         f"the latest ({credit.submission}) is used")
        row["flags"], row["notes"] = ";".join(dict.fromkeys(flags)), " | ".join(notes)
        rows.append(row)

    report = Report(lab, exercises, max_score, rows, submissions, per_submission)
    out = Path(course.out)
    out.mkdir(parents=True, exist_ok=True)
    report.csv_path = out / f"{lab}-grades.csv"
    with open(report.csv_path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["student"])
        writer.writeheader()
        writer.writerows({k: _fmt(v) for k, v in r.items()} for r in rows)
    report.plot_path = plot_distribution(report, out / f"{lab}-grade-distribution.png")
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
