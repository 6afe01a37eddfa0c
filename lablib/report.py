"""Export a lab's mini report to a LaTeX project (``report.tex`` + ``figures/``) and, where TeX is installed, a PDF.

Students, on the notebook they worked in (saved, with its outputs: plots are taken from them, nothing is re-run),
in a new cell of it::

    from lablib.report import export, list_plots
    export("lab01.ipynb")         # -> report/report.tex, report/figures/, report/report.pdf beside the notebook
    list_plots("lab01.ipynb")     # the notebook's plots, numbered

or in a terminal: ``python -m lablib.report labs/lab01-gradient-descent/lab01.ipynb [--list]``.

Instructors, on a lab's submissions (nbgrader's layout: a folder per student, then the lab)::

    python -m lablib.report --all grading/autograded/*/lab01-gradient-descent   # -> output/reports/<lab>/<student>/

What goes in: the markdown cell graded as ``report`` (the one under "Mini lab report"). Headings (``### Results``)
or a bold lead (``**Results.** ...``) start the sections. The notebook's plots are numbered in order (``--list``):
``![caption](figure:3)`` shows plot 3 with that caption (else the heading above the plot), at the end of its
paragraph; ``[Figure](figure:3)`` refers to it in a sentence ("Figure 1", the report's own number). Images pasted
into the report cell come along. The title is the lab's; the authors are the ``--author`` names, or the student id
(``--all``), and the notebook's ``PARTNER``.

Student text is untrusted input. Outside math every character is escaped, so no TeX command can be written there;
a formula is kept only if it uses the commands of ``MATH_COMMANDS`` and its braces match (otherwise it is printed
as code, with a warning); every input is bounded (``MAX_*``); and TeX runs with ``-no-shell-escape``,
``openin_any=p`` and ``openout_any=p`` (no file read or written outside the project) and a time limit.
The document needs only Debian's ``texlive-latex-base`` (amsmath, amssymb, graphicx, color, alltt, hyperref).
"""
from __future__ import annotations

import argparse
import ast
import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import mistune

MAX_NOTEBOOK_BYTES = 64 * 2**20   # a lab notebook with its plots is a few MB
MAX_REPORT_CHARS = 100_000        # the report asks for half a page, about 3,000 characters
MAX_MATH_CHARS = 5_000            # one formula
MAX_MATH_NESTING = 50             # braces and environments inside one another in a formula
MAX_FIGURES = 30                  # images in one report
MAX_IMAGE_BYTES = 20 * 2**20      # one image
MAX_TABLE_CELLS = 2_000
TEX_SECONDS = 60                  # one TeX run

SECTIONS = ("Introduction", "Methodology", "Results", "Discussion", "Conclusion")
_BOLD_LEAD = re.compile(r"(introduction|methodology|methods?|results?|discussion|conclusions?)\s*[.:]?", re.I)
_SIGNATURES = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff"}


# -------------------------------------------------------------------------------------------------------- the notebook

@dataclass
class Figure:
    """A plot of the notebook: ``number`` 1, 2, ... in notebook order, as ``--list`` shows them."""
    number: int
    data: bytes
    ext: str                      # "png" or "jpg"
    caption: str                  # markdown: the nearest heading above the plot (else the sentence above it)
    cell: int                     # index of the code cell that drew it


@dataclass
class LabNotebook:
    path: Path
    title: str                    # the first "# " heading, e.g. "Lab 1 — Gradient descent"
    partner: str                  # PARTNER = "..." in the first code cell, read (never run)
    report: str                   # the report cell's markdown
    attachments: dict             # images pasted into the report cell: name -> {mime: base64}
    figures: list                 # [Figure]


def _text(value) -> str:
    return "".join(map(str, value)) if isinstance(value, list) else str(value or "")


def _image(bundle) -> tuple[bytes, str] | None:
    """(bytes, "png" | "jpg") of the PNG or JPEG in a MIME bundle, checked by its signature; else None."""
    for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg")):
        encoded = _text(bundle.get(mime)) if isinstance(bundle, dict) else ""
        if encoded and len(encoded) <= MAX_IMAGE_BYTES * 4 // 3 + 1024:
            try:
                raw = base64.b64decode(encoded)
            except ValueError:
                return None
            return (raw, ext) if raw.startswith(_SIGNATURES[ext]) else None
    return None


def _partner(source: str) -> str:
    try:
        tree = ast.parse(source[:10_000])
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ""
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PARTNER" for t in node.targets)
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            return node.value.value.strip()[:100]
    return ""


def read_lab(path) -> LabNotebook:
    """Read a lab notebook (nbformat 4 JSON) without running it: title, partner, report cell, plots."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"notebook: {path} is not a file")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"notebook: {path} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        kinds = [c.get("cell_type") for c in cells]
        sources = [_text(c.get("source")) for c in cells]
        grade_ids = [(c.get("metadata") or {}).get("nbgrader", {}).get("grade_id") for c in cells]
        outputs = [c.get("outputs") or [] if kind == "code" else [] for c, kind in zip(cells, kinds)]
        images = [[_image(output.get("data")) for output in cell_outputs] for cell_outputs in outputs]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise ValueError(f"notebook: {path} is not a Jupyter notebook ({type(error).__name__})") from None

    markdown = [i for i, kind in enumerate(kinds) if kind == "markdown"]
    report = [i for i in markdown if grade_ids[i] == "report"]
    if not report:   # metadata lost: the markdown cell right under the "Mini lab report" instructions
        report = [i + 1 for i in markdown if sources[i].lstrip().startswith("## Mini lab report")
                  and i + 1 < len(cells) and kinds[i + 1] == "markdown"]
    if not report:
        raise ValueError(f"notebook: {path.name} has no report cell (the markdown cell under 'Mini lab report')")
    attachments = cells[report[-1]].get("attachments")

    title = next((m.group(1).strip() for i in markdown if (m := re.match(r"#[ \t]+(.+)", sources[i].lstrip()))),
                 path.stem)
    code = [source for source, kind in zip(sources, kinds) if kind == "code"]
    figures, heading, sentence = [], "", ""            # the caption of a plot: the nearest heading above it, else
    for cell, (kind, source) in enumerate(zip(kinds, sources)):            # the first sentence of the markdown above
        if kind == "markdown" and source.strip():
            heading = ([heading] + re.findall(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", source, re.M))[-1][:200]
            sentence = re.split(r"(?<=[.!?:])\s", " ".join(source.split()), maxsplit=1)[0][:200]
        for image in filter(None, images[cell]):
            figures.append(Figure(len(figures) + 1, *image, heading or sentence, cell))
    return LabNotebook(path, title[:300], _partner(code[0]) if code else "", sources[report[-1]],
                       attachments if isinstance(attachments, dict) else {}, figures)


# ------------------------------------------------------------------------------------------- characters: text and code

# pdflatex with LaTeX's default (OT1) fonts types these non-ASCII characters itself (measured: each compiled alone,
# without an error or a bitmap font); the others are mapped below or replaced by '?'.
_LATIN = set("\u00a0¡¿ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÕÖØÙÚÛÜÝßàáâãäåæçèéêëìíîïñòóôõöøùúûüýÿĀāĂăĆćĈĉĊċČčĎďĒēĔĕĖėĚěĜĝĞğĠġĢģ"
             "ĤĥĨĩĪīĬĭİıĲĳĴĵĶķĹĺĻļĽľŁłŃńŅņŇňŌōŎŏŐőŒœŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŴŵŶŷŸŹźŻżŽž‘’“”–—…")
_GREEK = dict(zip("αβγδεζηθικλμνξπρσςτυφχψωϵϑϕϱΓΔΘΛΞΠΣΥΦΨΩ",
                  r"alpha beta gamma delta varepsilon zeta eta theta iota kappa lambda mu nu xi pi rho sigma varsigma "
                  r"tau upsilon varphi chi psi omega epsilon vartheta phi varrho Gamma Delta Theta Lambda Xi Pi Sigma "
                  r"Upsilon Phi Psi Omega".split()))
# character -> math (in text: \ensuremath{...})
_MATH_CHARS = {ch: "\\" + name for ch, name in _GREEK.items()} | {
    "µ": r"\mu", "≈": r"\approx", "≤": r"\le", "≥": r"\ge", "≠": r"\ne", "∞": r"\infty", "→": r"\to",
    "←": r"\leftarrow", "↔": r"\leftrightarrow", "⇒": r"\Rightarrow", "⇐": r"\Leftarrow", "⇔": r"\Leftrightarrow",
    "↦": r"\mapsto", "↑": r"\uparrow", "↓": r"\downarrow", "×": r"\times", "÷": r"\div", "±": r"\pm", "∓": r"\mp",
    "·": r"\cdot", "⋅": r"\cdot", "∘": r"\circ", "−": "-", "∑": r"\sum", "∏": r"\prod", "∫": r"\int",
    "∂": r"\partial", "∇": r"\nabla", "√": r"\surd", "∈": r"\in", "∉": r"\notin", "⊂": r"\subset",
    "⊆": r"\subseteq", "∪": r"\cup", "∩": r"\cap", "∀": r"\forall", "∃": r"\exists", "∝": r"\propto", "∼": r"\sim",
    "≡": r"\equiv", "≪": r"\ll", "≫": r"\gg", "≲": r"\lesssim", "≳": r"\gtrsim", "≅": r"\cong", "≃": r"\simeq",
    "′": "'", "″": "''", "∥": r"\parallel", "⊥": r"\perp", "⊙": r"\odot", "⊗": r"\otimes", "⊕": r"\oplus",
    "ℓ": r"\ell", "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}", "∅": r"\emptyset", "¬": r"\neg",
    "∧": r"\wedge", "∨": r"\vee", "⟨": r"\langle", "⟩": r"\rangle", "‖": r"\|", "∆": r"\Delta", "⋯": r"\cdots",
    "✓": r"\checkmark", "✔": r"\checkmark", "✗": r"\times", "†": r"\dagger", "‡": r"\ddagger", "•": r"\bullet",
    "§": r"\S", "¶": r"\P", "°": r"^{\circ}", "½": r"\tfrac{1}{2}", "¼": r"\tfrac{1}{4}", "¾": r"\tfrac{3}{4}",
    "ᵀ": r"^{\top}", "⊤": r"\top", "∗": r"\ast", "⌊": r"\lfloor", "⌋": r"\rfloor", "⌈": r"\lceil", "⌉": r"\rceil",
}
_SCRIPTS = {"^": dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")), "_": dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋", "0123456789+-"))}
_TEXT_CHARS = {"«": "``", "»": "''", "‚": ",", "„": ",,", "€": "EUR", "©": "(c)", "®": "(R)", "™": "(TM)",
               "\u00ad": r"\-", "\u2009": r"\,", "\u202f": r"\,", "\u2002": " ", "\u2003": " ", "\u2007": " "}
_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\ensuremath{\$}", "&": r"\&", "#": r"\#",
                 "%": r"\%", "_": r"\_", "^": r"\^{}", "~": r"\textasciitilde{}", "<": r"\textless{}",
                 ">": r"\textgreater{}", "|": r"\textbar{}", "\n": " ", "\r": " ", "\t": " "}
# code is set in the typewriter font, where each ASCII character is the glyph of its own code
_CODE_ESCAPES = {ch: rf"\char{ord(ch)}{{}}" for ch in "\\{}$&#%_^~<>|\"'`"} | {"\t": "    ", "\r": ""}


class _Warnings(list):
    """What the export noticed, each said once."""

    def add(self, message: str):
        if message not in self:
            self.append(message)


def _unicode(text: str, warnings: _Warnings, math: bool = False) -> str:
    """Non-ASCII characters pdflatex cannot type -> TeX; emoji and invisible marks dropped; '?' for the rest."""
    out, i = [], 0
    while i < len(text):
        ch, i = text[i], i + 1
        script = next((sign for sign, digits in _SCRIPTS.items() if ch in digits), None)
        if ch.isascii() or ch in _LATIN:
            out.append(ch)
        elif script:                                           # x²³ -> x^{23}: one script for the run
            run = _SCRIPTS[script][ch]
            while i < len(text) and text[i] in _SCRIPTS[script]:
                run, i = run + _SCRIPTS[script][text[i]], i + 1
            out.append(f"{script}{{{run}}}" if math else rf"\ensuremath{{{script}{{{run}}}}}")
        elif ch in _MATH_CHARS:
            out.append(_MATH_CHARS[ch] + " " if math else rf"\ensuremath{{{_MATH_CHARS[ch]}}}")
        elif ch in _TEXT_CHARS and not math:
            out.append(_TEXT_CHARS[ch])
        elif unicodedata.category(ch) not in ("So", "Sk", "Mn", "Me", "Cf", "Co", "Cs"):
            warnings.add(f"the character {ch} (U+{ord(ch):04X}) cannot be typeset by pdflatex: printed as '?'")
            out.append("?")
        elif text[i:i + 1] == " " and (not out or out[-1].endswith(" ")):
            i += 1                                             # "— 👥 Pair" -> "— Pair"
    return "".join(out)


def tex_text(text: str, warnings: _Warnings | None = None, previous: str = " ") -> str:
    """Plain text -> LaTeX that prints it: every special character escaped, "quotes" made curly (``previous``, the
    character before the text, tells an opening quote from a closing one)."""
    out = []
    for ch in text:
        if ch in "\"'":
            opening = previous.isspace() or previous in "([{/-"
            out.append(("``" if ch == '"' else "`") if opening else ("''" if ch == '"' else "'"))
        else:
            out.append(_TEXT_ESCAPES.get(ch, ch))
        previous = ch
    return _unicode("".join(out), _Warnings() if warnings is None else warnings)


def tex_code(text: str, warnings: _Warnings | None = None) -> str:
    """Code -> LaTeX for the typewriter font (in \\texttt or alltt): every special character by its code."""
    return _unicode("".join(_CODE_ESCAPES.get(ch, ch) for ch in text), _Warnings() if warnings is None else warnings)


# --------------------------------------------------------------------------------------------------------------- math

# The math students may write: commands of LaTeX, amsmath and amssymb that only typeset. No \def, \input, \write,
# \catcode, \csname, \usepackage...: a formula with any other command is printed as code, with a warning.
MATH_COMMANDS = frozenset("""
alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa varkappa lambda mu nu xi pi varpi rho
varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
varGamma varDelta varTheta varLambda varXi varPi varSigma varUpsilon varPhi varPsi varOmega
ell hbar imath jmath aleph Re Im wp partial nabla infty emptyset varnothing forall exists nexists neg lnot top bot
angle triangle square blacksquare checkmark prime backprime surd dagger ddagger S P
pm mp times div cdot ast star circ bullet oplus ominus otimes oslash odot cap cup setminus smallsetminus wedge vee
land lor sqcap sqcup uplus amalg diamond ltimes rtimes
le leq ge geq ne neq equiv approx approxeq sim simeq cong propto ll gg lesssim gtrsim leqslant geqslant prec succ
preceq succeq subset supset subseteq supseteq subsetneq in ni notin mid nmid parallel nparallel perp models vdash
asymp doteq triangleq eqsim not
to gets leftarrow rightarrow leftrightarrow Leftarrow Rightarrow Leftrightarrow longleftarrow longrightarrow
longleftrightarrow Longleftarrow Longrightarrow Longleftrightarrow mapsto longmapsto uparrow downarrow updownarrow
Uparrow Downarrow nearrow searrow swarrow nwarrow hookleftarrow hookrightarrow implies impliedby iff
xrightarrow xleftarrow
sum prod coprod int iint iiint oint bigcup bigcap bigvee bigwedge bigoplus bigotimes bigodot bigsqcup biguplus
lim limsup liminf sup inf max min det exp log ln lg sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh
coth arg deg dim gcd hom ker Pr
left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr langle rangle lvert rvert lVert
rVert vert Vert lfloor rfloor lceil rceil lbrace rbrace lbrack rbrack backslash
frac dfrac tfrac cfrac sqrt binom dbinom tbinom overline underline overbrace underbrace widehat widetilde
overrightarrow overleftarrow hat bar tilde vec dot ddot dddot acute grave check breve mathring stackrel overset
underset substack boxed
mathrm mathbf mathit mathsf mathtt mathcal mathbb mathfrak boldsymbol operatorname text textrm textit textbf textsf
texttt textnormal emph mbox
quad qquad enspace thinspace negthinspace phantom hphantom vphantom smash
ldots cdots vdots ddots dots dotsc dotsb dotsm dotsi
displaystyle textstyle scriptstyle scriptscriptstyle limits nolimits
tag notag nonumber intertext hline pmod bmod mod colon mathop mathbin mathrel mathord
""".split())
MATH_SYMBOLS = frozenset("\\,;:! {}|%&#_$>\n")               # \\ \, \; \: \! \  \{ \} \| \% \& \# \_ \$ \>
MATH_ENVIRONMENTS = frozenset("""align align* aligned alignat alignat* alignedat equation equation* gather gather*
gathered multline multline* split cases matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix array subarray
""".split())
# environments that are a display of their own: inside \[ ... \] they become their inner form
_DISPLAY_ONLY = {"align": "aligned", "align*": "aligned", "gather": "gathered", "gather*": "gathered",
                 "alignat": "alignedat", "alignat*": "alignedat", "multline": "gathered", "multline*": "gathered",
                 "equation": "", "equation*": ""}
_MATH_TOKEN = re.compile(r"\\(begin|end)\{([^{}]*)\}|\\([A-Za-z]+|.)|\^\^|[{}%#$^]|[^\\{}%#$^]+", re.S)


def tex_math(source: str, warnings: _Warnings, display: bool = False, environment: bool = False) -> str:
    """A formula without its delimiters -> ``\\( ... \\)``, ``\\[ ... \\]`` or, for ``\\begin{align}...`` written
    on its own (``environment``), that environment. Printed as code, with a warning, when it uses a command outside
    MATH_COMMANDS, an environment outside MATH_ENVIRONMENTS, or unmatched braces."""
    def refuse(reason):
        shown = " ".join(source[:60].split()) + ("..." if len(source) > 60 else "")
        warnings.add(f"the formula {shown} : {reason}; printed as code")
        return r"\texttt{" + tex_code(source[:MAX_MATH_CHARS], warnings) + "}"

    if len(source) > MAX_MATH_CHARS:
        return refuse(f"longer than {MAX_MATH_CHARS} characters")
    out, depth, environments = [], 0, []
    for match in _MATH_TOKEN.finditer(source):
        token, begin_end, env, name = match.group(0), *match.group(1, 2, 3)
        if begin_end:
            if env not in MATH_ENVIRONMENTS:
                return refuse(f"the environment {env} is not allowed")
            if begin_end == "begin":
                environments.append(env)
            elif not environments or environments.pop() != env:
                return refuse(f"\\end{{{env}}} does not match its \\begin")
        elif name is not None and name not in MATH_COMMANDS and name not in MATH_SYMBOLS:
            return refuse(f"\\{name} is not allowed in a formula")
        elif token == "^^":                                    # ^^5c is a backslash to TeX
            return refuse("^^ is not allowed in a formula")
        elif token in ("%", "#", "$"):
            token = "\\" + token
        elif token in ("{", "}"):
            depth += 1 if token == "{" else -1
            if depth < 0:
                return refuse("its braces do not match")
            if depth + len(environments) > MAX_MATH_NESTING:     # TeX itself stops at 255 groups
                return refuse(f"it nests more than {MAX_MATH_NESTING} groups")
        elif name is None:
            token = _unicode(token, warnings, math=True)
        out.append(token)
    if depth or environments:
        return refuse("its braces do not match" if depth else f"\\begin{{{environments[-1]}}} is not closed")
    tex = "".join(out).strip()
    whole = re.fullmatch(r"\\begin\{([^{}]*)\}.*\\end\{\1\}", tex, re.S)
    if environment and whole and whole.group(1) in _DISPLAY_ONLY and tex.count(r"\begin{") == 1:
        return tex
    for env, inner in _DISPLAY_ONLY.items():                   # \[ \begin{align} ... \] would be an error
        tex = tex.replace(rf"\begin{{{env}}}", rf"\begin{{{inner}}}" if inner else "")
        tex = tex.replace(rf"\end{{{env}}}", rf"\end{{{inner}}}" if inner else "")
    return rf"\[ {tex} \]" if display or environment else rf"\({tex}\)"


# Formulas as Jupyter finds them, before the markdown is parsed (so that _ and * inside them stay as they are), once
# fenced code and code spans are set aside (a $ in code is not math). No formula spans a blank line.
_CODE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,}).*?(?:\n[ ]{0,3}\1[ \t]*(?=\n|\Z)|\Z)"
                   r"|(`+)(?:(?!\n[ \t]*\n).)+?(?<!`)\2(?!`)", re.M | re.S)
_NO_BLANK_LINE = r"(?:(?!\n[ \t]*\n)(?:\\.|[^\\]))"
_FORMULAS = re.compile(rf"""
    \\[\\$]
  | \$\$(?P<display>{_NO_BLANK_LINE}+?)\$\$
  | \\\[(?P<bracket>{_NO_BLANK_LINE}+?)\\\]
  | (?P<environment>\\begin\{{(?P<name>[A-Za-z]+\*?)\}}{_NO_BLANK_LINE}*?\\end\{{(?P=name)\}})
  | \\\((?P<paren>{_NO_BLANK_LINE}+?)\\\)
  | \$(?P<inline>(?:(?!\n[ \t]*\n)(?:\\.|[^\\$]))+?)\$
""", re.M | re.S | re.X)


# -------------------------------------------------------------------------------------------------- markdown -> LaTeX

@dataclass
class Project:
    """A report as LaTeX: the document, its image files and what the export noticed."""
    tex: str
    files: dict                   # "figures/figure-3.png" -> bytes
    figures: list                 # the numbers of the notebook's plots the report shows
    sections: list
    words: int
    warnings: list


def _environment(name: str, body: str) -> str:
    return f"\n\\begin{{{name}}}\n{body}\n\\end{{{name}}}\n"


class _LaTeXWriter:
    """Writes mistune's syntax tree of the report as LaTeX. Text goes through tex_text, code through tex_code,
    formulas through tex_math: nothing the student typed reaches TeX otherwise."""

    def __init__(self, lab: LabNotebook, warnings: _Warnings):
        self.lab, self.warnings = lab, warnings
        self.shown_plots = set()                        # N of every ![...](figure:N) in the report
        self.files, self.placed, self.sections, self.pending = {}, [], [], []
        self.top_level, self.enumerates = 1, 0
        self.formulas = {}                              # placeholder -> (kind, formula, as the student typed it)
        self.key = uuid.uuid4().hex[:8]                 # placeholders: \ue000<key><n>\ue001 (private-use code points)
        self.placeholder = re.compile(f"\ue000{self.key}\\d+\ue001")
        self.last = " "                                 # the last character written: tells opening quotes

    # -- formulas are cut out before parsing and put back as LaTeX (or as the student's characters, in code)
    def protect_formulas(self, markdown: str) -> str:
        code = []
        def set_aside(match):
            code.append(match[0])
            return f"\ue002{len(code) - 1}\ue003"
        def put_back(text):
            return re.sub("\ue002(\\d+)\ue003", lambda m: code[int(m[1])], text)
        def replace(match):
            if match.lastgroup is None:                 # an escaped $ or backslash
                return match[0]
            token = f"\ue000{self.key}{len(self.formulas)}\ue001"
            self.formulas[token] = (match.lastgroup, put_back(match[match.lastgroup]), put_back(match[0]))
            return token
        markdown = re.sub("[\ue000-\uf8ff]", "", markdown)   # private-use code points are the placeholders'
        return put_back(_FORMULAS.sub(replace, _CODE.sub(set_aside, markdown)))

    def raw(self, text: str) -> str:
        return self.placeholder.sub(lambda m: self.formulas[m[0]][2], text)

    def text(self, text: str) -> str:
        parts = []
        for piece in re.split(f"({self.placeholder.pattern})", text):
            if piece not in self.formulas:
                piece = html.unescape(piece)
                parts.append(tex_text(piece, self.warnings, self.last))
                self.last = piece[-1:] or self.last
                continue
            kind, formula, _ = self.formulas[piece]
            parts.append(tex_math(formula, self.warnings, display=kind in ("display", "bracket"),
                                  environment=kind == "environment"))
            self.last = "x"
        return "".join(parts)

    # -- inline elements (``plain``: in a heading, caption or table cell, where no line break or figure may go)
    def inline(self, tokens, plain: bool = False) -> str:
        return "".join(self.inline_token(t, plain) for t in tokens)

    def inline_token(self, token, plain: bool) -> str:
        kind, children = token["type"], token.get("children", [])
        if kind == "text":
            return self.text(token["raw"])
        if kind == "codespan":
            self.last = "x"
            return r"\texttt{" + tex_code(self.raw(token["raw"]), self.warnings) + "}"
        if kind in ("softbreak", "linebreak") or re.fullmatch(r"<br\s*/?>", token.get("raw", ""), re.I):
            self.last = " "
            return " " if plain or kind == "softbreak" else "\\\\{}\n"
        if kind == "emphasis":
            return r"\emph{" + self.inline(children, plain) + "}"
        if kind == "strong":
            return r"\textbf{" + self.inline(children, plain) + "}"
        if kind == "strikethrough":
            return r"\textcolor[gray]{0.5}{" + self.inline(children, plain) + "}"
        if kind == "inline_html":
            return self.html_images(token["raw"], plain)
        if kind == "link":
            return self.link(token["attrs"]["url"], self.inline(children, plain=True))
        if kind == "image":
            return self.image(token["attrs"]["url"], self.inline(children, plain=True), plain)
        return self.inline(children, plain)

    def link(self, url: str, text: str) -> str:
        url = self.raw(url).strip()
        if m := re.fullmatch(r"figure:(\d+)", url):
            number = int(m.group(1))
            if number in self.shown_plots:
                return (text or "Figure") + rf"~\ref{{fig:{number}}}"
            self.warnings.add(f"[...](figure:{number}) refers to plot {number}, which the report does not show: "
                              f"add ![caption](figure:{number})")
            return (text or "Figure") + f" (plot {number} of the notebook)"
        if not re.match(r"(https?|ftp|mailto):", url, re.I):
            return text or tex_text(url, self.warnings)
        # percent-encode what means something to TeX; \# and \% are read back as # and % by hyperref
        url = re.sub(r"[^A-Za-z0-9\-._/:?=&@+,;!*'()#%]", lambda c: "".join(f"%{b:02X}" for b in c[0].encode()), url)
        return r"\href{" + url.replace("%", r"\%").replace("#", r"\#") + "}{" + (text or tex_text(url)) + "}"

    def html_images(self, raw: str, plain: bool) -> str:
        """<img src="attachment:a.png" width=300> (how JupyterLab users size a pasted image) as an image."""
        out = []
        for tag in re.findall(r"<img\b[^>]*>", raw, re.I):
            src = re.search(r"""\bsrc\s*=\s*["']([^"']*)["']""", tag, re.I)
            alt = re.search(r"""\balt\s*=\s*["']([^"']*)["']""", tag, re.I)
            if src:
                out.append(self.image(html.unescape(src[1]), self.text(html.unescape(alt[1])) if alt else "", plain))
        return "".join(out)

    def image(self, url: str, caption: str, plain: bool) -> str:
        """An image goes after its paragraph (never inside a command's argument); in a heading or cell, its caption."""
        url = self.raw(url).strip()
        if plain:
            return caption
        if m := re.fullmatch(r"figure:(\d+)", url):
            number = int(m[1])
            if number not in self.shown_plots:
                self.warnings.add(f"figure:{number}: the notebook shows {len(self.lab.figures)} plots (--list numbers "
                                  f"them; are its outputs saved?)")
                return r"\textbf{[" + tex_text(f"figure:{number} not found") + "]}"
            plot = self.lab.figures[number - 1]
            label = f"fig:{number}" if number not in self.placed else ""
            self.placed.append(number)
            self.pending.append(self.figure(f"figures/figure-{number}.{plot.ext}", plot.data,
                                            caption or self.default_caption(plot), label))
            return ""
        if url.startswith("attachment:"):
            image = _image(self.lab.attachments.get(url[len("attachment:"):]))
        elif not re.match(r"[a-z][a-z0-9+.-]*:", url, re.I):
            image = self.local_image(url)
        else:
            image = None
        if image is None:
            self.warnings.add(f"the image {url[:80]} is not included (only the notebook's plots, images pasted into "
                              f"the cell, and PNG or JPEG files in the notebook's folder are)")
            return r"\textbf{[" + tex_text(f"image not included: {url[:80]}") + "]}"
        n = sum(name.startswith("figures/image-") for name in self.files) + 1
        self.pending.append(self.figure(f"figures/image-{n}.{image[1]}", image[0], caption, ""))
        return ""

    def local_image(self, url: str):
        """A PNG or JPEG file in the notebook's folder or below it (no way out with .. or a link)."""
        folder = self.lab.path.parent.resolve()
        try:
            path = (folder / url).resolve()
            if not path.is_relative_to(folder) or not path.is_file() or path.stat().st_size > MAX_IMAGE_BYTES:
                return None
            raw = path.read_bytes()
        except (OSError, ValueError):
            return None
        return next(((raw, ext) for ext, magic in _SIGNATURES.items() if raw.startswith(magic)), None)

    def default_caption(self, plot: Figure) -> str:
        tokens = _parse(self.protect_formulas(plot.caption))
        return self.inline(tokens[0].get("children", []), plain=True) if tokens else ""

    def figure(self, name: str, data: bytes, caption: str, label: str) -> str:
        if len(self.files) >= MAX_FIGURES:
            self.warnings.add(f"more than {MAX_FIGURES} images: the others are left out")
            return ""
        self.files[name] = data
        return ("\n\\begin{nbfigure}\n\\includegraphics[width=\\linewidth,height=0.4\\textheight,keepaspectratio]"
                f"{{{name}}}\n\\caption{{{caption}}}" + (f"\\label{{{label}}}" if label else "")
                + "\n\\end{nbfigure}\n")

    def flush(self) -> str:
        """The figures of the paragraph just written."""
        figures, self.pending = "".join(self.pending), []
        return figures

    # -- blocks (``depth``: inside how many lists and quotes)
    def blocks(self, tokens, depth: int = 0) -> str:
        return "".join(self.block(t, depth) for t in tokens)

    def block(self, token, depth: int) -> str:
        kind, children = token["type"], token.get("children", [])
        self.last = " "
        if kind == "heading":
            text = re.sub(r"^\d+(\.\d+)*[.)]?\s+", "", self.inline(children, plain=True).strip())  # LaTeX numbers them
            if depth or not text:
                return f"\n\\par\\textbf{{{text}}}\\par\n" if text else ""
            self.sections.append(text)
            command = ("section", "subsection", "subsubsection", "paragraph")[min(token["attrs"]["level"]
                                                                                  - self.top_level, 3)]
            return f"\n\\{command}{{{text}}}\n"
        if kind == "paragraph" and not depth and children and children[0]["type"] == "strong":
            lead = self.inline(children[0].get("children", []), plain=True).strip()
            if _BOLD_LEAD.fullmatch(lead):                     # **Results.** ... starts a section
                self.sections.append(lead.rstrip(".: "))
                rest = children[1:]
                if rest and rest[0]["type"] == "text":
                    rest = [dict(rest[0], raw=re.sub(r"^\s*[.:]?\s*", "", rest[0]["raw"]))] + rest[1:]
                return f"\n\\section{{{lead.rstrip('.: ')}}}\n" + self.inline(rest).strip() + "\n" + self.flush()
        if kind in ("paragraph", "block_text"):
            return "\n" + self.inline(children).strip() + "\n" + self.flush()
        if kind == "block_code":
            code = tex_code(self.raw(token["raw"]).rstrip("\n"), self.warnings)
            return "\n\\begin{alltt}\\small\n" + code + "\n\\end{alltt}\n"
        if kind == "block_quote":
            body = self.blocks(children, depth + 1).strip()
            return body if depth >= 4 else _environment("quote", body)
        if kind == "list":
            return self.list(token, depth)
        if kind == "table":
            return self.table(token)
        if kind == "thematic_break":
            return "\n\\begin{center}\\rule{0.5\\linewidth}{0.4pt}\\end{center}\n"
        if kind == "block_html":
            self.html_images(token["raw"], plain=False)
            text = re.sub(r"<[^>]*>", " ", token["raw"]).strip()
            return ("\n" + self.text(text) + "\n" if text else "") + self.flush()
        return ""                                              # blank lines

    def list(self, token, depth: int) -> str:
        ordered = bool(token["attrs"].get("ordered"))
        self.enumerates += ordered
        items = [self.blocks(item.get("children", []), depth + 1).strip() for item in token["children"]]
        self.enumerates -= ordered
        if depth >= 4:                                         # LaTeX nests four lists: deeper ones are flattened
            return "\n" + "\n\n".join("-- " + item for item in items) + "\n"
        start = int(token["attrs"].get("start", 1)) if ordered else 1
        counter = f"\\setcounter{{enum{('i', 'ii', 'iii', 'iv')[self.enumerates]}}}{{{start - 1}}}\n"
        return _environment("enumerate" if ordered else "itemize",
                            (counter if start != 1 else "") + "\n".join(r"\item{} " + item for item in items))

    def table(self, token) -> str:
        head = next((t for t in token["children"] if t["type"] == "table_head"), {"children": []})
        body = next((t for t in token["children"] if t["type"] == "table_body"), {"children": []})
        rows = [head["children"]] + [row["children"] for row in body["children"]]
        columns = max(map(len, rows))
        if columns * len(rows) > MAX_TABLE_CELLS:
            self.warnings.add(f"a table of more than {MAX_TABLE_CELLS} cells is left out")
            return ""
        align = "".join({"right": "r", "center": "c"}.get(c["attrs"].get("align"), "l") for c in head["children"])
        lines = [" & ".join([self.inline(c["children"], plain=True).strip() for c in row]
                            + [""] * (columns - len(row))) + r" \\" for row in rows]
        return _environment("center", "\\begin{tabular}{" + align.ljust(columns, "l") + "}\n\\hline\n" + lines[0]
                            + "\n\\hline\n" + "\n".join(lines[1:]) + "\n\\hline\n\\end{tabular}")


_parse = mistune.create_markdown(renderer=None, plugins=["table", "strikethrough"])


def _shown_plots(tokens):
    """The plot numbers of every ![...](figure:N) in the syntax tree."""
    for token in tokens:
        if token.get("type") == "image" and (m := re.fullmatch(r"\s*figure:(\d+)\s*", token["attrs"]["url"])):
            yield int(m[1])
        yield from _shown_plots(token.get("children", []))


_PREAMBLE = r"""%% Written by python -m lablib.report from %(source)s. Compile it with pdflatex (or in Overleaf).
\documentclass[11pt,a4paper]{article}
\usepackage[margin=2.5cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx,color}
\usepackage{alltt}
\usepackage[hidelinks]{hyperref}
\usepackage{bookmark}
\hypersetup{pdftitle={%(pdftitle)s},pdfauthor={%(pdfauthor)s}}
\setlength{\parskip}{0.5\baselineskip}
\setlength{\parindent}{0pt}
%% list labels from the math fonts: the text ones (\textbullet...) would need bitmap fonts
\renewcommand{\labelitemi}{\(\bullet\)}\renewcommand{\labelitemii}{--}
\renewcommand{\labelitemiii}{\(\ast\)}\renewcommand{\labelitemiv}{\(\cdot\)}
%% a figure that stays where the report puts it (floats drift, and many in a row overflow the float queue)
\makeatletter
\newenvironment{nbfigure}{\par\medskip\noindent\begin{minipage}{\linewidth}\centering\def\@captype{figure}}%%
  {\end{minipage}\par\medskip}
\makeatother
\title{%(title)s\\[0.3em]\large Mini lab report}
\author{%(authors)s}
\date{\today}
\begin{document}
\maketitle
"""


def to_latex(lab: LabNotebook, authors=(), all_figures: bool = False) -> Project:
    """The report of ``lab`` as a LaTeX project; ``all_figures`` appends the plots the report does not show."""
    report = unicodedata.normalize("NFC", lab.report.strip())
    if report in ("", "YOUR ANSWER HERE"):                   # nbgrader's stub of a manually graded answer
        raise ValueError(f"{lab.path.name}: the report cell is empty" + (" (it still says YOUR ANSWER HERE)" if report
                         else "") + ": write your report in the cell under 'Mini lab report', save, and export again")
    if len(report) > MAX_REPORT_CHARS:
        raise ValueError(f"{lab.path.name}: the report has {len(report):,} characters; the limit is "
                         f"{MAX_REPORT_CHARS:,} (half a page is about 3,000)")
    warnings = _Warnings()
    writer = _LaTeXWriter(lab, warnings)
    protected = writer.protect_formulas(report)
    tokens = _parse(protected)
    writer.shown_plots = {n for n in _shown_plots(tokens) if 1 <= n <= len(lab.figures)}
    writer.top_level = min((t["attrs"]["level"] for t in tokens if t["type"] == "heading"), default=1)
    body = writer.blocks(tokens)
    rest = [plot for plot in lab.figures if plot.number not in writer.placed] if all_figures else []
    if rest:
        body += "\n\\clearpage\n\\section*{The notebook's other plots}\n" + "".join(
            writer.figure(f"figures/figure-{p.number}.{p.ext}", p.data,
                          f"Plot {p.number} of the notebook: " + writer.default_caption(p), f"fig:{p.number}")
            for p in rest)
    missing = [s for s in SECTIONS if not any(s[:6].lower() in name.lower() for name in writer.sections)]
    if missing:
        warnings.add(f"the report has no {', '.join(missing)} section (start one with ### {missing[0]} "
                     f"or **{missing[0]}.**)")

    people = [a for a in authors if a]
    people += [f"{lab.partner} (partner)"] if lab.partner and lab.partner not in people else []
    def metadata(s):                                           # PDF properties: letters and punctuation only
        return re.sub(r"[^\w\s.,:;()'/—–-]", "", s)[:200].replace("_", r"\_")
    tex = _PREAMBLE % {
        "source": metadata(lab.path.name), "title": tex_text(lab.title, warnings),
        "authors": r" \and ".join(tex_text(p, warnings) for p in people),
        "pdftitle": metadata(lab.title), "pdfauthor": metadata(", ".join(people)),
    } + body.strip() + "\n\\end{document}\n"
    prose = re.sub(r"\]\([^)]*\)|<[^>]*>", "]", writer.placeholder.sub(" ", protected))   # no formulas, addresses
    words = len(re.findall(r"[^\W\d_][\w'-]*", prose))
    return Project(tex, writer.files, sorted(set(writer.placed)), writer.sections, words, list(warnings))


# ------------------------------------------------------------------------------------------------------------ the PDF

def tex_engine(engine: str = "auto"):
    """("pdflatex" | "tectonic", path) of the TeX installation to use, or None when there is none."""
    names = ("pdflatex", "tectonic") if engine == "auto" else (engine,)
    return next(((name, shutil.which(name)) for name in names if shutil.which(name)), None)


class TexError(RuntimeError):
    """TeX made no PDF; the message has the first errors of the log."""


def compile_pdf(folder: Path, engine: str = "auto") -> str:
    """``folder/report.tex`` -> ``folder/report.pdf``, compiled in a scratch copy of the folder: no shell escape, no
    file read or written outside it, no font generated, TEX_SECONDS per run. Returns "pdflatex, 2 pages" and the
    first LaTeX errors, if any (TeX goes on after most errors); raises TexError when there is no PDF."""
    found = tex_engine(engine)
    if found is None:
        raise FileNotFoundError("no TeX installation (pdflatex or tectonic)")
    name, program = found
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEXINPUTS", "TEXMF"))}
    env.update(openin_any="p", openout_any="p", shell_escape="f", MKTEXPK="0", MKTEXTFM="0", MKTEXMF="0")
    if name == "pdflatex":
        command = [program, "-no-shell-escape", "-interaction=nonstopmode", "-file-line-error", "report.tex"]
    else:
        command = [program, "-X", "compile", "--untrusted", "--keep-logs", "report.tex"]
    with tempfile.TemporaryDirectory(prefix="lablib-report-") as scratch:
        work = Path(scratch)
        shutil.copy(folder / "report.tex", work)
        if (folder / "figures").is_dir():
            shutil.copytree(folder / "figures", work / "figures")
        log = ""
        for _ in range(3 if name == "pdflatex" else 1):      # again while cross-references change
            try:
                subprocess.run(command, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, timeout=TEX_SECONDS)
            except subprocess.TimeoutExpired:
                raise TexError(f"{name} took more than {TEX_SECONDS} s") from None
            log = (work / "report.log").read_text(errors="replace") if (work / "report.log").exists() else ""
            if "Rerun to get" not in log and "may have changed" not in log:
                break
        errors = [line for line in log.splitlines() if line.startswith("!") or re.match(r"\./report\.tex:\d+:", line)]
        if log:
            (folder / "report.log").write_text(log)
        if not (work / "report.pdf").exists():
            raise TexError(f"{name} made no PDF: " + ("; ".join(errors[:3]) or "see report.log"))
        shutil.copy(work / "report.pdf", folder / "report.pdf")
    pages = re.search(r"Output written on report\.pdf \((\d+) pages?", log)
    note = name + (f", {pages[1]} page{'s' * (pages[1] != '1')}" if pages else "")
    return note + (f"; LaTeX errors (see report.log): {'; '.join(errors[:3])}" if errors else "")


# ------------------------------------------------------------------------------------------------------------- export

@dataclass(repr=False)
class Export:
    notebook: Path
    folder: Path
    project: Project
    pdf: Path | None
    pdf_note: str                 # "pdflatex, 2 pages", or why there is no PDF

    def __repr__(self) -> str:   # what a notebook cell shows
        return _summary(self)


def _summary(result: Export) -> str:
    p = result.project
    plots = f"{len(p.figures)} of the notebook's plots" + (f" ({', '.join(map(str, p.figures))})" if p.figures else "")
    lines = [f"{result.notebook.name} -> {result.folder}/",
             f"  report.tex: {len(p.sections)} sections, {p.words} words, {plots}, "
             f"{len(p.files)} image{'s' * (len(p.files) != 1)} in figures/",
             f"  report.pdf: {result.pdf_note}" if result.pdf else f"  {result.pdf_note}"]
    lines += [f"  warning: {w}" for w in p.warnings]
    if not p.files:
        lines.append(f"  tip: list_plots({result.notebook.name!r}) or --list numbers the notebook's plots; "
                     "![caption](figure:N) in the report shows one")
    return "\n".join(lines)


def export(notebook, out=None, authors=(), pdf: bool = True, engine: str = "auto", all_figures: bool = False):
    """Write ``out/report.tex`` and ``out/figures/`` (``out`` defaults to ``report/`` beside the notebook) and, with
    a TeX installation and ``pdf``, ``out/report.pdf``. Raises ValueError for a notebook without a report."""
    lab = read_lab(notebook)
    project = to_latex(lab, authors, all_figures)
    folder = Path(out) if out is not None else lab.path.parent / "report"
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    for old in (folder / "figures").iterdir():                 # an earlier export's images (ours only)
        if re.fullmatch(r"(figure|image)-\d+\.(png|jpg)", old.name) and old.is_file():
            old.unlink()
    for old in ("report.pdf", "report.log"):
        (folder / old).unlink(missing_ok=True)
    (folder / "report.tex").write_text(project.tex, encoding="utf-8")
    for name, data in project.files.items():
        (folder / name).write_bytes(data)
    if not pdf:
        return Export(lab.path, folder, project, None, "no PDF (--no-pdf)")
    try:
        return Export(lab.path, folder, project, folder / "report.pdf", compile_pdf(folder, engine))
    except FileNotFoundError:
        return Export(lab.path, folder, project, None, "PDF skipped: no TeX installation found (pdflatex or "
                      "tectonic). Install Debian's texlive-latex-base (apt install texlive-latex-base) or tectonic, "
                      "or compile report.tex elsewhere (e.g. upload the folder to Overleaf)")
    except TexError as error:
        return Export(lab.path, folder, project, None, f"no PDF: {error}")


def list_plots(notebook) -> None:
    """Print the notebook's plots, numbered as ![caption](figure:N) refers to them, with the heading above each."""
    lab = read_lab(notebook)
    if not lab.figures:
        print(f"{lab.path.name} shows no plot: run it and save it (the plots come from its saved outputs)")
        return
    print("\n".join([f"{lab.path.name}: {len(lab.figures)} plots; ![your caption](figure:N) in the report shows one"]
                    + [f"  figure:{p.number:<3} (cell {p.cell}) {p.caption[:90]}" for p in lab.figures]))


# ------------------------------------------------------------------------------------------------------- command line

def _submissions(paths):
    """(student, lab, notebook or None) for each lab folder (or notebook) laid out as <root>/<student>/<lab>/."""
    for path in map(Path, paths):
        folder = path if path.is_dir() else path.parent
        notebooks = [path] if path.is_file() else sorted(folder.glob("*.ipynb"))
        if len(notebooks) > 1:                                 # lab01-gradient-descent/ -> lab01.ipynb
            notebooks = [n for n in notebooks if n.stem == folder.name.split("-")[0]]
        yield folder.parent.name, folder.name, notebooks[0] if len(notebooks) == 1 else None


def _export_all(paths, out, pdf: bool, engine: str, all_figures: bool) -> int:
    submissions = list(_submissions(paths))
    labs = sorted({lab for _, lab, _ in submissions})
    students = [student for student, _, _ in submissions]
    if len(labs) != 1 or len(set(students)) != len(students):
        print(f"--all: give the folders of one lab, one per student (labs: {', '.join(labs) or 'none'}; students "
              f"twice: {', '.join(sorted({s for s in students if students.count(s) > 1})) or 'none'})",
              file=sys.stderr)
        return 2
    out = Path(out) if out else Path("output") / "reports" / labs[0]

    def one(submission):
        student, _, notebook = submission
        if notebook is None:
            return student, None, "no lab notebook in the folder (or several)"
        try:
            folder = out / (re.sub(r"[^\w.-]", "_", student).lstrip(".") or "_")
            return student, export(notebook, folder, [student], pdf, engine, all_figures), ""
        except ValueError as error:
            return student, None, str(error)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:   # TeX runs in its own processes
        results = list(pool.map(one, submissions))
    width = max(len("student"), *map(len, students))
    print(f"{labs[0]}: {len(results)} notebooks -> {out}/\n{'student':<{width}}  words  plots  pdf  notes")
    for student, result, problem in results:
        if result is None:
            print(f"{student:<{width}}      -      -  -    {problem}")
        else:
            notes = ([] if result.pdf else [result.pdf_note]) + result.project.warnings
            print(f"{student:<{width}}  {result.project.words:>5}  {len(result.project.figures):>5}  "
                  f"{'yes' if result.pdf else 'no ':<3}  {'; '.join(notes)[:300]}")
    failed = sum(result is None for _, result, _ in results)
    print(f"{len(results) - failed} exported, {failed} without a report")
    return 1 if failed else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lablib.report", description=__doc__.split("\n\n")[0],
                                     epilog="The figure convention and the safety rules: lablib/report.py's docstring")
    parser.add_argument("notebook", nargs="?", help="the lab notebook (saved, with its outputs)")
    parser.add_argument("--all", nargs="+", metavar="FOLDER", help="instructors: a lab's submission folders "
                        "<root>/<student>/<lab>/ (or notebooks), e.g. grading/autograded/*/lab01-gradient-descent")
    parser.add_argument("--out", help="output folder (default: report/ beside the notebook; with --all: "
                        "output/reports/<lab>/, a folder per student)")
    parser.add_argument("--author", action="append", default=[], help="an author's name or id (repeat for two)")
    parser.add_argument("--list", action="store_true", help="list the notebook's plots, numbered, and stop")
    parser.add_argument("--all-figures", action="store_true", help="append the plots the report does not show")
    parser.add_argument("--no-pdf", action="store_true", help="write the LaTeX project only")
    parser.add_argument("--engine", choices=("auto", "pdflatex", "tectonic"), default="auto")
    args = parser.parse_args(argv)
    if bool(args.notebook) == bool(args.all):
        parser.error("give one notebook, or --all and a lab's submission folders")
    if args.all:
        return _export_all(args.all, args.out, not args.no_pdf, args.engine, args.all_figures)
    try:
        if args.list:
            list_plots(args.notebook)
            return 0
        print(_summary(export(args.notebook, args.out, args.author, not args.no_pdf, args.engine, args.all_figures)))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
