"""Static tamper report: suspicious constructs in a submission's code cells, for the grader to look at.

A finding is a flag, never a verdict: it changes no score. The code is only parsed (``ast``), never run.
A cell that is not plain Python is turned into Python by IPython's TransformerManager, so ``!ls`` shows up as
``get_ipython().system('ls')``; %matplotlib, help lookups (``x?``) and %time/%timeit are harmless (the code timed is
checked), any other use of the kernel object is a finding. Names are resolved through the imports seen so far
(``import numpy as np``, ``from os import system as s``, ``from os import *``, ``s = os.system``), from cell to cell
in ``scan_notebook``; names bound inside a function are its own. At most one finding per category and line.
"""
from __future__ import annotations

import ast
import builtins
import functools
import re
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase

from IPython.core.inputtransformer2 import TransformerManager

from .html_safety import code_span

DYNAMIC_CODE, IPYTHON_INTERNALS, PATCHING = "dynamic code", "IPython internals", "patching"
FILE_ACCESS, PROCESS, NETWORK, LABLIB_INTERNALS = "file access", "process control", "network", "lablib internals"
UNPARSABLE, NOTEBOOK = "unparsable cell", "notebook structure"
CATEGORIES = (DYNAMIC_CODE, IPYTHON_INTERNALS, PATCHING, FILE_ACCESS, PROCESS, NETWORK, LABLIB_INTERNALS,
              UNPARSABLE, NOTEBOOK)


@dataclass(frozen=True)
class Finding:
    """One suspicious construct (at most one per category and line)."""
    category: str
    cell: str     # e.g. "cell 5 ('gradient_descent')"
    line: int     # 1-based, within the cell
    snippet: str  # the source line, stripped, at most 120 characters
    why: str      # one sentence for the grader


# (pattern of a fully qualified name, category, why); a pattern also matches the names under it ("subprocess.run")
_RULES = [(pattern, category, why) for category, why, patterns in [
    (DYNAMIC_CODE, "runs or imports code that is only known at run time",
     "builtins.exec builtins.eval builtins.compile builtins.__import__ importlib* runpy code.*"),
    (DYNAMIC_CODE, "decodes hidden data, a way to smuggle in code",
     ("base64.*decode* codecs.decode codecs.getdecoder zlib.decompress* bz2 lzma gzip.decompress binascii.a2b_* "
      "binascii.unhexlify builtins.bytes.fromhex")),
    (DYNAMIC_CODE, "loads or builds code objects",
     "marshal pickle.load* _pickle dill cloudpickle types.FunctionType types.CodeType"),
    (DYNAMIC_CODE, "reaches into the interpreter's frames or objects (could read the grader's expected values)",
     ("sys._getframe inspect.currentframe inspect.stack inspect.getouterframes inspect.trace gc.get_referrers "
      "gc.get_referents gc.get_objects sys.settrace sys.setprofile sys.addaudithook")),
    (IPYTHON_INTERNALS, "touches the Jupyter kernel or grading machinery",
     "builtins.get_ipython IPython ipykernel jupyter_client nbclient nbgrader"),
    (PATCHING, "sys.modules lets code swap any module for another", "sys.modules"),
    (PATCHING, "edits the notebook's global names directly (the test helpers too)", "builtins.globals"),
    (FILE_ACCESS, "opens, copies or finds files (an answer needs none)",
     ("builtins.open io.open io.FileIO os.open os.fdopen nbformat numpy.load numpy.loadtxt numpy.genfromtxt "
      "numpy.fromfile numpy.save* numpy.memmap shutil glob sqlite3 linecache")),
    (FILE_ACCESS, "lists, probes or changes the file system",
     ("os.remove os.unlink os.rename os.replace os.rmdir os.removedirs os.listdir os.scandir os.walk os.chmod "
      "os.chown os.truncate os.link os.symlink os.chdir os.getcwd os.stat os.path.exists os.path.is* os.path.getsize")),
    (FILE_ACCESS, "reads or sets environment variables (the hidden seed is one)",
     "os.environ* os.getenv os.putenv os.unsetenv"),
    (PROCESS, "runs another program",
     "os.system os.popen subprocess pty os.fork os.forkpty os.exec* os.spawn* os.posix_spawn*"),
    (PROCESS, "exits, signals or reconfigures the kernel process",
     "os.kill os.killpg os._exit os.abort sys.exit builtins.exit builtins.quit signal atexit resource"),
    (PROCESS, "starts threads/processes or calls C code", "multiprocessing threading _thread concurrent.futures ctypes"),
    (NETWORK, "uses the network",
     ("socket urllib urllib3 http requests httpx aiohttp ftplib smtplib telnetlib asyncio.open_connection "
      "asyncio.start_server")),
] for pattern in patterns.split()]

_BUILTINS = {name for name in dir(builtins) if not name.startswith("_")} | {"__import__", "get_ipython"}
_KIT_HELPERS = {"check", "check_quiz", "needs", "CheckFailure"}
_KIT_HELPER_NAMES = {f"lablib.grading.{name}" for name in _KIT_HELPERS}
# names that mean a module even when this cell does not import it (earlier cells or the kernel usually did)
_KNOWN_MODULES = {"np": "numpy", "numpy": "numpy", "plt": "matplotlib.pyplot", "math": "math", "os": "os",
                  "sys": "sys", "builtins": "builtins", "lablib": "lablib"}
_IPYTHON_ATTRS = {"input_transformers_post", "input_transformers_cleanup", "input_transformer_manager",
                  "ast_transformers", "user_ns", "user_global_ns", "showtraceback", "run_cell", "InteractiveShell"}
_INTROSPECTION_ATTRS = {"__code__", "__globals__", "__closure__", "__subclasses__", "f_globals", "f_locals", "f_back"}
_PATH_METHODS = {"read_text", "read_bytes", "write_text", "write_bytes", "iterdir", "glob", "rglob", "unlink",
                 "rmdir", "touch", "symlink_to", "hardlink_to"}
_HARMLESS_MAGICS = {"matplotlib", "pinfo", "pinfo2", "pdoc", "pdef", "psearch", "who", "whos"}
_TIMING_MAGICS = {"time", "timeit"}  # harmless themselves, but the code they time is scanned


# IPython's translation re-reads the whole cell once per construct it translates: quadratic in hostile input
# (11,000 lines of `%time x` took minutes). Larger cells, or cells with more constructs, are not translated.
MAX_IPYTHON_CHARS, MAX_IPYTHON_LINES = 10_000, 20
_IPYTHON_LINE = re.compile(r"^[ \t]*[%!]|[?][ \t]*$|=[ \t]*[%!]", re.M)


def ipython_to_python(source: str) -> str:
    """IPython's translation of ``source`` (%magic, !shell, x?) into Python, bounded: ValueError for a cell of more
    than MAX_IPYTHON_CHARS characters or MAX_IPYTHON_LINES IPython commands (nothing a lab needs); the verdict
    harness then reports the cell's SyntaxError and the tamper report says it was not checked."""
    if len(source) > MAX_IPYTHON_CHARS or len(_IPYTHON_LINE.findall(source)) > MAX_IPYTHON_LINES:
        raise ValueError(f"IPython syntax in a cell of more than {MAX_IPYTHON_CHARS:,} characters or with more than "
                         f"{MAX_IPYTHON_LINES} IPython commands")
    return TransformerManager().transform_cell(source)  # one per call: threads may translate at once


def _ipython_to_python(source: str) -> str:
    try:
        return ipython_to_python(source)
    except ValueError:
        raise
    except Exception:  # noqa: BLE001 -- whatever IPython chokes on, the source's own syntax error is reported
        return source


@functools.cache
def _rule(qualified: str):
    for pattern, category, why in _RULES:
        if fnmatchcase(qualified, pattern) or fnmatchcase(qualified, pattern + ".*"):
            return category, why
    return None


class _Scanner(ast.NodeVisitor):
    """Walks the cells of one notebook in order; ``aliases`` (local name -> qualified name) and ``stars``
    (modules imported with ``*``) carry over from cell to cell."""

    def __init__(self):
        self.aliases, self.stars = dict(_KNOWN_MODULES), []

    def scan(self, source: str, label: str = "cell", answer: bool = False, first_line: int = 1) -> list[Finding]:
        self.label, self.answer, self.offset, self.found = label, answer, first_line - 1, {}
        self.lines, self.scopes = source.splitlines(), []
        self.code_lines = self.lines  # what was parsed: the source, or IPython's translation of it
        try:
            try:
                tree = ast.parse(source)  # plain Python, which IPython leaves as it is
            except (SyntaxError, ValueError):
                code = _ipython_to_python(source)
                self.code_lines = code.splitlines()
                tree = ast.parse(code)
            self.visit(tree)
        except (SyntaxError, ValueError) as error:
            self.add(UNPARSABLE, getattr(error, "lineno", None) or 1,
                     f"unparsable cell ({getattr(error, 'msg', error)}), so it was not checked")
        except (RecursionError, MemoryError):  # the parser gives up on deep nesting
            self.add(UNPARSABLE, 1, "unparsable cell (nested too deeply), so it was not checked")
        return sorted(self.found.values(), key=lambda f: f.line)

    def add(self, category: str, line: int, why: str) -> None:
        text = self.lines if 0 < line <= len(self.lines) else self.code_lines
        snippet = text[line - 1].strip()[:120] if 0 < line <= len(text) else ""
        self.found.setdefault((category, line), Finding(category, self.label, line + self.offset, snippet, why))

    # --- names ---
    def qualify(self, node) -> str | None:
        """The fully qualified name an expression stands for ("np.linalg.norm" -> "numpy.linalg.norm"), or None."""
        if isinstance(node, ast.Attribute):
            base = self.qualify(node.value)
            return f"{base}.{node.attr}" if base else None
        if not isinstance(node, ast.Name):
            return None
        for scope in [*reversed(self.scopes), self.aliases]:
            if node.id in scope:
                return scope[node.id]  # None: a variable of the student's
        for module in self.stars:
            if _rule(f"{module}.{node.id}"):
                return f"{module}.{node.id}"
        return f"builtins.{node.id}" if node.id in _BUILTINS else None

    def reference(self, qualified: str, node, imported: bool = False) -> None:
        if (hit := _rule(qualified)):
            self.add(hit[0], node.lineno, hit[1])
        if qualified.split(".")[0] != "lablib":
            return
        if any(part.startswith("_") for part in qualified.split(".")[1:]):
            self.add(LABLIB_INTERNALS, node.lineno, f"uses the private name {qualified}")
        elif qualified.startswith("lablib.grading.") and qualified not in _KIT_HELPER_NAMES:
            self.add(LABLIB_INTERNALS, node.lineno, f"reaches into the grader ({qualified})")
        elif self.answer and (imported or qualified not in _KIT_HELPER_NAMES  # given constants may be used
                              and not qualified.rsplit(".", 1)[-1].isupper()):
            self.add(LABLIB_INTERNALS, node.lineno, f"uses {qualified} in an answer cell; answers are written with numpy")

    def bind(self, name: str, node, qualified: str | None = None) -> None:
        """Any binding of ``name`` (assignment, def, class, import, for, with, del); only module-level ones count."""
        if any(name in scope for scope in self.scopes):
            return
        is_kit_helper = qualified and qualified.startswith("lablib.grading.") and qualified.endswith("." + name)
        if name in _KIT_HELPERS and not is_kit_helper:
            self.add(PATCHING, node.lineno, f"rebinds or deletes the kit's helper `{name}`, which the tests call")
        elif name in _BUILTINS:
            self.add(PATCHING, node.lineno, f"rebinds the builtin `{name}` for every later cell, the tests too")
        self.aliases[name] = qualified

    def set_attribute(self, obj, attr: str, node) -> None:
        base = self.qualify(obj)
        if base == "sys" and attr in ("displayhook", "excepthook"):
            self.add(IPYTHON_INTERNALS, node.lineno, f"replaces sys.{attr}, which decides what output looks like")
        elif base:
            self.add(PATCHING, node.lineno, f"replaces {base}.{attr} for every later cell, the tests too")

    # --- scopes: names bound inside a function are local, never patching ---
    def visit_FunctionDef(self, node):
        for expr in getattr(node, "decorator_list", []) + node.args.defaults + node.args.kw_defaults:
            if expr is not None:
                self.visit(expr)
        if not isinstance(node, ast.Lambda):
            self.bind(node.name, node)
        self.scopes.append(_local_names(node) | {a.arg: None for a in ast.walk(node.args) if isinstance(a, ast.arg)})
        for statement in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(statement)
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.bind(node.name, node)
        self.visit_scope(node, _local_names(node))

    def visit_scope(self, node, names=None):
        """A class body or a comprehension: its names are its own."""
        self.scopes.append(names if names is not None else
                           {n.id: None for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)})
        self.generic_visit(node)
        self.scopes.pop()

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = visit_scope

    # --- statements ---
    def visit_Import(self, node):  # also ImportFrom
        module = getattr(node, "module", None)
        if isinstance(node, ast.ImportFrom) and (node.level or not module):
            return  # a relative import: not a module we know
        for alias in node.names:
            if module and alias.name == "*":  # later bare names that match a rule under it resolve to it
                self.stars.append(module)
                self.reference(module, node, imported=True)
                if module.startswith("lablib.grading"):
                    self.add(LABLIB_INTERNALS, node.lineno, "imports everything from the grader, its internals too")
                continue
            qualified = f"{module}.{alias.name}" if module else alias.name
            name = alias.asname or (alias.name if module else alias.name.split(".")[0])
            self.reference(qualified, node, imported=True)  # ``import os.path`` binds os to os
            bound = qualified if alias.asname or module else name
            if self.scopes:
                self.scopes[-1][name] = bound
            else:
                self.bind(name, node, bound)

    visit_ImportFrom = visit_Import

    def visit_Assign(self, node):  # also AnnAssign, AugAssign, Delete; targets are handled by visit_Name/Attribute
        self.generic_visit(node)
        targets = getattr(node, "targets", None) or [node.target]
        value = getattr(node, "value", None)
        if len(targets) == 1 and isinstance(targets[0], ast.Name) and not isinstance(node, ast.AugAssign) \
                and value is not None and not any(targets[0].id in scope for scope in self.scopes):
            self.aliases[targets[0].id] = self.qualify(value)  # ``s = os.system``: s means os.system

    visit_AnnAssign = visit_AugAssign = visit_Delete = visit_Assign

    # --- expressions ---
    def visit_Name(self, node):
        if node.id == "__builtins__":
            self.add(PATCHING, node.lineno, "`__builtins__` gives access to every builtin, to replace them")
        elif node.id in ("InteractiveShell", "__tracebackhide__"):
            self.add(IPYTHON_INTERNALS, node.lineno, f"`{node.id}` belongs to IPython's machinery")
        if not isinstance(node.ctx, ast.Load):
            self.bind(node.id, node)
        elif (qualified := self.qualify(node)):
            self.reference(qualified, node)

    def visit_Attribute(self, node):
        if node.attr == "__builtins__":
            self.add(PATCHING, node.lineno, "`__builtins__` gives access to every builtin, to replace them")
        elif node.attr in _IPYTHON_ATTRS or (node.attr == "register" and isinstance(node.value, ast.Attribute)
                                              and node.value.attr == "events"):
            self.add(IPYTHON_INTERNALS, node.lineno, f"`.{node.attr}` changes how the kernel runs or reports cells")
        elif node.attr in _INTROSPECTION_ATTRS:
            self.add(DYNAMIC_CODE, node.lineno, f"`.{node.attr}` reaches into functions or frames")
        if not isinstance(node.ctx, ast.Load):
            self.set_attribute(node.value, node.attr, node)
        qualified = self.qualify(node)
        if qualified:
            self.reference(qualified, node)
        else:
            self.generic_visit(node)

    def visit_Call(self, node):
        func, args = node.func, node.args
        name = self.qualify(func)
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)
                and self.qualify(func.value.func) == "builtins.get_ipython"):
            return self.ipython_call(node, func.attr)
        if name in ("builtins.getattr", "builtins.setattr", "builtins.delattr") and len(args) >= 2:
            literal = isinstance(args[1], ast.Constant) and isinstance(args[1].value, str)
            base = self.qualify(args[0]) or ""  # outside answers, only on modules other than lablib's plain ones
            if not literal:
                if self.answer or base and not re.match(r"lablib\.(?!grading)", base):
                    self.add(DYNAMIC_CODE, node.lineno, f"`{name[9:]}` with a computed name hides what it uses")
            elif name != "builtins.getattr":
                self.set_attribute(args[0], args[1].value, node)
            elif base:
                self.reference(f"{base}.{args[1].value}", node)
        if isinstance(func, ast.Attribute) and name is None:
            root = func.value
            while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
                root = root.func if isinstance(root, ast.Call) else root.value
            on_path = (self.qualify(root) or "").startswith("pathlib")
            if func.attr in _PATH_METHODS or (on_path and func.attr in {"open", "rename", "replace", "chmod"}):
                self.add(FILE_ACCESS, node.lineno, f"`.{func.attr}()` reads, lists or changes files")
        self.generic_visit(node)

    def ipython_call(self, node, method: str) -> None:
        """``get_ipython().<method>(...)``, what IPython syntax turns into."""
        args = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in node.args]
        magic = args[0] if method in ("run_line_magic", "run_cell_magic") and args else None
        if magic in _HARMLESS_MAGICS:
            return
        if magic in _TIMING_MAGICS and None not in args:
            code = args[2] if method == "run_cell_magic" else re.sub(r"^\s*(-[a-z]\s*\d*\s+)*", "", args[1])
            first = node.lineno + (1 if method == "run_cell_magic" else 0)
            inner = _Scanner()
            inner.aliases, inner.stars = self.aliases, self.stars
            for f in inner.scan(code, self.label, self.answer, first_line=first):
                self.add(f.category, f.line, f.why)
            return
        if method in ("system", "getoutput") or magic in ("sx", "system", "bash", "sh", "script"):
            self.add(PROCESS, node.lineno, "runs a shell command")
        what = f"the %{magic} magic" if magic else f"get_ipython().{method}"
        self.add(IPYTHON_INTERNALS, node.lineno, f"uses {what}, which acts on the kernel itself")
        for arg in node.args + [k.value for k in node.keywords]:
            self.visit(arg)


def _local_names(node) -> dict:
    """The names a function or class body binds (a little generously: nested bodies count too), minus globals."""
    declared_global = {name for n in ast.walk(node) if isinstance(n, ast.Global) for name in n.names}
    names = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler)) and n is not node and n.name:
            names.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name.split(".")[0] for alias in n.names)
    return dict.fromkeys(names - declared_global)


def _nbgrader(cell) -> dict:
    md = cell.get("metadata", {}).get("nbgrader", {})
    return md if isinstance(md, dict) else {}


def scan_source(source: str, *, cell: str = "cell", answer: bool = True) -> list[Finding]:
    """Findings in one code cell's source, labelled ``cell``. In an answer cell (the default for a lone cell) any
    use of lablib is flagged; elsewhere only lablib's private names and grader internals are."""
    return _Scanner().scan(source, cell, answer)


def scan_notebook(nb, expected_ids: set[str] | None = None) -> list[Finding]:
    """Findings in every code cell of an nbformat notebook, in order, plus cell-metadata findings: graded or locked
    cells whose grade_id is not in ``expected_ids`` (when given) and grade_ids used twice."""
    scanner, findings = _Scanner(), []
    ids = Counter(_nbgrader(c).get("grade_id") for c in nb.cells)
    for index, cell in enumerate(nb.cells):
        md = _nbgrader(cell)
        grade_id = md.get("grade_id")
        label = f"cell {index} ({grade_id!r})" if grade_id else f"cell {index}"
        first = (cell.source.strip().splitlines() or [""])[0].strip()[:120]
        if expected_ids is not None and (md.get("grade") or md.get("locked")) and grade_id not in expected_ids:
            shown = code_span(repr(grade_id))   # the student's text: literal in the grader-facing report
            findings.append(Finding(NOTEBOOK, label, 1, first,
                                    f"graded/locked cell with grade_id {shown}, which the lab does not have"))
        if grade_id is not None and ids[grade_id] > 1:
            findings.append(Finding(NOTEBOOK, label, 1, first,
                                    f"grade_id {code_span(repr(grade_id))} is used by more than one cell"))
        if cell.cell_type == "code":
            findings += scanner.scan(cell.source, label, answer=bool(md.get("solution")))
    return findings


def report_markdown(findings) -> str:
    """A grader-facing markdown summary, grouped by category; "" when there is nothing to report."""
    findings = list(findings)
    if not findings:
        return ""
    out = [(f"**Static tamper report: {len(findings)} finding(s).** A flag to look at, not a verdict; "
            "it does not change the score.")]
    for category in [c for c in CATEGORIES if any(f.category == c for f in findings)]:
        out.append(f"\n#### {category}\n")
        for f in (f for f in findings if f.category == category):
            code = f" {code_span(f.snippet)}" if f.snippet else ""   # student text: literal, never markdown/HTML
            out.append(f"- {code_span(f.cell)}, line {f.line}:{code} — {f.why}")   # a cell label quotes its grade_id
    return "\n".join(out) + "\n"
