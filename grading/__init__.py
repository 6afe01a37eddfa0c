"""The course's grading tools (``python -m grading.pipeline``); see grading/README.md."""
