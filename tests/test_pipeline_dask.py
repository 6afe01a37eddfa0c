"""Grading on Dask and resuming, with real processes: a ``dask scheduler`` and two ``dask worker`` processes on
localhost (module fixture), and ``python -m grading.pipeline grade`` run as the instructor runs it.

* ``grade --workers 1`` (in one process), ``--workers 2`` (a LocalCluster) and ``--scheduler tcp://...`` (the two
  workers) give exactly the same scores, flags, comments, autograded notebooks and feedback on lab01 of the sample
  class (a part of it that keeps the module near a minute on 2 cores: correct work, stderr, a blank notebook, an
  agreed pair that handed in twice, a pair with one submission, a kernel that dies and tampered tests;
  tests/test_pipeline_end_to_end.py grades all of it);
* Ctrl-C (SIGINT) and a lost coordinator (SIGKILL of its process group) keep the finished work, and the next run
  grades only the rest; ``--student`` grades one again;
* a worker killed under a submission: the submission is retried on another worker; killed again, it is flagged
  ``worker_lost`` and the next run grades it.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser import free_port, stop, wait_until
from _grading_runs import (LAB, LAB01_SCORES, REPO, SMALL, TIMEOUT, grade, grade_command, grading_env, journal,
                           make_course)

CLASS = ("ada", "dana", "kim", "lea", "max", "olga", "rosa", "tara")


def snapshot(work: Path) -> dict:
    """Everything a run decides about the class, without timings and paths: the CSV (but autograde_seconds), the
    gradebook's points and comments, the autograded notebooks (but their *_seconds metadata) and the feedback."""
    from nbgrader.api import Gradebook

    with open(work / "output" / f"{LAB}-grades.csv", newline="", encoding="utf-8") as fh:
        rows = [{k: v for k, v in row.items() if k != "autograde_seconds"} for row in csv.DictReader(fh)]
    gradebook = {}
    with Gradebook(f"sqlite:///{work / 'gradebook.db'}") as gb:
        for submission in gb.find_assignment(LAB).submissions:
            for notebook in submission.notebooks:
                for cell in notebook.grades:
                    gradebook[(submission.student_id, notebook.name, cell.name)] = (
                        cell.auto_score, cell.manual_score, cell.needs_manual_grade)
                for comment in notebook.comments:
                    gradebook[(submission.student_id, notebook.name, "comment", comment.name)] = comment.auto_comment
                gradebook[(submission.student_id, notebook.name, "late")] = notebook.late_submission_penalty
            gradebook[(submission.student_id, "timestamp")] = str(submission.timestamp)

    def without_seconds(node):
        if isinstance(node, dict):
            return {k: without_seconds(v) for k, v in node.items() if not k.endswith("_seconds")}
        if isinstance(node, list):
            return [without_seconds(v) for v in node]
        return node

    files = {}
    for step in ("autograded", "feedback"):
        for path in sorted((work / step).rglob("*")):
            if path.is_file():
                data = path.read_bytes()
                files[str(path.relative_to(work))] = (without_seconds(json.loads(data)) if path.suffix == ".ipynb"
                                                      else data, oct(path.stat().st_mode & 0o777))
    return {"rows": rows, "gradebook": gradebook, "files": files}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real ``dask scheduler`` and two ``dask worker`` processes (each one thread, behind its nanny) on
    127.0.0.1, started from the repository (the workers import the grading package from it); torn down after."""
    from distributed import Client

    state = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(state / f"{name}.log", "wb")
        process = subprocess.Popen([sys.executable, "-m", *args], cwd=state, env=grading_env(), stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        processes.append(process)
        return process

    try:
        start("scheduler", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard")
        for name in ("w1", "w2"):
            start(name, "distributed.cli.dask_worker", address, "--name", name, "--nthreads", "1",
                  "--no-dashboard", "--local-directory", str(state / name))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for process in reversed(processes):
            stop(process)


def test_workers_1_workers_2_and_a_scheduler_grade_the_same(cluster, tmp_path):
    work = make_course(tmp_path / "class", CLASS)
    one = grade(work, "--workers", "1")
    assert one.stderr == ""                                  # no noise: --no-progress says nothing on stderr
    assert "grading 8 submission(s) in this process" in one.stdout
    first = snapshot(work)
    graded = {r["student"]: r for r in first["rows"] if r["graded_submission"]}
    assert len(journal(work)) == len(CLASS) and set(graded) == {*CLASS, "paul"}   # paul: through olga's pair
    assert {"kernel_died"} <= set(graded["rosa"]["flags"].split(";"))
    assert "pair_conflict" in graded["lea"]["flags"] and "tamper_suspect" in graded["tara"]["flags"]

    two = grade(work, "--workers", "2", "--regrade")
    assert two.stderr == "" and "grading 8 submission(s) on 2 Dask workers" in two.stdout
    assert snapshot(work) == first
    records = journal(work)[len(CLASS):]
    assert sorted(r["student"] for r in records) == sorted(CLASS)
    assert {r["worker"] for r in records} == {"0", "1"}      # both LocalCluster workers graded

    remote = grade(work, "--scheduler", cluster, "--regrade")
    assert remote.stderr == "" and f"on the Dask cluster at {cluster}" in remote.stdout
    assert snapshot(work) == first
    records = journal(work)[2 * len(CLASS):]
    assert sorted(r["student"] for r in records) == sorted(CLASS)
    assert {r["worker"] for r in records} == {"w1", "w2"}
    assert all(r["seconds"] > 0 and r["attempts"] == 1 for r in records)



def _interrupt_and_resume(work: Path, sig: int, *args: str) -> tuple[list[dict], list[dict]]:
    """Start grading, stop it with ``sig`` once some submissions are stored, run again; the results file's
    records before and after."""
    log = open(work.parent / f"grade-{sig}.log", "wb")
    process = subprocess.Popen(grade_command(work, *args), cwd=REPO, env=grading_env(), stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: len(journal(work)) >= 1, TIMEOUT, "a first graded submission", process)
        if sig == signal.SIGKILL:  # the machine is lost: the coordinator and everything it started
            os.killpg(process.pid, signal.SIGKILL)
        else:                      # Ctrl-C in the terminal: the whole foreground process group
            os.killpg(process.pid, sig)
        code = process.wait(timeout=60)
    finally:
        stop(process)
    before = journal(work)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130), (work.parent / f"grade-{sig}.log").read_text()
    assert 1 <= len(before) < len(SMALL), "stopped too late to show anything; the class is too small"
    done = grade(work, *args)
    assert f"{len(before)} kept as graded" in done.stdout
    return before, journal(work)


@pytest.mark.parametrize("sig, where", [(signal.SIGINT, "one-process"), (signal.SIGKILL, "cluster")],
                         ids=["ctrl-c-one-process", "lost-coordinator-of-a-cluster"])
def test_an_interrupted_run_keeps_its_work_and_the_next_grades_only_the_rest(tmp_path, request, sig, where):
    args = ("--workers", "1") if where == "one-process" else ("--scheduler", request.getfixturevalue("cluster"))
    work = make_course(tmp_path / "class", SMALL)
    before, after = _interrupt_and_resume(work, sig, *args)
    assert after[:len(before)] == before                      # kept as written
    students = [r["student"] for r in after]
    assert sorted(students) == sorted(SMALL)                  # each graded once, in all
    assert all(r["success"] for r in after)
    rows = {r["student"]: r for r in csv.DictReader(open(work / "output" / f"{LAB}-grades.csv"))}
    assert {s: float(rows[s]["score"]) for s in SMALL} == {s: LAB01_SCORES[s] for s in SMALL}   # all exported

    one = grade(work, "--student", "eli")                     # one student again, nobody else
    assert [r["student"] for r in journal(work)[len(after):]] == ["eli"]
    assert "grading 1 submission(s)" in one.stdout and "2 kept as graded" in one.stdout


def test_a_worker_killed_under_a_submission_retries_it_then_flags_it(cluster, tmp_path):
    """ada's task: its worker is killed (SIGKILL) while grading it, the scheduler sends it to a worker again, that
    one is killed too: ada is flagged worker_lost, the others are graded, and the next run grades ada."""
    from distributed import Client

    work = make_course(tmp_path / "class", ("ada", "ben", "eli"))
    log = open(tmp_path / "grade.log", "wb")
    process = subprocess.Popen(grade_command(work, "--scheduler", cluster), cwd=REPO, env=grading_env(),
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    killed = []
    try:
        with Client(cluster, timeout="30s") as client:
            def kill_the_worker_grading_ada() -> bool:
                for address, keys in client.processing().items():
                    if any(f"-{LAB}-ada-" in str(key) for key in keys):
                        pid = client.run(os.getpid, workers=[address])[address]
                        os.kill(pid, signal.SIGKILL)
                        killed.append(address)
                        return True
                return False

            for _ in range(2):
                wait_until(kill_the_worker_grading_ada, TIMEOUT, "ada's task on a worker", process,
                           tmp_path / "grade.log")
                time.sleep(0.5)
            assert process.wait(timeout=TIMEOUT) == 0, (tmp_path / "grade.log").read_text()[-5000:]
            client.wait_for_workers(2, timeout=90)           # the nannies restart the killed workers
    finally:
        stop(process)
    records = {r["student"]: r for r in journal(work)}
    assert records["ada"]["flags"] == ["worker_lost"] and not records["ada"]["success"], (killed, records["ada"])
    assert records["ben"]["success"] and records["eli"]["success"]
    rows = {r["student"]: r for r in csv.DictReader(open(work / "output" / f"{LAB}-grades.csv"))}
    assert {"worker_lost", "failed_autograde"} <= set(rows["ada"]["flags"].split(";"))

    again = grade(work, "--scheduler", cluster)
    assert "grading 1 submission(s)" in again.stdout
    assert [r["student"] for r in journal(work)][3:] == ["ada"] and journal(work)[-1]["success"]

