"""The course server's nbgrader exchange: nbgrader's own, with its pitfalls closed (layout: grading/hub/course.py).

Configured for every server by <state>/etc/common/nbgrader_config.py (``c.ExchangeFactory.*``):

* every action (``Secure*``, ``LaidOutRoot``): nbgrader wants the exchange's root world-writable (0777) and
  release makes it so; here the set-up lays out every directory, as root, and nobody else may write the root.
* ``SecureSubmit``: nbgrader makes every submission world-readable and its directory 0777 ("hidden by the
  timestamp"). Here a submission is created inside ``inbound/`` (setgid to the graders' group), and made
  0750/0640 at once: its owner and the graders can read it, nobody else can read, list or change it. The
  ``PARTNER`` of a pair who shared a server on the Hub is filled in the submitted copy (pair.py).
* ``SigningFetchAssignment``: the fetched notebooks are signed with the student's own notary, so the lab's
  widgets render at once for the student and for a partner on a shared server, without "Trust".
* ``MailboxFetchFeedback``: nbgrader finds feedback only for a submission in the student's own cache; the
  partner of a pair has none. The grader also puts every student's feedback (a partner's included) in
  ``feedback_for/<student>/<lab>/``, readable by that student only, and this fetch copies it too.
"""
from __future__ import annotations

import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.fetch_assignment import ExchangeFetchAssignment
from nbgrader.exchange.default.fetch_feedback import ExchangeFetchFeedback
from nbgrader.exchange.default.list import ExchangeList
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import get_username

SUBMISSION_DIR_MODE, SUBMISSION_FILE_MODE = 0o750, 0o640


def lock_down(path: Path) -> None:
    """Owner rwx, group (the graders) r-x, others nothing, for ``path`` and everything below it."""
    for dirpath, dirnames, filenames in os.walk(path):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), SUBMISSION_FILE_MODE)
        os.chmod(dirpath, SUBMISSION_DIR_MODE)


def is_locked_down(path: Path) -> bool:
    return all(stat.S_IMODE(p.stat().st_mode) & 0o007 == 0 for p in [Path(path), *Path(path).rglob("*")])


class LaidOutRoot:
    """nbgrader wants the exchange's root writable by everyone (and release makes it 0777); here the set-up lays
    out every directory, as root, and the root only has to exist and be writable by nobody but its owner."""

    def ensure_root(self):
        if not os.path.isdir(self.root):
            self.fail(f"the exchange {self.root} does not exist: run `python -m grading.hub setup` (as root)")
        if stat.S_IMODE(os.stat(self.root).st_mode) & 0o022:
            self.fail(f"the exchange {self.root} is writable by others than its owner: run the set-up again")


class SecureReleaseAssignment(LaidOutRoot, ExchangeReleaseAssignment):
    pass


class SecureCollect(LaidOutRoot, ExchangeCollect):
    pass


class SecureList(LaidOutRoot, ExchangeList):
    pass


class SecureReleaseFeedback(LaidOutRoot, ExchangeReleaseFeedback):
    pass


class SecureSubmit(LaidOutRoot, ExchangeSubmit):
    def copy_files(self):
        """nbgrader's submit, but every file of the submission is created inside ``inbound/`` (setgid: the graders'
        group) before any mode is set, then locked down. (nbgrader copies with the source's modes, which drops
        the setgid bit of the new directory, writes timestamp.txt after that, then makes it all world-readable.)"""
        from .pair import fill_partner, partner_from_hub

        self.init_release()
        submission_secret = secrets.token_hex(64)
        dest = Path(self.inbound_path, self.assignment_filename)
        cache = Path(self.cache_path, self.assignment_filename.rsplit("+", 1)[0] if self.add_random_string
                     else self.assignment_filename)
        self.log.info("Source: %s", self.src_path)
        self.log.info("Destination: %s", dest)
        self.check_filename_diff()
        with tempfile.TemporaryDirectory() as staging:  # nbgrader's copy: its size limits, ignore and include
            self.do_copy(self.src_path, os.path.join(staging, "submission"))
            copy_into(Path(staging, "submission"), dest)
        (dest / "timestamp.txt").write_text(self.timestamp)
        (dest / "submission_secret.txt").write_text(submission_secret)
        partner = partner_from_hub()
        for notebook in sorted(dest.glob("*.ipynb")) if partner else ():
            if fill_partner(notebook, partner):
                self.log.info("PARTNER = %r (the Hub share) written in the submitted %s", partner, notebook.name)
        lock_down(dest)

        cache.parent.mkdir(parents=True, exist_ok=True)
        self.do_copy(self.src_path, str(cache))
        (cache / "timestamp.txt").write_text(self.timestamp)
        (cache / "submission_secret.txt").write_text(submission_secret)
        self.log.info("Submitted as: %s %s %s", self.coursedir.course_id, self.coursedir.assignment_id, self.timestamp)


def copy_into(src: Path, dest: Path) -> None:
    """Copy the tree ``src`` to the new directory ``dest`` creating every file and directory afresh (so they take
    the group of a setgid parent) and setting no mode."""
    os.mkdir(dest)
    for dirpath, dirnames, filenames in os.walk(src):
        target = dest / Path(dirpath).relative_to(src)
        for name in dirnames:
            os.mkdir(target / name)
        for name in filenames:
            shutil.copyfile(Path(dirpath, name), target / name, follow_symlinks=False)


class SigningFetchAssignment(LaidOutRoot, ExchangeFetchAssignment):
    def copy_files(self):
        from nbformat import read, NO_CONVERT
        from nbformat.sign import NotebookNotary

        super().copy_files()
        notary = NotebookNotary()
        for notebook in Path(self.dest_path).rglob("*.ipynb"):
            if ".ipynb_checkpoints" not in notebook.parts:
                with open(notebook, encoding="utf-8") as fh:
                    notary.sign(read(fh, as_version=NO_CONVERT))


class MailboxFetchFeedback(LaidOutRoot, ExchangeFetchFeedback):
    def copy_files(self):
        super().copy_files()
        lab = self.coursedir.assignment_id or "*"
        mailbox = Path(self.course_path, "feedback_for", get_username())
        for html in sorted(mailbox.glob(f"{lab}/*/*.html")):  # feedback_for/<me>/<lab>/<timestamp>/<nb>.html
            dest = Path(self.assignment_dir, html.parent.parent.name, "feedback", html.parent.name, html.name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(html, dest)
            self.log.info("Fetched feedback: %s", dest)
