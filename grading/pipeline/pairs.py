"""Pairs: who is credited with which submission. The rule, also stated in grading/README.md (*Pairs*):

* Each lab's first cell is ``PARTNER = ""``; it is read statically (parsed, never executed) from the notebook the
  student handed in (by the intake, ``intake.py``).
* A pair counts only when **both sides agree**: each names the other as ``PARTNER`` in their own submission, or
  the pair is registered in the pairs file (``grading/pairs.csv``: ``lab,student,partner,source``; ``lab`` may be
  ``*`` for every lab), written by the instructor (``python -m grading.pipeline pair LAB A B``) or by the course
  server when two students share a notebook. A registration overrides what the notebooks say.
* A student who is in an agreed pair is credited with the **better** of the pair's submissions (own ones win
  ties), so nothing a partner hands in can lower a grade; both handing in different scores is flagged
  ``pair_conflict``.
* Any other claim (the named student did not name the submitter back, handed in nothing, or is paired with
  someone else) changes nobody's grade: each is graded on their own submission, and both rows are flagged
  ``partner_unconfirmed`` with a note, so the instructor can register the pair in one step if it is real.
* A PARTNER that is not another student on the roster is flagged ``partner_unknown``.
"""
from __future__ import annotations

import ast
import csv
import fcntl
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .names import shown, valid_student_id

PAIRS_COLUMNS = ("lab", "student", "partner", "source")
MAX_PARTNER_CELL = 10_000      # characters of a cell parsed for PARTNER (the lab's cell has about 120)
MAX_PARTNER_CELLS = 20         # cells mentioning PARTNER looked at


def read_partner(cells) -> str:
    """The string assigned to ``PARTNER`` in the first code cell that assigns one ('' when none); at most 64
    characters. Only small cells that mention PARTNER are parsed (never executed)."""
    looked = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if "PARTNER" not in source or len(source) > MAX_PARTNER_CELL:
            continue
        looked += 1
        if looked > MAX_PARTNER_CELLS:
            break
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PARTNER" for t in node.targets)
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                return node.value.value.strip()[:64]
    return ""


def read_roster(path: Path) -> dict[str, dict]:
    """Roster CSV with at least an ``id`` column (also ``first_name``, ``last_name``, ``email``). An id that is not
    a valid student id (``valid_student_id``) is an error in the roster: ValueError naming it."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = {row["id"].strip(): row for row in csv.DictReader(fh) if (row.get("id") or "").strip()}
    bad = [sid for sid in rows if not valid_student_id(sid)]
    if bad:
        raise ValueError(f"roster {path}: invalid student ids {bad[:5]} (letters, digits and . _ @ -, at most 64, "
                         "starting with a letter or digit)")
    return rows


# -- registered pairs ---------------------------------------------------------------------------------------------

def read_pairs(path: Path | None, lab: str) -> list[tuple[str, str, str]]:
    """The pairs registered for ``lab`` (rows of its own and ``*``): ``(student, partner, source)``."""
    if path is None or not Path(path).is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [((row.get("student") or "").strip(), (row.get("partner") or "").strip(),
                 (row.get("source") or "").strip() or "instructor")
                for row in csv.DictReader(fh) if (row.get("lab") or "").strip() in (lab, "*")]


def register_pair(path: Path, lab: str, student: str, partner: str, source: str = "instructor",
                  roster: dict | None = None) -> None:
    """Append the pair to the pairs file (created with its header), under an exclusive lock so that the
    instructor and the course server can both write it. The hook of the course server: a shared notebook is a
    pair both students agreed to."""
    for sid in (student, partner):
        if not valid_student_id(sid):
            raise ValueError(f"student id {sid!r} is not valid")
        if roster is not None and sid not in roster:
            raise ValueError(f"student {sid!r} is not on the roster")
    if student == partner:
        raise ValueError("a student cannot be their own partner")
    if lab != "*" and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", lab):
        raise ValueError(f"lab {lab!r} is not a lab name")
    if not re.fullmatch(r"[\w .@-]{1,40}", source):
        raise ValueError(f"source {source!r}: 1-40 letters, digits, spaces or . _ @ -")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", newline="", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        empty = not fh.read(1)
        writer = csv.writer(fh)
        if empty:
            writer.writerow(PAIRS_COLUMNS)
        writer.writerow([lab, student, partner, source])


# -- credit ----------------------------------------------------------------------------------------------------

@dataclass
class Submission:
    student: str
    timestamp: datetime | None
    partner: str = ""           # PARTNER as written by the student
    score: float = 0.0          # its total score now (pairs get the better of two)
    graded: bool = True         # autograded (a refused or failed submission counts below any graded one)


@dataclass
class Credit:
    student: str
    submission: str | None                     # whose submission counts for this student (None: nothing)
    partner: str = ""                          # the agreed partner ('' when none)
    candidates: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def flag(self, flag: str, note: str) -> None:
        if flag not in self.flags:
            self.flags.append(flag)
        if note not in self.notes:
            self.notes.append(note)


def agreed_pairs(submissions: dict[str, Submission], roster: dict, registered=(),
                 credits: dict[str, Credit] | None = None, lab: str = "LAB") -> dict[str, tuple[str, str]]:
    """``{student: (partner, how agreed)}`` in both directions; problems go to ``credits`` (flags and notes)."""
    credits = credits if credits is not None else {}

    def flag(student, name, note):
        if student in credits:
            credits[student].flag(name, note)

    agreed: dict[str, tuple[str, str]] = {}
    valid = [(a, b, source) for a, b, source in registered
             if a != b and a in roster and b in roster]
    for a, b, source in registered:
        if (a, b, source) not in valid:
            for sid in {a, b} & set(credits):
                flag(sid, "pair_conflict", f"pairs file: the pair {a} + {b} is not two students of the roster: "
                                           "ignored")
    count: dict[str, set] = {}
    for a, b, _ in valid:
        count.setdefault(a, set()).add(b)
        count.setdefault(b, set()).add(a)
    for a, b, source in valid:
        if len(count[a]) > 1 or len(count[b]) > 1:
            double = a if len(count[a]) > 1 else b
            for sid in (a, b):
                flag(sid, "pair_conflict", f"pairs file: {double} is registered with "
                                           f"{', '.join(sorted(count[double]))}; one partner per lab: none counts")
            continue
        agreed[a] = (b, f"registered in the pairs file ({source})")
        agreed[b] = (a, f"registered in the pairs file ({source})")
    for a, sub in sorted(submissions.items()):
        b = sub.partner
        if not b or a in agreed and agreed[a][0] == b:
            continue
        if b == a or b not in roster or not valid_student_id(b):
            flag(a, "partner_unknown", f"PARTNER {shown(b, 40)} is not another student on the roster: not credited")
        elif a not in agreed and b not in agreed and b in submissions and submissions[b].partner == a:
            agreed[a], agreed[b] = (b, "both named each other"), (a, "both named each other")
        else:
            why = (f"{a} is paired with {agreed[a][0]} ({agreed[a][1]})" if a in agreed else
                   f"{b} is paired with {agreed[b][0]} ({agreed[b][1]})" if b in agreed else
                   f"{b} handed in nothing" if b not in submissions else
                   f"{b}'s own submission names {shown(submissions[b].partner, 40) if submissions[b].partner else 'no one'}")
            hint = f"if they worked together: python -m grading.pipeline pair {lab} {a} {b}"
            flag(a, "partner_unconfirmed", f"PARTNER names {b}, but the pair is not confirmed ({why}): "
                                           f"{a} is graded on their own submission; {hint}")
            flag(b, "partner_unconfirmed", f"{a} named {b} as PARTNER, not confirmed ({why}): "
                                           f"it changes nothing for {b}; {hint}")
    return agreed


def assign_credit(submissions: dict[str, Submission], roster: dict, registered=(), lab: str = "LAB"
                  ) -> dict[str, Credit]:
    """For every student on the roster (and every submitter), which submission counts (rule: module docstring);
    ``registered``: the pairs file's rows for the lab (``read_pairs``)."""
    credits = {student: Credit(student, None) for student in sorted({*roster, *submissions})}
    agreed = agreed_pairs(submissions, roster, registered, credits, lab)
    for student, credit in credits.items():
        partner, how = agreed.get(student, ("", ""))
        credit.partner = partner
        found = [s for s in (student, partner) if s in submissions]
        credit.candidates = sorted(found)
        if not found:
            continue
        best = max(found, key=lambda s: (submissions[s].graded, submissions[s].score, s == student))
        credit.submission = best
        if len(found) == 2:
            first, second = sorted(found)
            text = (f"both members of the pair ({how}) handed in: {first} ({submissions[first].score:g} points) and "
                    f"{second} ({submissions[second].score:g} points); the better one, {best}'s, counts for {student}")
            if (submissions[first].score, submissions[first].graded) != (submissions[second].score,
                                                                         submissions[second].graded):
                credit.flag("pair_conflict", text)
            else:
                credit.notes.append(text)
    return credits
