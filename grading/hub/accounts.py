"""One real Unix account per roster entry (students, TAs, the instructor) and the course's shared grader account.

The roster is the grading roster (``id,first_name,last_name,email``) with an optional ``role`` column:
``student`` (the default), ``ta`` or ``instructor``. Each id becomes a Unix user of the same name, with a
private group, a home directory and an initial password (random, written once to a root-only CSV for the
instructor to hand out; the Hub's PAM login checks it). The kit marks the accounts it creates (GECOS field
``lablib-hub <course>``) and never adopts or removes an account it did not create: a roster id that is already
a real account stops the set-up.

Groups (Unix groups, mirrored as Hub groups):
    <course>-students   every student (the exchange's readers)
    <course>-graders    the instructor, the TAs and the grader account (they read submissions; formgrader)

The grader account ``<course>-grader`` owns the course directory (gradebook, submissions, feedback) and runs
formgrader as a Hub service; nobody logs in as it.
"""
from __future__ import annotations

import csv
import grp
import os
import pwd
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROLES = ("student", "ta", "instructor")
# Debian's useradd accepts more, but these names are safe as Unix, Hub and nbgrader ids and in file names
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class AccountError(RuntimeError):
    pass


@dataclass(frozen=True)
class Person:
    name: str           # the roster id: Unix user name, Hub user name and nbgrader student id
    role: str           # student, ta or instructor
    first_name: str = ""
    last_name: str = ""


def read_people(roster: Path, prefix: str = "") -> list[Person]:
    """The roster's people; ``prefix`` is prepended to every id (tests use a unique one). Rejects bad ids/roles."""
    with open(roster, newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if (row.get("id") or "").strip()]
    people, seen = [], set()
    for row in rows:
        name = prefix + row["id"].strip()
        role = (row.get("role") or "student").strip().lower()
        if not USERNAME.match(name):
            raise AccountError(f"roster id {name!r} is not usable as a Unix user name ({USERNAME.pattern})")
        if role not in ROLES:
            raise AccountError(f"roster id {name!r}: role {role!r} is not one of {', '.join(ROLES)}")
        if name in seen:
            raise AccountError(f"roster id {name!r} appears twice")
        seen.add(name)
        people.append(Person(name, role, (row.get("first_name") or "").strip(), (row.get("last_name") or "").strip()))
    if not any(p.role == "instructor" for p in people):
        raise AccountError("the roster names no instructor (add a row with role 'instructor')")
    return people


def marker(course: str) -> str:
    return f"lablib-hub {course}"


def created_by_kit(name: str, course: str) -> bool:
    try:
        return pwd.getpwnam(name).pw_gecos.split(",")[0] == marker(course)
    except KeyError:
        return False


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _run(*cmd: str, stdin: str | None = None) -> None:
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AccountError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")


def ensure_group(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        _run("groupadd", name)
        return grp.getgrnam(name).gr_gid


def ensure_user(name: str, course: str, home: Path, groups: list[str], *, system: bool = False) -> bool:
    """Create the account (True) or keep the kit's existing one (False), with exactly these extra groups."""
    if exists(name):
        if not created_by_kit(name, course):
            raise AccountError(f"{name!r} is an existing account the kit did not create: refusing to use it "
                               "(rename the roster id, or remove the account)")
        _run("usermod", "-G", ",".join(groups), name)
        return False
    home.parent.mkdir(parents=True, exist_ok=True)
    _run("useradd", "--create-home", "--home-dir", str(home), "--shell", "/usr/sbin/nologin" if system else "/bin/bash",
         "--user-group", "--comment", marker(course), *(["--groups", ",".join(groups)] if groups else []), name)
    os.chmod(home, 0o700)  # Debian's default home is 0755: other students could read it
    return True


def set_password(name: str, password: str) -> None:
    _run("chpasswd", stdin=f"{name}:{password}\n")


def new_password() -> str:
    return secrets.token_urlsafe(12)


def remove_user(name: str, course: str) -> None:
    """Remove an account the kit created (home included); anything else is left alone."""
    if created_by_kit(name, course):
        _run("userdel", "--remove", name)  # refuses while a process of the account runs: stop the Hub first


def remove_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        return
    subprocess.run(["groupdel", name], capture_output=True, timeout=30)
