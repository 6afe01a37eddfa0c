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
  listener saw no connection, and no feedback file contains the hidden seed;
* (issue 11) the feedback and autograded folders hold only the kit's own files, a partner claim never changed
  the named student's grade, and each submission's cost is printed as a ratio to the honest ones'.
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import shutil
import socket
import stat
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from grading.pipeline.driver import Course, run
from grading.pipeline.intake import label
from grading.pipeline.names import valid_student_id
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
        writer.writerows([sid, sid, "Adversary", f"{sid}@example.org"] for sid in students if valid_student_id(sid))
    course = Course.in_directory(work, roster=roster, link_labs=False, timeout=5, budget=60, hidden_seed=SEED)
    name = source_notebook(lab).name
    released = nbformat.read(REPO / "labs" / lab / name, as_version=4)
    solution = make_sample_class.solution_answers(nbformat.read(REPO / "solutions" / lab / name, as_version=4))
    values = dict(WORK=work, REPO=REPO, TOKEN=token, PORT=listener.port, LAB=lab, NB=name)
    for student in students:
        sub = next((s for s in corpus if s.student == student), None)
        nb = nbformat.from_dict(json.loads(json.dumps(released)))
        base = {} if sub and sub.base == "released" else solution
        for grade_id, answer in {**base, **(sub.answers if sub else {})}.items():
            by_id(nb, grade_id).source = fill(answer, ME=student, **values)
        if sub and sub.partner:
            nb.cells[0].source = nb.cells[0].source.replace('PARTNER = ""', f'PARTNER = "{sub.partner}"')
        if sub and sub.edit:
            EDITS[sub.edit](nb)
        folder = course.path("submitted") / student / lab
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (folder / "timestamp.txt").write_text((sub.timestamp if sub else "2026-10-05 10:00:00 UTC") + "\n")
    for sub in corpus:
        if sub.files:
            FILE_EDITS[sub.files](course.path("submitted") / sub.student / lab, dict(values, course=course))
    written = {student: snapshot(course.path("submitted") / student) for student in students}
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
    changed = [s for s in students if snapshot(course.path("submitted") / s) != written[s]]
    print_costs(report, corpus)
    return dict(lab=lab, course=course, report=report, students=students, escaped=escaped, changed=changed,
                seconds=seconds)


def pytest_generate_tests(metafunc):
    """``sub``: each submission of the corpus for the module's lab."""
    if "sub" in metafunc.fixturenames:
        lab = metafunc.module.LAB
        metafunc.parametrize("sub", [s for s in SUBMISSIONS if s.lab == lab], ids=lambda s: s.student)


def test_scores_and_flags(graded, sub):
    row = graded["report"].row(row_name(sub.student))
    points = exercise_points(sub.lab)
    assert set(sub.zero) <= {*points, "*"}, "a typo in the corpus"
    expected = {name: (0 if name in sub.zero or "*" in sub.zero else full) for name, full in points.items()}
    got = {name: row[name] for name in points}
    assert got == expected, f"{sub.attack}: {row['flags']} | {row['notes']}"
    assert row["score"] == sum(expected.values()), row["notes"]
    assert row["max_score"] == max_score(sub.lab)            # tampered points change nothing
    flags = set(filter(None, row["flags"].split(";")))
    assert sub.flags <= flags, f"missing {sub.flags - flags}; notes: {row['notes']}"
    assert not (sub.forbidden_flags & flags), row["notes"]
    assert ("failed_autograde" in flags) == sub.refused, row["notes"]
    assert row["graded_submission"] == row_name(sub.student), row["notes"]   # a claim changes nobody's credit


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
    assert [r["student"] for r in report.rows] == sorted(map(row_name, graded["students"]))
    refused = {s.student for s in SUBMISSIONS if s.lab == lab and s.refused}
    gradable = [s for s in graded["students"] if s not in refused]
    assert all(report.per_submission[s]["success"] for s in gradable), \
        {s: d.get("error", "")[-300:] for s, d in report.per_submission.items() if not d["success"]}
    with Gradebook(course.gradebook_url()) as gb:
        for student in gradable:
            gb.find_submission(lab, student)           # raises MissingEntry if lost
        assert sorted(s.id for s in gb.students) == sorted(filter(valid_student_id, graded["students"]))
    feedback = course.path("feedback")
    assert sorted(p.parent.parent.name for p in feedback.glob(f"*/{lab}/*.html")) == gradable


def test_no_file_escaped_and_no_submission_changed(graded):
    assert graded["escaped"] == [], "files written outside the sandbox"
    assert graded["changed"] == [], "submissions changed while grading"


def test_no_feedback_contains_the_hidden_seed(graded):
    files = list(graded["course"].path("feedback").rglob("*.html"))
    assert files
    assert [str(p) for p in files if SEED in p.read_text(encoding="utf-8", errors="replace")] == []


def test_no_network_connection_reached_the_grader(graded, listener):
    assert listener.connections == []


# ---------------------------------------------------------------------------------------------------------------
# >>> issue 11, intake and pairs: the submission's files (Submission.files), notebook edits, checks and costs

def row_name(student: str) -> str:
    """The report's row of a submitted directory (an invalid id gets a label that is no id)."""
    return student if valid_student_id(student) else label(student)


def snapshot(path: Path):
    """What a submission's directory holds, never following a link nor opening a FIFO: {name: (kind, digest)}."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(info.st_mode):
        return {entry.name: snapshot(Path(entry.path)) for entry in os.scandir(path)}
    if stat.S_ISREG(info.st_mode) and info.st_size < 64 << 20:
        return ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return (stat.S_IFMT(info.st_mode), info.st_size)


def _replace(path: Path) -> Path:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    return path


def link_notebook_to_solution(folder, ctx):
    _replace(folder / ctx["NB"]).symlink_to(REPO / "solutions" / ctx["LAB"] / ctx["NB"])


def link_notebook_to_classmate(folder, ctx):
    _replace(folder / ctx["NB"]).symlink_to(ctx["course"].path("submitted") / HONEST[0] / ctx["LAB"] / ctx["NB"])


def link_lab_folder_to_solutions(folder, ctx):
    _replace(folder).symlink_to(REPO / "solutions" / ctx["LAB"], target_is_directory=True)


def link_student_folder_to_classmate(folder, ctx):
    _replace(folder.parent).symlink_to(ctx["course"].path("submitted") / HONEST[1], target_is_directory=True)


SECRET_LINKS = {"hidden_seed": "@REPO@/grading/.secrets/hidden_seed", "gradebook.db": "@WORK@/gradebook.db",
                "lab02.ipynb": "@REPO@/solutions/lab02-backpropagation/lab02.ipynb", "shadow": "/etc/shadow"}


def link_secrets(folder, ctx):
    for name, target in SECRET_LINKS.items():
        (folder / name).symlink_to(fill(target, **ctx))


def hard_link_to_solution(folder, ctx):
    private = Path(ctx["WORK"]) / "private"
    private.mkdir(exist_ok=True)
    shutil.copyfile(REPO / "solutions" / ctx["LAB"] / ctx["NB"], private / ctx["NB"])
    os.link(private / ctx["NB"], _replace(folder / ctx["NB"]))


def fifo_notebook(folder, ctx):
    os.mkfifo(_replace(folder / ctx["NB"]))


def link_timestamp_to_seed(folder, ctx):
    _replace(folder / "timestamp.txt").symlink_to(REPO / "grading" / ".secrets" / "hidden_seed")


def notebook_of_200k_cells(folder, ctx):
    cells = ",".join(['{"cell_type":"code","source":"x = 1","metadata":{},"outputs":[],"execution_count":null}']
                     * 200_000)
    (folder / ctx["NB"]).write_text('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [' + cells + "]}")


def sparse_gigabyte_notebook(folder, ctx):
    with open(_replace(folder / ctx["NB"]), "wb") as fh:
        fh.truncate(1 << 30)


def deeply_nested_json(folder, ctx):
    (folder / ctx["NB"]).write_text('{"nbformat": 4, "cells": [], "metadata": ' + '{"a": ' * 1_000_000 + "1"
                                    + "}" * 1_000_000 + "}")


def second_notebook_with_the_solution(folder, ctx):
    shutil.copyfile(REPO / "solutions" / ctx["LAB"] / ctx["NB"], folder / ctx["NB"].replace(".ipynb", "-final.ipynb"))


def directory_as_notebook(folder, ctx):
    _replace(folder / ctx["NB"]).mkdir()


FILE_EDITS = {f.__name__: f for f in (
    link_notebook_to_solution, link_notebook_to_classmate, link_lab_folder_to_solutions,
    link_student_folder_to_classmate, link_secrets, hard_link_to_solution, fifo_notebook, link_timestamp_to_seed,
    notebook_of_200k_cells, sparse_gigabyte_notebook, deeply_nested_json, second_notebook_with_the_solution,
    directory_as_notebook)}


def partner_of_10_mb(nb):
    nb.cells[0].source = 'PARTNER = "' + "x" * 10_000_000 + '"'


def scramble_and_add_junk(nb):
    import random

    rng = random.Random(0)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    nb.cells += [nbformat.v4.new_code_cell("".join(rng.choice("abcdefgh =+()\n") for _ in range(2000)))
                 for _ in range(400)]


def huge_outputs(nb):
    cell = next(c for c in nb.cells if c.cell_type == "code")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 5_000_000),
                    nbformat.v4.new_output("display_data", data={"text/plain": "y"},
                                           metadata={"junk": ["z" * 1_000_000] * 10})]


def long_grade_ids(nb):
    for index, cell in enumerate(nb.cells):
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"]["grade_id"] = f"{index}-" + "g" * 10_000


EDITS.update({f.__name__: f for f in (partner_of_10_mb, scramble_and_add_junk, huge_outputs, long_grade_ids)})


def print_costs(report, corpus) -> None:
    """Each submission's autograding time as a ratio to the honest ones' (printed: speed is measured, not tested)."""
    honest = sorted(report.per_submission[s]["autograde_seconds"] for s in HONEST)
    unit = honest[len(honest) // 2] or 1e-9
    print(f"\n{'submission':28} {'seconds':>8} {'x honest':>9}  flags")
    for sub in corpus:
        data = report.per_submission.get(row_name(sub.student), {})
        seconds = data.get("autograde_seconds") or 0.0
        print(f"{row_name(sub.student)[:28]:28} {seconds:8.2f} {seconds / unit:9.2f}  {';'.join(data.get('flags', []))}")


def test_feedback_and_autograded_hold_only_the_kits_own_files(graded):
    """Breach 3: nothing but the feedback HTML reaches feedback/, nothing but the staged notebook and timestamp
    reaches autograded/, and no secret's content is in either."""
    course, lab = graded["course"], graded["lab"]
    name = source_notebook(lab).name
    secrets = [SEED, (REPO / "grading" / ".secrets" / "hidden_seed").read_text().strip(), "SQLite format 3"]
    if os.access("/etc/shadow", os.R_OK):
        secrets.append(Path("/etc/shadow").read_text().splitlines()[0])
    for step, allowed in (("feedback", {name.replace(".ipynb", ".html")}), ("autograded", {name, "timestamp.txt"})):
        for folder in course.path(step).glob(f"*/{lab}"):
            entries = {p.name: p for p in folder.iterdir()}
            assert set(entries) <= allowed, (step, folder, sorted(entries))
            assert all(p.is_file() and not p.is_symlink() for p in entries.values())
    for html in course.path("feedback").rglob("*.html"):
        text = html.read_text(encoding="utf-8", errors="replace")
        assert not any(secret in text for secret in secrets), html


def test_a_partner_claim_never_changes_the_named_students_grade(graded):
    report, lab = graded["report"], graded["lab"]
    for sub in (s for s in SUBMISSIONS if s.lab == lab and s.partner):
        named = report.row(sub.partner)
        assert named["graded_submission"] == sub.partner and named["partner"] == "", named["notes"]
        assert "partner_unconfirmed" in named["flags"].split(";")
# <<< issue 11, intake and pairs
