# Task runner. Every target bootstraps .venv (Python >= 3.10 and pip are all it needs).
#   make demo   - the instructor's end-to-end demo: train with lablib, then the course pipeline
#                 (labs/ from solutions/, autograde the sample class, feedback, grades CSV, plot)
#   make test   - the test suite
#   make bench  - speed benchmarks: lablib vs the matrix-product floor and PyTorch; grading with/without sandbox,
#                 per-submission profile, class scale vs plain nbgrader and 1 -> 2 workers; the explorers' time per
#                 slider move
#   make hub    - the course server (as root): accounts from ROSTER, the nbgrader exchange, formgrader, JupyterHub
#   make formgrader - formgrader on the demo's class (after `make demo`)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= output/demo
# The course server's environment: every account runs it, so it is made from a Python they can all execute
# (not one under /root, as pyenv's is here).
HUB_PYTHON ?= /usr/bin/python3
HUBVENV    ?= .venv-hub
ROSTER     ?= grading/roster.csv
HUB_STATE  ?= /srv/lablib-hub
HUB_PORT   ?= 8000

.PHONY: demo test bench hub formgrader clean

demo: $(VENV)/.installed $(VENV)/.system-deps
	$(PY) -m lablib.demo --out $(OUT)/training
	@# grading/ exists in the instructors' repository only (see `python -m grading.pipeline student-repo`)
	if [ -d grading/pipeline ]; then $(PY) -m grading.pipeline demo --out $(OUT)/grading; fi

test: $(VENV)/.installed $(VENV)/.system-deps $(HUBVENV)/.installed
	$(PY) -m pytest

hub: $(HUBVENV)/.installed $(VENV)/.system-deps
	$(HUBVENV)/bin/python -m grading.hub serve --roster $(ROSTER) --state $(HUB_STATE) --port $(HUB_PORT)

formgrader: $(VENV)/.installed
	$(PY) -m grading.pipeline formgrader --out $(OUT)/grading

bench: $(VENV)/.installed
	$(PY) bench/bench_epoch.py
	$(PY) bench/grading_sandbox.py
	$(PY) bench/bench_explorers.py
	$(PY) bench/grading_profile.py
	$(PY) bench/grading_scale.py --students 10 --labs 2

# Re-install when the package metadata changes; the stamp makes later runs instant.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable ".[dev]"
	touch $@

$(HUBVENV)/.installed: pyproject.toml | $(VENV)/.system-deps
	test -x $(HUBVENV)/bin/python || $(HUB_PYTHON) -m venv $(HUBVENV)
	$(HUBVENV)/bin/python -m pip install --quiet --upgrade pip
	$(HUBVENV)/bin/python -m pip install --quiet --editable ".[hub]"
	touch $@

# Debian packages for the real-component tests (chromium, postgresql): tools/system-deps.sh says what and why.
$(VENV)/.system-deps: tools/system-deps.sh | $(VENV)/.installed
	bash tools/system-deps.sh
	touch $@

clean:
	rm -rf $(VENV) $(HUBVENV) .node output .pytest_cache .hypothesis
