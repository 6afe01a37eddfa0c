"""The course server: JupyterHub with the nbgrader exchange, formgrader for the graders and live pairs
(``python -m grading.hub``; ``make hub``; grading/README.md, section "The course server")."""
