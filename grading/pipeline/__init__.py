"""The course's autograding pipeline on nbgrader (``python -m grading.pipeline --help``; grading/README.md)."""
from . import schemas
from .driver import Course, autograde, feedback, generate, run

schemas.install()   # nbformat's and nbgrader's per-cell schema checks, each compiled once

__all__ = ["Course", "autograde", "feedback", "generate", "run", "demo"]

def demo(out, *, timeout: int = 5, budget: int = 60, hidden_seed: str | None = None, progress: bool = True,
         workers: int = 1):
    """Grade the bundled sample class, every lab it has handed in, in a fresh work directory ``out`` (on
    ``workers`` Dask workers when more than one); returns the Reports, one per lab."""
    import shutil
    from pathlib import Path

    from .driver import REPO

    out = Path(out).resolve()
    for name in ("submitted", "autograded", "feedback", "output", "gradebook.db"):
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    sample = REPO / "grading" / "sample_class"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("roster.csv", "pairs.csv"):  # the class is self-contained: `publish --out`, `pair --out`
        shutil.copyfile(sample / name, out / name)
    course = Course.in_directory(out, roster=out / "roster.csv", pairs=out / "pairs.csv", timeout=timeout,
                                 budget=budget, hidden_seed=hidden_seed)
    course.write_nbgrader_config()  # formgrader started in `out` sees this class (`formgrader --out`)
    shutil.copytree(sample / "submitted", course.path("submitted"))
    labs = sorted({lab.name for lab in course.path("submitted").glob("*/*") if lab.is_dir()})
    return [run(course, lab, progress=progress, workers=workers) for lab in labs]
