"""tools/grade_on_slurm.py, the README's campus-cluster example, run as on a SLURM cluster's login node: its
dask-jobqueue SLURMCluster submits jobs with ``sbatch`` and cancels them with ``scancel``; here those two run each
job on this machine (a session of its own per job), so everything else -- the job script, the Dask workers it
starts, the grading on them -- is real."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from browser import wait_until
from _grading_runs import LAB, LAB01_SCORES, REPO, SMALL, TIMEOUT, grading_env, journal, make_course


FAKE_SBATCH = """#!/bin/bash
# sbatch as SLURM runs a job, on this machine: the job script (copied: dask-jobqueue deletes it) in a session of
# its own, its id the session's
job="$FAKE_SLURM/job-$$.sh"
cp "${@: -1}" "$job"
setsid bash "$job" > "$job.log" 2>&1 < /dev/null &
echo "Submitted batch job $!"
"""
FAKE_SCANCEL = """#!/bin/bash
kill -TERM -- "-$1" 2>/dev/null
exit 0
"""


def test_the_slurm_example_grades_on_jobs_it_submits(tmp_path):
    """tools/grade_on_slurm.py as on a campus cluster's login node, with an sbatch/scancel that run each job on this
    machine: its SLURMCluster submits two jobs (a Dask worker each), grades on them, and cancels them."""
    bin_dir, jobs = tmp_path / "bin", tmp_path / "jobs"
    bin_dir.mkdir()
    jobs.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("scancel", FAKE_SCANCEL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    work = make_course(tmp_path / "class", SMALL)
    env = grading_env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_SLURM=str(jobs))
    script = [sys.executable, str(REPO / "tools" / "grade_on_slurm.py"), LAB, "--out", str(work), "--jobs", "2",
              "--queue", "teaching", "--account", "course123"]
    job = subprocess.run([*script, "--print-job-script"], env=env, capture_output=True, text=True, timeout=60)
    assert job.returncode == 0, job.stderr[-3000:]
    assert "#SBATCH -p teaching" in job.stdout and "#SBATCH -A course123" in job.stdout
    assert f"cd {REPO}" in job.stdout and "--nthreads 1" in job.stdout

    done = subprocess.run(script, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    records = journal(work)
    assert sorted(r["student"] for r in records) == sorted(SMALL) and all(r["success"] for r in records)
    assert {r["worker"] for r in records} <= {"SLURMCluster-0", "SLURMCluster-1"}
    rows = {r["student"]: r for r in csv.DictReader(open(work / "output" / f"{LAB}-grades.csv"))}
    assert {s: float(rows[s]["score"]) for s in SMALL} == {s: LAB01_SCORES[s] for s in SMALL}
    submitted = sorted(jobs.glob("job-*.sh"))
    assert len(submitted) == 2
    wait_until(lambda: not _job_processes(jobs), 30, "the cancelled jobs' end")


def _job_processes(jobs: Path) -> list[int]:
    """The processes still running a job script of ``jobs``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(jobs) in (proc / "cmdline").read_bytes().decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return found
