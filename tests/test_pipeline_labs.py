"""labs/ is exactly what nbgrader generates from solutions/, gives away no solution and no hidden test, and run
unfilled says "not implemented yet" and nothing else."""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import nbformat
import pytest

from grading.pipeline.driver import Course, generate

REPO = Path(__file__).resolve().parents[1]

LABS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def stable(nb) -> list:
    """What a student sees and nbgrader uses; cell ids and execution metadata are volatile."""
    cells = [(c.cell_type, c.source, {k: v for k, v in c.metadata.items() if k not in ("execution", "collapsed")},
              c.get("outputs", []), c.get("execution_count")) for c in nb.cells]
    return [cells, nb.metadata.get("kernelspec"), nb.nbformat]


def test_released_files_leave_out_what_jupyterlab_writes(tmp_path):
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "lab01-checkpoint.ipynb").write_text("{}")
    (tmp_path / "lab01.ipynb").write_text("{}")
    assert released_files(tmp_path) == [Path("lab01.ipynb")]


def test_released_notebooks_carry_the_kernels_language_info():
    """Opening a lab in JupyterLab must not change it: the kernel's language_info is already there (else the
    kernel's connection rewrites the notebook and autosave writes labs/)."""
    from ipykernel.ipkernel import IPythonKernel

    for lab in LABS:
        for path in (REPO / "labs" / lab).glob("*.ipynb"):
            info = nbformat.read(path, as_version=4).metadata.language_info
            assert {k: v for k, v in info.items() if k != "version"} == \
                {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}, path.name


def test_there_is_a_lab():
    assert "lab01-gradient-descent" in LABS


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    work = tmp_path_factory.mktemp("regenerated")
    course = Course.in_directory(work, roster=REPO / "grading" / "sample_class" / "roster.csv", link_labs=False)
    for lab in LABS:
        generate(course, lab)
    return work / "labs"


def released_files(directory: Path) -> list[Path]:
    """The files of a release directory that nbgrader releases: what JupyterLab leaves there (.ipynb_checkpoints/
    after a lab was opened) is no part of it (nbgrader's CourseDirectory.ignore; git ignores it too)."""
    from nbgrader.coursedir import CourseDirectory

    ignored = CourseDirectory().ignore
    return sorted(p.relative_to(directory) for p in directory.rglob("*") if p.is_file()
                  and not any(fnmatch.fnmatch(part, pattern) for part in p.relative_to(directory).parts
                              for pattern in ignored))


@pytest.mark.parametrize("lab", LABS)
def test_labs_are_in_sync_with_solutions(regenerated, lab):
    fresh, committed = released_files(regenerated / lab), released_files(REPO / "labs" / lab)
    assert committed == fresh, (f"labs/{lab} is out of date (only in labs/: {sorted(set(committed) - set(fresh))}, "
                                f"missing: {sorted(set(fresh) - set(committed))}): "
                                f"run `python -m grading.pipeline generate {lab}`")
    for name in fresh:
        if name.suffix == ".ipynb":
            new = nbformat.read(regenerated / lab / name, as_version=4)
            old = nbformat.read(REPO / "labs" / lab / name, as_version=4)
            assert stable(old) == stable(new), \
                f"labs/{lab}/{name} is out of date: run `python -m grading.pipeline generate {lab}`"
        else:
            assert (regenerated / lab / name).read_bytes() == (REPO / "labs" / lab / name).read_bytes()


def secret_lines(nb) -> list[str]:
    """Every line of solution code, hidden test and written model answer in a source notebook."""
    lines = []
    for cell in nb.cells:
        md = cell.metadata.get("nbgrader", {})
        texts = SOLUTION.findall(cell.source) + HIDDEN.findall(cell.source)
        if md.get("solution") and cell.cell_type == "markdown":
            texts.append(cell.source)
        lines += [line.strip() for text in texts for line in text.splitlines() if len(line.strip()) > 3]
    return lines


@pytest.mark.parametrize("lab", LABS)
def test_labs_contain_no_solution_and_no_hidden_test(lab):
    for source_path in (REPO / "solutions" / lab).glob("*.ipynb"):
        secrets = secret_lines(nbformat.read(source_path, as_version=4))
        assert secrets, "the test must look for something"
        released = (REPO / "labs" / lab / source_path.name).read_text(encoding="utf-8")
        released_sources = "\n".join(c.source for c in nbformat.reads(released, as_version=4).cells)
        assert "BEGIN SOLUTION" not in released and "HIDDEN TESTS" not in released
        leaked = [line for line in secrets if line in released_sources or line in released]
        assert leaked == []


@pytest.mark.parametrize("lab", LABS)
def test_source_notebooks_have_no_outputs(lab):
    for path in (REPO / "solutions" / lab).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"


def test_lab_answer_cells_have_the_signatures_of_the_check_engine():
    grading = pytest.importorskip("lablib.grading", reason="lablib.grading (the check engine) is not available")
    nb = nbformat.read(REPO / "solutions" / "lab01-gradient-descent" / "lab01.ipynb", as_version=4)
    for name in ("f", "df", "gradient_descent"):
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == name)
        exercise = grading.EXERCISES[name]
        assert exercise.lab in ("lab01", "lab01-gradient-descent")
        signature = str(exercise.signature).removeprefix("def ").rstrip(":")
        signature = signature if signature.startswith(name) else f"{name}{signature}"
        assert f"def {signature}:" in cell.source


def test_solution_notebook_runs_top_to_bottom_and_passes_every_check():
    pytest.importorskip("lablib.grading", reason="lablib.grading (the check engine) is not available")
    from grading.pipeline.preprocessors import GradingExecute

    nb = nbformat.read(REPO / "solutions" / "lab01-gradient-descent" / "lab01.ipynb", as_version=4)
    executor = GradingExecute(timeout=60, notebook_budget=120, kernel_env={
        "LABLIB_HIDDEN_SEED": "12345", "PYTHONPATH": str(REPO)}, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(REPO)}})
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    checks = [c for c in nb.cells if c.cell_type == "code" and 'check("' in c.source]
    assert len(checks) == 6
    for cell in checks:
        assert "✓" in "".join(o.get("text", "") for o in cell.outputs)


@pytest.mark.parametrize("lab", LABS)
def test_released_lab_run_unfilled_says_not_implemented_yet_and_nothing_else(lab):
    """A student who runs the released lab top to bottom before writing anything: the experiment cells print
    the "not implemented yet" line (lablib.grading.needs), only the check cells raise, each with the clear
    message ("not answered yet" for the quiz's), and nothing reaches stderr."""
    from nbclient import NotebookClient

    for path in sorted((REPO / "labs" / lab).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True,
                       resources={"metadata": {"path": str(REPO)}}).execute()
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            is_check, is_quiz = "check(" in cell.source, "check_quiz(" in cell.source
            for out in cell.outputs:
                assert not (out.output_type == "stream" and out.name == "stderr"), (path.name, cell.source, out.text)
                if out.output_type == "error":
                    expected = "not answered yet" if is_quiz else "not implemented yet"
                    assert (is_check or is_quiz) and out.ename == "CheckFailure" and expected in out.evalue, \
                        (path.name, cell.source[:200], out.ename, out.evalue)
