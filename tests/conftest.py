"""The test suite runs from a checkout: the instructors' `grading` package is imported from the repository root.

BLAS runs single-threaded in the tests and in the notebook kernels they start (which inherit the environment):
the suite runs several processes on 2 cores, and threaded BLAS on small matrices fighting for them is 10x slower.
"""
import os
import sys
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
