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
import numpy as np
import pytest

from grading.pipeline.driver import Course, run
from grading.pipeline.intake import label
from grading.pipeline.names import valid_student_id
from tests.adversarial.corpus import FORBIDDEN_FILES, HONEST, SUBMISSIONS, XSS_JS, XSS_SUBMISSIONS
from _notebooks import exercise_points, source_notebook
from tests.browser import browser  # noqa: F401 (the Chromium fixture of the XSS tests)

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


def xss_grade_id(nb):
    """An extra graded cell whose grade_id is HTML (quoted by the tamper report)."""
    cell = nbformat.v4.new_code_cell("print('extra')")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": '<img src=x onerror="alert(1)">', "points": 5,
                                 "solution": False, "locked": True, "schema_version": 3}
    nb.cells.insert(1, cell)


EDITS = {f.__name__: f for f in (delete_f_tests, swap_f_df_ids, retag_softmax_tests, inflate_minibatches_points,
                                 xss_grade_id)}


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
    differs = {name: (got[name], expected[name]) for name in points if got[name] != expected[name]}
    assert not differs, f"{sub.attack}: (got, expected) {differs}: {row['flags']} | {row['notes']}"
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


# =========================================================================================================
# XSS (issue 11, breach 1): the pages of the lab01 run, opened in Chromium. Formgrader is served by a real Jupyter
# server over the course directory of the run, with the instructor logged in; the feedback HTML is opened as the
# student (and the partner credited through the pair rule) would open it. Nothing a submission holds may run:
# no marker in window, no dialog, no navigation, no file written through the contents API, no request to the
# test's listener; and the pages still show equations (MathML), markdown tables and PNG plots.

def _xss_subs(graded):
    subs = [s for s in XSS_SUBMISSIONS if s.lab == graded["lab"]]
    if not subs:
        pytest.skip("the XSS corpus is graded in lab01's run")
    return subs


class PageWatch:
    """What a page did that a student's script would do: dialogs, navigations, popups, console errors."""

    def __init__(self):
        self.dialogs, self.popups, self.console = [], [], []

    def attach(self, page):
        page.on("popup", lambda popup: self.popups.append(popup.url))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        page.on("console", lambda message: self.console.append(message.text))
        return page


def assert_nothing_ran(page, url: str, watch: PageWatch, work: Path, what: str):
    page.wait_for_timeout(300)   # a script would have acted by now (it runs on load; its requests are async)
    assert page.evaluate("window.__xss === undefined && (top === window || top.__xss === undefined)"), what
    assert page.url == url, f"{what}: the page navigated to {page.url}"
    assert watch.dialogs == [] and watch.popups == [], (what, watch.dialogs, watch.popups)
    assert list(work.glob("pwned_*")) == [], f"{what}: a file was written through the contents API"


def assert_renders_math_and_tables(page, what: str, tables: bool):
    """Equations are typeset (MathML laid out by the browser: the lab's own text has them on every page) and, in
    an answer without HTML, the markdown table is a table."""
    counts = page.evaluate("""() => ({
        math: [...document.querySelectorAll('math')].filter(m => m.getBoundingClientRect().width > 0).length,
        tables: document.querySelectorAll('.text_cell_render table td').length})""")
    assert counts["math"] >= 3 and (not tables or counts["tables"] >= 4), (what, counts)


def assert_png_renders(page, what: str):
    sizes = page.evaluate("""() => [...document.querySelectorAll('img[src^="data:image/png"]')]
        .map(img => [img.complete, img.naturalWidth, img.naturalHeight, img.alt])""")
    assert any(done and w > 100 and h > 100 for done, w, h, _ in sizes), (what, sizes)
    assert all(alt.strip() for *_, alt in sizes), (what, "an image without a text alternative", sizes)


def _submission_ids(course, lab: str) -> dict:
    from nbgrader.api import Gradebook

    name = source_notebook(lab).stem
    with Gradebook(course.gradebook_url()) as gb:
        return {s.student.id: s.id for s in gb.notebook_submissions(name, lab)}


def _course_config(course) -> str:
    """nbgrader_config.py of the run's course directory, for the formgrader served from it."""
    return (f"import sys\nsys.path.insert(0, {str(REPO)!r})\nfrom pathlib import Path\n"
            "from grading.pipeline.driver import Course\n\n"
            f"c = get_config()  # noqa: F821\nc.merge(Course(root=Path({str(course.root)!r}), submitted='submitted', "
            f"autograded='autograded', feedback='feedback', db_url={course.gradebook_url()!r}).config())\n")


def test_xss_formgrader_runs_no_student_script(graded, listener, request, tmp_path_factory):
    from tests.browser import jupyter_lab

    subs, course, lab = _xss_subs(graded), graded["course"], graded["lab"]
    browser = request.getfixturevalue("browser")
    work = Path(course.root)
    (work / "nbgrader_config.py").write_text(_course_config(course), encoding="utf-8")
    served = course.path("autograded") / subs[3].student / lab / "notes.html"   # x04 links to it
    served.write_text("<script>" + fill(XSS_JS, PORT=listener.port, ME="served_file", TOKEN="served", LAB=lab,
                                        NB=source_notebook(lab).name) + "</script>", encoding="utf-8")
    request.addfinalizer(served.unlink)   # the course is shared: later checks see only what grading wrote
    ids = _submission_ids(course, lab)
    with jupyter_lab(tmp_path_factory.mktemp("formgrader"), root=work) as server:
        context = browser.new_context()
        watch = PageWatch()
        page = watch.attach(context.new_page())
        page.goto(server.url("formgrader/gradebook"))     # the token logs the instructor in (a session cookie)
        page.wait_for_selector("#main-table tr td a")       # nbgrader's own list page still works under the CSP
        for sub in [*subs, next(s for s in SUBMISSIONS if s.student == "c01_loops_helpers_plots")]:
            url = f"{server.base}/formgrader/submissions/{ids[sub.student]}/"
            response = page.goto(url)
            policy = response.headers["content-security-policy"]
            assert "script-src 'nonce-" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
            page.wait_for_function("() => window.formgrader && document.querySelectorAll('input.score').length >= 5")
            assert_nothing_ran(page, url, watch, work, sub.student)
            assert [m for m in watch.console if "Content Security Policy" in m] == [], (sub.student, watch.console)
            links = page.evaluate("() => [...document.querySelectorAll('#notebook-container a[href]')]"
                                  ".map(a => a.href).filter(h => !h.startsWith(location.href.split('#')[0]))")
            assert all(h.startswith(("http://", "https://", "mailto:")) for h in links), (sub.student, links)
            assert_renders_math_and_tables(page, sub.student, tables=sub.student == "x15_sanitizer_bomb")
            if sub.student == "c01_loops_helpers_plots":
                assert_png_renders(page, sub.student)
        url = f"{server.base}/formgrader/submissions/{ids[subs[3].student]}/notes.html"
        response = page.goto(url)
        assert response.headers["content-security-policy"].startswith("sandbox"), "a submission's file"
        assert_nothing_ran(page, url, watch, work, "a file of the submission served by formgrader")
        context.close()
    assert listener.connections == [], "a page loaded something from the listener"


def test_xss_feedback_runs_no_student_script(graded, listener, request):
    from grading.pipeline.driver import credit_partners
    from grading.pipeline.pairs import Credit

    subs, course, lab = _xss_subs(graded), graded["course"], graded["lab"]
    browser = request.getfixturevalue("browser")
    feedback = course.path("feedback")
    partner = "xss_partner"   # credited with x01's submission through the pair rule: gets a copy of its feedback
    credit_partners(course, lab, {partner: Credit(partner, subs[0].student, [subs[0].student, partner])}, graded=set())
    context = browser.new_context()
    watch = PageWatch()
    page = watch.attach(context.new_page())
    for student in [*(s.student for s in subs), partner, "c01_loops_helpers_plots"]:
        (html,) = (feedback / student / lab).glob("*.html")
        text = html.read_text(encoding="utf-8")
        assert text.index('http-equiv="Content-Security-Policy"') < text.index("<style"), student
        url = html.as_uri()
        page.goto(url)
        assert_nothing_ran(page, url, watch, Path(course.root), f"feedback of {student}")
        assert_renders_math_and_tables(page, student, tables=student == "x15_sanitizer_bomb")
        if student == "c01_loops_helpers_plots":
            assert_png_renders(page, student)
        if student == "x13_exception_notes":   # the student's message is shown, as text
            assert "<img src=x onerror=" in page.inner_text("body")
    context.close()
    assert listener.connections == []


def test_xss_stored_notebooks_and_reports_hold_no_markup(graded):
    """The autograded notebooks (what JupyterLab or nbconvert would render) and the tamper reports carry no
    student HTML; every XSS submission is flagged; each one's grading cost (ratio to the honest students) is printed."""
    from grading.pipeline.html_safety import SAFE_OUTPUT_TYPES, unsafe_markdown

    subs, course, lab, report = _xss_subs(graded), graded["course"], graded["lab"], graded["report"]
    for sub in subs:
        nb = nbformat.read(course.path("autograded") / sub.student / lab / source_notebook(lab).name, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                assert unsafe_markdown(cell.source) == [], (sub.student, cell.source[:300])
            for output in cell.get("outputs", []):
                assert set(output.get("data", {})) <= set(SAFE_OUTPUT_TYPES), (sub.student, list(output["data"]))
    tamper = Path(course.out) / "tamper" / lab
    for path in tamper.glob("*.md"):
        assert unsafe_markdown(path.read_text(encoding="utf-8")) == [], path.name
    assert list(tamper.glob("x14_tamper_report-*.md")), "the tamper report of x14"
    honest = sum(report.row(s)["autograde_seconds"] for s in HONEST) / len(HONEST)
    print("\nXSS attack                     cost (autograde seconds / honest)")
    for sub in subs:
        ratio = report.row(sub.student)["autograde_seconds"] / honest
        print(f"{sub.student:<30} {ratio:5.2f}")  # reported, not asserted: timings are measured in bench/

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
    """Breach 3: nothing but the feedback HTML and the intake's canonical timestamp reaches feedback/, nothing but
    the staged notebook and timestamp reaches autograded/, and no secret's content is in either."""
    course, lab = graded["course"], graded["lab"]
    name = source_notebook(lab).name
    secrets = [SEED, (REPO / "grading" / ".secrets" / "hidden_seed").read_text().strip(), "SQLite format 3"]
    if os.access("/etc/shadow", os.R_OK):
        secrets.append(Path("/etc/shadow").read_text().splitlines()[0])
    for step, allowed in (("feedback", {name.replace(".ipynb", ".html"), "timestamp.txt"}),
                          ("autograded", {name, "timestamp.txt"})):
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


# ---------------------------------------------------------------------------------------------------------------
# >>> issue 11, hidden cases, copies of the reference and the grader's bounds (the corpus' block of the same name;
# the copies' and the channel's outcomes are Submission.zero and .flags, checked by test_scores_and_flags; the
# grader's survival by test_nobody_is_lost: every submission graded, feedback and CSV rows for all)

def _numbers(value, found: list, depth: int = 0) -> None:
    """The floats in a hidden case's data (arrays, numbers, lists, dicts), at most 400."""
    if len(found) >= 400 or depth > 8:
        return
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        found.extend(float(v) for v in value.ravel()[:100])
    elif isinstance(value, (float, np.floating)):
        found.append(float(value))
    elif isinstance(value, (list, tuple)):
        for v in value[:100]:
            _numbers(v, found, depth + 1)
    elif isinstance(value, dict):
        for v in list(value.values())[:100]:
            _numbers(v, found, depth + 1)


def graded_hidden_cases(course, lab: str, student: str) -> dict:
    """{exercise: digest of the seed} of the hidden cases the grader used (autograded notebook's metadata)."""
    path = next((course.path("autograded") / student / lab).glob("*.ipynb"))
    return nbformat.read(path, as_version=4).metadata["lablib_grading"].get("hidden_cases", {})


def hidden_values(course, lab: str, student: str, partner: str = "") -> set[str]:
    """How the values of ``student``'s hidden cases would look in a message (repr and the engine's 10 digits),
    for those precise enough not to turn up by chance."""
    from grading.pipeline.secret import grading_id, student_seed
    from lablib.grading import EXERCISES

    from grading.pipeline.verdict import seed_digest

    shown, used = set(), graded_hidden_cases(course, lab, student)
    assert used, "the grader recorded no hidden cases: the test would prove nothing"
    for exercise, digest in used.items():
        seed = student_seed(SEED, lab, grading_id(student, partner), exercise)
        assert seed_digest(seed) == digest, (student, exercise, "not the cases the grader used")
        for case in EXERCISES[exercise].cases(True, seed):
            found: list = []
            _numbers({k: v for k, v in vars(case).items() if k != "label"}, found)
            shown |= {text for v in found for text in (repr(v), f"{v:.10g}") if len(text.lstrip("-")) >= 9}
    return shown


def test_no_hidden_case_reaches_a_student(graded):
    """Breach 4: no value of a student's own hidden cases is in their feedback or their row of the report, whatever
    their functions recorded and raised, returned, printed or warned afterwards."""
    course, lab, report = graded["course"], graded["lab"], graded["report"]
    leakers = [s.student for s in SUBMISSIONS if s.lab == lab and s.student.startswith("w0")] + list(HONEST)
    checked = 0
    for student in leakers:
        values = hidden_values(course, lab, student)
        assert values, "a case without numbers: the test would prove nothing"
        texts = [p.read_text(encoding="utf-8", errors="replace")
                 for p in (course.path("feedback") / student / lab).glob("*.html")]
        texts.append(report.row(student)["notes"])
        leaked = sorted(v for v in values if any(v in text for text in texts))
        assert leaked == [], (student, leaked[:5])
        checked += 1
    assert checked >= 2
# <<< issue 11, hidden cases, copies of the reference and the grader's bounds
