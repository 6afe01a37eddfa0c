"""Class-scale grading, measured side by side in one run: the kit (sandbox + trusted verdict) on one worker, plain
``nbgrader autograde`` on the same submissions in one batch process, and the kit on two workers; ratios and the
projection for the whole class and for N machines.

    python bench/grading_scale.py [--students N] [--labs K]       (make bench: --students 10 --labs 2)

The synthetic class: N students (default 300) x the first K labs (default all 7), made with the sample-class
generator (grading/sample_class/make_sample_class.py). Out of every 10 students of lab01: 4 correct, 4 with a
catalogued mistake, 1 blank notebook and 1 attack (tampered tests or metadata, an endless loop, os._exit, reading
the environment), each kind cycling through the generator's submissions of that kind. The later labs have no
attacks in the generator: 5 correct, 4 with the lab's catalogued mistake, 1 blank.

* kit, 1 worker: ``driver.autograde`` (what ``python -m grading.pipeline grade`` runs: intake, sandboxed kernel,
  the grader's trusted verdict in its own sandbox, gradebook), one submission after the other, in this process.
* plain nbgrader: ``python -m nbgrader autograde LAB`` in a plain course (nbgrader's default configuration, the
  same per-cell timeout; source = solutions/), all students in one process. It runs every cell of the notebook
  (the experiments too) in an unsandboxed kernel, with the hidden tests in the student's own kernel: no trusted
  verdict, no sandbox, no intake.
* plain nbgrader, graded cells only: the same, on copies of the submissions whose plain code cells are emptied,
  so nbgrader runs the cells the kit runs (the kit never runs experiments while grading): the work compared.
* kit, 2 workers: ``--workers 2`` when the pipeline has it (the Dask grading of issue 16); otherwise two worker
  processes each autograding half of the submissions into a copy of the course (what any two workers can at
  best do on this machine; said in the output).

Timing only; the grades are not compared here (tests do that). No assertion: the issue's targets are printed next to
the measured figures.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import inspect
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grading.pipeline import driver  # noqa: E402
from grading.pipeline.driver import Course, autograde, generate, import_roster  # noqa: E402

SAMPLE = REPO / "grading" / "sample_class"
LABS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
FULL_CLASS = 300
SEED = "12345"
TIMEOUT = 30    # seconds per cell, both graders (the course's default, grading/nbgrader_config.py)


def _generator():
    spec = importlib.util.spec_from_file_location("make_sample_class", SAMPLE / "make_sample_class.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lab01_kinds(gen) -> dict[str, list[str]]:
    """The generator's lab01 submissions by kind (what each is, by its answers)."""
    attacks = ["sam", "tara", "quentin", "rosa", "jo"]   # tampered tests, tampered metadata, endless loop, os._exit, env
    kinds = {"correct": [], "mistake": [], "blank": [], "attack": attacks}
    for student, (f, df, gd, *_rest) in gen.SUBMISSIONS.items():
        if student in attacks:
            continue
        answers = [("f", f), ("df", df), ("gradient_descent", gd)]
        if all(v is None for _, v in answers):
            kinds["blank"].append(student)
        elif any(a in gen.CATALOGUED or a in gen.UNCATALOGUED for a in answers):
            kinds["mistake"].append(student)
        else:
            kinds["correct"].append(student)
    return kinds


DECK = ["correct", "mistake", "correct", "mistake", "blank", "correct", "mistake", "attack", "correct", "mistake"]


def synthetic_class(root: Path, students: int, labs: list[str]) -> dict[str, dict[str, int]]:
    """``root/submitted/<sid>/<lab>/`` and ``root/roster.csv`` for ``students`` synthetic students; returns how
    many submissions of each kind each lab has."""
    import nbformat

    gen = _generator()
    ids = [f"s{i:04d}" for i in range(1, students + 1)]
    with open(root / "roster.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["id"], *[[sid] for sid in ids]])
    kinds_of = {}
    for lab in labs:
        if lab == gen.LAB:
            release = nbformat.read(gen.RELEASE, as_version=4)
            kinds = lab01_kinds(gen)

            def make(template, release=release):
                return gen.lab01_submission(release, template)
        else:
            released, answers = gen.later_lab(lab)
            more = gen.MORE_LABS[lab]
            kinds = {"correct": [s for s, w in more.items() if w == {}],
                     "mistake": [s for s, w in more.items() if w], "blank": [s for s, w in more.items() if w is None]}
            kinds["attack"] = kinds["correct"]   # the generator has attacks for lab01 only

            def make(template, released=released, answers=answers, more=more):
                return gen.later_lab_submission(released, answers, more[template])
        counts: dict[str, int] = {}
        for i, sid in enumerate(ids):
            kind = DECK[i % len(DECK)]
            if kind == "attack" and lab != gen.LAB:
                kind = "correct"
            template = kinds[kind][(i // len(DECK)) % len(kinds[kind])]
            gen.write(root / "submitted", sid, lab, make(template), "2026-10-20 10:00:00 UTC")
            counts[kind] = counts.get(kind, 0) + 1
        kinds_of[lab] = counts
    return kinds_of


def spread_sample(ids: list[str], sample: int) -> list[str]:
    """``sample`` of ``ids`` evenly spread over the class with a step prime to the deck's length, so the sample has
    the class's kinds in its proportions (every kind once per 10 students) and many of the generator's templates of
    each kind; the first students would all have the first template of their kind."""
    step = max(1, len(ids) // sample)
    while step > 1 and math.gcd(step, len(DECK)) != 1:
        step -= 1
    return [ids[k * step] for k in range(sample)]


# -- the three ways of grading ----------------------------------------------------------------------------------

def kit_course(work: Path, roster: Path) -> Course:
    return Course.in_directory(work, roster=roster, link_labs=False, hidden_seed=SEED, timeout=TIMEOUT)


def prepare_kit(work: Path, roster: Path, submitted: Path, labs: list[str]) -> Course:
    """A course in ``work`` with its own copy of the submissions (the intake refuses links), labs generated."""
    course = kit_course(work, roster)
    shutil.copytree(submitted, course.path("submitted"))
    import_roster(course)
    for lab in labs:
        generate(course, lab)
    return course


def grade_kit(course: Course, labs: list[str],
              students: list[str] | None = None) -> dict[str, tuple[float, list[float]]]:
    """{lab: (wall seconds, per-submission seconds)} of ``driver.autograde`` (one worker, this process)."""
    timings = {}
    for lab in labs:
        start = time.perf_counter()
        seconds = [r["seconds"] for r in autograde(course, lab, students=students, progress=False).values()]
        timings[lab] = (time.perf_counter() - start, seconds)
    return timings


def grade_kit_on_workers(course: Course, labs: list[str], workers: int) -> tuple[float, float]:
    """The pipeline's own parallel grading (Dask) of every lab, then its publishing (feedback pages in ``workers``
    processes, the export): (wall seconds grading, Dask's start included; wall seconds publishing)."""
    from grading.pipeline.parallel import autograde_lab

    grading = publishing = 0.0
    for lab in labs:
        start = time.perf_counter()
        results = autograde_lab(course, lab, workers=workers, progress=False)
        graded = time.perf_counter()
        driver.publish(course, lab, results, progress=False, processes=workers)
        grading, publishing = grading + graded - start, publishing + time.perf_counter() - graded
    return grading, publishing


def _worker(args) -> tuple[float, float]:
    """A worker process: autograde ``students`` of each lab in its own prepared course; (start, end) of the grading
    in epoch seconds (the process and its imports started before)."""
    work, roster, labs, students = args
    start = time.time()
    grade_kit(kit_course(Path(work), Path(roster)), labs, students)
    return start, time.time()


def kit_two_processes(tmp: Path, roster: Path, submitted: Path, labs: list[str], ids: list[str]) -> tuple[float, float]:
    """Two worker processes, each autograding every other submission of every lab in its own prepared copy of the
    course: (wall seconds from starting the processes, wall seconds of the grading alone, i.e. from the first
    worker's first submission to the last worker's end)."""
    jobs = []
    for k, half in enumerate([ids[0::2], ids[1::2]]):
        prepare_kit(tmp / f"worker{k}", roster, submitted, labs)
        jobs.append((str(tmp / f"worker{k}"), str(roster), labs, half))
    start = time.time()
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        spans = list(pool.map(_worker, jobs))
    return time.time() - start, max(end for _, end in spans) - min(begin for begin, _ in spans)


def graded_cells_only(submitted: Path, target: Path) -> None:
    """A copy of ``submitted`` whose notebooks' plain code cells (experiments, plots, widgets) are one-line notes,
    as the kit runs them (RebuildFromSource with run_experiments off)."""
    import nbformat

    shutil.copytree(submitted, target)
    for path in target.glob("*/*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and "nbgrader" not in cell.metadata:
                cell.source = "# (experiment cell: not run while grading)"
        nbformat.write(nb, path)


def plain_nbgrader(work: Path, submitted: Path, labs: list[str]) -> dict[str, float]:
    """{lab: wall seconds} of ``nbgrader autograde LAB`` (one process per lab, every student) in a plain course."""
    work.mkdir(parents=True)
    (work / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(work)!r}\n"
        "c.CourseDirectory.source_directory = 'source'\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(work / 'gradebook.db')!r}\n"
        "c.Autograde.create_student = True\n"
        f"c.Execute.timeout = {TIMEOUT}\n")
    shutil.copytree(submitted, work / "submitted")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(work / ".jupyter"), "IPYTHONDIR": str(work / ".ipython"),
           "MPLBACKEND": "Agg",   # nbgrader runs `alembic` from PATH for a new gradebook
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    env.pop("LABLIB_HIDDEN_SEED", None)
    timings = {}
    for lab in labs:
        shutil.copytree(REPO / "solutions" / lab, work / "source" / lab)
        run = [sys.executable, "-m", "nbgrader"]
        subprocess.run([*run, "generate_assignment", lab, "--force", "--log-level=ERROR"], cwd=work, env=env,
                       check=True, stdout=subprocess.DEVNULL)
        start = time.perf_counter()
        done = subprocess.run([*run, "autograde", lab, "--force", "--log-level=ERROR"], cwd=work, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        timings[lab] = time.perf_counter() - start
        if done.returncode:   # nbgrader grades the other submissions, then exits 1 for one it could not grade
            print(f"plain nbgrader, {lab}: `nbgrader autograde` exited with status {done.returncode} (a submission "
                  "it could not grade, e.g. an attack's; it graded the others, and its time counts)")
    return timings


def has_workers() -> bool:
    return "workers" in inspect.signature(driver.run).parameters


def minutes(seconds: float) -> str:
    return f"{seconds / 60:6.1f} min"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=FULL_CLASS, help=f"students (default {FULL_CLASS})")
    parser.add_argument("--labs", type=int, default=len(LABS), help=f"the first K labs (default {len(LABS)})")
    parser.add_argument("--no-nbgrader", action="store_true", help="skip plain nbgrader")
    parser.add_argument("--no-scaling", action="store_true", help="skip the two-worker run")
    parser.add_argument("--sample", type=int, default=None,
                        help="the one-worker kit and plain nbgrader on S students of each lab only, spread over the "
                             "class (the same submissions for both); the two-worker run grades the whole class")
    args = parser.parse_args(argv)
    from grading.pipeline.sandbox import available

    if available():
        sys.exit(f"the sandbox does not work here: {available()}")
    labs = LABS[:args.labs]
    with tempfile.TemporaryDirectory(prefix="grading-scale-") as tmp:
        tmp = Path(tmp)
        (tmp / "class").mkdir()
        kinds = synthetic_class(tmp / "class", args.students, labs)
        roster, submitted = tmp / "class" / "roster.csv", tmp / "class" / "submitted"
        ids = [f"s{i:04d}" for i in range(1, args.students + 1)]
        n = args.students * len(labs)
        sample = min(args.sample or args.students, args.students)
        n1 = sample * len(labs)   # what the one-worker kit and plain nbgrader grade
        sampled = submitted
        if sample < args.students:
            sampled = tmp / "sample"
            for sid in spread_sample(ids, sample):
                shutil.copytree(submitted / sid, sampled / sid)
            print(f"one worker and plain nbgrader: {sample} students spread over the class, the same in each lab "
                  f"({n1} submissions: spread_sample); two workers: the whole class ({n} submissions)")
        print(f"synthetic class: {args.students} students x {len(labs)} labs = {n} submissions; per lab: "
              + "; ".join(f"{lab.split('-')[0]} " + ", ".join(f"{v} {k}" for k, v in c.items())
                          for lab, c in kinds.items()))
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start\n")

        kit = grade_kit(prepare_kit(tmp / "kit1", roster, sampled, labs), labs)
        kit_wall = sum(w for w, _ in kit.values())
        per_sub = [s for _, ss in kit.values() for s in ss]
        plain = {} if args.no_nbgrader else plain_nbgrader(tmp / "plain", sampled, labs)
        plain_wall = sum(plain.values())
        graded_only = {}
        if not args.no_nbgrader:
            graded_cells_only(sampled, tmp / "graded-only")
            graded_only = plain_nbgrader(tmp / "plain-graded-only", tmp / "graded-only", labs)
        graded_only_wall = sum(graded_only.values())
        two = None
        if not args.no_scaling:
            if has_workers():
                steady, publishing = grade_kit_on_workers(prepare_kit(tmp / "kit2", roster, submitted, labs), labs, 2)
                two = steady + publishing
                how = "--workers 2 (the pipeline's own)"
            else:
                two, steady = kit_two_processes(tmp, roster, submitted, labs, ids)
                how = ("two worker processes, half the submissions each (this tree's pipeline has no --workers yet: "
                       "the Dask grading is another change)")

    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine slows every figure alike "
          "only if it stays constant: compare ratios of one run)\n")
    print(f"{'':<52}{'wall':>10}{'per submission':>17}")
    print(f"{'kit, 1 worker (sandbox + trusted verdict)':<52}{kit_wall:>9.1f}s{kit_wall / n1:>16.2f}s"
          f"   (median of the submissions' own times {statistics.median(per_sub):.2f} s)")
    for lab, (wall, _) in kit.items():
        line = f"    {lab:<48}{wall:>9.2f}s{wall / sample:>16.2f}s"
        if lab in plain:
            line += (f"   nbgrader {plain[lab] / sample:.2f} s (graded cells only {graded_only[lab] / sample:.2f}"
                     f" s): ratios {wall / plain[lab]:.2f}, {wall / graded_only[lab]:.2f}")
        print(line)
    if plain:
        print(f"{'plain nbgrader autograde (one batch per lab)':<52}{plain_wall:>9.1f}s{plain_wall / n1:>16.2f}s"
              "   (every cell, as nbgrader does)")
        print(f"{'plain nbgrader, graded cells only':<52}{graded_only_wall:>9.1f}s{graded_only_wall / n1:>16.2f}s"
              "   (experiment cells emptied, as the kit runs them)")
        print(f"\nkit / plain nbgrader, per submission: {kit_wall / plain_wall:.2f}   (target <= 0.5); against "
              f"nbgrader running only the cells the kit runs: {kit_wall / graded_only_wall:.2f}")
    if two is not None:
        efficiency = (kit_wall / n1) / (2 * steady / n)
        print(f"\n{'kit, 2 workers, grading, then publishing':<52}{two:>9.1f}s{two / n:>16.2f}s\n"
              f"{'kit, 2 workers, grading only':<52}{steady:>9.1f}s{steady / n:>16.2f}s\n    how: {how}")
        print(f"scaling 1 -> 2 workers, per submission: speed-up {2 * efficiency:.2f}, efficiency {efficiency:.2f} "
              f"(target >= 0.85); counting the publishing too (feedback pages in as many processes, the export): "
              f"{(kit_wall / n1) / (2 * two / n):.2f}")
        if n == FULL_CLASS * len(LABS):
            print(f"the whole class measured on 2 workers: {minutes(two)} (target <= 30 min)")
    else:
        efficiency = None
    full = FULL_CLASS * len(LABS)
    per = kit_wall / n1
    print(f"\nprojection for the whole class, {FULL_CLASS} students x {len(LABS)} labs = {full} submissions, at "
          f"{per:.2f} s per submission (the mean over the labs measured):")
    print(f"  1 machine, 1 worker:  {minutes(full * per)}")
    if efficiency:
        for machines in (1, 2, 4, 8, 16):
            workers = 2 * machines
            print(f"  {machines:>2} machine(s) of {os.cpu_count()} cores, {workers:>2} workers: "
                  f"{minutes(full * per / (workers * efficiency))}"
                  + ("   (target <= 30 min on this machine)" if machines == 1 else ""))
        print("  (N machines: the measured 2-worker efficiency held constant; the coordinator's gradebook writes "
              "and the network are not in it)")


if __name__ == "__main__":
    main()
