"""Executing a lab's solution notebook in the tests: once per module, with probe cells injected after the
explorers (they move a control from Python and print what the explorer then holds)."""
from __future__ import annotations

import json
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[1]


def execute(path: Path, probes=()):
    """Run the notebook at ``path`` top to bottom (errors kept as outputs); each probe ``(last_line, source)``
    is inserted as a code cell right after the code cell whose source ends with ``last_line``."""
    nb = nbformat.read(path, as_version=4)
    for last_line, source in probes:
        index = next(i for i, c in enumerate(nb.cells)
                     if c.cell_type == "code" and c.source.rstrip().endswith(last_line))
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source.strip()))
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=60, allow_errors=True,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(REPO)}}).execute()
    return nb


def source_notebook(lab: str) -> Path:
    """solutions/<lab>/<labNN>.ipynb, e.g. lab01-gradient-descent -> solutions/lab01-gradient-descent/lab01.ipynb."""
    return REPO / "solutions" / lab / (lab.split("-")[0] + ".ipynb")


def exercise_points(lab: str) -> dict:
    """exercise -> automatic points (its public + hidden test cells), read from the source notebook."""
    points = {}
    for cell in nbformat.read(source_notebook(lab), as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            name = meta["grade_id"].removeprefix("test_").removesuffix("_hidden")
            points[name] = points.get(name, 0) + meta["points"]
    return points


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def text_of(cell, stream="stdout") -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == stream)


def stdout_of(nb, in_source: str) -> str:
    """What the one code cell whose source contains ``in_source`` printed on stdout."""
    cells = [c for c in code_cells(nb) if in_source in c.source]
    assert len(cells) == 1, f"{in_source!r} is in {len(cells)} code cells"
    return text_of(cells[0])


def probed(nb, tag: str) -> dict:
    """The JSON a probe cell printed after ``tag`` (printed exactly once)."""
    lines = [line for c in code_cells(nb) for line in text_of(c).splitlines() if line.startswith(tag + " ")]
    assert len(lines) == 1, f"{tag} printed {len(lines)} times"
    return json.loads(lines[0][len(tag) + 1:])


def assert_no_error_and_nothing_on_stderr(nb):
    errors = [(c.source[:60], o.ename, o.evalue) for c in code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert errors == []
    stderr = [(c.source[:60], text_of(c, "stderr")) for c in code_cells(nb) if text_of(c, "stderr")]
    assert stderr == []


def assert_every_check_passes(nb, exercises):
    """Each exercise has its public and its hidden check cell, and every one printed its ✓ line."""
    checks = [c for c in code_cells(nb) if 'check("' in c.source]
    assert sorted(c.source.split('check("')[1].split('"')[0] for c in checks) == sorted(2 * list(exercises))
    for cell in checks:
        assert text_of(cell).startswith("✓"), cell.source


def assert_plot_cells_draw(nb, marker, count):
    """``count`` code cells contain ``marker`` (e.g. "plt.show()"); each drew as many PNGs as it has markers."""
    plots = [c for c in code_cells(nb) if marker in c.source]
    assert len(plots) == count
    for cell in plots:
        pngs = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(pngs) == cell.source.count(marker), cell.source[:200]


def autograded(course, lab: str, student: str):
    """The student's autograded notebook of ``lab`` from a course run of the pipeline."""
    return nbformat.read(course.path("autograded") / student / lab / source_notebook(lab).name, as_version=4)


def assert_every_hidden_check_passed(course, lab: str, student: str):
    """Every hidden test cell of the source notebook (checks on unseen inputs drawn with the secret seed; the
    released lab has none) ran in the student's autograded notebook and reported a pass."""
    source = nbformat.read(source_notebook(lab), as_version=4)
    hidden = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
              if c.metadata.get("nbgrader", {}).get("grade") and "### BEGIN HIDDEN TESTS" in c.source]
    assert hidden, f"{lab} has no hidden test"
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in autograded(course, lab, student).cells}
    for grade_id in hidden:
        text = "".join(o.get("text", "") for o in cells[grade_id].outputs)
        if grade_id.startswith("test_quiz_"):  # a quiz question, marked against the key in grading/quizzes/
            assert text.startswith(f"✓ {grade_id.removeprefix('test_quiz_')}: correct"), (grade_id, text)
        else:
            assert "hidden checks passed" in text, grade_id


def assert_untouched_lab_says_not_implemented(course, lab: str, student: str):
    """The released lab handed in untouched: it ran, and every error in it is the clear "not implemented yet" (or, for
    a quiz question, "not answered yet")."""
    nb = autograded(course, lab, student)
    errors = [o for c in code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert errors and all("not implemented yet" in o.evalue or "not answered yet" in o.evalue for o in errors), \
        json.dumps([o.evalue for o in errors])[:2000]
