"""Command line: ``python -m grading.pipeline {demo,quiz,generate,grade,publish,pair,report,formgrader,
student-repo}`` (grading/README.md)."""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from . import demo
from .analytics import graded_labs, write_reports
from .driver import REPO, Course, generate, publish, run
from .names import shown


def print_report(report, seconds: float | None = None) -> None:
    print(f"\n{report.lab}: per student\n")
    print(report.student_table())
    print(f"\n{report.lab}: per exercise (over graded submissions)\n")
    print(report.exercise_table())
    times = sorted(d["autograde_seconds"] for d in report.per_submission.values() if d["autograde_seconds"])
    if times:
        print(f"\nautograding time per submission: median {times[len(times) // 2]:.1f} s, "
              f"max {times[-1]:.1f} s ({len(times)} submissions)"
              + (f"; whole pipeline {seconds:.0f} s" if seconds is not None else ""))
    flagged = [r for r in report.rows if r["flags"]]
    print(f"{len(flagged)} of {len(report.rows)} students flagged (see the flags and notes columns)")
    claims = [(s, sub.partner) for s, sub in sorted(report.submissions.items())
              if sub.partner and sub.partner != report.credits[s].partner
              and "partner_unconfirmed" in report.credits[s].flags]
    if claims:
        print(f"{len(claims)} PARTNER claim(s) not confirmed, each student graded alone: "
              f"{', '.join(f'{s} -> {shown(p, 40)}' for s, p in claims)}.\nTo confirm a real pair: "
              f"python -m grading.pipeline pair {report.lab} STUDENT PARTNER")
    print(f"grades:       {report.csv_path}\ndistribution: {report.plot_path}")


def print_analytics(write) -> None:
    """Write the instructor's analytics (``write()`` returns the pages) and say where; a failure there is reported
    and does not undo the grading (``report`` writes them again)."""
    try:
        paths = write()
    except Exception as exc:
        print(f"the analytics pages could not be written ({type(exc).__name__}: {exc}); the grades and feedback "
              "are; try again with `python -m grading.pipeline report`", file=sys.stderr)
        return
    print("for staff (what the class got wrong; never give these to students): " + ", ".join(map(str, paths)))


def course_in(out: Path) -> Course:
    """The course kept in the work directory ``out`` (the demo's, or the course server's grader account's)."""
    import os

    out = out.resolve()
    if not (out / "roster.csv").exists():
        raise SystemExit(f"{out}/roster.csv is missing: --out names a course work directory (e.g. the demo's)")
    if (out / ".secrets" / "hidden_seed").exists():  # the course server's grader keeps its copy of the seed there
        os.environ.setdefault("LABLIB_HIDDEN_SEED_FILE", str(out / ".secrets" / "hidden_seed"))
    return Course.in_directory(out, roster=out / "roster.csv")


def formgrader(course: Course, port: int) -> int:
    """JupyterLab in the course's root, which formgrader reads (its nbgrader_config.py says which class); the
    kit's hardened formgrade pages carry equations as MathML (no CDN)."""
    import subprocess

    course.write_nbgrader_config()
    print(f"formgrader on {course.root}: http://localhost:{port}/formgrader (Ctrl-C stops it)")
    return subprocess.run([sys.executable, "-m", "jupyter", "lab", f"--port={port}", "--no-browser",
                           f"--ServerApp.root_dir={course.root}"], cwd=course.root).returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="generate labs/, grade the bundled sample class, export")
    p_demo.add_argument("--out", type=Path, default=Path("output/grading-demo"), help="work directory")
    p_demo.add_argument("--timeout", type=int, default=5, help="seconds per cell (default 5; lab cells take ms)")
    p_demo.add_argument("--budget", type=int, default=60, help="seconds per notebook (default 60)")
    p_demo.add_argument("--workers", type=int, default=1, metavar="N", help="grade on N Dask workers (default 1)")
    p_gen = sub.add_parser("generate", help="regenerate labs/<lab>/ from solutions/<lab>/")
    p_gen.add_argument("lab")
    p_quiz = sub.add_parser("quiz", help="(re)write the quiz at the end of solutions/<lab>/ from grading/quizzes/ "
                                         "(then `generate <lab>`); 'all' for every lab")
    p_quiz.add_argument("lab")
    p_grade = sub.add_parser("grade", help="autograde grading/submitted/*/<lab>/, feedback, export")
    p_grade.add_argument("lab")
    p_grade.add_argument("--workers", type=int, default=1, metavar="N",
                         help="grade on N Dask worker processes on this machine (default 1: in this process)")
    p_grade.add_argument("--scheduler", default=None, metavar="URL",
                         help="grade on an existing Dask cluster, e.g. tcp://grader.example.org:8786 (README)")
    p_grade.add_argument("--student", action="append", default=None, metavar="ID",
                         help="grade only this student's submission, again (repeatable); the others as they are")
    p_grade.add_argument("--regrade", action="store_true",
                         help="grade every submission again (by default a run continues where the last stopped: "
                              "a submission graded from the same copy is not graded twice)")
    p_repo = sub.add_parser("student-repo", help="write the repository students clone (no solutions, no grading)")
    p_repo.add_argument("out", type=Path, help="a new directory")
    p_pub = sub.add_parser("publish", help="after manual grading: feedback and export again (no re-autograding)")
    p_pub.add_argument("lab")
    p_pair = sub.add_parser("pair", help="register STUDENT and PARTNER as a pair of LAB (grading/pairs.csv), then "
                                         "publish LAB again")
    p_pair.add_argument("lab", help="the lab, or '*' for every lab")
    p_pair.add_argument("student")
    p_pair.add_argument("partner")
    p_rep = sub.add_parser("report", help="the instructor's analytics again: <out>/<LAB>-report.html for each LAB "
                                          "(default: every graded lab) and <out>/course-report.html (staff only)")
    p_rep.add_argument("labs", nargs="*", metavar="LAB")
    p_fg = sub.add_parser("formgrader", help="JupyterLab with formgrader on a course (e.g. the demo's class)")
    p_fg.add_argument("--port", type=int, default=8888)
    for p in (p_demo, p_grade, p_pub, p_pair):
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    for p in (p_grade, p_pub, p_pair, p_rep, p_fg):
        p.add_argument("--out", type=Path, default=None,
                       help="a course work directory with its own roster.csv, submissions and gradebook (the "
                            "demo's: output/demo/grading); default: the course itself (grading/)")
        p.add_argument("--db-url", default=None, metavar="URL",
                       help="the gradebook, e.g. postgresql+psycopg://grader@db.example.org/course (the password in "
                            "~/.pgpass, never on the command line); default: the course's (SQLite)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    if args.command == "student-repo":
        from .student_repo import student_repo

        kept = student_repo(args.out)
        print(f"{len(kept)} files written to {args.out}/ (no solutions/, grading/, tests/): push it for students")
        return 0
    if args.command == "quiz":
        from grading.quizzes import load, write_quiz

        labs = sorted(p.name for p in (REPO / "solutions").iterdir() if (p / f"{p.name.split('-')[0]}.ipynb").is_file()) \
            if args.lab == "all" else [args.lab]
        for lab in labs:
            notebook = REPO / "solutions" / lab / f"{lab.split('-')[0]}.ipynb"
            if not notebook.is_file():
                parser.error(f"no source notebook {notebook.relative_to(REPO)}")
            quiz = load(lab)
            changed = write_quiz(notebook, quiz)
            print(f"{notebook.relative_to(REPO)}: quiz of {len(quiz.questions)} questions "
                  f"{'written' if changed else 'already up to date'}; then: python -m grading.pipeline generate {lab}")
        return 0
    if args.command == "generate":
        generate(Course(), args.lab)
        print(f"labs/{args.lab}/ regenerated")
        return 0
    if args.command == "demo":
        reports = demo(args.out, timeout=args.timeout, budget=args.budget, progress=not args.no_progress,
                       workers=args.workers)
        for report in reports:
            print_report(report)
        out = args.out.resolve()
        print_analytics(lambda: write_reports(Course.in_directory(out, roster=out / "roster.csv"), reports))
        print(f"\nsample class graded: {len(reports)} labs in {time.perf_counter() - start:.0f} s")
        return 0
    course = Course() if args.out is None else course_in(args.out)
    if getattr(args, "db_url", None):
        course = dataclasses.replace(course, db_url=args.db_url)
    if args.command == "formgrader":
        return formgrader(course, args.port)
    if args.command == "report":
        try:
            paths = write_reports(course, labs=args.labs or graded_labs(course))
        except ValueError as exc:
            raise SystemExit(str(exc)) from None
        print_analytics(lambda: paths)
        return 0
    if args.command == "pair":
        from .pairs import read_roster, register_pair

        register_pair(course.pairs, args.lab, args.student, args.partner, "instructor", read_roster(course.roster))
        print(f"{args.student} + {args.partner} registered as a pair of {args.lab} in {course.pairs}")
        if args.lab == "*" or not (course.path("autograded")).is_dir():
            print("publish each graded lab again to apply it (python -m grading.pipeline publish LAB)")
            return 0
    if args.command == "grade":
        from .parallel import Interrupted

        try:
            report = run(course, args.lab, progress=not args.no_progress, workers=args.workers,
                         scheduler=args.scheduler, students=args.student, regrade=args.regrade)
        except Interrupted as stop:
            print(f"\ninterrupted: {stop.stored} submission(s) graded and kept, {stop.remaining} not graded; the same "
                  "command continues with them", file=sys.stderr)
            return 130
        except KeyboardInterrupt:  # before or after grading: what was graded is kept
            print("\ninterrupted: the same command continues where this run stopped", file=sys.stderr)
            return 130
    else:
        report = publish(course, args.lab, progress=not args.no_progress)
    print_report(report, time.perf_counter() - start)
    print_analytics(lambda: write_reports(course, [report]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
