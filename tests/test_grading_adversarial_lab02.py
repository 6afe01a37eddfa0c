"""The adversarial corpus of lab02 through the whole grading pipeline (the tests: tests/adversarial/checks.py)."""
from tests.adversarial.checks import *  # the fixtures and tests, run for LAB
from tests.adversarial.corpus import LAB2

LAB = LAB2
