"""Where one submission's autograding time goes: intake, nbgrader, kernel start, imports, the notebook's cells,
the trusted verdict's harness and checks, nbconvert, the gradebook, and the feedback HTML.

    python bench/grading_profile.py [--students N] [--lab LAB]      (make bench runs it too)

Autogrades N submissions of the sample class (default 8 of lab01, a mix of correct, wrong and blank) the way
``python -m grading.pipeline grade`` does (``driver.autograde``: one after the other, sandboxed, trusted
verdict), with timers wrapped around the pipeline's own steps (in this process only: nothing in the pipeline is
changed). Then times the feedback HTML of each, and the cold starts a submission pays: Python, numpy,
matplotlib and lablib imports, with and without the sandbox.

The trusted verdict runs in a thread while the kernel runs the notebook (verdict.py), so its rows overlap the
kernel's; "waiting for the verdict" is what it adds to the critical path. Shares are of the mean autograding wall
time per submission.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grading.pipeline import driver, verdict  # noqa: E402
from grading.pipeline.driver import Course, autograde, generate, import_roster  # noqa: E402
from grading.pipeline.preprocessors import GradingExecute  # noqa: E402

SAMPLE = REPO / "grading" / "sample_class"
DEFAULT_STUDENTS = ["ada", "ben", "eli", "gus", "hana", "kim", "vic", "yuki", "fay", "ivan", "xia", "yara"]
PARALLEL = "  ∥ "   # rows of the verdict thread, which overlap the kernel's
HARNESS = PARALLEL + "verdict: start the harness, run setup + answer cells"
CHECKS = PARALLEL + "verdict: the checks (engine here, calls in the sandbox)"


class Clock:
    """Seconds per phase, summed over calls (thread-safe), and the patches that measure them."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._undo: list = []

    def add(self, phase: str, seconds: float) -> None:
        with self._lock:
            self.seconds[phase] += seconds
            self.calls[phase] += 1

    def wrap(self, owner, name: str, phase) -> None:
        """Time ``owner.name`` (a function or coroutine function) as ``phase`` (a string, or a function of the
        call's arguments returning one)."""
        original = inspect.getattr_static(owner, name)
        function = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original
        name_of = phase if callable(phase) else (lambda *a, **k: phase)
        if inspect.iscoroutinefunction(function):
            @functools.wraps(function)
            async def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return await function(*args, **kwargs)
                finally:
                    self.add(name_of(*args, **kwargs), time.perf_counter() - start)
        else:
            @functools.wraps(function)
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self.add(name_of(*args, **kwargs), time.perf_counter() - start)
        setattr(owner, name, timed)
        self._undo.append((owner, name, original))

    def undo(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)
        self._undo.clear()


def _cell_phase(self, cell, resources, index) -> str:
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
    if grade_id == "setup":
        return "kernel: setup cell (imports numpy, matplotlib, lablib)"
    if grade_id.startswith("test_"):
        return "kernel: test cells"
    return "kernel: other cells (answers, PARTNER)"


@contextmanager
def instrumented(course: Course):
    """Timers around the steps of autograde_one, nbgrader's Autograde and the preprocessors it runs."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.converters.base import BaseConverter
    from nbgrader.preprocessors import SaveAutoGrades
    from nbclient import NotebookClient

    clock = Clock()
    clock.wrap(driver, "take", "intake (read and stage the submission)")
    clock.wrap(Autograde, "init_assignment", "nbgrader: gradebook student/submission records")
    clock.wrap(BaseConverter, "convert_single_notebook", "nbconvert passes (with their preprocessors)")
    cfg = course.config()
    classes = dict.fromkeys([*cfg.Autograde.sanitize_preprocessors, *cfg.Autograde.autograde_preprocessors])
    for cls in classes:
        if cls is GradingExecute:
            continue          # its parts are timed below
        phase = {verdict.StartTrustedVerdict: "verdict: copy the notebook, start the thread",
                 verdict.TrustedVerdict: "waiting for the verdict (after the kernel)",
                 SaveAutoGrades: "gradebook: save the grades (SaveAutoGrades)"}.get(cls, f"preprocessor {cls.__name__}")
        clock.wrap(cls, "preprocess", phase)
    clock.wrap(GradingExecute, "preprocess", "kernel: whole run (GradingExecute)")
    clock.wrap(GradingExecute, "start_new_kernel", "kernel: start the process (sandbox + python)")
    clock.wrap(NotebookClient, "start_new_kernel_client", "kernel: wait until ready (ipykernel imports)")
    clock.wrap(NotebookClient, "_cleanup_kernel", "kernel: shut down")
    base = next(k for k in GradingExecute.__mro__[1:] if "preprocess_cell" in k.__dict__)
    clock.wrap(base, "preprocess_cell", _cell_phase)
    clock.wrap(verdict.Session, "start", HARNESS)
    clock.wrap(verdict, "_one_check", CHECKS)
    clock.wrap(verdict.TrustedVerdict, "_verdicts", PARALLEL + "verdict: whole (thread)")
    try:
        yield clock
    finally:
        clock.undo()


def cold_start(sandboxed: bool, statement: str, repeat: int = 3) -> float:
    """Median seconds of ``python -c statement`` (in the grading sandbox if ``sandboxed``)."""
    from grading.pipeline.sandbox import Sandbox, sandbox_env

    sandbox = Sandbox(config=Course().config())
    times = []
    for _ in range(repeat):
        workdir = sandbox.workdir()
        cmd = [sys.executable, "-c", statement]
        if sandboxed:
            cmd = sandbox.command(cmd, workdir)
        start = time.perf_counter()
        subprocess.run(cmd, cwd=workdir, env=sandbox_env(workdir, {"PYTHONPATH": str(REPO)}), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        shutil.rmtree(workdir, ignore_errors=True)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=8, help="submissions to profile (default 8)")
    parser.add_argument("--lab", default="lab01-gradient-descent")
    args = parser.parse_args(argv)
    from grading.pipeline.sandbox import available

    if available():
        sys.exit(f"the sandbox does not work here: {available()}")
    have = sorted(p.parent.name for p in (SAMPLE / "submitted").glob(f"*/{args.lab}"))
    students = [s for s in DEFAULT_STUDENTS if s in have] + [s for s in have if s not in DEFAULT_STUDENTS]
    students = students[:args.students]
    with tempfile.TemporaryDirectory() as tmp:
        course = Course.in_directory(Path(tmp), roster=SAMPLE / "roster.csv", link_labs=False, timeout=5, budget=60,
                                     hidden_seed="12345")
        for student in students:
            shutil.copytree(SAMPLE / "submitted" / student / args.lab, course.path("submitted") / student / args.lab)
        generate(course, args.lab)
        import_roster(course)
        autograde(course, args.lab, students=students[:1], progress=False)   # warm-up: imports of this process
        with instrumented(course) as clock:
            start, cpu = time.perf_counter(), machine_cpu_seconds()
            results = autograde(course, args.lab, students=students, progress=False)
            wall, cpu = time.perf_counter() - start, machine_cpu_seconds() - cpu
        cold = dataclasses.replace(course, warm=False)   # every kernel and harness a new cold Python
        start, cold_cpu = time.perf_counter(), machine_cpu_seconds()
        autograde(cold, args.lab, students=students, progress=False)
        cold_wall, cold_cpu = time.perf_counter() - start, machine_cpu_seconds() - cold_cpu
        seconds = [r["seconds"] for r in results.values()]
        api = driver._api(course)
        feedback = []
        for student in students:
            begin = time.perf_counter()
            api.generate_feedback(args.lab, student, force=True)
            feedback.append(time.perf_counter() - begin)
    n = len(students)
    per = {phase: total / n for phase, total in clock.seconds.items()}
    mean = statistics.fmean(seconds)
    derived = {
        "nbconvert: read, export, write (2 passes, without preprocessors)":
            per.pop("nbconvert passes (with their preprocessors)", 0.0)
            - sum(v for k, v in per.items() if k.startswith(("preprocessor ", "gradebook: save", "verdict: copy",
                                                              "waiting for", "kernel: whole"))),
        CHECKS: per.pop(CHECKS, 0.0) - per.get(HARNESS, 0.0),   # the first check starts the harness
        "kernel: the rest of nbclient (kernel_info, bookkeeping)": per.get("kernel: whole run (GradingExecute)", 0.0)
            - sum(v for k, v in per.items() if k.startswith("kernel: ") and k != "kernel: whole run (GradingExecute)"),
    }
    print(f"autograding {n} submissions of {args.lab} (sandbox + trusted verdict, one after the other): "
          f"{wall:.1f} s, {mean:.2f} s per submission (median {statistics.median(seconds):.2f} s)\n")
    print(f"{'phase':<72}{'s / submission':>15}{'share':>8}")
    print("-" * 95)
    rows = [(k, v) for k, v in per.items() if k != "kernel: whole run (GradingExecute)"] + list(derived.items())
    rows.append(("kernel: whole run (GradingExecute)", per.get("kernel: whole run (GradingExecute)", 0.0)))
    accounted = sum(v for k, v in rows if not k.startswith(PARALLEL) and k != "kernel: whole run (GradingExecute)")
    rows.append(("nbgrader and pipeline, other (API, config, staging, logs)", mean - accounted))
    for phase, value in sorted(rows, key=lambda kv: (kv[0].startswith(PARALLEL), -kv[1])):
        print(f"{phase:<72}{value:>15.3f}{value / mean:>8.0%}")
    print(f"{'(publish) feedback HTML for the submission':<72}{statistics.fmean(feedback):>15.3f}")
    print("\ncold starts (median of 3; what every kernel and every verdict harness pays):")
    for label, statement in (("python -c pass", "pass"), ("import numpy", "import numpy"),
                             ("import numpy, matplotlib.pyplot", "import numpy, matplotlib.pyplot"),
                             ("import lablib.grading.harness (verdict)", "import lablib.grading.harness"),
                             ("kernel + setup cell imports", "import ipykernel.kernelapp, numpy, matplotlib.pyplot, "
                                                             "lablib"),):
        plain, boxed = cold_start(False, statement), cold_start(True, statement)
        print(f"  {label:<40} plain {plain:6.3f} s   sandboxed {boxed:6.3f} s   (sandbox adds {boxed - plain:+.3f} s)")
    print("\nper submission the kernel and two verdict harnesses each pay such a start when cold; warm (the default,"
          " c.Sandbox.warm: forkserver.py) each is forked from a pre-imported interpreter into a new sandbox:")
    print(f"  warm (as graded):  {wall / n:.2f} s per submission, {cpu / n:.2f} CPU-seconds (machine-wide)")
    print(f"  cold (warm off):   {cold_wall / n:.2f} s per submission, {cold_cpu / n:.2f} CPU-seconds (machine-wide)")
    print(f"  warm / cold:       {wall / cold_wall:.2f} wall, {cpu / cold_cpu:.2f} CPU")


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy so far (/proc/stat): the grader, its sandboxes and the fork
    server's, which are not this process's children."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
