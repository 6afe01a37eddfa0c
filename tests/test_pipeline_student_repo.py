"""What students clone holds the labs and lablib, and no solution, hidden test or grading file."""
import subprocess
import sys
from pathlib import Path

from grading.pipeline.student_repo import student_repo, tracked_files

REPO = Path(__file__).resolve().parents[1]


def test_student_repo_has_labs_and_lablib_but_no_solutions(tmp_path):
    out = tmp_path / "students"
    kept = student_repo(out)
    assert any(name.startswith("labs/") and name.endswith(".ipynb") for name in kept)
    assert "lablib/__init__.py" in kept and "README.md" in kept and "pyproject.toml" in kept
    assert not (out / "solutions").exists() and not (out / "grading").exists() and not (out / "tests").exists()
    dropped = set(tracked_files()) - set(kept)
    assert any(name.startswith("solutions/") for name in dropped)
    for notebook in out.rglob("*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "hidden=True" not in text
    # lablib imports from the student copy alone (the labs' vocabulary and checks)
    code = "import lablib, lablib.grading, lablib.widgets; print(lablib.__file__)"
    printed = subprocess.run([sys.executable, "-c", code], cwd=out, capture_output=True, text=True, check=True)
    assert printed.stdout.strip().startswith(str(out))


def test_student_repo_refuses_an_existing_directory(tmp_path):
    import pytest

    with pytest.raises(FileExistsError, match="out must be a new directory"):
        student_repo(tmp_path)
