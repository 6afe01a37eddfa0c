"""Every lab, through the real pipeline: its solution notebook autogrades at full marks with every hidden
check run, and the released notebook handed in untouched autogrades at zero."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest

from grading.pipeline.driver import Course, run

REPO = Path(__file__).resolve().parents[1]

LABS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())


def graded_cells(nb):
    """(auto points, manual points, hidden test cells' grade_ids) of a source notebook."""
    auto = manual = 0.0
    hidden = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("grade"):
            continue
        if meta.get("solution"):
            manual += meta["points"]
        else:
            auto += meta["points"]
            if "### BEGIN HIDDEN TESTS" in cell.source:
                hidden.append(meta["grade_id"])
    return auto, manual, hidden


@pytest.fixture(scope="module", params=LABS)
def lab_graded(request, tmp_path_factory):
    lab = request.param
    work = tmp_path_factory.mktemp(lab)
    roster = work / "roster.csv"
    with open(roster, "w", newline="") as fh:
        csv.writer(fh).writerows([["id", "first_name", "last_name", "email"],
                                  ["solution", "S", "S", ""], ["released", "R", "R", ""]])
    course = Course.in_directory(work, roster=roster, link_labs=False, timeout=30, budget=120, hidden_seed="271828")
    sources = sorted((REPO / "solutions" / lab).glob("*.ipynb"))
    for student, folder in (("solution", REPO / "solutions" / lab), ("released", REPO / "labs" / lab)):
        target = course.path("submitted") / student / lab
        target.mkdir(parents=True)
        for source in sources:
            (target / source.name).write_text((folder / source.name).read_text())
        (target / "timestamp.txt").write_text("2026-11-01 12:00:00 UTC\n")
    report = run(course, lab, progress=False)
    return lab, course, report, sources


def test_solution_gets_every_automatic_point_and_runs_every_hidden_check(lab_graded):
    lab, course, report, sources = lab_graded
    auto = sum(graded_cells(nbformat.read(s, as_version=4))[0] for s in sources)
    row = report.row("solution")
    assert row["score"] == auto, row["notes"]
    assert "failed_autograde" not in row["flags"] and "timeout" not in row["flags"], row["notes"]
    for source in sources:
        hidden = graded_cells(nbformat.read(source, as_version=4))[2]
        assert hidden, f"{source.name} has no hidden test"
        autograded = nbformat.read(course.path("autograded") / "solution" / lab / source.name, as_version=4)
        for cell in autograded.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") in hidden:
                text = "".join(o.get("text", "") for o in cell.outputs)
                assert "hidden checks passed" in text, (source.name, cell.metadata["nbgrader"]["grade_id"])


def test_released_notebook_gets_zero_and_says_not_implemented(lab_graded):
    lab, course, report, sources = lab_graded
    row = report.row("released")
    assert row["score"] == 0, row["notes"]
    assert "failed_autograde" not in row["flags"], row["notes"]
    for source in sources:
        autograded = nbformat.read(course.path("autograded") / "released" / lab / source.name, as_version=4)
        errors = [o for c in autograded.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert errors and all("not implemented yet" in o.evalue for o in errors), \
            json.dumps([o.evalue for o in errors])[:2000]


@pytest.mark.parametrize("lab", LABS)
def test_released_lab_run_unfilled_says_not_implemented_yet_and_nothing_else(lab):
    """A student who runs the released lab top to bottom before writing anything: the experiment cells print
    the "not implemented yet" line (lablib.grading.needs), only the check cells raise, each with the clear
    message, and nothing reaches stderr."""
    from nbclient import NotebookClient

    for path in sorted((REPO / "labs" / lab).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True,
                       resources={"metadata": {"path": str(REPO)}}).execute()
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            is_check = "check(" in cell.source
            for out in cell.outputs:
                assert not (out.output_type == "stream" and out.name == "stderr"), (path.name, cell.source, out.text)
                if out.output_type == "error":
                    assert is_check and out.ename == "CheckFailure" and "not implemented yet" in out.evalue, \
                        (path.name, cell.source[:200], out.ename, out.evalue)
