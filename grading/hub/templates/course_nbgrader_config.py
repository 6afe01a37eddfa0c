# The course server's nbgrader configuration, in the grader account's course directory. Written by
# `python -m grading.hub setup` (grading/hub/templates/course_nbgrader_config.py); set-up rewrites it.
# It is the repository's grading/nbgrader_config.py with this course's directories, gradebook and seed.
import os

os.environ.setdefault("LABLIB_HIDDEN_SEED_FILE", "{course}/.secrets/hidden_seed")  # the grader's copy
load_subconfig("{repo}/grading/nbgrader_config.py")  # noqa: F821
c = get_config()  # noqa: F821
c.CourseDirectory.root = "{course}"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///{course}/gradebook.db"
c.RebuildFromSource.source_root = "{course}/solutions"
c.RebuildFromSource.release_root = "{course}/labs"
c.GradingExecute.hide = c.TrustedVerdict.hide = ["{course}"]
load_subconfig("{etc}/common/nbgrader_config.py")  # noqa: F821  (the exchange: root and the kit's classes)
