# Task runner. Every target bootstraps .venv (Python >= 3.10 and pip are all it needs).
#   make demo   - the instructor's end-to-end demo: train with lablib, then the course pipeline
#                 (labs/ from solutions/, autograde the sample class, feedback, grades CSV, plot)
#   make test   - the test suite
#   make bench  - speed benchmarks: lablib vs the matrix-product floor and PyTorch; grading with/without sandbox
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
OUT    ?= output/demo

.PHONY: demo test bench clean

demo: $(VENV)/.installed $(VENV)/.system-deps
	$(PY) -m lablib.demo --out $(OUT)/training
	@# grading/ exists in the instructors' repository only (see `python -m grading.pipeline student-repo`)
	if [ -d grading/pipeline ]; then $(PY) -m grading.pipeline demo --out $(OUT)/grading; fi

test: $(VENV)/.installed $(VENV)/.system-deps
	$(PY) -m pytest

bench: $(VENV)/.installed
	$(PY) bench/bench_epoch.py
	$(PY) bench/grading_sandbox.py

# Re-install when the package metadata changes; the stamp makes later runs instant.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable ".[dev]"
	touch $@

# Debian packages for the real-component tests (chromium, postgresql): tools/system-deps.sh says what and why.
$(VENV)/.system-deps: tools/system-deps.sh | $(VENV)/.installed
	bash tools/system-deps.sh
	touch $@

clean:
	rm -rf $(VENV) output .pytest_cache .hypothesis
