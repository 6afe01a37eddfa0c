"""What the sandbox costs: autograde the sample class's lab01 (21 submissions) with and without it.

    python bench/grading_sandbox.py        (make bench runs it too)

Prints, per mode, the median / mean / max seconds per submission of the whole autograding step (rebuild, the
kernel run, the grader's trusted verdict, saving grades) and of the trusted verdict alone, then the ratios.
Both modes compute the trusted verdict; "without" runs the kernel and the verdict harness as plain processes.
"""
from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grading.pipeline.driver import Course, autograde, generate, import_roster  # noqa: E402
from grading.pipeline.preprocessors import METADATA_KEY  # noqa: E402
from grading.pipeline.sandbox import available  # noqa: E402

LAB = "lab01-gradient-descent"
SAMPLE = REPO / "grading" / "sample_class"


def grade(sandbox: bool) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        course = Course.in_directory(Path(tmp), roster=SAMPLE / "roster.csv", link_labs=False, timeout=5,
                                     budget=60, hidden_seed="12345", sandbox=sandbox)
        for student in (SAMPLE / "submitted").iterdir():
            if (student / LAB).is_dir():
                shutil.copytree(student / LAB, course.path("submitted") / student.name / LAB)
        generate(course, LAB)
        import_roster(course)
        results = autograde(course, LAB, progress=False)
        verdict = []
        for student in results:
            for nb in (course.path("autograded") / student / LAB).glob("*.ipynb"):
                md = json.loads(nb.read_text()).get("metadata", {}).get(METADATA_KEY, {})
                verdict.append(md.get("verdict_seconds", 0.0))
        return [r["seconds"] for r in results.values()], verdict


def summary(xs: list[float]) -> str:
    return f"median {statistics.median(xs):5.2f} s   mean {statistics.mean(xs):5.2f} s   max {max(xs):5.2f} s"


def main() -> None:
    why = available()
    if why:
        sys.exit(f"the sandbox does not work here: {why}")
    with_sb, verdict_sb = grade(True)
    without, verdict_plain = grade(False)
    print(f"autograding {LAB}: {len(with_sb)} submissions, one after the other")
    print(f"  with sandbox     {summary(with_sb)}   (trusted verdict alone: {summary(verdict_sb)})")
    print(f"  without sandbox  {summary(without)}   (trusted verdict alone: {summary(verdict_plain)})")
    print(f"  ratio with/without: median {statistics.median(with_sb) / statistics.median(without):.2f}, "
          f"mean {statistics.mean(with_sb) / statistics.mean(without):.2f}")


if __name__ == "__main__":
    main()
