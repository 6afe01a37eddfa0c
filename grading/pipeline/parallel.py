"""Grading a lab's submissions in parallel on Dask, resumably (``grade <lab> --workers N | --scheduler URL``).

The coordinator (the ``grade`` process) does everything that touches the course's files:

1. the intake (intake.py) reads each submission into its canonical copy, as plain data;
2. a submission already graded from the same copy (the results file says so, journal.py) is not graded again,
   unless asked (``--regrade``, ``--student ID``);
3. every other one becomes a task: the canonical copy, and -- the same for every task of the run -- the
   lab's source and release notebooks, the lab's part of the gradebook (assignment, notebooks, cells) and the
   grading settings with the secret seed of the hidden cases. A worker needs no course directory, no gradebook
   and no secret file: it grades the copy in a private course directory of its own (a temporary directory, in
   /dev/shm where there is room, which the sandbox hides from student code like any course directory) through
   ``autograde_staged``, the same nbgrader run with the same sandbox and trusted verdict as grading in one
   process, and returns plain data: the autograded folder's files, the points and comments nbgrader gave, flags
   and seconds;
4. as each result arrives, the coordinator stores it -- autograded/<student>/<lab>/ replaced at once, the grades
   written into the gradebook the way nbgrader's SaveAutoGrades and AssignLatePenalties write them (so a manual
   grade already given is kept and marked for review) -- and then appends its line to the results file;
5. at the end, feedback, pair credit and the export as before (``publish``); the feedback pages are
   written by as many processes of this machine as it has workers (a cluster: its cores).

``--workers 1`` grades in this process, one submission after the other; ``--workers N`` starts a Dask
``LocalCluster`` of N single-threaded worker processes; ``--scheduler tcp://host:8786`` uses an existing cluster
(``dask scheduler`` / ``dask worker``, dask-jobqueue, Kubernetes: README). Ctrl-C or a killed coordinator loses
only the submissions in progress; the next run continues with the others. A task whose worker died is retried
once, then recorded with the flag ``worker_lost`` and tried again by the next run (the LocalCluster's scheduler
allows one failure; start an own scheduler with ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1``: README).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path, PurePosixPath

from .driver import (Course, PipelineError, _api, _remove, _require_sandbox, autograde_staged, generate,
                     import_roster, publish, remove_results, submitted_students)
from .export import MAX_AUTOGRADED_BYTES, entry, prepare_gradebook, submission_rows, tables_made
from .intake import Intake, label, staging, take
from .journal import append_record, journal_path, read_journal
from .names import valid_student_id

# the lab's part of nbgrader's gradebook that autograding reads (never a student's row), in insertion order
STRUCTURE_TABLES = ("course", "assignment", "notebook", "base_cell", "source_cell", "grade_cells",
                    "solution_cells", "task_cells")
PG_LOCK_KEY = 0x6C61626C6962      # "lablib": the advisory lock of the coordinators writing one PostgreSQL gradebook


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while grading; ``stored`` submissions were kept (the next run continues with the others)."""

    def __init__(self, stored: int, remaining: int):
        super().__init__(f"{stored} stored, {remaining} not graded")
        self.stored, self.remaining = stored, remaining


# -- the coordinator --------------------------------------------------------------------------------------------

def grade_lab(course: Course, lab: str, *, workers: int = 1, scheduler: str | None = None,
              students: list[str] | None = None, regrade: bool = False, regenerate: bool = True,
              progress: bool = True):
    """The whole pipeline for one lab, graded on ``workers`` (or the cluster at ``scheduler``); returns the export's
    Report. ``students``: grade only these (again), take the others as they are. ``regrade``: grade every
    submission again, even one the results file says is graded."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    with lab_lock(course, lab):
        with gradebook_lock(course.gradebook_url()):
            if regenerate:
                generate(course, lab)
            import_roster(course)
        results = autograde_lab(course, lab, workers=workers, scheduler=scheduler, students=students,
                                regrade=regrade, progress=progress)
        # the feedback pages on this machine, in as many processes as it grades with (a cluster: its cores)
        processes = workers if scheduler is None else len(os.sched_getaffinity(0))
        return publish(course, lab, results, progress=progress, processes=processes)


def autograde_lab(course: Course, lab: str, *, workers: int = 1, scheduler: str | None = None,
                  students: list[str] | None = None, regrade: bool = False, progress: bool = True) -> dict:
    """Autograde what needs grading (see the module docstring); returns {row name: result} for every submission
    of the lab, as ``publish`` takes them. Raises ``Interrupted`` on Ctrl-C, after the finished work is stored."""
    _require_sandbox(course)
    journal = journal_path(course.out, lab)
    done = read_journal(journal)
    shared = shared_data(course, lab)
    wanted = set(students or ())
    results, tasks, kept = {}, [], 0
    for name in submitted_students(course, lab):
        start = time.perf_counter()
        task = intake_task(course, lab, name, shared["source_hash"])
        student = task["student"]
        if task.get("error"):  # the intake itself failed (not the submission's content): never stops the run
            results[student] = {"success": False, "seconds": round(time.perf_counter() - start, 3),
                                "flags": ["autograde_error"], "error": task["error"], "intake": task["intake"]}
            continue
        if student in wanted or (not students and _needs_grading(course, lab, task, done.get(student), regrade)):
            wanted.discard(student)
            if task["intake"]["notebook"]:
                tasks.append(task)
                continue
            remove_results(course, lab, student)  # refused: nothing stale stays
            result = {"success": False, "seconds": round(time.perf_counter() - start, 3), "flags": [],
                      "error": "", "intake": task["intake"], "grades": {}, "worker": "coordinator", "attempts": 0}
            results[student] = append_record(journal, {**result, "lab": lab, "student": student,
                                                       "fingerprint": task["fingerprint"]})
        else:
            results[student] = done.get(student) or _as_on_disk(course, lab, task)
            kept += 1
    if wanted:
        raise PipelineError(f"no submission of {', '.join(sorted(wanted))} for {lab} in {course.path('submitted')}")
    if tasks:
        print(f"{lab}: grading {len(tasks)} submission(s)" + (f"; {kept} kept as graded ({journal})" if kept
                                                             else "") + _where(workers, scheduler), flush=True)
        stored = 0
        try:
            with _sigint_noted() as interrupted:
                for task, result in _execute(shared, tasks, workers, scheduler, progress, lab):
                    if interrupted:  # nbgrader caught the KeyboardInterrupt: this result is not a grading
                        raise KeyboardInterrupt
                    results[task["student"]] = store(course, lab, task, result, journal)
                    stored += 1
        except KeyboardInterrupt:
            raise Interrupted(stored, len(tasks) - stored) from None
    return results


@contextlib.contextmanager
def _sigint_noted():
    """Ctrl-C raises KeyboardInterrupt as usual and is also noted in the yielded list: nbgrader's API catches every
    exception of a conversion (a bare ``except``), so a Ctrl-C while a notebook runs would otherwise come back as
    that submission's failed grading."""
    import signal
    import threading

    noted: list[bool] = []
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def interrupt(signum, frame):
        noted.append(True)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def _where(workers: int, scheduler: str | None) -> str:
    if scheduler:
        return f" on the Dask cluster at {scheduler}"
    return f" on {workers} Dask workers" if workers > 1 else " in this process"


def _needs_grading(course: Course, lab: str, task: dict, record: dict | None, regrade: bool) -> bool:
    if regrade or record is None or record.get("fingerprint") != task["fingerprint"]:
        return True
    if "worker_lost" in (record.get("flags") or []):
        return True
    return bool(record.get("success")) and not (course.path("autograded") / task["student"] / lab).is_dir()


def _as_on_disk(course: Course, lab: str, task: dict) -> dict:
    """A submission not graded by this run and not in the results file (``--student`` for another): as
    ``results_on_disk`` says."""
    done = bool(task["intake"]["notebook"]) and (course.path("autograded") / task["student"] / lab).is_dir()
    return {"success": done, "seconds": None, "flags": [], "intake": task["intake"],
            "error": "" if done or not task["intake"]["notebook"] else "not autograded yet"}


def intake_task(course: Course, lab: str, name: str, source_hash: str) -> dict:
    """The intake of ``submitted/<name>/<lab>/`` as a task: {student, intake, files (the canonical copy, {file
    name: bytes}), fingerprint}."""
    files = {}
    try:
        with staging() as root:
            intake = take(course.path("submitted"), name, lab, course.notebooks(lab), stage_to=root,
                          limits=course.intake)
            folder = root / intake.student / lab
            if intake.accepted:
                files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    except Exception as exc:
        student = name if valid_student_id(name) else label(name)
        return {"student": student, "intake": Intake(student, lab).as_dict(), "files": {}, "fingerprint": None,
                "error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
    digest = hashlib.sha256(source_hash.encode())
    digest.update(json.dumps(intake.as_dict(), sort_keys=True).encode())
    for file_name, data in sorted(files.items()):
        if file_name.endswith(".ipynb"):  # the intake gives its cells new random ids each time
            nb = json.loads(data)
            for cell in nb.get("cells", []):
                cell.pop("id", None)
            data = json.dumps(nb, sort_keys=True).encode()
        digest.update(f"\0{file_name}\0{len(data)}\0".encode())
        digest.update(data)
    return {"student": intake.student, "intake": intake.as_dict(), "files": files,
            "fingerprint": digest.hexdigest()}


def shared_data(course: Course, lab: str) -> dict:
    """What every task of a lab needs, as plain data (module docstring, step 3)."""
    cfg = course.config()
    cd = cfg.CourseDirectory
    files = {}
    for directory in (cd.source_directory, cd.release_directory):
        base = course.root / directory / lab
        for path in sorted(base.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                files[str(PurePosixPath(directory, lab, *path.relative_to(base).parts))] = path.read_bytes()
    settings = {"timeout": course.timeout, "budget": course.budget, "sandbox": course.sandbox,
                "hidden_seed": str(cfg.TrustedVerdict.hidden_seed)}  # the course's, as grading in one process
    source = hashlib.sha256(json.dumps({**settings, "hidden_seed": hashlib.sha256(
        settings["hidden_seed"].encode()).hexdigest()}, sort_keys=True).encode())  # other settings: grade again
    for rel, data in sorted(files.items()):
        if rel.startswith(f"{cd.source_directory}/"):
            source.update(f"\0{rel}\0{len(data)}\0".encode())
            source.update(data)
    return {"lab": lab, "files": files, "source_directory": cd.source_directory,
            "release_directory": cd.release_directory, "course_id": cd.course_id,
            "gradebook": gradebook_structure(course.gradebook_url(), lab), "source_hash": source.hexdigest(),
            "settings": settings}


def gradebook_structure(url: str, lab: str) -> dict[str, list[dict]]:
    """The rows of ``STRUCTURE_TABLES`` that describe ``lab`` (no student's row), {table: [row, ...]}."""
    from nbgrader.api import Base, Gradebook
    from sqlalchemy import select

    prepare_gradebook()
    tables = Base.metadata.tables
    with Gradebook(url) as gb:
        assignment = gb.find_assignment(lab)
        session = gb.db

        def rows(table, column, values):
            return [dict(r) for r in session.execute(select(tables[table]).where(
                tables[table].c[column].in_(list(values)))).mappings()]

        out = {"course": rows("course", "id", [assignment.course_id]),
               "assignment": rows("assignment", "id", [assignment.id])}
        out["notebook"] = rows("notebook", "assignment_id", [assignment.id])
        notebooks = [r["id"] for r in out["notebook"]]
        out["base_cell"] = rows("base_cell", "notebook_id", notebooks)
        out["source_cell"] = rows("source_cell", "notebook_id", notebooks)
        cells = [r["id"] for r in out["base_cell"]]
        for table in ("grade_cells", "solution_cells", "task_cells"):
            out[table] = rows(table, "id", cells)
    return out


def store(course: Course, lab: str, task: dict, result: dict, journal: Path) -> dict:
    """Keep one graded submission (module docstring, step 4); returns its record (the results file's line)."""
    student = task["student"]
    record = {"lab": lab, "student": student, "fingerprint": task["fingerprint"], "intake": task["intake"],
              **{k: result.get(k) for k in ("success", "seconds", "error", "flags", "grades", "worker", "attempts")}}
    record["flags"] = list(record["flags"] or [])
    if result.get("retry"):  # nothing to store; graded again by the next run
        record["fingerprint"] = None
        return append_record(journal, record)
    try:
        target = course.path("autograded") / student / lab
        if result["success"]:
            _replace_folder(target, result["files"], result.get("modes") or {})
            with gradebook_lock(course.gradebook_url()):
                _write_grades(course, lab, student, result)
        else:
            _remove(target)
    except Exception as exc:  # e.g. the gradebook's server went away: this submission is not kept
        record.update(success=False, error=f"storing the result failed: {type(exc).__name__}: {str(exc)[:2000]}",
                      flags=[*record["flags"], "autograde_error"])
        record["fingerprint"] = None  # graded again by the next run
    return append_record(journal, record)


def _replace_folder(target: Path, files: dict[str, bytes], modes: dict[str, int]) -> None:
    """autograded/<student>/<lab>/ holds exactly ``files`` ({relative path: bytes}; ``modes``: their permission
    bits, nbgrader's read-only files), replaced in one rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{target.name}.incoming-", dir=target.parent))
    try:
        os.chmod(incoming, 0o777 & ~_umask())
        for rel, data in files.items():
            path = PurePosixPath(rel)
            if path.is_absolute() or ".." in path.parts or not path.parts:
                raise ValueError(f"a worker returned the file name {rel!r}")
            (incoming / path).parent.mkdir(parents=True, exist_ok=True)
            (incoming / path).write_bytes(data)
            os.chmod(incoming / path, modes.get(rel, 0o644) & 0o755)
        _remove(target)
        incoming.rename(target)
    finally:
        _remove(incoming)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_grades(course: Course, lab: str, student: str, result: dict) -> None:
    """Points and comments into the gradebook as nbgrader's Autograde writes them (init_assignment,
    SaveAutoGrades, AssignLatePenalties)."""
    from nbformat.v4 import new_notebook
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties

    url = course.gradebook_url()
    cfg = course.config()
    with Gradebook(url, cfg.CourseDirectory.course_id) as gb:
        gb.update_or_create_student(student)
        timestamp = result.get("timestamp")
        if timestamp:
            gb.update_or_create_submission(lab, student, timestamp=datetime.fromisoformat(timestamp))
        else:
            gb.update_or_create_submission(lab, student)
        grades = submission_rows(gb, "grade", lab, student)
        comments = submission_rows(gb, "comment", lab, student)
        for key, score in result["grades"].items():
            grade = entry(grades, "grade", key, lab, student)
            grade.auto_score = score
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        for key, text in result["comments"].items():
            entry(comments, "comment", key, lab, student).auto_comment = text
        gb.db.commit()
        notebooks = [nb.name for nb in gb.find_assignment(lab).notebooks]
    for notebook in notebooks:
        AssignLatePenalties(config=cfg).preprocess(new_notebook(), {"nbgrader": {
            "notebook": notebook, "assignment": lab, "student": student, "db_url": url}})


@contextlib.contextmanager
def lab_lock(course: Course, lab: str):
    """One ``grade`` of a lab at a time per course (two labs at once are fine)."""
    course.out.mkdir(parents=True, exist_ok=True)
    with open(course.out / f".{lab}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PipelineError(f"another grading run of {lab} is in progress for {course.root} "
                                f"({course.out / f'.{lab}.lock'})") from None
        yield


@contextlib.contextmanager
def gradebook_lock(url: str):
    """Serializes the coordinators writing one PostgreSQL gradebook (two graders grading two labs at once): a new
    gradebook's tables, the roster's students and a submission's rows are each written by one of them at a time.
    SQLite serializes its writers itself."""
    if not url.startswith("postgresql"):
        yield
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url, poolclass=__import__("sqlalchemy.pool", fromlist=["NullPool"]).NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": PG_LOCK_KEY})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PG_LOCK_KEY})
    finally:
        engine.dispose()


# -- running the tasks ----------------------------------------------------------------------------------------------

def _execute(shared: dict, tasks: list[dict], workers: int, scheduler: str | None, progress: bool, lab: str):
    """Yield (task, result) as results arrive: in this process, or on Dask."""
    line = Progress(len(tasks), f"grading {lab}", enabled=progress)
    try:
        if scheduler is None and workers == 1:
            for task in tasks:
                line.show(f"1 worker (this process): {_short(task['student'])}")
                yield task, grade_task(shared, task)
                line.done()
        else:
            for task, result, status in _on_dask(shared, tasks, workers, scheduler):
                yield task, result
                line.done(status)
    finally:
        line.close()


class Progress:
    """One status line on stderr: how many are graded, the ETA, every worker and what it grades. Redrawn in place
    on a terminal, a new line per graded submission elsewhere (a log file)."""

    def __init__(self, total: int, what: str, enabled: bool = True, stream=None):
        self.total, self.what, self.enabled = total, what, enabled
        self.stream = stream or sys.stderr
        self.count, self.status, self.start = 0, "", time.monotonic()
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()

    def show(self, status: str = "") -> None:
        self.status = status or self.status
        if not self.enabled or not self.tty and status and self.count:  # a log file gets a line per submission
            return
        self._write()

    def done(self, status: str = "") -> None:
        self.count += 1
        self.status = status or self.status
        if self.enabled:
            self._write()

    def eta(self) -> str:
        if not self.count:
            return "ETA ?"
        left = (time.monotonic() - self.start) / self.count * (self.total - self.count)
        return f"ETA {int(left // 60)}:{int(left % 60):02d}" if self.count < self.total else "done"

    def _write(self) -> None:
        text = f"{self.what}: {self.count}/{self.total}, {self.eta()}" + (f" | {self.status}" if self.status else "")
        if self.tty:
            self.stream.write("\r\033[K" + text[:300])
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _short(student: str) -> str:
    return student if len(student) <= 16 else student[:15] + "…"


def _on_dask(shared: dict, tasks: list[dict], workers: int, scheduler):
    """Yield (task, result, status line) as the cluster finishes tasks. Only as many tasks as the cluster has
    worker threads are handed to it at a time (more as workers join): a task waits here, not in a worker's queue,
    so a worker that dies takes down only the submission it was grading (which the scheduler retries once)."""
    import logging

    import dask
    from distributed import Client, LocalCluster, wait

    cluster = None
    with dask.config.set({"distributed.scheduler.allowed-failures": 1,       # retried once, then worker_lost
                          "distributed.admin.tick.limit": "1h",  # a long grading task is no event-loop stall
                          # no sampling of the grading thread's stack every 10 ms (Dask's task profiler): the CPU is
                          # the sandboxes'
                          "distributed.worker.profile.enabled": False}):
        if scheduler is None:  # (a scheduler may also be a Cluster object: dask-jobqueue, dask-kubernetes)
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0",  # not :8787, which may be taken
                                   silence_logs=logging.CRITICAL)  # a task's failure comes back as its result
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout="60s")
    waiting, running = list(reversed(tasks)), {}
    try:
        # the shared data travels with each task (a few hundred kB): scattered, it would be lost with the workers
        # that hold it, and as a dependency the scheduler would pile the tasks on the worker that holds it
        done_per_worker: dict[str, int] = {}

        def hand_out():
            threads = sum(client.nthreads().values())
            while waiting and len(running) < max(1, threads):
                task = waiting.pop()
                future = client.submit(grade_task, shared, task, pure=False,
                                       key=f"grade-{shared['lab']}-{task['student']}-{os.urandom(4).hex()}")
                running[future.key] = (future, task)

        while waiting or running:
            hand_out()
            with contextlib.suppress(TimeoutError):
                wait([f for f, _ in running.values()], timeout=1, return_when="FIRST_COMPLETED")
            finished = [running.pop(k) for k in [k for k, (f, _) in running.items() if f.done()]]
            hand_out()  # a worker that finished grades its next submission while the coordinator stores the result
            for future, task in finished:
                try:
                    result = future.result()
                except Exception as exc:  # KilledWorker: its worker died twice (or the cluster lost the task)
                    result = _lost(task, exc)
                done_per_worker[result["worker"]] = done_per_worker.get(result["worker"], 0) + 1
                yield task, result, _status(client, done_per_worker, running)
    finally:
        with contextlib.suppress(Exception):
            if running:
                client.cancel([f for f, _ in running.values()])
        with contextlib.suppress(Exception):
            client.close(timeout=10)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=10)


def _lost(task: dict, exc: Exception) -> dict:
    """The result of a task the cluster could not finish: graded again by the next run."""
    from distributed.scheduler import KilledWorker

    killed = isinstance(exc, KilledWorker)
    return {"success": False, "seconds": None, "flags": ["worker_lost" if killed else "autograde_error"],
            "error": (f"the worker grading it died, also when retried: {exc}" if killed
                      else f"the cluster did not grade it: {type(exc).__name__}: {str(exc)[:2000]}"),
            "grades": {}, "comments": {}, "files": {}, "worker": "", "attempts": 2 if killed else 1, "retry": True}


def _status(client, done_per_worker: dict, pending: dict) -> str:
    """'2 workers: 0 ada (5 done), 1 idle (4 done)': every worker, what it grades now, how many it did."""
    try:
        info = client.scheduler_info(n_workers=-1)["workers"]
        processing = client.processing()
    except Exception:
        return ""
    keys = {key: task["student"] for key, (_, task) in pending.items()}
    parts = []
    for address, worker in sorted(info.items(), key=lambda kv: str(kv[1].get("name"))):
        name = str(worker.get("name", address))
        now = [_short(keys[k]) for k in processing.get(address, ()) if k in keys]
        parts.append(f"{name} {' '.join(now) or 'idle'} ({done_per_worker.get(name, 0)} done)")
    return f"{len(info)} workers: " + ", ".join(parts)


# -- on a worker ------------------------------------------------------------------------------------------------

def grade_task(shared: dict, task: dict) -> dict:
    """Grade one submission's canonical copy in a private course directory; plain data back (module docstring)."""
    from nbgrader.api import Gradebook

    start = time.perf_counter()
    lab, student = shared["lab"], task["student"]
    result = {"success": False, "seconds": 0.0, "error": "", "flags": [], "grades": {}, "comments": {},
              "files": {}, "timestamp": None, "worker": _worker_name(), "attempts": 1}
    try:
        if not valid_student_id(student):
            raise ValueError(f"not a student id: {student!r}")
        with tempfile.TemporaryDirectory(prefix="lablib-worker-", dir=_in_memory()) as tmp:
            course = _private_course(Path(tmp), shared)
            _require_sandbox(course)  # on this worker's machine: student code never runs unprotected
            with tables_made(course.gradebook_url()):
                with staging() as root:
                    folder = root / student / lab
                    folder.mkdir(mode=0o700, parents=True)
                    for name, data in task["files"].items():
                        if "/" in name or name.startswith(".") or not name:
                            raise ValueError(f"not a staged file name: {name!r}")
                        (folder / name).write_bytes(data)
                    result["success"], result["error"] = autograde_staged(course, lab, student, root,
                                                                          api=_api(course))
                if result["success"]:
                    with Gradebook(course.gradebook_url()) as gb:
                        submission = gb.find_submission(lab, student)
                        result["timestamp"] = submission.timestamp.isoformat() if submission.timestamp else None
                        for notebook in submission.notebooks:
                            for grade in notebook.grades:
                                result["grades"][f"{notebook.name}/{grade.name}"] = grade.auto_score
                            for comment in notebook.comments:
                                result["comments"][f"{notebook.name}/{comment.name}"] = comment.auto_comment
                    result["files"], result["modes"] = _read_folder(course.path("autograded") / student / lab)
                else:
                    result["flags"].append("autograde_error")
    except Exception as exc:  # nothing in a submission stops the class's run
        result.update(success=False, error=f"{type(exc).__name__}: {str(exc)[:2000]}", files={}, grades={})
        if "autograde_error" not in result["flags"]:
            result["flags"].append("autograde_error")
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result


def _in_memory(path: str = "/dev/shm", room: int = 256 << 20) -> str | None:
    """``path`` (by default the memory file system /dev/shm) if it can be written and has ``room`` bytes free, else
    None (the temporary directory): the private course's throw-away gradebook commits some 80 times per
    submission, each an fsync on a disk. The sandbox shows student code an empty /dev/shm of its own
    (sandbox.SHADOWED)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return path if st.f_bavail * st.f_frsize >= room and os.access(path, os.W_OK | os.X_OK) else None


def _private_course(tmp: Path, shared: dict) -> Course:
    """A course directory of this task's own: the lab's notebooks and a gradebook with the lab's structure."""
    from nbgrader.api import Base, Gradebook

    root = tmp / "course"
    for rel, data in shared["files"].items():
        path = root / PurePosixPath(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    settings = shared["settings"]
    course = Course(root=root, submitted="submitted", autograded="autograded", feedback="feedback",
                    db_url=f"sqlite:///{root / 'gradebook.db'}", roster=root / "roster.csv",
                    pairs=root / "pairs.csv", out=root / "output", timeout=settings["timeout"],
                    budget=settings["budget"], hidden_seed=settings["hidden_seed"], sandbox=settings["sandbox"])
    prepare_gradebook()
    with Gradebook(course.gradebook_url(), shared["course_id"]) as gb:
        with gb.engine.begin() as conn:
            existing = {row[0] for row in conn.execute(Base.metadata.tables["course"].select())}
            for table in STRUCTURE_TABLES:
                rows = [r for r in shared["gradebook"][table] if table != "course" or r["id"] not in existing]
                if rows:
                    conn.execute(Base.metadata.tables[table].insert(), rows)
    return course


def _read_folder(folder: Path) -> tuple[dict[str, bytes], dict[str, int]]:
    """The files below ``folder`` ({relative path: bytes}) and their permission bits."""
    files, modes, total = {}, {}, 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        total += path.stat().st_size
        if total > MAX_AUTOGRADED_BYTES:
            raise ValueError(f"the autograded folder is larger than {MAX_AUTOGRADED_BYTES:,} bytes")
        rel = str(PurePosixPath(*path.relative_to(folder).parts))
        files[rel], modes[rel] = path.read_bytes(), path.stat().st_mode & 0o777
    return files, modes


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return "local"

