"""The intake (grading/pipeline/intake.py): the only reader of a submission. It never follows a link, reads only
regular files inside the submission, bounded, and stages a notebook of its own making for nbgrader."""
from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import nbformat
import pytest

from grading.pipeline import intake as intake_module
from grading.pipeline.intake import INTAKE_KEY, STAGING_MARKER, Limits, is_staged, list_submissions, staging, take
from grading.pipeline.names import shown, valid_student_id

REPO = Path(__file__).resolve().parents[1]
LAB = "lab01-gradient-descent"
NB = "lab01.ipynb"
RELEASED = (REPO / "labs" / LAB / NB).read_text(encoding="utf-8")
SOLUTION = REPO / "solutions" / LAB / NB


def hand_in(submitted: Path, student="ann", notebook: str | None = RELEASED, timestamp="2026-10-05 10:00:00.5 UTC"):
    folder = submitted / student / LAB
    folder.mkdir(parents=True)
    if notebook is not None:
        (folder / NB).write_text(notebook, encoding="utf-8")
    if timestamp is not None:
        (folder / "timestamp.txt").write_text(timestamp)
    return folder


def taken(submitted: Path, student="ann", **kwargs):
    with staging() as root:
        result = take(submitted, student, LAB, [NB], stage_to=root, **kwargs)
        staged = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        nb = nbformat.read(root / student / LAB / NB, as_version=4) if result.accepted else None
    return result, staged, nb


def test_an_honest_submission_is_staged_as_a_notebook_of_the_graders_own(tmp_path):
    released = json.loads(RELEASED)
    released["cells"][5]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 1000}]
    released["cells"][5]["metadata"]["secret"] = {"deep": [1, 2, 3]}
    released["cells"][0]["source"] = 'PARTNER = "bob"'
    folder = hand_in(tmp_path, notebook=json.dumps(released))
    (folder / "plot.png").write_bytes(b"\x89PNG")
    (folder / ".ipynb_checkpoints").mkdir()
    result, staged, nb = taken(tmp_path)
    assert result.accepted and result.notebook == NB and result.flags == []
    assert result.partner == "bob" and result.timestamp == "2026-10-05T10:00:00.500000"
    assert staged == [STAGING_MARKER, "ann", f"ann/{LAB}", f"ann/{LAB}/{NB}", f"ann/{LAB}/timestamp.txt"]
    assert [c.source for c in nb.cells] == ["".join(c["source"]) for c in released["cells"]]
    assert all(c.get("outputs", []) == [] for c in nb.cells)
    assert [c.metadata for c in nb.cells] == [{"nbgrader": c["metadata"]["nbgrader"]} if "nbgrader" in c["metadata"]
                                              else {} for c in released["cells"]]   # nothing else
    assert nb.metadata[INTAKE_KEY]["partner"] == "bob"
    assert "2 other file(s) or folder(s) in the lab folder not read" in " ".join(result.notes)


@pytest.mark.parametrize("where", ["notebook", "lab folder", "student folder"])
def test_a_symlink_to_the_solution_is_refused_and_not_followed(tmp_path, where):
    if where == "notebook":
        folder = hand_in(tmp_path, notebook=None)
        (folder / NB).symlink_to(SOLUTION)
    elif where == "lab folder":
        (tmp_path / "ann").mkdir()
        (tmp_path / "ann" / LAB).symlink_to(SOLUTION.parent, target_is_directory=True)
    else:
        (tmp_path / "ann").symlink_to(REPO / "solutions", target_is_directory=True)
    result, staged, _ = taken(tmp_path)
    assert not result.accepted and result.flags == ["symlink"], result.notes
    assert staged == [STAGING_MARKER]
    assert f"the {where} " in result.notes[-1] and "symbolic link" in result.notes[-1]


def test_a_symlink_to_a_classmates_notebook_is_refused(tmp_path):
    hand_in(tmp_path, "ben")
    folder = hand_in(tmp_path, "ann", notebook=None)
    (folder / NB).symlink_to(tmp_path / "ben" / LAB / NB)
    assert taken(tmp_path)[0].flags == ["symlink"]


def test_extra_files_that_are_links_are_flagged_and_never_read_or_staged(tmp_path):
    folder = hand_in(tmp_path)
    secrets = {"hidden_seed": REPO / "grading" / ".secrets" / "hidden_seed", "gradebook.db": tmp_path / "gradebook.db",
               "lab02.ipynb": REPO / "solutions" / "lab02-backpropagation" / "lab02.ipynb", "shadow": Path("/etc/shadow")}
    for name, target in secrets.items():
        (folder / name).symlink_to(target)
    os.mkfifo(folder / "pipe")
    result, staged, nb = taken(tmp_path)
    assert result.accepted and set(result.flags) == {"symlink", "not_a_regular_file"}
    assert staged == [STAGING_MARKER, "ann", f"ann/{LAB}", f"ann/{LAB}/{NB}", f"ann/{LAB}/timestamp.txt"]
    assert "'pipe' is a FIFO: not read" in result.notes


def test_a_fifo_named_like_the_notebook_cannot_block_the_intake(tmp_path):
    folder = hand_in(tmp_path, notebook=None)
    os.mkfifo(folder / NB)
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(result=taken(tmp_path)[0]), daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the intake blocked on a FIFO"
    assert outcome["result"].flags == ["not_a_regular_file"] and "a FIFO" in outcome["result"].notes[-1]


@pytest.mark.parametrize("kind", ["directory", "socket"])
def test_a_notebook_that_is_no_file_is_refused(tmp_path, kind, monkeypatch):
    folder = hand_in(tmp_path, notebook=None)
    if kind == "directory":
        (folder / NB).mkdir()
    else:
        monkeypatch.chdir(folder)              # a socket's path is limited to 108 bytes: bind a relative one
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(NB)
    assert taken(tmp_path)[0].flags == ["not_a_regular_file"]


def test_a_hard_link_to_a_file_elsewhere_is_refused(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    (private / "solution.ipynb").write_bytes(SOLUTION.read_bytes())
    folder = hand_in(tmp_path / "submitted", notebook=None)
    os.link(private / "solution.ipynb", folder / NB)     # the grader owns the folder: the submitter is unknown
    assert taken(tmp_path / "submitted")[0].flags == ["hard_link"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the folder to another user")
def test_a_hard_link_between_the_submitters_own_files_is_read(tmp_path):
    folder = hand_in(tmp_path)
    os.link(folder / NB, folder / "backup.ipynb")
    for path in (folder, folder / NB):
        os.chown(path, 54321, 54321)
    result, _, _ = taken(tmp_path)
    assert result.accepted and result.flags == []


def test_a_sparse_gigabyte_notebook_is_refused_without_reading_it(tmp_path, monkeypatch):
    folder = hand_in(tmp_path, notebook=None, timestamp=None)
    with open(folder / NB, "wb") as fh:
        fh.truncate(1 << 30)
    read = []
    monkeypatch.setattr(intake_module.os, "read", lambda fd, n: read.append(n) or b"")
    assert taken(tmp_path)[0].flags == ["too_large"] and read == []


@pytest.mark.parametrize("notebook, flag", [
    ("{ not json", "not_a_notebook"),
    ("[" * 100_000 + "]" * 100_000, "not_a_notebook"),                # nested too deeply for the parser
    ('{"cells": "x", "nbformat": 4}', "not_a_notebook"),
    ('{"worksheets": [], "nbformat": 3}', "not_a_notebook"),
    ("\udcff", "not_a_notebook"),                                       # not UTF-8
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": ""}] * 501}), "too_many_cells"),
    (json.dumps({"nbformat": 4, "cells": [{"cell_type": "code", "source": "x" * 99_000}] * 21}), "too_large"),
])
def test_notebooks_beyond_the_limits_are_refused(tmp_path, notebook, flag):
    folder = hand_in(tmp_path, notebook=None)
    (folder / NB).write_bytes(notebook.encode("utf-8", "surrogateescape"))
    result, staged, _ = taken(tmp_path)
    assert result.flags == [flag] and staged == [STAGING_MARKER], result.notes


def test_an_oversized_cell_is_graded_as_empty_and_hostile_metadata_is_dropped(tmp_path):
    released = json.loads(RELEASED)
    released["cells"][0]["source"] = 'PARTNER = "' + "b" * 10_000_000 + '"'
    answer = next(c for c in released["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "f")
    answer["metadata"]["nbgrader"].update(grade_id="g" * 10_000, points={"a": 1}, extra="x")
    released["cells"].insert(3, "not a cell")
    hand_in(tmp_path, notebook=json.dumps(released))
    result, _, nb = taken(tmp_path)
    assert result.accepted and result.flags == ["oversized_cell"] and result.partner == ""
    assert nb.cells[0].source == "" and nb.cells[3].cell_type == "raw"
    staged = next(c for c in nb.cells if c.source == "".join(answer["source"]))
    assert staged.metadata["nbgrader"] == {k: v for k, v in answer["metadata"]["nbgrader"].items()
                                           if k not in ("grade_id", "points", "extra")}


def test_many_files_in_the_lab_folder_are_not_all_listed(tmp_path):
    folder = hand_in(tmp_path)
    for i in range(300):
        (folder / f"junk{i}").touch()
    result = taken(tmp_path, limits=Limits(max_entries=50))[0]
    assert result.accepted and "too_many_files" in result.flags


def test_a_renamed_notebook_is_graded_under_the_labs_name_two_are_not_guessed(tmp_path):
    folder = hand_in(tmp_path, notebook=None)
    (folder / "lab01 (1).ipynb").write_text(RELEASED)
    result, staged, _ = taken(tmp_path)
    assert result.accepted and result.flags == ["notebook_renamed"] and f"ann/{LAB}/{NB}" in staged
    (folder / "lab01-final.ipynb").write_text(RELEASED)
    result = taken(tmp_path)[0]
    assert not result.accepted and result.flags == ["notebook_missing"] and "which one?" in result.notes[-1]


def test_with_two_notebooks_the_one_named_as_released_is_graded(tmp_path):
    folder = hand_in(tmp_path)
    (folder / "lab01-final.ipynb").write_text(SOLUTION.read_text())
    result, staged, _ = taken(tmp_path)
    assert result.accepted and result.flags == []
    assert "other notebooks not graded: 'lab01-final.ipynb'" in result.notes


@pytest.mark.parametrize("text, expected", [
    ("2026-10-05 10:00:00.123456 UTC", "2026-10-05T10:00:00.123456"),     # what nbgrader's exchange writes
    ("2026-10-05 10:00:00 UTC\n", "2026-10-05T10:00:00"),
    ("2026-10-05T12:00:00+02:00", "2026-10-05T10:00:00"),
    ("2026-10-05 10:00:00", "2026-10-05T10:00:00"),
    ("2099-01-01 00:00:00 UTC", None),                                     # the future
    ("2026-02-30 10:00:00 UTC", None),
    ("yesterday", None),
    ("2026-10-05 10:00:00 CET", None),
    ("2026-10-05 10:00:00 UTC" + " " * 100, None),                         # longer than 64 bytes
])
def test_timestamps_are_parsed_strictly(tmp_path, text, expected):
    hand_in(tmp_path, timestamp=text)
    result, staged, _ = taken(tmp_path)
    assert result.accepted
    if expected is None:
        assert result.timestamp == "" and result.flags == ["bad_timestamp"]
        assert f"ann/{LAB}/timestamp.txt" not in staged
    else:
        assert result.timestamp == expected and result.flags == []


def test_a_timestamp_that_is_a_link_or_a_fifo_is_not_read(tmp_path):
    folder = hand_in(tmp_path, timestamp=None)
    (folder / "timestamp.txt").symlink_to("/etc/shadow")
    assert taken(tmp_path)[0].flags == ["symlink"]
    (folder / "timestamp.txt").unlink()
    os.mkfifo(folder / "timestamp.txt")
    assert taken(tmp_path)[0].flags == ["not_a_regular_file"]


@pytest.mark.parametrize("name", [".hidden", "*", "[ab]", "a b", "é", "x" * 65, "a..b", "-rf", "ann\n", "\u202eann"])
def test_directory_names_that_are_no_student_id_are_refused(tmp_path, name):
    hand_in(tmp_path, name)
    assert [e.name for e in list_submissions(tmp_path, LAB)] == [name]
    result = taken(tmp_path, name)[0]
    assert result.flags == ["invalid_student_id"] and not valid_student_id(result.student)
    assert all(ch.isascii() and ch.isprintable() for ch in result.student + result.notes[0])


@pytest.mark.parametrize("name", ["ann", "jane.doe@uni.edu", "s-01_b", "A" * 64])
def test_valid_student_ids(name):
    assert valid_student_id(name)


def test_list_submissions_reports_links_and_skips_other_labs(tmp_path):
    hand_in(tmp_path, "ann")
    (tmp_path / "ben" / "lab02-backpropagation").mkdir(parents=True)
    (tmp_path / "cat").symlink_to(tmp_path / "ann")
    (tmp_path / "notes.txt").write_text("x")
    assert [(e.name, e.kind) for e in list_submissions(tmp_path, LAB)] == [("ann", "dir"), ("cat", "symlink")]


def test_every_open_is_relative_to_a_directory_and_never_follows_a_link(tmp_path, monkeypatch):
    hand_in(tmp_path)
    calls = []
    real_open = os.open

    def spy(path, flags, mode=0o777, *, dir_fd=None):
        calls.append((str(path), flags, dir_fd))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(intake_module.os, "open", spy)
    assert take(tmp_path, "ann", LAB, [NB]).accepted
    assert calls[0][0] == str(tmp_path)                      # the course's submitted/ itself
    for path, flags, dir_fd in calls[1:]:
        assert dir_fd is not None and "/" not in path and flags & os.O_NOFOLLOW, path


def test_a_notebook_swapped_for_a_link_after_the_listing_is_refused(tmp_path, monkeypatch):
    """TOCTOU: the file is checked on the descriptor that is read, so a swap between listing and reading is
    caught (the swap happens right after the intake lists the folder)."""
    folder = hand_in(tmp_path)
    real_scandir = os.scandir

    class Swapping:
        def __init__(self, fd):
            self.it = real_scandir(fd)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.it.close()
            (folder / NB).unlink()
            (folder / NB).symlink_to(SOLUTION)

        def __iter__(self):
            return iter(self.it)

    monkeypatch.setattr(intake_module.os, "scandir", lambda fd: Swapping(fd) if isinstance(fd, int) else real_scandir(fd))
    result = take(tmp_path, "ann", LAB, [NB])
    assert not result.accepted and result.flags == ["symlink"]


def test_staging_is_private_and_recognised(tmp_path):
    with staging() as root:
        assert os.stat(root).st_mode & 0o077 == 0
        (root / "ann" / LAB).mkdir(parents=True)
        assert is_staged(root / "ann" / LAB)
    assert not root.exists()
    hand_in(tmp_path)
    (tmp_path / STAGING_MARKER).symlink_to("/etc/hostname")      # planted by a student: not a marker of ours
    assert not is_staged(tmp_path / "ann" / LAB)


def test_names_are_shown_inert():
    assert shown("<img src=x onerror=alert(1)>") == r"'\x3cimg src\x3dx onerror\x3dalert\x281\x29\x3e'"
    assert shown("a\u202eb\n") == r"'a\u202eb\x0a'" and shown("x" * 100, 5) == "'xxxxx...'"


def test_the_submission_secret_is_read_like_the_submission(tmp_path):
    """nbgrader's submission_secret.txt (it names the feedback in the exchange) is read with no link followed,
    bounded, and only when it is a hex string."""
    from grading.pipeline.intake import read_submission_secret

    submitted = tmp_path / "submitted"
    folder = hand_in(submitted)
    assert read_submission_secret(submitted, "ann", LAB) is None            # none written
    (folder / "submission_secret.txt").write_text("ab" * 64 + "\n")
    assert read_submission_secret(submitted, "ann", LAB) == "ab" * 64
    for content in ("<script>", "ab" * 200, "", "../../etc"):
        (folder / "submission_secret.txt").write_text(content)
        assert read_submission_secret(submitted, "ann", LAB) is None, content
    (folder / "submission_secret.txt").unlink()
    elsewhere = tmp_path / "secret.txt"
    elsewhere.write_text("cd" * 64)
    (folder / "submission_secret.txt").symlink_to(elsewhere)
    assert read_submission_secret(submitted, "ann", LAB) is None
    hand_in(submitted, "bob")
    (submitted / "bob" / LAB / "submission_secret.txt").write_text("ef" * 64)
    (submitted / "eve").symlink_to(submitted / "bob")                        # a student folder that is a link
    assert read_submission_secret(submitted, "eve", LAB) is None
    assert read_submission_secret(submitted, "../bob", LAB) is None
