"""Intake: the one place where the grader reads a submission (``submitted/<student>/<lab>/``), and how.

A submission directory is written by a student (through nbgrader's exchange, a zip, a shared file system): its
names, links, file types, sizes and contents are hostile input. nbgrader itself would follow links and copy
every file of it to autograded/ and on to feedback/. So nothing of the pipeline touches a submission except
``take``, which guarantees:

* **No link is followed, nothing outside the submission is read.** Each directory below ``submitted/`` and each
  file is opened relative to its parent's descriptor with ``O_NOFOLLOW`` (and ``O_NONBLOCK``: a FIFO cannot block
  the open), then checked on the open descriptor (``fstat``): the file checked is the file read, whatever the
  student renames meanwhile. A symbolic link (the notebook, the lab folder, the student folder, any other file)
  is refused with the flag ``symlink``; a FIFO, socket, device or directory where a file is expected with
  ``not_a_regular_file``; a file with more than one name (hard link) that the submitter does not own with
  ``hard_link`` (when the grader owns the folder, the submitter is unknown and every hard link is refused).
* **Only what grading needs, bounded.** The lab's notebook (its released file name; a single other ``*.ipynb``
  is taken in its place, flag ``notebook_renamed``) and ``timestamp.txt``. Everything else is listed (at most
  ``max_entries``) and never read. The notebook is read up to ``max_notebook_bytes`` and parsed into a *new*
  notebook that keeps, per cell, only its type, its source (at most ``max_cell_chars``, all cells together at
  most ``max_source_chars``, at most ``max_cells`` cells) and its nbgrader metadata (scalars only): no outputs,
  attachments or other metadata of the student's reach the grader. ``timestamp.txt`` is read up to 64 bytes and
  parsed strictly (nbgrader's format, UTC); a bogus or future one is dropped with the flag ``bad_timestamp``.
* **Student ids are directory names**: a valid id is 1-64 characters of ``A-Z a-z 0-9 . _ @ -``, starting with a
  letter or digit, without ``..`` (so no hidden name, no glob character for nbgrader, no path trick); any other
  name is reported (``invalid_student_id``), never graded.
* **What nbgrader grades is the grader's own copy**: the new notebook and a canonical ``timestamp.txt`` written
  into a private staging directory (mode 0700, ``staging()``) that nbgrader autogrades from. Nothing else of the
  submission can reach autograded/ or feedback/. ``RebuildFromSource`` refuses to grade a notebook that is not
  in a staging directory (formgrader's *Autograde* button would read submitted/ directly).

What the intake found travels with the staged notebook (metadata ``lablib_intake``: flags, notes for the student,
the ``PARTNER`` written, the timestamp) into the autograded notebook, the feedback and the export.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat

from .names import shown, valid_student_id
from .pairs import read_partner

INTAKE_KEY = "lablib_intake"          # notebook metadata written by the intake (never taken from a submission)
STAGING_MARKER = ".lablib-intake"      # a file in the root of every staging directory
TIMESTAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? ?(UTC|GMT|Z|[+-]\d\d:?\d\d)?")
TIMESTAMP_FILE = "timestamp.txt"
MAX_TIMESTAMP_BYTES = 64
FUTURE_TOLERANCE = timedelta(minutes=10)   # clock skew between the exchange and the grader
NBGRADER_KEYS = ("grade", "solution", "locked", "task", "grade_id", "points", "schema_version", "cell_type", "checksum")

_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True)
class Limits:
    """What the intake accepts (``Course.intake``); the defaults fit any of the labs many times over."""
    max_notebook_bytes: int = 20 << 20     # a lab with every plot's output is 1-3 MB
    max_cells: int = 500                   # the labs have 31-85 cells
    max_cell_chars: int = 100_000          # the labs' largest cell has 3,330 characters
    max_source_chars: int = 1_000_000      # the labs have 19-51 thousand characters in all
    max_entries: int = 200                 # names listed in a lab folder
    max_metadata_chars: int = 200          # per nbgrader metadata value (grade_id etc.)


@dataclass
class Intake:
    """What the intake found in one submission; plain data (``as_dict``/``from_dict``)."""
    student: str                              # the directory's name (``label`` when it is not a valid id)
    lab: str
    notebook: str = ""                        # the lab notebook's file name it is graded as ('' when refused)
    partner: str = ""                         # PARTNER as written (at most 64 characters), '' when none
    timestamp: str = ""                       # UTC, ISO format; '' when none or refused
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return bool(self.notebook)

    def flag(self, flag: str, note: str) -> None:
        if flag not in self.flags:
            self.flags.append(flag)
        self.notes.append(note)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Intake:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def label(name: str) -> str:
    """The export's row name of a directory whose name is not a valid student id (never a valid id itself)."""
    return "invalid:" + shown(name, 40)


# -- the submitted/ directory ------------------------------------------------------------------------------------

@dataclass
class Entry:
    """A directory entry of submitted/ that concerns a lab."""
    name: str                 # as on disk
    valid: bool               # a valid student id
    kind: str                 # "dir" (with a folder for the lab), "symlink"


def list_submissions(submitted: Path, lab: str) -> list[Entry]:
    """The entries of ``submitted`` (the course's directory, trusted) that hold ``lab`` or may (a symbolic link,
    reported in every lab): sorted by name. Hidden and invalid names are included (and later refused)."""
    submitted = Path(submitted)
    if not submitted.is_dir():
        return []
    entries = []
    with os.scandir(submitted) as it:
        for item in it:
            kind = None
            if item.is_symlink():
                kind = "symlink"
            elif item.is_dir(follow_symlinks=False):
                try:
                    os.lstat(os.path.join(item.path, lab))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                except OSError:
                    pass
                kind = "dir"
            if kind:
                entries.append(Entry(item.name, valid_student_id(item.name), kind))
    return sorted(entries, key=lambda e: e.name)


# -- staging ----------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def staging():
    """A private directory (mode 0700, removed afterwards) to stage submissions in for nbgrader."""
    root = Path(tempfile.mkdtemp(prefix="lablib-intake-"))
    try:
        fd = os.open(root / STAGING_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def is_staged(notebook_dir) -> bool:
    """Is ``notebook_dir`` (``<root>/<student>/<lab>``) inside a staging directory made by ``staging()``?"""
    root = Path(notebook_dir).parent.parent
    try:
        marker, top = os.lstat(root / STAGING_MARKER), os.lstat(root)
    except OSError:
        return False
    return (stat.S_ISREG(marker.st_mode) and stat.S_ISDIR(top.st_mode) and top.st_uid == os.geteuid()
            and marker.st_uid == os.geteuid() and stat.S_IMODE(top.st_mode) & 0o077 == 0)


# -- one submission -----------------------------------------------------------------------------------------------

class _Refused(Exception):
    def __init__(self, flag: str, note: str):
        super().__init__(note)
        self.flag, self.note = flag, note


def take(submitted: Path, student: str, lab: str, notebook_names, stage_to: Path | None = None,
         limits: Limits = Limits()) -> Intake:
    """Read ``submitted/<student>/<lab>/`` as described in the module docstring. ``notebook_names``: the lab's
    notebook file names (from its source directory). With ``stage_to`` (a ``staging()`` directory), an accepted
    submission is written there as ``<stage_to>/<student>/<lab>/`` for nbgrader. Never raises for what is in the
    submission; the result says what was accepted, refused and why."""
    intake = Intake(student if valid_student_id(student) else label(student), lab)
    if not valid_student_id(student):
        intake.flag("invalid_student_id", f"the directory {shown(student)} is not a valid student id "
                                            "(letters, digits and . _ @ -, at most 64): not graded")
        return intake
    fds = []
    try:
        fds.append(os.open(submitted, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))  # the course's own: trusted
        for name, what in ((student, "student folder"), (lab, "lab folder")):
            fds.append(_open_dir(fds[-1], name, what))
        owner = os.fstat(fds[-1]).st_uid
        submitter_uid = owner if owner != os.geteuid() else None
        _read_folder(intake, fds[-1], notebook_names, submitter_uid, limits, stage_to)
    except _Refused as refused:
        intake.notebook = ""
        intake.flag(refused.flag, refused.note)
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return intake


SUBMISSION_SECRET_FILE = "submission_secret.txt"   # nbgrader's exchange: names the submitter's feedback file
_SUBMISSION_SECRET = re.compile(r"[0-9a-f]{16,256}\Z")


def read_submission_secret(submitted: Path, student: str, lab: str) -> str | None:
    """The ``submission_secret.txt`` nbgrader's exchange wrote into ``submitted/<student>/<lab>/`` (a hex string
    that names the student's feedback in the exchange), read as the intake reads a submission: no link followed,
    at most 256 bytes; None when it is missing or is anything but a hex string."""
    if not valid_student_id(student):
        return None
    fds = []
    try:
        fds.append(os.open(submitted, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        for name, what in ((student, "student folder"), (lab, "lab folder")):
            fds.append(_open_dir(fds[-1], name, what))
        owner = os.fstat(fds[-1]).st_uid
        raw = _read_file(fds[-1], SUBMISSION_SECRET_FILE, 256, owner if owner != os.geteuid() else None,
                         SUBMISSION_SECRET_FILE)
    except (_Refused, OSError):
        return None
    finally:
        for fd in reversed(fds):
            os.close(fd)
    secret = raw.decode("ascii", "replace").strip()
    return secret if _SUBMISSION_SECRET.match(secret) else None


def _open_dir(parent_fd: int, name: str, what: str) -> int:
    try:
        fd = os.open(name, _OPEN_DIR, dir_fd=parent_fd)
    except FileNotFoundError:
        raise _Refused("not_a_regular_file", f"the {what} {shown(name)} is gone") from None
    except OSError:
        kind = _kind_at(parent_fd, name)
        if kind == "symlink":
            raise _Refused("symlink", f"the {what} {shown(name)} is a symbolic link: not followed, not graded") \
                from None
        raise _Refused("not_a_regular_file", f"the {what} {shown(name)} is {kind}, not a folder: not graded") \
            from None
    return fd


def _kind_at(dir_fd: int, name: str) -> str:
    try:
        return _kind(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return "unreadable"


def _kind(mode: int) -> str:
    for test, kind in ((stat.S_ISLNK, "symlink"), (stat.S_ISREG, "a file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device")):
        if test(mode):
            return kind
    return "not a file"


def _read_folder(intake: Intake, lab_fd: int, notebook_names, submitter_uid, limits: Limits, stage_to) -> None:
    names, others, ignored = [], [], []
    with os.scandir(lab_fd) as it:
        for count, entry in enumerate(it):
            if count >= limits.max_entries:
                intake.flag("too_many_files", f"more than {limits.max_entries} files in the lab folder: "
                                                "the rest was not looked at")
                break
            names.append(entry.name)
    names += [n for n in [*notebook_names, TIMESTAMP_FILE] if n not in names and _kind_at(lab_fd, n) != "unreadable"]
    wanted = [n for n in notebook_names if n in names]
    if not wanted:
        candidates = [n for n in names if n.endswith(".ipynb") and not n.startswith(".")]
        if len(candidates) == 1:
            wanted = candidates
            intake.flag("notebook_renamed", f"no {', '.join(map(shown, notebook_names))}: graded "
                                              f"{shown(candidates[0])} instead")
        else:
            raise _Refused("notebook_missing", f"no {', '.join(map(shown, notebook_names))} in the lab folder"
                           + (f" (found {', '.join(map(shown, candidates[:5]))}: which one?)" if candidates else ""))
    elif len(wanted) > 1:
        wanted = wanted[:1]  # the kit's labs have one notebook each
    notebook, graded_as = wanted[0], (wanted[0] if wanted[0] in notebook_names else sorted(notebook_names)[0])
    for name in sorted(names):
        if name in (notebook, TIMESTAMP_FILE):
            continue
        try:
            info = os.stat(name, dir_fd=lab_fd, follow_symlinks=False)
        except OSError:
            continue
        kind = _kind(info.st_mode)
        if kind == "symlink":
            intake.flag("symlink", f"{shown(name)} is a symbolic link: not followed, not read")
        elif kind not in ("a file", "a folder"):
            intake.flag("not_a_regular_file", f"{shown(name)} is {kind}: not read")
        elif kind == "a file" and _foreign_hard_link(info, submitter_uid):
            intake.flag("hard_link", f"{shown(name)} has other names (a hard link): not read")
        else:
            (others if name.endswith(".ipynb") else ignored).append(name)
    if others:
        intake.notes.append(f"other notebooks not graded: {', '.join(map(shown, others[:5]))}"
                            + (f" and {len(others) - 5} more" if len(others) > 5 else ""))
    if ignored:
        intake.notes.append(f"{len(ignored)} other file(s) or folder(s) in the lab folder not read (only the notebook is "
                            "graded)")

    raw = _read_file(lab_fd, notebook, limits.max_notebook_bytes, submitter_uid, "notebook")
    nb, partner = _canonical_notebook(raw, intake, limits)
    intake.notebook, intake.partner = graded_as, partner
    if TIMESTAMP_FILE in names:
        try:
            intake.timestamp = _parse_timestamp(_read_file(lab_fd, TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES,
                                                           submitter_uid, TIMESTAMP_FILE, "bad_timestamp"))
        except _Refused as refused:
            intake.flag(refused.flag, refused.note)
    else:
        intake.notes.append("no timestamp.txt: the submission time is unknown")
    nb.metadata[INTAKE_KEY] = intake.as_dict()
    if stage_to is not None:
        _stage(Path(stage_to), intake, nb)


def _foreign_hard_link(info: os.stat_result, submitter_uid) -> bool:
    return info.st_nlink > 1 and (submitter_uid is None or info.st_uid != submitter_uid)


def _read_file(dir_fd: int, name: str, limit: int, submitter_uid, what: str, too_large_flag: str = "too_large"
               ) -> bytes:
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=dir_fd)
    except OSError:
        kind = _kind_at(dir_fd, name)
        if kind == "symlink":
            raise _Refused("symlink", f"the {what} {shown(name)} is a symbolic link: not followed, not read") \
                from None
        raise _Refused("not_a_regular_file", f"the {what} {shown(name)} is {kind}: not read") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _Refused("not_a_regular_file", f"the {what} {shown(name)} is {_kind(info.st_mode)}: not read")
        if _foreign_hard_link(info, submitter_uid):
            raise _Refused("hard_link", f"the {what} {shown(name)} has other names (a hard link to a file "
                                        "elsewhere): not read")
        too_large = _Refused(too_large_flag, f"the {what} {shown(name)} is larger than {limit:,} bytes: not read")
        if info.st_size > limit:
            raise too_large
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise too_large
        return b"".join(chunks)
    finally:
        os.close(fd)


def _parse_timestamp(raw: bytes) -> str:
    """nbgrader's timestamp (``2026-10-05 10:00:00.123456 UTC``; an offset or none means UTC) -> ISO, UTC."""
    text = raw.decode("ascii", errors="replace").strip()
    match = TIMESTAMP.fullmatch(text)
    bad = _Refused("bad_timestamp", f"timestamp.txt {shown(text, 40)} is not a time nbgrader writes: ignored")
    if match is None:
        raise bad
    year, month, day, hour, minute, second = map(int, match.groups()[:6])
    micro = int((match.group(7) or "0").ljust(6, "0"))
    zone = match.group(8) or "UTC"
    offset = timedelta(0)
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:])) * (1 if zone[0] == "+" else -1)
    try:
        when = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))
    except ValueError:
        raise bad from None
    when = when.astimezone(timezone.utc).replace(tzinfo=None)
    if when > datetime.now(timezone.utc).replace(tzinfo=None) + FUTURE_TOLERANCE:
        raise _Refused("bad_timestamp", f"timestamp.txt says {when.isoformat(' ')} UTC, in the future: ignored")
    return when.isoformat()


def _canonical_notebook(raw: bytes, intake: Intake, limits: Limits):
    """A new nbformat-4 notebook with the submission's cells (type, source, nbgrader metadata), and PARTNER."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _Refused("not_a_notebook", f"the notebook is not valid JSON ({type(error).__name__}: "
                                         f"{str(error)[:100]})") from None
    except (RecursionError, MemoryError):
        raise _Refused("not_a_notebook", "the notebook's JSON is nested too deeply") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list) or data.get("nbformat") != 4:
        raise _Refused("not_a_notebook", "the file is not a Jupyter notebook (nbformat 4)")
    if len(data["cells"]) > limits.max_cells:
        raise _Refused("too_many_cells", f"the notebook has {len(data['cells']):,} cells, more than "
                                         f"{limits.max_cells}: not graded")
    cells, total = [], 0
    for index, cell in enumerate(data["cells"]):
        cell = cell if isinstance(cell, dict) else {}
        kind = cell.get("cell_type") if cell.get("cell_type") in ("code", "markdown", "raw") else "raw"
        source = _source(cell.get("source"), limits.max_cell_chars)
        if source is None:
            intake.flag("oversized_cell", f"cell {index} has more than {limits.max_cell_chars:,} characters: "
                                            "graded as empty")
            source = ""
        total += len(source)
        if total > limits.max_source_chars:
            raise _Refused("too_large", f"the notebook's cells have more than {limits.max_source_chars:,} "
                                        "characters in all: not graded")
        metadata = {}
        nbgrader = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        if isinstance(nbgrader, dict):
            metadata["nbgrader"] = {key: value for key in NBGRADER_KEYS if key in nbgrader
                                    and _scalar(value := nbgrader[key], limits.max_metadata_chars)}
        new = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
               "raw": nbformat.v4.new_raw_cell}[kind]
        cells.append(new(source=source, metadata=metadata))
    nb = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    return nb, read_partner(nb.cells)


def _source(value, limit: int) -> str | None:
    """A cell's source as one string; None when longer than ``limit``."""
    if isinstance(value, str):
        return value if len(value) <= limit else None
    if not isinstance(value, list):
        return ""
    parts, size = [], 0
    for part in value:
        if isinstance(part, str):
            size += len(part)
            if size > limit:
                return None
            parts.append(part)
    return "".join(parts)


def _scalar(value, limit: int) -> bool:
    return value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= limit)


def _stage(root: Path, intake: Intake, nb) -> None:
    folder = root / intake.student / intake.lab
    folder.mkdir(mode=0o700, parents=True)
    with open(folder / intake.notebook, "w", encoding="utf-8") as fh:
        nbformat.write(nb, fh)
    if intake.timestamp:
        when = datetime.fromisoformat(intake.timestamp)
        (folder / TIMESTAMP_FILE).write_text(when.strftime("%Y-%m-%d %H:%M:%S.%f UTC"), encoding="ascii")
