"""The grading pipeline, all in one process through nbgrader's Python API (``NbGraderAPI``).

    generate   labs/<lab>/ from solutions/<lab>/ (nbgrader generate_assignment; also fills the gradebook)
    autograde  every submission of a lab, one after the other, with a progress bar; each is one
               ``autograde_one``: the intake (intake.py) reads the submission into a private staging
               directory, nbgrader autogrades that copy, the result is plain data
    feedback   sanitized HTML feedback (only the HTML), copied to the partner of a pair   } publish: also
    export     grades.csv (one row per student, with flags), a per-student and a per-exercise   } after manual
               table and grade_distribution.png                                                 } grading

``Course`` says where things are. By default it is the course itself, as grading/nbgrader_config.py says
(grading/submitted, grading/gradebook.db, ...); ``Course.in_directory(work)`` keeps submissions, gradebook
and outputs in a separate work directory, as the demo and the tests do. All other nbgrader settings always
come from grading/nbgrader_config.py.
"""
from __future__ import annotations

import copy
import functools
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from traitlets.config import Config, PyFileConfigLoader

from .export import prepare_gradebook
from .intake import TIMESTAMP_FILE, Intake, Limits, label, list_submissions, staging, take
from .names import valid_student_id

if TYPE_CHECKING:
    from .export import Report

REPO = Path(__file__).resolve().parents[2]
CONFIG_FILE = REPO / "grading" / "nbgrader_config.py"


@dataclass
class Course:
    """Where a course's files are. ``None`` means: as grading/nbgrader_config.py says."""

    root: Path = REPO                   # nbgrader course root
    submitted: str | None = None        # directories relative to root
    autograded: str | None = None
    feedback: str | None = None
    db_url: str | None = None           # the gradebook
    roster: Path = REPO / "grading" / "roster.csv"
    pairs: Path = REPO / "grading" / "pairs.csv"   # registered pairs (pairs.py); may not exist
    out: Path = REPO / "grading" / "output"    # grades CSV and plot
    timeout: int | None = None          # per-cell seconds
    budget: int | None = None           # per-notebook seconds
    hidden_seed: str | None = None      # None: the installation's secret (grading/.secrets/)
    sandbox: bool | None = None         # None: as configured (on); False only to measure what it costs
    warm: bool | None = None            # None: as configured (on): sandboxes forked warm (forkserver.py)
    intake: Limits = field(default_factory=Limits)   # what a submission may be (intake.py)

    def write_nbgrader_config(self, before: tuple[str, ...] = (), after: tuple[str, ...] = ()) -> Path:
        """<root>/nbgrader_config.py: the course's configuration with this course's directories and gradebook, so
        that nbgrader and formgrader started in <root> see this class (``python -m grading.pipeline formgrader``);
        ``before`` and ``after`` are more lines of Python around it (the course server's, grading/hub/course.py)."""
        cfg = self.config()
        cd = cfg.CourseDirectory
        lines = ["# Written by grading/pipeline/driver.py (Course.write_nbgrader_config); rewritten on every run.",
                 *before, f"load_subconfig({str(CONFIG_FILE)!r})  # noqa: F821", "c = get_config()  # noqa: F821"]
        lines += [f"c.CourseDirectory.{key} = {cd[key]!r}" for key in (
            "root", "submitted_directory", "autograded_directory", "feedback_directory", "db_url")]
        lines += [f"c.RebuildFromSource.{key} = {cfg.RebuildFromSource[key]!r}" for key in ("source_root", "release_root")]
        if self.root != REPO:
            lines.append(f"c.GradingExecute.hide = c.TrustedVerdict.hide = {[str(self.root)]!r}")
        lines += after
        path = self.root / "nbgrader_config.py"
        path.write_text("\n".join(lines) + "\n")
        return path

    @classmethod
    def in_directory(cls, work: Path, roster: Path, *, link_labs: bool = True, **kwargs) -> Course:
        """A course rooted at ``work``: solutions/ there is a link to the repository's, and so is labs/ unless
        ``link_labs`` is false (the labs are then generated into ``work/labs``, leaving labs/ untouched)."""
        work = Path(work).resolve()
        work.mkdir(parents=True, exist_ok=True)
        for name in ("solutions", "labs") if link_labs else ("solutions",):
            link = work / name
            if not link.exists():
                (REPO / name).mkdir(exist_ok=True)
                link.symlink_to(REPO / name, target_is_directory=True)
        kwargs.setdefault("pairs", work / "pairs.csv")
        return cls(root=work, submitted="submitted", autograded="autograded", feedback="feedback",
                   db_url=f"sqlite:///{work / 'gradebook.db'}", roster=Path(roster), out=work / "output", **kwargs)

    def config(self) -> Config:
        """grading/nbgrader_config.py with this course's directories and limits."""
        cfg = copy.deepcopy(_config_file())
        cd = cfg.CourseDirectory
        cd.root = str(self.root)
        for step in ("submitted", "autograded", "feedback"):
            if getattr(self, step) is not None:
                cd[f"{step}_directory"] = getattr(self, step)
        if self.db_url is not None:
            cd.db_url = self.db_url
        cfg.RebuildFromSource.source_root = str(self.root / cd.source_directory)
        cfg.RebuildFromSource.release_root = str(self.root / cd.release_directory)
        if self.timeout is not None:  # a call of a student's function gets no longer than a cell
            cfg.GradingExecute.timeout = self.timeout
            cfg.TrustedVerdict.call_timeout = min(float(self.timeout), cfg.TrustedVerdict.call_timeout)
            cfg.TrustedVerdict.cell_timeout = max(30.0, 2.0 * float(self.timeout))  # the grader's run of a cell
        if self.budget is not None:
            cfg.GradingExecute.notebook_budget = self.budget
        if self.hidden_seed is not None:
            cfg.TrustedVerdict.hidden_seed = self.hidden_seed
            cfg.HideHiddenTests.secrets = [self.hidden_seed]
        if self.sandbox is not None:
            cfg.Sandbox.enabled = self.sandbox
        if self.warm is not None:
            cfg.Sandbox.warm = self.warm
        if self.root != REPO:  # the default course's files are in grading/, which the sandbox always hides
            cfg.GradingExecute.hide = cfg.TrustedVerdict.hide = [str(self.root)]
        return cfg

    def path(self, step: str) -> Path:
        """The directory of ``step`` ('submitted', 'autograded' or 'feedback')."""
        return self.root / self.config().CourseDirectory[f"{step}_directory"]

    def gradebook_url(self) -> str:
        return self.config().CourseDirectory.db_url

    def notebooks(self, lab: str) -> list[str]:
        """The file names of the lab's notebooks (its source directory's)."""
        source = self.root / self.config().CourseDirectory.source_directory / lab
        return sorted(p.name for p in source.glob("*.ipynb"))


@functools.cache
def _config_file() -> Config:
    return PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()


def _api(course: Course):
    prepare_gradebook()
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = course.config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    api.log.setLevel("ERROR")
    return api


class PipelineError(RuntimeError):
    pass


def generate(course: Course, lab: str) -> None:
    """labs/<lab>/ from solutions/<lab>/ and the lab's cells in the gradebook."""
    result = _api(course).generate_assignment(lab, force=True, create=True)
    if not result["success"]:
        raise PipelineError(f"nbgrader generate_assignment {lab} failed:\n{result.get('error') or result.get('log')}")
    for notebook in (course.root / course.config().CourseDirectory.release_directory / lab).glob("*.ipynb"):
        complete_language_info(notebook)


def complete_language_info(notebook: Path, language_info: dict | None = None) -> bool:
    """Give a released notebook the kernel's full ``language_info`` (ipykernel's, this Python's version);
    True when it changed.

    nbgrader writes only ``{"name": "python"}``; JupyterLab sets the kernel's full value the moment a kernel
    connects, which changes the notebook, and autosave (or jupyter-collaboration) rewrites the file: opening a
    lab in labs/ modified the repository. With the kernel's own value nothing changes (for kernels of the same
    Python version: the course server's set-up writes its own, grading/hub/course.py)."""
    import json

    if language_info is None:
        from ipykernel.ipkernel import IPythonKernel

        language_info = dict(IPythonKernel.language_info)
    text = notebook.read_text(encoding="utf-8")
    nb = json.loads(text)
    if nb.get("metadata", {}).get("language_info") == language_info:
        return False
    nb.setdefault("metadata", {})["language_info"] = language_info
    notebook.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def import_roster(course: Course) -> dict[str, dict]:
    from nbgrader.api import Gradebook

    from .pairs import read_roster

    roster = read_roster(course.roster)
    prepare_gradebook()
    with Gradebook(course.gradebook_url()) as gb:
        for sid, row in roster.items():
            gb.update_or_create_student(sid, first_name=row.get("first_name") or None,
                                        last_name=row.get("last_name") or None, email=row.get("email") or None)
    return roster


def submitted_students(course: Course, lab: str) -> list[str]:
    """The names of submitted/'s entries that hold ``lab`` (or may: a symbolic link), valid ids or not."""
    return [entry.name for entry in list_submissions(course.path("submitted"), lab)]


def autograde(course: Course, lab: str, students: list[str] | None = None, progress: bool = True) -> dict:
    """Autograde each submission (``autograde_one``); returns {row name: result} and never raises for one."""
    from tqdm.auto import tqdm

    from .sandbox import remove_stale_cgroups

    api = _api(course)
    _require_sandbox(course)
    notebooks = course.notebooks(lab)
    students = submitted_students(course, lab) if students is None else students
    results = {}
    bar = tqdm(students, desc=f"autograding {lab}", unit="submission", disable=not progress)
    try:
        for student in bar:
            bar.set_postfix_str(student if valid_student_id(student) else "?")
            result = autograde_one(course, lab, student, api=api, notebooks=notebooks)
            results[result["intake"]["student"]] = result
    finally:
        remove_stale_cgroups()  # of the last kernel and harness, which were killed when done
    return results


def autograde_one(course: Course, lab: str, student: str, *, api=None, notebooks=None) -> dict:
    """One submission, the pipeline's unit of work: the intake stages ``submitted/<student>/<lab>/`` into a
    private directory (intake.py), nbgrader autogrades that copy into ``autograded/``. Returns plain data:
    ``{"success", "seconds", "error", "flags", "intake"}``; never raises for what is in the submission
    (``flags``: autograde_error when nbgrader or the pipeline failed on it)."""
    start = time.perf_counter()
    result = {"success": False, "seconds": 0.0, "error": "", "flags": [],
              "intake": Intake(student if valid_student_id(student) else label(student), lab).as_dict()}
    try:
        with staging() as root:
            intake = take(course.path("submitted"), student, lab, notebooks or course.notebooks(lab),
                          stage_to=root, limits=course.intake)
            result["intake"] = intake.as_dict()
            if intake.accepted:
                result["success"], result["error"] = autograde_staged(course, lab, intake.student, root, api=api)
                if not result["success"]:
                    result["flags"].append("autograde_error")
            else:
                remove_results(course, lab, intake.student)
    except Exception as exc:  # nothing may stop the class's run
        result["success"] = False
        result["error"] = f"{type(exc).__name__}: {str(exc)[:2000]}"
        result["flags"].append("autograde_error")
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def autograde_staged(course: Course, lab: str, student: str, root: Path, *, api=None) -> tuple[bool, str]:
    """nbgrader autogrades the intake's copy ``<root>/<student>/<lab>/`` (a ``staging()`` directory) into the
    course's autograded/ and gradebook: (success, nbgrader's error and log when it failed)."""
    from nbgrader.utils import temp_attrs

    api = api if api is not None else _api(course)
    with temp_attrs(api.coursedir, submitted_directory=str(root)):
        graded = api.autograde(lab, student, force=True, create=True)
    if graded["success"]:
        return True, ""
    return False, "\n".join(filter(None, [graded.get("log"), graded.get("error")]))[-20_000:]


def remove_results(course: Course, lab: str, student: str) -> None:
    """Remove what an earlier run derived from a submission that is refused now (autograded notebook,
    feedback), so that nothing stale is published. Never follows a link."""
    if not valid_student_id(student):
        return
    for step in ("autograded", "feedback"):
        _remove(course.path(step) / student / lab)


def _remove(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        path.unlink()


def _require_sandbox(course: Course) -> None:
    """Refuse to run student code unsandboxed by accident (every kernel would die at start, less clearly)."""
    from .sandbox import Sandbox, available

    if Sandbox(config=course.config()).enabled and available() is not None:
        raise PipelineError(
            f"the grading sandbox does not work on this machine: {available()}. Grade as root or where "
            "unprivileged user namespaces are allowed (e.g. sysctl kernel.unprivileged_userns_clone=1, or "
            "kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu), or in a container per submission "
            "(grading/README.md). c.Sandbox.enabled = False runs student code unprotected.")


def feedback(course: Course, lab: str, students: list[str], progress: bool = True, processes: int = 1) -> dict:
    """Feedback HTML for each autograded student; {student: error or ''}. The feedback folder keeps only the
    notebooks' HTML and the intake's canonical ``timestamp.txt`` (nbgrader's release_feedback names the feedback
    by it): nbgrader would also copy there every other file of the autograded folder. ``processes`` > 1: that many
    processes of this machine write the pages (each its own students'), as many as grading used workers."""
    from tqdm.auto import tqdm

    students = [s for s in students if (course.path("autograded") / s / lab).is_dir()]
    keep = {Path(name).with_suffix(".html").name for name in course.notebooks(lab)} | {TIMESTAMP_FILE}
    bar = tqdm(total=len(students), desc=f"feedback {lab}", unit="submission", disable=not progress)
    errors = {}
    if processes > 1 and len(students) >= 4 * processes:  # below that, starting the processes costs more
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        with ProcessPoolExecutor(processes, mp_context=get_context("spawn"), initializer=_feedback_process,
                                 initargs=(course,)) as pool:
            futures = {pool.submit(_feedback_in_process, lab, student, keep): student for student in students}
            for future in as_completed(futures):
                try:
                    errors[futures[future]] = future.result()
                except Exception as exc:  # its process died (out of memory): the others' pages are still written
                    errors[futures[future]] = f"the feedback process failed: {type(exc).__name__}: {str(exc)[:2000]}"
                bar.update()
    else:
        api = _api(course)
        for student in students:
            errors[student] = _feedback_one(api, course, lab, student, keep)
            bar.update()
    bar.close()
    return errors


_FEEDBACK: dict = {}   # in a feedback process: its course and nbgrader API


def _feedback_process(course: Course) -> None:
    _FEEDBACK.update(course=course, api=_api(course))


def _feedback_in_process(lab: str, student: str, keep: set[str]) -> str:
    return _feedback_one(_FEEDBACK["api"], _FEEDBACK["course"], lab, student, keep)


def _feedback_one(api, course: Course, lab: str, student: str, keep: set[str]) -> str:
    """One student's feedback (``feedback``), then only the files ``keep`` names left in its folder; the error or
    ''."""
    try:
        result = api.generate_feedback(lab, student, force=True)
        error = "" if result["success"] else (result.get("error") or result.get("log", ""))[-20_000:]
    except Exception as exc:  # one student's feedback never stops the others'
        error = f"{type(exc).__name__}: {str(exc)[:2000]}"
    folder = course.path("feedback") / student / lab
    if folder.is_dir() and not folder.is_symlink():
        for entry in os.scandir(folder):
            if entry.name not in keep or not entry.is_file(follow_symlinks=False):
                _remove(Path(entry.path))
    return error


def credit_partners(course: Course, lab: str, credits, graded: set[str]) -> dict:
    """Give each student credited with someone else's submission a copy of that submission's feedback HTML;
    remove the feedback of a student who is credited with nothing of their own any more (a pair that no longer
    counts). ``graded``: the students whose own feedback this run wrote. Returns {student: error}."""
    base = course.path("feedback")
    errors = {}
    for student, credit in credits.items():
        if not valid_student_id(student) or student in graded and credit.submission == student:
            continue
        try:
            target = base / student / lab
            _remove(target)
            source = base / (credit.submission or "") / lab
            if credit.submission and credit.submission != student and source.is_dir():
                target.mkdir(parents=True)
                for kept in [*source.glob("*.html"), source / TIMESTAMP_FILE]:  # the pair's submission time too
                    if kept.is_file() and not kept.is_symlink():
                        shutil.copyfile(kept, target / kept.name)
        except Exception as exc:
            errors[student] = f"{type(exc).__name__}: {exc}"
    return errors


def results_on_disk(course: Course, lab: str) -> dict:
    """autograde's results as the course's folders say now: the intake looks at each submission again (reading
    nothing it would not read to grade it) and an accepted one counts as autograded when its autograded folder
    exists (its autograding time is unknown)."""
    results = {}
    for name in submitted_students(course, lab):
        intake = take(course.path("submitted"), name, lab, course.notebooks(lab), limits=course.intake)
        done = intake.accepted and (course.path("autograded") / intake.student / lab).is_dir()
        results[intake.student] = {"success": done, "seconds": None, "flags": [], "intake": intake.as_dict(),
                                   "error": "" if done or not intake.accepted else "not autograded yet"}
    return results


def publish(course: Course, lab: str, results: dict | None = None, progress: bool = True,
            processes: int = 1) -> "Report":
    """Feedback, partner credit and export from the gradebook as it is now (e.g. after manual grading).

    ``results`` are autograde's; without them, ``results_on_disk``. ``processes``: of this machine, for the
    feedback pages."""
    from .export import build

    roster = import_roster(course)
    results = results_on_disk(course, lab) if results is None else results
    graded = [s for s, r in results.items() if r["success"]]
    for student, error in feedback(course, lab, graded, progress=progress, processes=processes).items():
        if error:
            results[student]["feedback_error"] = error
    report = build(course, lab, roster, results)
    for student, error in credit_partners(course, lab, report.credits, set(graded)).items():
        report.flag(student, "feedback_error", f"the pair's feedback could not be copied ({error[:200]})")
    report.write(course.out)
    return report


def run(course: Course, lab: str, *, regenerate: bool = True, progress: bool = True, workers: int = 1,
        scheduler: str | None = None, students: list[str] | None = None, regrade: bool = False) -> "Report":
    """The whole pipeline for one lab; returns the export's Report (also written to ``course.out``). Grading is
    parallel on Dask with ``workers`` > 1 or a ``scheduler``, and resumable: a submission the lab's results file
    says is graded is not graded again unless ``regrade`` or named in ``students`` (parallel.py)."""
    from .parallel import grade_lab

    return grade_lab(course, lab, workers=workers, scheduler=scheduler, students=students, regrade=regrade,
                     regenerate=regenerate, progress=progress)
