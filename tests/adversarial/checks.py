"""The tests of the adversarial corpus (tests/adversarial/corpus.py) through the whole grading pipeline.

They run once per lab, from one module per lab (tests/test_grading_adversarial_lab0N.py, which sets ``LAB`` and
imports everything here), so that the three class runs, a minute or two each, go to different test workers.

Every submission of the corpus is a wrong or partial solution combined with one attack on the grader (forged
passes in the kernel, escapes from the sandbox, tampered notebooks, processes that hang, die or explode), or a
correct solution written in an unusual way. Each lab is graded once, in one course run (a module fixture)
together with two honest students, and then:

* every exercise earns what the corpus says (the wrong part 0, the untouched correct exercises full points) and
  the expected flags are raised (``unconfirmed_pass`` where the kernel was made to report a pass);
* the honest students get full marks, nobody's row is lost (report and gradebook);
* no file an attack aimed at appeared outside the work directory, no submission was changed, the test's TCP
  listener saw no connection, and no feedback file contains the hidden seed.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import socket
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from grading.pipeline.driver import Course, run
from tests.adversarial.corpus import FORBIDDEN_FILES, HONEST, SUBMISSIONS
from _notebooks import exercise_points, source_notebook

REPO = Path(__file__).resolve().parents[2]
SEED = "27182818"

_spec = importlib.util.spec_from_file_location("make_sample_class",
                                               REPO / "grading" / "sample_class" / "make_sample_class.py")
make_sample_class = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_sample_class)
by_id = make_sample_class.by_id


def max_score(lab: str) -> float:
    nb = nbformat.read(source_notebook(lab), as_version=4)
    return sum(c.metadata["nbgrader"]["points"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade"))


# -- structural edits of a submitted notebook ----------------------------------------------------------------

def delete_f_tests(nb):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in ("test_f", "test_f_hidden")]


def swap_f_df_ids(nb):
    f, df = by_id(nb, "f"), by_id(nb, "df")
    f.metadata["nbgrader"]["grade_id"], df.metadata["nbgrader"]["grade_id"] = "df", "f"


def retag_softmax_tests(nb):
    public = by_id(nb, "test_softmax_cross_entropy")
    public.metadata["nbgrader"]["grade_id"] = "test_softmax_renamed"
    public.source = "print('softmax_cross_entropy: all checks passed')"
    hidden = by_id(nb, "test_softmax_cross_entropy_hidden")
    del hidden.metadata["nbgrader"]
    hidden.cell_type = "markdown"
    hidden.pop("outputs"), hidden.pop("execution_count")


def inflate_minibatches_points(nb):
    by_id(nb, "test_minibatches").metadata["nbgrader"]["points"] = 100
    by_id(nb, "test_minibatches_hidden").metadata["nbgrader"].update(grade=False, points=0)
    by_id(nb, "minibatches").metadata["nbgrader"].update(grade=True, points=50, locked=False)
    for cell in nb.cells:
        cell.metadata.get("nbgrader", {}).pop("locked", None)


EDITS = {f.__name__: f for f in (delete_f_tests, swap_f_df_ids, retag_softmax_tests, inflate_minibatches_points)}


# -- the course runs --------------------------------------------------------------------------------------------

class Listener:
    """A TCP server on 127.0.0.1 that records every connection (the sandbox has no network: there must be none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port, self.connections, self.stop = self.sock.getsockname()[1], [], False
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.connections.append((addr, conn.recv(100)))
                except OSError:
                    self.connections.append((addr, b""))

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


def fill(text: str, **values) -> str:
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    return text


@pytest.fixture(scope="module")
def graded(request, tmp_path_factory, listener):
    """The result of one course run of the module's lab (``LAB``): its corpus and the honest students."""
    return grade(request.module.LAB, tmp_path_factory, listener)


def grade(lab: str, tmp_path_factory, listener) -> dict:
    work = tmp_path_factory.mktemp(lab).resolve()
    token = uuid.uuid4().hex
    corpus = [s for s in SUBMISSIONS if s.lab == lab]
    students = sorted([*HONEST, *(s.student for s in corpus)])
    roster = work / "roster.csv"
    with open(roster, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "first_name", "last_name", "email"])
        writer.writerows([sid, sid, "Adversary", f"{sid}@example.org"] for sid in students)
    course = Course.in_directory(work, roster=roster, link_labs=False, timeout=5, budget=60, hidden_seed=SEED)
    name = source_notebook(lab).name
    released = nbformat.read(REPO / "labs" / lab / name, as_version=4)
    solution = make_sample_class.solution_answers(nbformat.read(REPO / "solutions" / lab / name, as_version=4))
    values = dict(WORK=work, REPO=REPO, TOKEN=token, PORT=listener.port, LAB=lab, NB=name)
    written = {}
    for student in students:
        sub = next((s for s in corpus if s.student == student), None)
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        for grade_id, answer in {**solution, **(sub.answers if sub else {})}.items():
            by_id(nb, grade_id).source = fill(answer, ME=student, **values)
        if sub and sub.edit:
            EDITS[sub.edit](nb)
        folder = course.path("submitted") / student / lab
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (folder / "timestamp.txt").write_text("2026-10-05 10:00:00 UTC\n")
        written[student] = (folder / name).read_bytes()
    start = time.perf_counter()
    report = run(course, lab, progress=False)
    seconds = time.perf_counter() - start
    print(f"\n{lab}: {len(students)} submissions graded in {seconds:.0f} s")
    escaped = []
    for student in students:
        for pattern in FORBIDDEN_FILES:
            path = Path(fill(pattern, ME=student, **values))
            if path.exists():
                escaped.append(str(path))
                if not str(path).startswith(str(work)):
                    path.unlink()          # keep the shared machine clean; the test fails anyway
    changed = [s for s in students if (course.path("submitted") / s / lab / name).read_bytes() != written[s]]
    return dict(lab=lab, course=course, report=report, students=students, escaped=escaped, changed=changed,
                seconds=seconds)


def pytest_generate_tests(metafunc):
    """``sub``: each submission of the corpus for the module's lab."""
    if "sub" in metafunc.fixturenames:
        lab = metafunc.module.LAB
        metafunc.parametrize("sub", [s for s in SUBMISSIONS if s.lab == lab], ids=lambda s: s.student)


def test_scores_and_flags(graded, sub):
    row = graded["report"].row(sub.student)
    points = exercise_points(sub.lab)
    assert set(sub.zero) <= set(points), "a typo in the corpus"
    expected = {name: (0 if name in sub.zero else full) for name, full in points.items()}
    got = {name: row[name] for name in points}
    assert got == expected, f"{sub.attack}: {row['flags']} | {row['notes']}"
    assert row["score"] == sum(expected.values()), row["notes"]
    assert row["max_score"] == max_score(sub.lab)            # tampered points change nothing
    flags = set(filter(None, row["flags"].split(";")))
    assert sub.flags <= flags, f"missing {sub.flags - flags}; notes: {row['notes']}"
    assert not (sub.forbidden_flags & flags), row["notes"]
    assert "failed_autograde" not in flags, row["notes"]


def test_honest_students_are_unaffected(graded):
    report, lab = graded["report"], graded["lab"]
    full = sum(exercise_points(lab).values())
    for student in HONEST:
        row = report.row(student)
        assert row["score"] == full, (student, row["flags"], row["notes"])
        assert not {"unconfirmed_pass", "kernel_disagrees", "timeout", "sandbox_died", "kernel_died",
                    "tamper_suspect", "failed_autograde"} & set(row["flags"].split(";")), (student, row["notes"])


def test_nobody_is_lost(graded):
    from nbgrader.api import Gradebook

    report, course, lab = graded["report"], graded["course"], graded["lab"]
    assert [r["student"] for r in report.rows] == graded["students"]
    assert all(report.per_submission[s]["success"] for s in graded["students"]), \
        {s: d.get("error", "")[-300:] for s, d in report.per_submission.items() if not d["success"]}
    with Gradebook(course.gradebook_url()) as gb:
        for student in graded["students"]:
            gb.find_submission(lab, student)           # raises MissingEntry if lost
    feedback = course.path("feedback")
    assert sorted(p.parent.parent.name for p in feedback.glob(f"*/{lab}/*.html")) == graded["students"]


def test_no_file_escaped_and_no_submission_changed(graded):
    assert graded["escaped"] == [], "files written outside the sandbox"
    assert graded["changed"] == [], "submissions changed while grading"


def test_no_feedback_contains_the_hidden_seed(graded):
    files = list(graded["course"].path("feedback").rglob("*.html"))
    assert files
    assert [str(p) for p in files if SEED in p.read_text(encoding="utf-8", errors="replace")] == []


def test_no_network_connection_reached_the_grader(graded, listener):
    assert listener.connections == []
