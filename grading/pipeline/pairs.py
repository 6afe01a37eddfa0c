"""Pairs: who is credited with which submission.

Each lab's first cell is ``PARTNER = ""``. It is read statically (parsed, never executed) from the notebook the
student handed in. The rule, also stated in grading/README.md:

* a partner must be on the roster and must not be the submitter, otherwise the submission counts for its
  submitter only (flag ``partner_unknown``);
* a submission naming a valid partner is credited to both members (grade and feedback);
* when more than one submission could count for a student (their own; their named partner's, if that partner
  handed in too; any naming them), the one with the **latest timestamp** counts (ties: the student's own
  submission, then the smallest submitter id) and every candidate is reported (flag ``pair_conflict``).
"""
from __future__ import annotations

import ast
import csv
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


def read_partner(notebook: Path) -> str:
    """The string assigned to ``PARTNER`` in the first code cell that assigns it ('' when absent/unreadable)."""
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return ""
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PARTNER" for t in node.targets)
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                return node.value.value.strip()
    return ""


def read_roster(path: Path) -> dict[str, dict]:
    """Roster CSV with at least an ``id`` column (also ``first_name``, ``last_name``, ``email``)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["id"].strip(): row for row in csv.DictReader(fh) if row.get("id", "").strip()}


@dataclass
class Submission:
    student: str
    timestamp: datetime | None
    partner: str = ""           # as written by the student
    valid_partner: str = ""     # '' unless on the roster and not the submitter


@dataclass
class Credit:
    student: str
    submission: str | None                 # whose submission counts for this student (None: nothing handed in)
    candidates: list[str] = field(default_factory=list)


def assign_credit(submissions: dict[str, Submission], roster: dict[str, dict]) -> dict[str, Credit]:
    """For every student on the roster (and every submitter), which submission counts (rule: module docstring)."""
    for sub in submissions.values():
        sub.valid_partner = sub.partner if sub.partner in roster and sub.partner != sub.student else ""
    candidates: dict[str, list[str]] = {student: [] for student in [*roster, *submissions]}
    for sub in submissions.values():
        candidates[sub.student].append(sub.student)
        if sub.valid_partner:
            candidates[sub.valid_partner].append(sub.student)
            if sub.valid_partner in submissions:        # the partner handed in too: a conflict for both
                candidates[sub.student].append(sub.valid_partner)

    def order(student: str, submitter: str):
        ts = submissions[submitter].timestamp
        return (ts.timestamp() if ts else float("-inf"), submitter == student, [-ord(ch) for ch in submitter])

    credits = {}
    for student, found in candidates.items():
        best = max(found, key=lambda s: order(student, s)) if found else None
        credits[student] = Credit(student, best, sorted(set(found)))
    return credits
