"""The test suite runs from a checkout: the instructors' `grading` package is imported from the repository root.

BLAS runs single-threaded in the tests and in the notebook kernels they start (which inherit the environment):
the suite runs several processes on 2 cores, and threaded BLAS on small matrices fighting for them is 10x slower.
"""
import os
import sys
from pathlib import Path

import pytest

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Modules that grade whole classes take one to two minutes each. pytest-xdist (--dist loadfile) hands modules
# to the workers in collection order, so these go first (longest first) and the workers finish together.
LONGEST_FIRST = (
    "test_hub_e2e.py",                  # the course server in a real browser: about 5 minutes, one worker
    "test_pipeline_end_to_end.py",
    "test_grading_adversarial_lab01.py",
    "test_pipeline_sample_more_labs.py",
    "test_grading_adversarial_lab02.py",
    "test_grading_adversarial_lab03.py",
    "test_pipeline_labs.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def postgres_url():
    """The URL of a database on a throw-away PostgreSQL server (tests/postgres.py), removed after the session.
    Skipped where PostgreSQL cannot run, saying why; in CI (which installs it) that is a failure."""
    from postgres import postgres_server, unavailable

    reason = unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must run in CI: {reason}")
        pytest.skip(reason)
    with postgres_server() as url:
        yield url
