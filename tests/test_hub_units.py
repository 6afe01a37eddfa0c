"""The course server's parts that need no Hub: the roster's accounts, the exchange's file modes, PARTNER from a
share, the configuration each kind of server gets, and a demo class that formgrader can open (`--out`)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grading.hub import accounts
from grading.hub.course import Settings
from grading.hub.exchange import copy_into, is_locked_down, lock_down
from grading.hub.pair import fill_partner
from grading.hub.servers import write_server_config

REPO = Path(__file__).resolve().parents[1]


def roster(tmp_path, text: str) -> Path:
    path = tmp_path / "roster.csv"
    path.write_text(text)
    return path


def test_roster_roles_and_prefix(tmp_path):
    people = accounts.read_people(roster(tmp_path, "id,first_name,last_name,email,role\n"
                                                   "prof,P,Q,,instructor\nta,T,A,,TA\nada,A,L,,\n"), prefix="x1-")
    assert [(p.name, p.role) for p in people] == [("x1-prof", "instructor"), ("x1-ta", "ta"), ("x1-ada", "student")]


@pytest.mark.parametrize("rows, error", [
    ("ada,A,L,,student\n", "no instructor"),
    ("Ada;rm,A,L,,instructor\n", "Unix user name"),
    ("ada,A,L,,dean\nprof,P,Q,,instructor\n", "role 'dean'"),
    ("ada,A,L,,instructor\nada,A,L,,student\n", "twice"),
])
def test_roster_errors_name_the_row(tmp_path, rows, error):
    with pytest.raises(accounts.AccountError, match=error):
        accounts.read_people(roster(tmp_path, "id,first_name,last_name,email,role\n" + rows))


def test_the_kit_never_takes_over_an_account_it_did_not_create():
    assert accounts.exists("root") and not accounts.created_by_kit("root", "any-course")
    with pytest.raises(accounts.AccountError, match="did not create"):
        accounts.ensure_user("root", "any-course", Path("/nonexistent"), [])


def test_a_submission_is_copied_afresh_then_locked_down(tmp_path):
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "lab01.ipynb").write_text("{}")
    (src / "data" / "x.csv").write_text("1")
    os.chmod(src / "lab01.ipynb", 0o777)
    copy_into(src, tmp_path / "dest")
    assert sorted(p.relative_to(tmp_path / "dest").as_posix() for p in (tmp_path / "dest").rglob("*")) == \
        ["data", "data/x.csv", "lab01.ipynb"]
    assert stat.S_IMODE((tmp_path / "dest" / "lab01.ipynb").stat().st_mode) != 0o777  # modes are not copied
    lock_down(tmp_path / "dest")
    assert is_locked_down(tmp_path / "dest")
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "dest").rglob("*")} == {0o750, 0o640}


def test_partner_is_filled_only_when_the_students_left_it_empty(tmp_path):
    released = REPO / "labs" / "lab01-gradient-descent" / "lab01.ipynb"
    path = tmp_path / "lab01.ipynb"
    path.write_bytes(released.read_bytes())
    assert fill_partner(path, "ben")
    from grading.pipeline.pairs import read_partner

    assert read_partner(nbformat.read(path, as_version=4).cells) == "ben"
    assert not fill_partner(path, "cy")  # now it names someone: theirs stands
    assert read_partner(nbformat.read(path, as_version=4).cells) == "ben"
    assert nbformat.read(path, as_version=4).cells[1:] == nbformat.read(released, as_version=4).cells[1:]


def test_students_get_no_instructor_ui(tmp_path):
    settings = Settings(state=str(tmp_path), python=sys.executable, students=["ada"], instructors=["prof"])
    (tmp_path / "py" / "bin").mkdir(parents=True)
    settings.python = str(tmp_path / "py" / "bin" / "python")  # the overrides go to its share/
    write_server_config(settings)
    page = {kind: json.loads((tmp_path / "etc" / kind / "labconfig" / "page_config.json").read_text())
            ["disabledExtensions"] for kind in ("student", "instructor", "grader")}
    assert set(page["student"]) == {"@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader",
                                    "@jupyter/nbgrader:course-list"}
    assert "@jupyter/nbgrader:create-assignment" not in page["instructor"]
    server = json.loads((tmp_path / "etc" / "student" / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    common = (tmp_path / "etc" / "common" / "nbgrader_config.py").read_text()
    assert "grading.hub.exchange.SecureSubmit" in common and str(tmp_path / "exchange") in common


def test_a_course_work_directory_is_what_nbgrader_and_formgrader_see_there(tmp_path):
    """`demo` writes <out>/nbgrader_config.py: nbgrader started in <out> (formgrader's server does) uses that
    class's gradebook, not the course's."""
    from grading.pipeline.__main__ import course_in
    from grading.pipeline.driver import import_roster

    (tmp_path / "roster.csv").write_text("id,first_name,last_name,email\nzed,Zed,Sample,\n")
    course = course_in(tmp_path)
    import_roster(course)
    course.write_nbgrader_config()
    listed = subprocess.run([sys.executable, "-m", "nbgrader", "db", "student", "list"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert "zed (Sample, Zed)" in listed.stdout + listed.stderr
