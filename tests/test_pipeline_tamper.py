"""The static tamper report (grading/pipeline/tamper.py): what it flags, what it must leave alone, the report."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grading.pipeline.tamper import (
    CATEGORIES,
    DYNAMIC_CODE,
    FILE_ACCESS,
    IPYTHON_INTERNALS,
    LABLIB_INTERNALS,
    NETWORK,
    NOTEBOOK,
    PATCHING,
    PROCESS,
    UNPARSABLE,
    Finding,
    report_markdown,
    scan_notebook,
    scan_source,
)

REPO = Path(__file__).resolve().parents[1]

# (cell source, category it must raise, 1-based line of that finding)
TAMPERING = [
    # dynamic code
    ("import base64\nexec(base64.b64decode('cHJpbnQoMSk='))", DYNAMIC_CODE, 2),
    ("x = eval('1 + 1')", DYNAMIC_CODE, 1),
    ("code = compile(src, 'answer', 'exec')", DYNAMIC_CODE, 1),
    ("os_module = __import__('os')", DYNAMIC_CODE, 1),
    ("import importlib\nm = importlib.import_module('lab' + 'lib')", DYNAMIC_CODE, 1),
    ("import codecs\nsrc = codecs.decode('cevag(1)', 'rot13')", DYNAMIC_CODE, 2),
    ("import zlib\nsrc = zlib.decompress(blob)", DYNAMIC_CODE, 2),
    ("import pickle\nf = pickle.loads(blob)", DYNAMIC_CODE, 2),
    ("import marshal", DYNAMIC_CODE, 1),
    ("def f(x):\n    return getattr(np, name)(x)", DYNAMIC_CODE, 2),
    ("setattr(obj, attribute_name, value)", DYNAMIC_CODE, 1),
    ("import inspect\nexpected = inspect.stack()[1].frame.f_locals['expected']", DYNAMIC_CODE, 2),
    # IPython internals
    ("get_ipython().input_transformers_post.append(lambda lines: lines)", IPYTHON_INTERNALS, 1),
    ("ip = get_ipython()\nip.events.register('pre_run_cell', hook)", IPYTHON_INTERNALS, 2),
    ("from IPython import get_ipython", IPYTHON_INTERNALS, 1),
    ("import ipykernel", IPYTHON_INTERNALS, 1),
    ("import sys\nsys.displayhook = lambda value: None", IPYTHON_INTERNALS, 2),
    ("import sys\nsys.excepthook = quiet", IPYTHON_INTERNALS, 2),
    ("def f(x):\n    __tracebackhide__ = True\n    return x", IPYTHON_INTERNALS, 2),
    ("shell = InteractiveShell.instance()", IPYTHON_INTERNALS, 1),
    ("%env LABLIB_HIDDEN_SEED=0", IPYTHON_INTERNALS, 1),
    # patching
    ("abs = lambda v: 0", PATCHING, 1),
    ("def abs(v):\n    return 0", PATCHING, 1),
    ("math.isclose = lambda *a, **k: True", PATCHING, 1),
    ("import numpy as numerics\nnumerics.allclose = lambda *a, **k: True", PATCHING, 2),
    ("import lablib.grading as g; g.check = lambda *a, **k: None", PATCHING, 1),
    ("lablib.grading.check = lambda *a, **k: None", PATCHING, 1),
    ("import builtins\nbuiltins.print = lambda *a: None", PATCHING, 2),
    ("__builtins__.abs = lambda v: 0", PATCHING, 1),
    ("check = lambda *args, **kwargs: None", PATCHING, 1),
    ("def needs(*names):\n    return nullcontext()", PATCHING, 1),
    ("from my_helpers import CheckFailure", PATCHING, 1),
    ("del check", PATCHING, 1),
    ("import sys\nsys.modules['numpy'] = fake_numpy", PATCHING, 2),
    ("def helper():\n    global sum\n    sum = lambda xs: 0", PATCHING, 3),
    ("setattr(math, 'isclose', lambda *a, **k: True)", PATCHING, 1),
    # file access
    ("source = open('../../source/lab01/lab01.ipynb').read()", FILE_ACCESS, 1),
    ("import sqlite3; sqlite3.connect('gradebook.db')", FILE_ACCESS, 1),
    ("import os\nseed = os.environ['LABLIB_HIDDEN_SEED']", FILE_ACCESS, 2),
    ("import os\nseed = os.getenv('LABLIB_HIDDEN_SEED')", FILE_ACCESS, 2),
    ("from pathlib import Path\ntext = Path('lab01.ipynb').read_text()", FILE_ACCESS, 2),
    ("from pathlib import Path\nwith Path('lab01.ipynb').open() as fh:\n    text = fh.read()", FILE_ACCESS, 2),
    ("import os\nnames = os.listdir('..')", FILE_ACCESS, 2),
    ("import shutil\nshutil.copy('a', 'b')", FILE_ACCESS, 2),
    ("import glob\npaths = glob.glob('../*/*.ipynb')", FILE_ACCESS, 2),
    ("import io\nfh = io.open('x')", FILE_ACCESS, 2),
    ("expected = np.load('expected.npy')", FILE_ACCESS, 1),
    # process control
    ("import os\nos._exit(0)", PROCESS, 2),
    ("import sys\nsys.exit()", PROCESS, 2),
    ("exit()", PROCESS, 1),
    ("quit()", PROCESS, 1),
    ("import os\nos.system('rm -rf ../autograded')", PROCESS, 2),
    ("import subprocess\nsubprocess.run(['ls'])", PROCESS, 2),
    ("from os import system as s\ns('ls')", PROCESS, 2),
    ("import os as operating\noperating.kill(operating.getppid(), 9)", PROCESS, 2),
    ("import signal\nsignal.alarm(0)", PROCESS, 2),
    ("import multiprocessing", PROCESS, 1),
    ("import threading\nthreading.Thread(target=work).start()", PROCESS, 2),
    ("import ctypes", PROCESS, 1),
    ("import resource", PROCESS, 1),
    ("!ls", PROCESS, 1),
    # network
    ("import socket", NETWORK, 1),
    ("import urllib.request\nurllib.request.urlopen('http://example.com')", NETWORK, 2),
    ("from http.client import HTTPConnection", NETWORK, 1),
    ("import requests\nrequests.get(url)", NETWORK, 2),
    ("import ftplib", NETWORK, 1),
    ("import smtplib", NETWORK, 1),
    ("import asyncio\nasyncio.open_connection('example.com', 80)", NETWORK, 2),
    # lablib internals (a lone cell counts as an answer cell)
    ("from lablib.optim import gradient_descent as gd", LABLIB_INTERNALS, 1),
    ("from lablib.grading import check", LABLIB_INTERNALS, 1),
    ("import lablib.optim\ndef adam_step(*args):\n    return lablib.optim.adam_step(*args)", LABLIB_INTERNALS, 1),
    ("from lablib import _validate", LABLIB_INTERNALS, 1),
    ("import lablib\nstate = lablib.grading.engine._Notes", LABLIB_INTERNALS, 2),
]


@pytest.mark.parametrize("source, category, line", TAMPERING, ids=[s for s, _, _ in TAMPERING])
def test_each_construct_is_flagged_on_its_line(source, category, line):
    findings = scan_source(source)
    assert (category, line) in {(f.category, f.line) for f in findings}, findings
    assert all(isinstance(f, Finding) and f.why and f.why.strip() == f.why for f in findings)


def test_a_finding_points_at_the_source_line():
    findings = scan_source("import numpy as np\n\n\ndef f(x):\n    import os\n    os.system('ls')  # run it\n"
                           "    return x", cell="cell 5 ('f')")
    assert findings == [Finding(PROCESS, "cell 5 ('f')", 6, "os.system('ls')  # run it", findings[0].why)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        findings[0].line = 1
    long_line = "import os; os.system('" + "x" * 200 + "')"
    assert len(scan_source(long_line)[0].snippet) == 120


def test_ipython_syntax_is_transformed_before_parsing():
    shell = scan_source("x = 1\n!ls ../..")
    assert {(f.category, f.line, f.snippet) for f in shell} == {(PROCESS, 2, "!ls ../.."),
                                                              (IPYTHON_INTERNALS, 2, "!ls ../..")}
    # the code a timing magic runs is still checked; the magic itself is harmless
    assert scan_source("%timeit f(3)") == []
    assert [(f.category, f.line) for f in scan_source("%time exec(payload)")] == [(DYNAMIC_CODE, 1)]
    assert [(f.category, f.line) for f in scan_source("%%time\nx = 1\nimport socket")] == [(NETWORK, 3)]


def test_star_imports_are_resolved_conservatively():
    findings = scan_source("from os import *\nprint('hi')\nsystem('ls')")
    assert [(f.category, f.line) for f in findings] == [(PROCESS, 3)]
    assert scan_source("from numpy import *\ny = sqrt(abs(x))") == []


def test_unparsable_cell():
    findings = scan_source("def f(x:\n    return x")
    assert len(findings) == 1
    assert findings[0].category == UNPARSABLE and findings[0].line == 1
    assert "unparsable cell" in findings[0].why and "was never closed" in findings[0].why


LEGITIMATE_ANSWERS = [
    "def f(x):\n    return x ** 2",
    "def df(x):\n    return 2.0 * x",
    # loop-based, early stopping, numpy
    ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
     "    for _ in range(n_steps):\n        g = grad(xs[-1])\n        if tol is not None and np.linalg.norm(g) < tol:\n"
     "            break\n        xs.append(xs[-1] - lr * g)\n    return np.array(xs)"),
    # recursion
    ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x0 = np.asarray(x0, dtype=float)\n"
     "    if n_steps == 0:\n        return x0[None]\n"
     "    return np.concatenate([x0[None], gradient_descent(grad, x0 - lr * grad(x0), lr, n_steps - 1)])"),
    # vectorised
    ("def softmax_cross_entropy(logits, y):\n    n = logits.shape[0]\n"
     "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
     "    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
     "    dlogits = np.exp(log_p)\n    dlogits[np.arange(n), y] -= 1.0\n"
     "    return -log_p[np.arange(n), y].mean(), dlogits / n"),
    ("def numerical_gradient(f, x, h=1e-5):\n    grad = np.zeros_like(x)\n    for i in np.ndindex(x.shape):\n"
     "        old = x[i]\n        x[i] = old + h\n        f_plus = f(x)\n        x[i] = old - h\n"
     "        grad[i] = (f_plus - f(x)) / (2 * h)\n        x[i] = old\n    return grad"),
    # helpers, builtin names as parameters and locals inside functions, comprehensions, lambdas
    ("def _sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n\n\n"
     "def forward(input, sum=0.0, max=1.0, min=-1.0):\n    list = [abs(v) for v in input]\n"
     "    len = np.size(input)\n    id = {i: v for i, v in enumerate(list)}\n    type = sorted(id, key=lambda k: -id[k])\n"
     "    return np.clip(_sigmoid(np.asarray(list)) + sum, min, max), len, type"),
    ("def minibatches(X, y, batch_size, rng=None, shuffle=True):\n    rng = np.random.default_rng() if rng is None else rng\n"
     "    order = rng.permutation(len(X)) if shuffle else np.arange(len(X))\n"
     "    for start in range(0, len(X), batch_size):\n        rows = order[start:start + batch_size]\n"
     "        yield X[rows], y[rows]"),
    # state dicts, keyword defaults, math module used (not patched)
    ("import math\n\n\ndef adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
     "    t = state.get('t', 0) + 1\n    m = beta1 * state.get('m', 0.0) + (1 - beta1) * grad\n"
     "    v = beta2 * state.get('v', 0.0) + (1 - beta2) * grad ** 2\n"
     "    assert math.isfinite(lr), 'lr must be finite'\n"
     "    return x - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps), {'t': t, 'm': m, 'v': v}"),
    # printing and warnings
    ("import warnings\n\n\ndef gradient_descent(grad, x0, lr, n_steps, tol=None):\n    if lr > 1:\n"
     "        warnings.warn(f'lr = {lr} may diverge', RuntimeWarning)\n    x = np.asarray(x0, dtype=float)\n"
     "    xs = [x]\n    for t in range(n_steps):\n        x = x - lr * grad(x)\n        print(f'step {t}: x = {x}')\n"
     "        xs.append(x)\n    return np.array(xs)"),
    # a class with attributes set on self, try/except, errstate
    ("class Momentum:\n    def __init__(self, lr, momentum=0.9):\n        self.lr, self.momentum = lr, momentum\n"
     "        self.velocity = None\n\n    def step(self, x, grad):\n        if self.velocity is None:\n"
     "            self.velocity = np.zeros_like(x)\n        self.velocity = self.momentum * self.velocity + grad\n"
     "        return x - self.lr * self.velocity\n\n\ntry:\n    with np.errstate(over='ignore'):\n"
     "        big = np.exp(1000.0)\nexcept FloatingPointError as error:\n    print(error)"),
    # plotting with matplotlib, a magic, a help lookup, annotations
    ("%matplotlib inline\nimport matplotlib.pyplot as plt\nimport numpy as np\n\nxs: np.ndarray = np.linspace(-2, 2, 101)\n"
     "fig, ax = plt.subplots(figsize=(4, 3), layout='constrained')\nax.plot(xs, xs ** 2, label='f')\n"
     "ax.set_title('f(x) = x^2')\nax.legend()\nplt.rcParams['lines.linewidth'] = 2\nplt.show()"),
    "np.linalg.norm?",
    "%timeit gradient_descent(df, 1.0, 0.1, 100)",
]


@pytest.mark.parametrize("source", LEGITIMATE_ANSWERS)
def test_ordinary_answers_raise_nothing(source):
    assert scan_source(source) == []


def test_the_kits_own_notebooks_raise_nothing():
    paths = sorted(REPO.glob("solutions/*/*.ipynb"))
    assert paths
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}
        assert scan_notebook(nb, ids) == [], path.name


def _cell(cell, grade_id, **flags):
    cell.metadata["nbgrader"] = {"grade_id": grade_id, "grade": False, "solution": False, "locked": False, **flags}
    return cell


def test_scan_notebook_labels_cells_and_checks_metadata():
    nb = new_notebook(cells=[
        _cell(new_code_cell("%matplotlib inline\nimport numpy as np\nfrom lablib import optim\n"
                            "from lablib.grading import check, needs"), "setup", locked=True),
        _cell(new_code_cell("def adam_step(x, grad, state, lr):\n    return optim.adam_step(x, grad, state, lr)"),
              "adam_step", solution=True),
        _cell(new_code_cell('check("adam_step", adam_step)'), "test_adam_step", grade=True, locked=True, points=2),
        new_code_cell("import os\nprint(os.environ['LABLIB_HIDDEN_SEED'])"),  # a cell the student added
        _cell(new_code_cell("assert True"), "bonus_test", grade=True, locked=True, points=100),
        _cell(new_markdown_cell("My notes"), "adam_step", solution=True),
    ])
    findings = scan_notebook(nb, expected_ids={"setup", "adam_step", "test_adam_step"})
    assert [(f.category, f.cell, f.line) for f in findings] == [
        (NOTEBOOK, "cell 1 ('adam_step')", 1),            # duplicated grade_id
        (LABLIB_INTERNALS, "cell 1 ('adam_step')", 2),    # optim comes from the setup cell's import
        (FILE_ACCESS, "cell 3", 2),
        (NOTEBOOK, "cell 4 ('bonus_test')", 1),           # a graded cell the lab does not have
        (NOTEBOOK, "cell 5 ('adam_step')", 1),
    ]
    assert "bonus_test" in findings[3].why and findings[3].snippet == "assert True"
    assert [f.category for f in scan_notebook(nb)] == [NOTEBOOK, LABLIB_INTERNALS, FILE_ACCESS, NOTEBOOK]
    # the same import in the setup cell is fine, in an answer cell it is flagged
    assert scan_source("from lablib import optim", answer=False) == []
    assert [f.category for f in scan_source("from lablib import optim")] == [LABLIB_INTERNALS]
    for grader_internals in ("from lablib.grading import EXERCISES", "from lablib.grading import *"):
        assert [f.category for f in scan_source(grader_internals, answer=False)] == [LABLIB_INTERNALS]


def test_sample_class_tampering_is_flagged():
    """The sample class (grading/sample_class/make_sample_class.py) has one student who prints the hidden seed (jo),
    one whose answer calls os._exit (rosa) and one who scrambled the nbgrader metadata (tara); no one else."""
    expected_ids = {}
    for path in REPO.glob("solutions/*/*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        expected_ids[path.parent.name] = {c.metadata.get("nbgrader", {}).get("grade_id") for c in cells} - {None}
    flagged = {}
    for path in sorted(REPO.glob("grading/sample_class/submitted/*/*/*.ipynb")):
        findings = scan_notebook(nbformat.read(path, as_version=4), expected_ids[path.parent.name])
        for f in findings:
            cell = "(metadata)" if f.category == NOTEBOOK else f.cell
            flagged.setdefault((path.parts[-3], path.parent.name), set()).add((f.category, cell))
    lab01 = "lab01-gradient-descent"
    assert flagged == {("jo", lab01): {(FILE_ACCESS, "cell 5 ('f')")},
                       ("rosa", lab01): {(PROCESS, "cell 13 ('gradient_descent')")},
                       ("tara", lab01): {(NOTEBOOK, "(metadata)")}}


def test_report_markdown_groups_by_category():
    assert report_markdown([]) == ""
    findings = (scan_notebook(new_notebook(cells=[new_code_cell("import socket\nimport os\nos._exit(0)")]))
                + scan_source("abs = lambda v: 0\nx = `1`", cell="cell 7 ('f')"))
    categories = [f.category for f in findings]
    assert categories == [NETWORK, PROCESS, UNPARSABLE]  # the unparsable cell hides its abs
    report = report_markdown(findings)
    assert "not a verdict" in report
    headings = [line[5:] for line in report.splitlines() if line.startswith("#### ")]
    assert headings == [c for c in CATEGORIES if c in categories]  # in the fixed category order
    process = report.split(f"#### {PROCESS}")[1].split("####")[0]
    assert "- `cell 0`, line 3: `os._exit(0)` — " in process and "socket" not in process
    assert "- `cell 7 ('f')`, line 2: `` x = `1` `` — " in report  # the label (it quotes a grade_id) is a code span


def test_ipython_syntax_is_translated_only_in_cells_of_bounded_size(monkeypatch):
    """IPython's translation re-reads the cell once per magic (quadratic): 2,000 magics or a cell over 10,000
    characters are reported as not checked instead of translated (the verdict's harness uses the same bound)."""
    from IPython.core.inputtransformer2 import TransformerManager

    from grading.pipeline.tamper import MAX_IPYTHON_LINES, ipython_to_python

    assert ipython_to_python("%time x = 1\n!ls") == "get_ipython().run_line_magic('time', 'x = 1')\nget_ipython().system('ls')\n"
    monkeypatch.setattr(TransformerManager, "transform_cell", lambda self, source: pytest.fail("translated"))
    for source in ("%time _ = 1\n" * (MAX_IPYTHON_LINES + 1), "x = 1\n" * 2000 + "!ls"):
        with pytest.raises(ValueError):
            ipython_to_python(source)
        assert [f.category for f in scan_source(source)] == [UNPARSABLE]


@pytest.mark.parametrize("source", ["x = " + "+1" * 40_000, "x = " + "-" * 99_000 + "1", "a" + ".b" * 40_000])
def test_code_nested_too_deeply_for_the_parser_is_reported_not_crashed_on(source):
    assert [f.category for f in scan_source(source)] == [UNPARSABLE]


def test_a_hostile_grade_id_is_literal_text_in_the_report():
    """A grade_id is the student's text: the grader-facing report quotes it where no renderer reads markup."""
    from grading.pipeline.html_safety import unsafe_markdown

    hostile = '<img src=x onerror="alert(1)">`` [a](javascript:alert(2))'
    cell = new_code_cell("print('extra')")
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": hostile, "locked": True}
    twice = [cell, new_code_cell("print('extra')", metadata=cell.metadata)]
    report = report_markdown(scan_notebook(new_notebook(cells=twice), expected_ids={"f"}))
    assert report.count("grade_id") >= 2 and unsafe_markdown(report) == [], report
