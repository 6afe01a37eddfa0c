"""The gradebook on a real PostgreSQL server (the ``postgres_url`` fixture: Debian's postgresql, a throw-away
cluster): two graders grade two labs of one course at the same time, each a ``grade --db-url`` process with its
own Dask workers, into one gradebook; every score lands, and a publish reads them back. SQLite stays the default
(every other test)."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from _notebooks import exercise_points
from _grading_runs import LAB01_SCORES, SAMPLE, TIMEOUT, grading_env, make_course, make_sample_class

REPO = Path(__file__).resolve().parents[1]
LABS = ("lab01-gradient-descent", "lab02-backpropagation")
STUDENTS = ("ada", "ben", "kim")      # lab02: the solution, one catalogued mistake (dense_backward), untouched


def test_two_graders_grade_two_labs_at_once_into_one_postgresql_gradebook(postgres_url, tmp_path):
    from nbgrader.api import Gradebook

    work = make_course(tmp_path / "class", STUDENTS)
    graders = [subprocess.Popen([sys.executable, "-m", "grading.pipeline", "grade", lab, "--out", str(work),
                                 "--db-url", postgres_url, "--no-progress", "--workers", "2" if i else "1"],
                                cwd=REPO, env=grading_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for i, lab in enumerate(LABS)]
    outputs = [grader.communicate(timeout=TIMEOUT) for grader in graders]
    for grader, (out, err) in zip(graders, outputs):
        assert grader.returncode == 0 and err == "", out[-3000:] + err[-5000:]
    assert not (work / "gradebook.db").exists()              # nothing went to the default SQLite gradebook

    lab02 = exercise_points(LABS[1])
    ben_wrong = [*make_sample_class.MORE_LABS_CATALOGUED[LABS[1]]["ben"],        # his wrong answers, by design
                 f"quiz_{make_sample_class.QUIZ[LABS[1]]['ben']['all but']}"]
    expected = {LABS[0]: {s: LAB01_SCORES[s] for s in STUDENTS},
                LABS[1]: {"ada": sum(lab02.values()), "ben": sum(lab02.values()) - sum(lab02[e] for e in ben_wrong),
                          "kim": 0.0}}
    with Gradebook(postgres_url) as gb:
        assert {s.id for s in gb.students} == {r["id"] for r in csv.DictReader(open(SAMPLE / "roster.csv"))}
        for lab, scores in expected.items():
            submissions = {s.student_id: s for s in gb.find_assignment(lab).submissions}
            assert set(submissions) == set(STUDENTS)
            assert {s: submissions[s].code_score for s in STUDENTS} == scores, lab
            with open(work / "output" / f"{lab}-grades.csv", newline="") as fh:
                rows = {r["student"]: r for r in csv.DictReader(fh)}
            assert {s: float(rows[s]["score"]) for s in STUDENTS} == scores

    # a publish (after manual grading) reads the same gradebook back
    done = subprocess.run([sys.executable, "-m", "grading.pipeline", "publish", LABS[1], "--out", str(work),
                           "--db-url", postgres_url, "--no-progress"], cwd=REPO, env=grading_env(), capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(work / "output" / f"{LABS[1]}-grades.csv", newline="") as fh:
        assert {r["student"]: float(r["score"]) for r in csv.DictReader(fh) if r["student"] in STUDENTS} == \
            expected[LABS[1]]
