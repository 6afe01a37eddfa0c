"""The course server: ``python -m grading.hub {serve,setup,remove,collect,release-feedback}`` (grading/README.md).

As root, on the machine that serves the class:
    serve             set up (accounts, exchange, course directory) and run the Hub in the foreground (make hub)
    setup             only the set-up (idempotent)
    remove            remove the accounts and groups the kit created (and, with --purge, the state directory)
As the grader account (the formgrader service's terminal has everything set):
    collect LAB            nbgrader collect, and the pairs the Hub's shares say (<course>/pairs.csv)
    release-feedback LAB   nbgrader release_feedback, and every student's feedback (partners too) to their mailbox
Grading itself is the kit's pipeline: python -m grading.pipeline grade LAB --out <course>.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import accounts
from .course import REPO, Settings, setup

DEFAULT_STATE = "/srv/lablib-hub"


def hub_command(settings: Settings) -> tuple[list[str], dict]:
    """The command line and environment that run the Hub of ``settings`` (cwd: <state>/hub)."""
    bin_dir = Path(settings.python).parent
    env = {**os.environ, "LABLIB_HUB_STATE": settings.state, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
    return [settings.python, "-m", "jupyterhub", "-f", str(Path(__file__).with_name("jupyterhub_config.py"))], env


def remove(settings: Settings, purge: bool = False) -> None:
    for name in [*settings.students, *settings.graders, settings.grader]:
        accounts.remove_user(name, settings.course)
    for group in (settings.students_group, settings.graders_group):
        accounts.remove_group(group)
    if purge:
        shutil.rmtree(settings.state, ignore_errors=True)


def _nbgrader(settings: Settings, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=settings.course_dir, check=True)


def collect(settings: Settings, lab: str) -> None:
    from .pair import register_pairs

    _nbgrader(settings, "collect", lab)
    if os.environ.get("JUPYTERHUB_API_TOKEN") and os.environ.get("JUPYTERHUB_API_URL"):
        path = register_pairs(settings.course_dir, lab, settings.students)
        print(f"pairs from the Hub's shares: {path}")
    else:
        print("no Hub token in the environment (run this in the formgrader service's terminal): pairs not read")


def release_feedback(settings: Settings, lab: str) -> int:
    """Each submitter's feedback where nbgrader's Fetch Feedback looks for it, then each student's feedback into
    feedback_for/<student>/ (partners credited by the pair rule included); returns how many students got feedback
    there."""
    release_to_exchange(settings, lab)
    mailboxes = settings.exchange / settings.course / "feedback_for"
    count = 0
    for html in sorted((settings.course_dir / "feedback").glob(f"*/{lab}/*.html")):
        student = html.parent.parent.name
        stamp = (html.parent / "timestamp.txt").read_text().strip() if (html.parent / "timestamp.txt").exists() else ""
        if not (mailboxes / student).is_dir() or not stamp:
            continue
        target = mailboxes / student / lab / stamp / html.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(html, target)
        target.chmod(0o640)
        count += 1
    return count


def release_to_exchange(settings: Settings, lab: str) -> int:
    """nbgrader's release_feedback, done by the kit: the feedback HTML of each student who submitted goes to
    <exchange>/<course>/feedback/<md5(submission secret + notebook)>.html, where the student's Fetch Feedback
    finds it. nbgrader's own step reads submission_secret.txt from the feedback folder, which holds only the kit's
    HTML and timestamp (and a partner, credited with a classmate's submission, has no secret of their own); the
    secret is read from the submission instead, as the intake reads a submission (no link followed, bounded)."""
    from nbgrader.utils import notebook_hash

    from grading.pipeline.intake import read_submission_secret

    outbound = settings.exchange / settings.course / "feedback"
    released = 0
    for html in sorted((settings.course_dir / "feedback").glob(f"*/{lab}/*.html")):
        secret = read_submission_secret(settings.course_dir / "submitted", html.parent.parent.name, lab)
        if secret is None:
            continue
        target = outbound / f"{notebook_hash(secret=secret, notebook_id=html.stem)}.html"
        partial = target.with_name(target.stem + "-tmp.html")
        shutil.copyfile(html, partial)
        partial.chmod(0o644)   # world-readable like nbgrader's: the name is the secret
        os.replace(partial, target)
        released += 1
    return released


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.hub", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("serve", "setup"):
        p = sub.add_parser(name)
        p.add_argument("--roster", type=Path, default=REPO / "grading" / "roster.csv",
                       help="id,first_name,last_name,email[,role]; role: student (default), ta, instructor")
        p.add_argument("--ip", default="127.0.0.1", help="the address to serve on (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=8000)
    p_rm = sub.add_parser("remove")
    p_rm.add_argument("--purge", action="store_true", help="delete the state directory too")
    for name in ("collect", "release-feedback"):
        sub.add_parser(name).add_argument("lab")
    for p in sub.choices.values():
        p.add_argument("--state", type=Path, default=Path(os.environ.get("LABLIB_HUB_STATE", DEFAULT_STATE)),
                       help=f"the course server's directory (default $LABLIB_HUB_STATE or {DEFAULT_STATE})")
    args = parser.parse_args(argv)

    if args.command in ("serve", "setup"):
        if not args.roster.exists():
            parser.error(f"{args.roster} is missing: the roster (id,first_name,last_name,email,role) of the class")
        settings = setup(args.roster, args.state, ip=args.ip, ports=(args.port, args.port + 81, args.port + 1,
                                                                   args.port + 2))
        print(f"course server set up in {settings.state}: {len(settings.students)} students, {len(settings.tas)} "
              f"TAs, {len(settings.instructors)} instructors; initial passwords in "
              f"{settings.path('initial-passwords.csv')} (root only)")
        if args.command == "setup":
            return 0
        if not settings.proxy:
            parser.error("configurable-http-proxy is missing: run `bash tools/system-deps.sh` (npm, local prefix)")
        cmd, env = hub_command(settings)
        print(f"JupyterHub on http://{settings.ip}:{settings.port}/ (Ctrl-C stops it and every server)")
        return subprocess.run(cmd, env=env, cwd=settings.path("hub")).returncode
    settings = Settings.load(args.state)
    if args.command == "remove":
        remove(settings, purge=args.purge)
    elif args.command == "collect":
        collect(settings, args.lab)
    else:
        print(f"feedback in the mailboxes of {release_feedback(settings, args.lab)} students")
    return 0


if __name__ == "__main__":
    sys.exit(main())
