"""The results file of a lab: ``<course.out>/<lab>-results.jsonl`` (e.g. grading/output/lab01-...-results.jsonl).

One JSON object per line, appended by the grading coordinator (never by a worker) right after a submission's
autograded notebook and grades are stored in autograded/ and the gradebook, and flushed to disk: a line means the
work is kept. A later line for the same student supersedes an earlier one (a regrade, a new submission); a last
line cut short by a crash is ignored. ``grade`` reads it to continue where an interrupted run stopped
(parallel.py); the staff's reports read the timings and flags from it. Fields:

    lab, student       the lab; the student id (``invalid:...`` for a folder name that is not one)
    fingerprint        sha256 of what was graded: the intake's canonical copy of the submission, what the intake
                       found, the lab's source notebooks and the grading settings (a new submission, a changed lab
                       or seed grades again); null when the next run must grade it again (the worker was lost,
                       the cluster dropped the task, or storing the result failed)
    success            autograded (False: refused by the intake, nbgrader failed, or the worker was lost)
    seconds            wall-clock seconds of the submission's grading on its worker (intake on the coordinator
                       for a refused one), as ``autograde_seconds`` in the grades CSV
    flags, error       the pipeline's flags (``autograde_error``, ``worker_lost``) and its error text (<= 20,000
                       characters); the intake's own flags and notes are in ``intake``
    intake             the intake's record (intake.py ``Intake.as_dict``: notebook, partner, timestamp, flags, notes)
    grades             {"<notebook>/<grade cell>": points the autograder gave}, before manual grading and pairs
    worker, attempts   which worker graded it (``local`` in the grading process itself), and how many times it
                       was sent (2 when a worker died under it and it was retried)
    finished           when it was stored, UTC, ISO 8601

Final scores (manual grades, late penalties, pair credit) are in the gradebook and ``<lab>-grades.csv``.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

FIELDS = ("lab", "student", "fingerprint", "success", "seconds", "flags", "error", "intake", "grades", "worker",
          "attempts", "finished")


def journal_path(out: Path, lab: str) -> Path:
    return Path(out) / f"{lab}-results.jsonl"


def read_journal(path: Path) -> dict[str, dict]:
    """{student: their latest record}; unreadable lines (a crash mid-write) are skipped."""
    records: dict[str, dict] = {}
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        return records
    with fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("student"), str):
                records[record["student"]] = record
    return records


def append_record(path: Path, record: dict) -> dict:
    """Append one record (the FIELDS, ``finished`` set now) and flush it to disk; returns it."""
    record = {key: record.get(key) for key in FIELDS} | {
        "finished": datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="seconds")}
    line = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        if fh.tell() and not _ends_with_newline(path):  # a line cut short by a crash stays on its own line
            fh.write("\n")
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return record


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"
