# nbgrader and formgrader read nbgrader_config.py from the directory they start in (the repository root);
# the course configuration itself is grading/nbgrader_config.py.
import os

load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "grading", "nbgrader_config.py"))  # noqa: F821
