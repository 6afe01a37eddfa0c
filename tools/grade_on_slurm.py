"""Grade a lab on a campus SLURM cluster through dask-jobqueue (README, "Grading a class").

Run it on the cluster's login node, in the course's checkout (on a file system the compute nodes share) with its
environment active (the ``instructor`` extra has dask-jobqueue):

    python tools/grade_on_slurm.py lab01-gradient-descent --jobs 20 --queue normal --account course123
    python tools/grade_on_slurm.py lab01-gradient-descent --print-job-script     # check the job first

This process is the coordinator (the intake, the gradebook, feedback and the CSV stay here); the Dask scheduler
runs in it too, and each SLURM job is one Dask worker grading one submission at a time on one core, started in
this checkout. The workers get the submissions and the secret seed as task data, so the compute nodes need the
course's code and environment but not its submissions, gradebook or grading/.secrets/. Interrupted (Ctrl-C, the
job's walltime), it continues where it stopped when run again, like ``python -m grading.pipeline grade``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def slurm_cluster(*, queue: str | None, account: str | None, memory: str, walltime: str, interface: str | None):
    """A dask-jobqueue SLURMCluster of single-core workers started in this checkout with this Python."""
    import dask
    from dask_jobqueue import SLURMCluster

    dask.config.set({"distributed.scheduler.allowed-failures": 1})  # a lost job's submission: retried once
    return SLURMCluster(
        queue=queue, account=account, cores=1, processes=1, memory=memory, walltime=walltime,
        interface=interface, python=sys.executable, scheduler_options={"dashboard_address": ":0"},
        job_script_prologue=[f"cd {REPO}", f"export PYTHONPATH={REPO}",
                             "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1",
                             "export DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False"])  # no 10-ms stack sampling


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lab")
    parser.add_argument("--jobs", type=int, default=10, help="SLURM jobs, one worker each (default 10)")
    parser.add_argument("--queue", help="the SLURM partition (sbatch -p)")
    parser.add_argument("--account", help="the SLURM account (sbatch -A)")
    parser.add_argument("--memory", default="4GB", help="per job (default 4GB: a submission's sandbox has 3 GB)")
    parser.add_argument("--walltime", default="01:00:00", help="per job (default one hour)")
    parser.add_argument("--interface", help="the compute nodes' network interface to the login node, e.g. ib0")
    parser.add_argument("--out", type=Path, help="a course work directory (as for grade --out)")
    parser.add_argument("--student", action="append", help="grade only this student again (repeatable)")
    parser.add_argument("--regrade", action="store_true", help="grade every submission again")
    parser.add_argument("--print-job-script", action="store_true", help="print the job script and stop")
    args = parser.parse_args(argv)

    cluster = slurm_cluster(queue=args.queue, account=args.account, memory=args.memory, walltime=args.walltime,
                            interface=args.interface)
    try:
        if args.print_job_script:
            print(cluster.job_script())
            return 0
        from grading.pipeline.__main__ import course_in, print_report
        from grading.pipeline.driver import Course, run

        course = Course() if args.out is None else course_in(args.out)
        cluster.scale(jobs=args.jobs)
        start = time.perf_counter()
        report = run(course, args.lab, scheduler=cluster, students=args.student, regrade=args.regrade)
        print_report(report, time.perf_counter() - start)
        return 0
    finally:
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
