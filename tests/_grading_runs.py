"""Running ``python -m grading.pipeline grade`` as the instructor does, on a course work directory made from the
sample class (tests/test_pipeline_dask.py, test_pipeline_postgres.py, test_pipeline_slurm.py)."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "grading" / "sample_class"
LAB = "lab01-gradient-descent"
SEED = "27182818"
SMALL = ("ada", "ben", "eli")
# lab01 scores by design (grading/sample_class/make_sample_class.py): f + df + gradient_descent (ada 8, ben 8,
# eli 6: gradient_descent wrong, kim 0: untouched) plus one point per right quiz answer (ada 7, ben 3, others none)
LAB01_SCORES = {"ada": 15.0, "ben": 11.0, "eli": 6.0, "kim": 0.0}
TIMEOUT = 300   # seconds for one grading run: a bound, never a measurement


def _sample_class_generator():
    spec = importlib.util.spec_from_file_location("make_sample_class", SAMPLE / "make_sample_class.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_sample_class = _sample_class_generator()   # what the sample class is by design (QUIZ, MORE_LABS_CATALOGUED)


def grading_env(**extra) -> dict:
    """The environment of the pipeline and of Dask processes started from the repository (whose ``grading``
    package they import); a scheduler retries a task once, then gives it up, as the README starts one."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1", "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    env.pop("LABLIB_HIDDEN_SEED_FILE", None)
    return {**env, **extra}


def make_course(work: Path, students) -> Path:
    """A course work directory as ``--out`` takes it: roster, pairs, the chosen submissions, its own seed, and its
    own copy of labs/ (which ``grade`` regenerates: the repository's stays as it is while other tests read it)."""
    work.mkdir(parents=True)
    shutil.copytree(REPO / "labs", work / "labs", ignore=shutil.ignore_patterns(".ipynb_checkpoints", "report"))
    for name in ("roster.csv", "pairs.csv"):
        shutil.copyfile(SAMPLE / name, work / name)
    for student in students:
        shutil.copytree(SAMPLE / "submitted" / student, work / "submitted" / student)
    (work / ".secrets").mkdir(mode=0o700)
    (work / ".secrets" / "hidden_seed").write_text(SEED + "\n")
    return work


def grade_command(work: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "grading.pipeline", "grade", LAB, "--out", str(work), "--no-progress", *args]


def grade(work: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(grade_command(work, *args), cwd=REPO, env=grading_env(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return done


def journal(work: Path) -> list[dict]:
    path = work / "output" / f"{LAB}-results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
