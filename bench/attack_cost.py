"""What each attack of the adversarial corpus costs the grader: seconds per submission as a ratio to an honest one.

    python bench/attack_cost.py [PREFIX ...] [--lab LAB ...]

Grades, for each lab (default: lab01 and lab03), one class made of the corpus' submissions whose student id starts
with one of the PREFIXes (default: "w", issue 11's block on hidden cases, copies and the grader's bounds) and the
two honest students, through the whole pipeline (tests/adversarial/checks.py's ``grade``: the same course run as
the tests), and prints each submission's autograding seconds, the ratio to the honest ones' median (the target
is <= 10 for any attack) and its flags. Timings are printed, never asserted.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from tests.adversarial import checks  # noqa: E402
from tests.adversarial.corpus import LAB1, LAB3, SUBMISSIONS  # noqa: E402


class _Temporary:
    """What ``grade`` needs of pytest's tmp_path_factory."""

    def __init__(self, root: Path):
        self.root = root

    def mktemp(self, name: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.root))
        return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", default=["w"])
    parser.add_argument("--lab", action="append", choices=[LAB1, LAB3, "lab02-backpropagation"])
    args = parser.parse_args(argv)
    labs = args.lab or [LAB1, LAB3]
    chosen = [s for s in SUBMISSIONS if s.student.startswith(tuple(args.prefixes))]
    if not chosen:
        parser.error(f"no submission of the corpus starts with {args.prefixes}")
    checks.SUBMISSIONS[:] = chosen  # grade() takes the lab's corpus from here
    listener = checks.Listener()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for lab in labs:
                if any(s.lab == lab for s in chosen):
                    result = checks.grade(lab, _Temporary(Path(tmp)), listener)
                    honest = sorted(result["report"].per_submission[s]["autograde_seconds"] for s in checks.HONEST)
                    print(f"{lab}: honest submissions {', '.join(f'{s:.2f}' for s in honest)} s; worst attack "
                          f"{max(result['report'].per_submission[checks.row_name(s.student)]['autograde_seconds'] or 0 for s in chosen if s.lab == lab) / (honest[len(honest) // 2] or 1e-9):.1f} x honest")
    finally:
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
