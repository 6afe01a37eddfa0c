"""lablib.report: a lab's mini report -> a LaTeX project (report.tex + figures/) -> a PDF.

The generated .tex is always checked without TeX, by ``read_tex``: it reads the body as TeX does (control words,
control symbols, characters, math and environments) and fails on anything the exporter must never write. Where
pdflatex is installed (in CI, by tools/system-deps.sh) the exports are compiled for real: every lab's solution
report, a report using every feature, the hostile one, and the compiler's own restrictions.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lablib import report
from lablib.report import export, main, read_lab, to_latex

from _notebooks import REPO, source_notebook

LABS = sorted(p.name for p in (REPO / "solutions").iterdir() if p.is_dir())
RELEASED_LAB01 = REPO / "labs" / "lab01-gradient-descent" / "lab01.ipynb"

# ------------------------------------------------------------------------------------------- reading the .tex as TeX

TEXT_COMMANDS = {  # what the exporter may write outside math
    "section", "subsection", "subsubsection", "paragraph", "par", "textbf", "emph", "texttt", "textcolor", "char",
    "href", "ref", "label", "caption", "includegraphics", "linewidth", "textheight", "item", "setcounter", "hline",
    "rule", "textbackslash", "textasciitilde", "textless", "textgreater", "textbar", "ensuremath", "small",
    "clearpage", "\\", "{", "}", "$", "&", "#", "%", "_", "^", "-", ",",
}
TEXT_ENVIRONMENTS = {"itemize", "enumerate", "quote", "center", "tabular", "alltt", "nbfigure"}
DANGEROUS = {"input", "include", "InputIfFileExists", "write", "immediate", "openout", "openin", "read", "catcode",
             "def", "edef", "gdef", "xdef", "let", "csname", "newcommand", "renewcommand", "providecommand",
             "usepackage", "documentclass", "special", "write18", "jobname", "makeatletter", "expandafter",
             "scantokens", "endinput", "primitive", "pdfprimitive", "everypar", "end", "begin", "output", "shipout",
             "directlua", "ShellEscape", "verb", "lowercase", "uppercase", "loop", "repeat", "afterassignment"}
_TEX = re.compile(r"\\(begin|end)\{([^{}]*)\}|\\href\{([^{}]*)\}|\\([A-Za-z]+|.)|(\^\^)|(.)", re.S)


def body_of(tex: str) -> str:
    return tex.split("\\maketitle\n", 1)[1].rsplit("\\end{document}", 1)[0]


def read_tex(tex: str):
    """The control words of the document's body, (in text, in math); asserts that the body is well formed: braces,
    math and environments nested and closed, only the exporter's commands in text and MATH_COMMANDS in math, no
    ^^, no comment, no $, and # & ^ _ only where TeX allows them."""
    text_words, math_words = set(), set()
    stack = []                                          # ("brace" | "math" | "env", closer)
    body, ensuremath = body_of(tex), False
    for m in _TEX.finditer(body):
        begin_end, env, url, word, hats, char = m.groups()
        in_math = any(kind == "math" for kind, _ in stack)
        if begin_end == "begin":
            allowed = report.MATH_ENVIRONMENTS if in_math else TEXT_ENVIRONMENTS | set(report.MATH_ENVIRONMENTS)
            assert env in allowed, f"environment {env} in {'math' if in_math else 'text'}"
            stack.append(("math" if env in report.MATH_ENVIRONMENTS else "env", env))
        elif begin_end == "end":
            assert stack and stack[-1][1] == env, f"\\end{{{env}}} closes {stack[-1:]}"
            stack.pop()
        elif url is not None:
            assert not in_math and re.fullmatch(r"(?:[A-Za-z0-9\-._/:?=&@+,;!*'()]|\\[#%])*", url), url
        elif word is not None:
            (math_words if in_math else text_words).add(word)
            if word in ("(", "["):
                assert not in_math, "math inside math"
                stack.append(("math", ")" if word == "(" else "]"))
            elif word in (")", "]"):
                assert stack and stack[-1] == ("math", word), f"\\{word} closes {stack[-1:]}"
                stack.pop()
            elif word == "ensuremath":
                assert body[m.end()] == "{", "\\ensuremath without its argument"
                ensuremath = True
        elif hats:
            raise AssertionError("^^ in the body")
        elif char == "{":
            stack.append(("math" if ensuremath else "brace", "}"))
            ensuremath = False
        elif char == "}":
            assert stack and stack[-1][1] == "}", f"}} closes {stack[-1:]}"
            stack.pop()
        else:
            assert char not in "%$", f"a bare {char!r}"
            in_table = any(closer in ("tabular", *report.MATH_ENVIRONMENTS) for _, closer in stack)
            assert char != "#" and (char != "&" or in_table or in_math) and (char not in "^_" or in_math), \
                f"a bare {char!r} in {'math' if in_math else 'text'}"
    assert stack == [], f"not closed: {stack}"
    assert text_words <= TEXT_COMMANDS | {"(", ")", "[", "]"}, text_words - TEXT_COMMANDS
    assert math_words <= report.MATH_COMMANDS | report.MATH_SYMBOLS | {")", "]"}, math_words - report.MATH_COMMANDS
    return text_words, math_words


def test_the_math_allowlist_has_no_dangerous_command():
    assert not (report.MATH_COMMANDS | report.MATH_SYMBOLS) & DANGEROUS


# ------------------------------------------------------------------------------------------------ building notebooks

@pytest.fixture(scope="module")
def plots():
    """Five real matplotlib PNGs, as a notebook stores them (base64)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    encoded = []
    for k in range(1, 6):
        fig, ax = plt.subplots(figsize=(4, 2))
        ax.plot(range(10), [k * x for x in range(10)])
        ax.set_title(f"plot {k}")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=50)
        plt.close(fig)
        encoded.append(base64.b64encode(buffer.getvalue()).decode())
    return encoded


def notebook(tmp_path: Path, text: str, plots=(), partner="", attachments=None, edit=None, name="lab01.ipynb"):
    """A student's saved notebook, laid out as the labs are (PARTNER cell, title, parts with plot cells, the locked
    report instructions, the report cell): ``text`` in the report cell, ``plots`` as the outputs of the plot cells
    (cells 3, 6 and 8 draw two, two and one)."""
    def markdown(source, grade_id=None):
        meta = {"nbgrader": {"grade_id": grade_id, "grade": grade_id == "report", "solution": grade_id == "report",
                             "locked": grade_id != "report", "schema_version": 3}} if grade_id else {}
        return {"cell_type": "markdown", "metadata": meta, "source": source}

    def code(source, count=0):
        outputs = [{"output_type": "display_data", "metadata": {}, "data": {"image/png": png, "text/plain": "<F>"}}
                   for png in remaining[:count]]
        del remaining[:count]
        return {"cell_type": "code", "metadata": {}, "source": source, "outputs": outputs, "execution_count": 1}

    remaining = list(plots)
    cells = [code(f"PARTNER = {partner!r}"), markdown("# Lab 1 — Gradient descent\n\nIntroduction."),
             markdown("# Part 3 — five learning rates"), code("plt.show()\nplt.show()", 2),
             markdown("# Part 4 — 👥 Pair exercise: the bowl"), markdown("**Our predictions:** fast. Then slow."),
             code("plt.show()\nplt.show()", 2), markdown("### Part 5 — minima and a saddle"), code("plt.show()", 1),
             markdown("## Mini lab report\n\nWrite a short report.", "ex_report"), markdown(text, "report")]
    if attachments:
        cells[-1]["attachments"] = attachments
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}
    if edit:
        edit(nb)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb))
    return path


def latex(tmp_path, text, **kwargs):
    project = to_latex(read_lab(notebook(tmp_path, text, **kwargs)))
    read_tex(project.tex)
    return project


FIVE_PARTS = "\n\n".join(f"### {name}\nSome text about {name.lower()}." for name in report.SECTIONS)

# ------------------------------------------------------------------------------------------ the labs' solution reports


def inline_formulas(markdown: str):
    return re.findall(r"(?<![$\\])\$([^$]+?)\$(?!\$)", markdown)


@pytest.mark.parametrize("lab", LABS)
def test_solution_report_has_the_five_sections_and_keeps_its_math(lab):
    path = source_notebook(lab)
    cell = next(c for c in json.loads(path.read_text())["cells"]
                if c["metadata"].get("nbgrader", {}).get("grade_id") == "report")
    project = to_latex(read_lab(path))
    read_tex(project.tex)
    assert project.sections == list(report.SECTIONS)
    body = body_of(project.tex)
    assert [line for line in body.splitlines() if line.startswith("\\section")] == \
        [f"\\section{{{name}}}" for name in report.SECTIONS]
    formulas = inline_formulas("".join(cell["source"]))
    assert body.count("\\(") == len(formulas) >= 2
    for formula in formulas:
        if formula.isascii() and not set(formula) & set("%#"):
            assert f"\\({formula}\\)" in body
    assert project.warnings == [] and 150 <= project.words <= 450
    assert "\\title{Lab " in project.tex


# -------------------------------------------------------------------------------------------------- markdown -> LaTeX

def test_headings_become_sections_by_level_and_lose_their_numbers(tmp_path):
    body = body_of(latex(tmp_path, "## 1. Introduction\ntext\n### 1.1 Setup\n#### Detail\n##### Deeper\n"
                                   "## 2) Results\n").tex)
    assert [line for line in body.splitlines() if line.startswith("\\")] == [
        r"\section{Introduction}", r"\subsection{Setup}", r"\subsubsection{Detail}", r"\paragraph{Deeper}",
        r"\section{Results}"]


def test_a_bold_lead_starts_a_section(tmp_path):
    project = latex(tmp_path, "**Introduction.** We ask why.\n\n**Results:** It converged.\n\n**Note.** not a part")
    body = body_of(project.tex)
    assert "\\section{Introduction}\nWe ask why." in body and "\\section{Results}\nIt converged." in body
    assert r"\textbf{Note.} not a part" in body
    assert project.sections == ["Introduction", "Results"]
    assert any("no Methodology, Discussion, Conclusion section" in w for w in project.warnings)


def test_special_characters_are_escaped_in_text_and_in_code(tmp_path):
    body = body_of(latex(tmp_path, FIVE_PARTS + '\n\n50% & #1 a_b {y} ~ ^ \\ < > | costs $5, "q" it\'s `a{b}\\c $d$`').tex)
    assert (r"50\% \& \#1 a\_b \{y\} \textasciitilde{} \^{} \textbackslash{} \textless{} \textgreater{} "
            r"\textbar{} costs \ensuremath{\$}5, ``q'' it's \texttt{a\char123{}b\char125{}\char92{}c \char36{}d\char36{}}") in body


def test_math_is_kept_as_written(tmp_path):
    cases = {
        "$a_b^c * d_e$ and *em*": r"\(a_b^c * d_e\) and \emph{em}",
        "$$x_t = x_0 (1-2\\eta)^t$$": r"\[ x_t = x_0 (1-2\eta)^t \]",
        "\\begin{align}\na &= b \\\\\nc &= \\frac{1}{2}\n\\end{align}": "\\begin{align}\na &= b \\\\\nc &= \\frac{1}{2}\n\\end{align}",
        "$$\\begin{align} a &= b \\end{align}$$": r"\[ \begin{aligned} a &= b \end{aligned} \]",
        "\\(\\lVert x \\rVert\\) and \\[y\\]": r"\(\lVert x \rVert\) and \[ y \]",
        "$50\\%$ and $50%$": r"\(50\%\) and \(50\%\)",
        "\\$5 and \\$6": r"\ensuremath{\$}5 and \ensuremath{\$}6",
        "`$x$` code": r"\texttt{\char36{}x\char36{}} code",
        "$\\sum_{i=1}^n \\left( \\frac{x_i}{2} \\right)$": r"\(\sum_{i=1}^n \left( \frac{x_i}{2} \right)\)",
        "$f'(x) = \\begin{cases} 1 & x > 0 \\\\ 0 & \\text{else} \\end{cases}$":
            r"\(f'(x) = \begin{cases} 1 & x > 0 \\ 0 & \text{else} \end{cases}\)",
    }
    for markdown, expected in cases.items():
        project = latex(tmp_path, FIVE_PARTS + "\n\n" + markdown)
        assert expected in body_of(project.tex), markdown
        assert project.warnings == [], (markdown, project.warnings)
    unicode = body_of(latex(tmp_path, "$η ≈ x²$").tex)
    assert re.search(r"\\\(\\eta\s+\\approx\s+x\^\{2\}\\\)", unicode)


def test_unicode_is_typeset_mapped_or_replaced_with_a_warning(tmp_path):
    project = latex(tmp_path, FIVE_PARTS + "\n\nRésumé Ærø ß — η ≈ 0.1, x²³ ± 1 → ✓ 👍 中")
    assert (r"Résumé Ærø ß — \ensuremath{\eta} \ensuremath{\approx} 0.1, x\ensuremath{^{23}} \ensuremath{\pm} 1 "
            r"\ensuremath{\to} \ensuremath{\checkmark} ?") in project.tex
    assert project.warnings == ["the character 中 (U+4E2D) cannot be typeset by pdflatex: printed as '?'"]


def test_lists_links_tables_code_and_quotes(tmp_path):
    markdown = FIVE_PARTS + """

3. third
4. fourth with [a link](https://example.org/a_b?x=1&y=2#part) and <https://e.org/~me>
   - nested `code`
     - deeper
       - deepest
         - beyond LaTeX's four levels
5. [not a link](javascript:alert(1)) and [file](file:///etc/passwd)

| η | factor | verdict |
|---:|:---:|---|
| 0.1 | 0.8 | converges |
| 1 | $-1$ | oscillates |

```python
def f(x):  # 100% {sure}
    return x ** 2
```

> a quote with $\\frac{1}{2}$
"""
    body = body_of(latex(tmp_path, markdown).tex)
    assert "\\begin{enumerate}\n\\setcounter{enumi}{2}\n\\item{} third" in body
    assert r"\href{https://example.org/a_b?x=1&y=2\#part}{a link}" in body
    assert r"\href{https://e.org/\%7Eme}{https://e.org/\textasciitilde{}me}" in body
    assert "\\item{} not a link and file" in body                   # no \href for other schemes
    assert body.count("\\begin{itemize}") == 3 and "-- beyond LaTeX's four levels" in body
    assert ("\\begin{tabular}{rcl}\n\\hline\n\\ensuremath{\\eta} & factor & verdict \\\\\n\\hline\n"
            "0.1 & 0.8 & converges \\\\\n1 & \\(-1\\) & oscillates \\\\\n\\hline\n\\end{tabular}") in body
    assert ("\\begin{alltt}\\small\ndef f(x):  \\char35{} 100\\char37{} \\char123{}sure\\char125{}\n"
            "    return x ** 2\n\\end{alltt}") in body
    assert "\\begin{quote}\na quote with \\(\\frac{1}{2}\\)\n\\end{quote}" in body


# ------------------------------------------------------------------------------------------------ hostile input

HOSTILE = [
    r"\input{/etc/passwd}", r"\write18{touch /tmp/pwned}", r"\immediate\write18{id}", r"\openout5=x",
    r"\catcode`\{=12", r"\def\x{y}", r"\csname input\endcsname", r"^^5cinput{/etc/passwd}", r"\end{document}",
    r"\begin{verbatim}", r"\\input", "%", "}", "{", r"\verb|x|", r"\makeatletter", r"\usepackage{shellesc}",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_tex_is_neutralised_everywhere(tmp_path, payload):
    text = (f"# Title {payload}\n\n{payload} *{payload}* **{payload}**\n\n${payload}$ $${payload}$$ "
            f"\\({payload}\\) \\begin{{align}}{payload}\\end{{align}}\n\n`{payload}`\n\n```\n{payload}\n```\n\n"
            f"| {payload} |\n|---|\n| {payload} |\n\n[{payload}](https://e.org/{payload}) "
            f"![{payload}](figure:1) ![](figure:1) ![x]({payload})\n\n- {payload}\n\n> {payload}")

    def hostile_title_and_caption(nb):
        nb["cells"][1]["source"] = f"# Lab 1 {payload}"
        nb["cells"][2]["source"] = f"# Part 3 {payload} $\\input{{x}}$"

    project = latex(tmp_path, text, plots=[TINY_PNG], partner=payload, edit=hostile_title_and_caption)
    text_words, math_words = read_tex(project.tex)
    assert not (text_words | math_words) & DANGEROUS


def test_a_refused_formula_is_printed_as_code_with_a_warning(tmp_path):
    project = latex(tmp_path, FIVE_PARTS + "\n\nSee $\\input{/etc/passwd}$ and $x}{$ and $\\newcommand{\\R}{x}$.")
    assert r"\texttt{\char92{}input\char123{}/etc/passwd\char125{}}" in project.tex
    assert project.warnings == [
        "the formula \\input{/etc/passwd} : \\input is not allowed in a formula; printed as code",
        "the formula x}{ : its braces do not match; printed as code",
        "the formula \\newcommand{\\R}{x} : \\newcommand is not allowed in a formula; printed as code"]


FRAGMENTS = ["\\", "{", "}", "$", "$$", "%", "&", "#", "_", "^", "^^", "~", "<", ">", "|", '"', "'", "`", "```",
             "*", "**", "[", "]", "(", ")", "!", "\n", "\n\n", " ", "-", "1.", "#", "|---|", "a", "x2", "é", "η", "中",
             "👍", "\\input", "\\write18", "\\begin{align}", "\\end{align}", "\\begin{verbatim}", "\\(", "\\)",
             "\\[", "\\]", "figure:1", "![a](figure:1)", "[b](figure:1)", "<img src='attachment:x.png'>", "<br>",
             "\ue000", "\ue001", "\\catcode", "\\frac", "\\text{", "\\\\"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=60).map("".join))
def test_any_text_gives_a_well_formed_document_without_dangerous_commands(text):
    lab = report.LabNotebook(Path("lab01.ipynb"), "Lab", "", text, {}, [FIGURE_1])
    try:
        project = to_latex(lab)
    except ValueError as error:                          # only for an empty report
        assert "empty" in str(error)
        return
    text_words, math_words = read_tex(project.tex)
    assert not (text_words | math_words) & DANGEROUS


def test_sizes_are_bounded(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="the limit is 100,000"):
        latex(tmp_path, "word " * 30_000)
    long_formula = latex(tmp_path, FIVE_PARTS + "\n\n$" + "x+" * 3000 + "x$")
    assert long_formula.warnings[0].endswith("longer than 5000 characters; printed as code")
    deep = latex(tmp_path, FIVE_PARTS + "\n\n$" + "{" * 60 + "x" + "}" * 60 + "$")
    assert deep.warnings[0].endswith("it nests more than 50 groups; printed as code")
    many = latex(tmp_path, FIVE_PARTS + "\n\n" + "".join(f"![](attachment:{n}.png)\n" for n in range(40)),
                 attachments={f"{n}.png": {"image/png": TINY_PNG} for n in range(40)})
    assert len(many.files) == report.MAX_FIGURES and "more than 30 images" in many.warnings[0]
    table = latex(tmp_path, FIVE_PARTS + "\n\n|" + "a|" * 50 + "\n|" + "-|" * 50 + "\n" + ("|" + "x|" * 50 + "\n") * 50)
    assert "a table of more than 2000 cells is left out" in table.warnings
    monkeypatch.setattr(report, "MAX_NOTEBOOK_BYTES", 1000)
    with pytest.raises(ValueError, match="larger than"):
        read_lab(RELEASED_LAB01)


def test_an_empty_report_says_so_clearly(tmp_path, capsys):
    with pytest.raises(ValueError, match="the report cell is empty \\(it still says YOUR ANSWER HERE\\): write your "
                                         "report in the cell under 'Mini lab report', save, and export again"):
        export(RELEASED_LAB01, tmp_path / "out")
    assert main([str(RELEASED_LAB01), "--out", str(tmp_path / "out")]) == 1
    assert "error: lab01.ipynb: the report cell is empty" in capsys.readouterr().err
    with pytest.raises(ValueError, match="is not a Jupyter notebook"):
        (tmp_path / "broken.ipynb").write_text('{"cells": 3}')
        read_lab(tmp_path / "broken.ipynb")
    with pytest.raises(ValueError, match="has no report cell"):
        (tmp_path / "other.ipynb").write_text('{"cells": [{"cell_type": "markdown", "source": "# Hi"}]}')
        read_lab(tmp_path / "other.ipynb")


# ---------------------------------------------------------------------------------------------------------- figures

def tiny_png() -> bytes:
    """A valid 2x2 RGB PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80\x20\x20" * 2 for _ in range(2)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


TINY_PNG = base64.b64encode(tiny_png()).decode()
FIGURE_1 = report.Figure(1, tiny_png(), "png", "Part 3", 19)


def test_figures_are_written_captioned_and_referenced(tmp_path, plots):
    (tmp_path / "lab" / "plots").mkdir(parents=True)
    (tmp_path / "lab" / "plots" / "mine.png").write_bytes(base64.b64decode(plots[4]))
    (tmp_path / "secret.png").write_bytes(base64.b64decode(plots[4]))
    (tmp_path / "lab" / "plots" / "link.png").symlink_to(tmp_path / "secret.png")
    text = FIVE_PARTS + """

![Five learning rates: only 0.1 converges quickly](figure:2)
As [Figure](figure:2) and [](figure:4) show, and [the table](figure:3) does not.

![](figure:4) ![pasted](attachment:pasted.png) <img src="attachment:pasted.png" alt="resized" width=200>
![mine](plots/mine.png) ![link](plots/link.png) ![up](../secret.png) ![web](https://e.org/x.png) ![](figure:9)
"""
    lab_path = notebook(tmp_path / "lab", text, plots=plots, attachments={"pasted.png": {"image/png": plots[0]}})
    result = export(lab_path, tmp_path / "out", pdf=False)
    project, body = result.project, body_of(result.project.tex)
    read_tex(project.tex)
    assert project.figures == [2, 4]
    assert sorted(project.files) == ["figures/figure-2.png", "figures/figure-4.png", "figures/image-1.png",
                                     "figures/image-2.png", "figures/image-3.png"]
    for name, data in [("figure-2.png", plots[1]), ("figure-4.png", plots[3]), ("image-1.png", plots[0]),
                       ("image-3.png", plots[4])]:
        assert (tmp_path / "out" / "figures" / name).read_bytes() == base64.b64decode(data)
    for name in project.files:
        assert f"{{{name}}}" in body
    assert "\\caption{Five learning rates: only 0.1 converges quickly}\\label{fig:2}" in body
    assert "\\caption{Part 4 — Pair exercise: the bowl}\\label{fig:4}" in body
    assert "As Figure~\\ref{fig:2} and Figure~\\ref{fig:4} show, and the table (plot 3 of the notebook) does not." in body
    assert "\\caption{resized}" in body and "\\caption{mine}" in body
    assert body.index("does not.") < body.index("figures/figure-4.png")    # figures go after their paragraph
    for refused in ("plots/link.png", "../secret.png", "https://e.org/x.png"):
        assert any(w.startswith(f"the image {refused} is not included") for w in project.warnings), refused
    assert any(w.startswith("figure:9: the notebook shows 5 plots") for w in project.warnings)
    assert any("refers to plot 3, which the report does not show" in w for w in project.warnings)

    again = export(notebook(tmp_path / "lab", FIVE_PARTS + "\n\n![](figure:1)", plots=plots), tmp_path / "out",
                   pdf=False, all_figures=True)
    assert sorted(p.name for p in (tmp_path / "out" / "figures").iterdir()) == [f"figure-{n}.png" for n in range(1, 6)]
    assert again.project.figures == [1] and "\\caption{Plot 5 of the notebook: Part 5" in again.project.tex


def test_list_numbers_the_plots_with_their_headings(tmp_path, plots, capsys):
    path = notebook(tmp_path, FIVE_PARTS, plots=plots)
    assert main([str(path), "--list"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "lab01.ipynb: 5 plots; ![your caption](figure:N) in the report shows one",
        "  figure:1   (cell 3) Part 3 — five learning rates",
        "  figure:2   (cell 3) Part 3 — five learning rates",
        "  figure:3   (cell 6) Part 4 — 👥 Pair exercise: the bowl",
        "  figure:4   (cell 6) Part 4 — 👥 Pair exercise: the bowl",
        "  figure:5   (cell 8) Part 5 — minima and a saddle"]
    without_headings = notebook(tmp_path, FIVE_PARTS, plots=plots, edit=lambda nb: [
        cell.update(source=cell["source"].lstrip("# ")) for cell in nb["cells"][1:8] if cell["cell_type"] == "markdown"])
    assert [p.caption for p in read_lab(without_headings).figures] == [
        "Part 3 — five learning rates"] * 2 + ["**Our predictions:** fast."] * 2 + ["Part 5 — minima and a saddle"]


# ------------------------------------------------------------------------------------------- students and instructors

def test_a_student_export_writes_the_project_beside_the_notebook(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(report.shutil, "which", lambda name: None)        # no TeX installation
    path = notebook(tmp_path / "labs" / "lab01-gradient-descent", FIVE_PARTS + "\n\n![](figure:1)", plots=[TINY_PNG],
                    partner="s2")
    assert main([str(path), "--author", "Ada Lovelace"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "labs" / "lab01-gradient-descent" / "report"
    assert f"lab01.ipynb -> {folder}/" in out and "5 sections, 25 words, 1 of the notebook's plots (1)" in out
    assert "PDF skipped: no TeX installation found (pdflatex or tectonic). Install Debian's texlive-latex-base" in out
    tex = (folder / "report.tex").read_text()
    assert "\\title{Lab 1 — Gradient descent\\\\[0.3em]\\large Mini lab report}" in tex
    assert "\\author{Ada Lovelace \\and s2 (partner)}" in tex
    assert (folder / "figures" / "figure-1.png").exists() and not (folder / "report.pdf").exists()
    assert repr(export(path, pdf=False)).splitlines()[:3] == [   # what a notebook cell shows
        f"lab01.ipynb -> {folder}/", "  report.tex: 5 sections, 25 words, 1 of the notebook's plots (1), 1 image in "
        "figures/", "  no PDF (--no-pdf)"]


@pytest.mark.parametrize("lab", LABS)
def test_each_lab_says_how_to_export_in_a_cell_the_tamper_scan_accepts(lab):
    """The instructions above the report cell give the notebook's own name, and the cell they suggest is not one
    the static tamper report flags (a %run or !python cell would be)."""
    from grading.pipeline.tamper import scan_source

    cells = json.loads(source_notebook(lab).read_text())["cells"]
    index = next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == "report")
    instructions = "".join(cells[index - 1]["source"])
    name = source_notebook(lab).name
    snippets = re.findall(r"`([^`]+)`", instructions)
    cell = "\n".join(s for s in snippets if s.startswith(("from lablib.report", "export(", "list_plots(")))
    assert f'export("{name}")' in cell and f'list_plots("{name}")' in cell and "![your caption](figure:N)" in snippets
    assert scan_source(cell, answer=False) == []


def test_instructors_export_a_whole_lab(tmp_path, capsys):
    root = tmp_path / "autograded"
    notebook(root / "ada" / "lab01-gradient-descent", FIVE_PARTS, partner="ben")
    notebook(root / "cy" / "lab01-gradient-descent", "YOUR ANSWER HERE")
    (root / "dee" / "lab01-gradient-descent").mkdir(parents=True)
    folders = sorted(str(p) for p in root.glob("*/lab01-gradient-descent"))
    assert main(["--all", *folders, "--out", str(tmp_path / "reports"), "--no-pdf"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"lab01-gradient-descent: 3 notebooks -> {tmp_path / 'reports'}/"
    assert lines[2].split()[:4] == ["ada", "25", "0", "no"]
    assert lines[3].startswith("cy ") and "the report cell is empty (it still says YOUR ANSWER HERE)" in lines[3]
    assert lines[4].startswith("dee ") and "no lab notebook in the folder" in lines[4]
    assert lines[-1] == "1 exported, 2 without a report"
    assert "\\author{ada \\and ben (partner)}" in (tmp_path / "reports" / "ada" / "report.tex").read_text()
    assert main(["--all", folders[0], str(root / "ada" / "lab01-gradient-descent")]) == 2   # a student twice


# ------------------------------------------------------------------------------------------------ compiled for real

PDFLATEX = report.tex_engine("pdflatex")


@pytest.fixture
def tex():
    if PDFLATEX is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing in CI: tools/system-deps.sh installs texlive-latex-base")
        pytest.skip("no pdflatex here (Debian: apt install texlive-latex-base; tools/system-deps.sh installs it)")


def assert_clean_pdf(result):
    log = (result.folder / "report.log").read_text()
    errors = [line for line in log.splitlines() if line.startswith("!") or ".tex:" in line and ": " in line]
    assert errors == [] and result.pdf is not None, result.pdf_note
    assert result.pdf.read_bytes().startswith(b"%PDF")
    assert "Missing character" not in log and "pk>" not in log           # every glyph, no bitmap font
    assert "undefined references" not in log and "Rerun to get" not in log
    return log


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_solution_report_compiles(tex, lab, tmp_path):
    result = export(source_notebook(lab), tmp_path)
    assert_clean_pdf(result)
    assert re.fullmatch(r"pdflatex, \d+ pages?", result.pdf_note)


def test_a_report_with_every_feature_compiles(tex, tmp_path, plots):
    text = FIVE_PARTS + """

Unicode: é ß — η ≈ 0.1, x² ± 1 → ✓ 👍. Specials: 50% & #1 a_b {y} ~ ^ \\ < > | "quoted" costs \\$5.
![The learning rates](figure:1)
As [Figure](figure:1) shows, with [a link](https://example.org/a_b?x=1&y=2#part) and `code{}\\`.

1. one with $\\frac{1}{2}$
   - two
     - three
       * four
2. five

| $\\eta$ | [link](https://e.org/?a=1&b=2) | `x & y` |
|---:|:---:|---|
| 0.1 | **bold** | *em* |

$$\\sum_{i=1}^n x_i^2$$
\\begin{align}
a &= b \\\\
\\lVert x \\rVert &\\le \\varepsilon
\\end{align}

```
code block {with} \\end{alltt} $x$
```

> quote ~~struck~~

---
![pasted](attachment:p.png)
"""
    result = export(notebook(tmp_path / "lab", text, plots=plots, partner="ben_42",
                             attachments={"p.png": {"image/png": plots[1]}}), tmp_path / "out", ["Ada"],
                    all_figures=True)
    assert result.project.warnings == []
    log = assert_clean_pdf(result)
    assert re.search(r"Output written on report\.pdf \(\d pages", log)


def test_the_hostile_report_compiles_harmlessly(tex, tmp_path):
    marker = tmp_path / "shell-escape-ran"
    text = FIVE_PARTS + "\n\n" + "\n\n".join(f"{p} ${p}$ `{p}`" for p in HOSTILE + [f"\\write18{{touch {marker}}}"])
    result = export(notebook(tmp_path / "lab", text), tmp_path / "out")
    assert_clean_pdf(result)
    assert not marker.exists()


def test_tex_itself_may_not_run_commands_nor_reach_other_files(tex, tmp_path):
    """The second line of defence: even a hand-written report.tex runs no command and reaches no file outside."""
    folder, marker = tmp_path / "project", tmp_path / "shell-escape-ran"
    folder.mkdir()

    def compile_body(body):
        (folder / "report.tex").write_text(f"\\documentclass{{article}}\\begin{{document}}x\n{body}\n\\end{{document}}\n")
        return report.compile_pdf(folder)

    compile_body(f"\\immediate\\write18{{touch {marker}}}\n"
                 "\\IfFileExists{/etc/hostname}{\\typeout{PROBE: read}}{\\typeout{PROBE: refused}}")
    assert not marker.exists() and "PROBE: refused" in (folder / "report.log").read_text()
    for target in (tmp_path / "outside.txt", "../outside.txt", ".hidden"):
        with pytest.raises(report.TexError, match="I can't write on file"):
            compile_body(f"\\immediate\\openout5={target} \\immediate\\write5{{x}}\\immediate\\closeout5")
    assert not (tmp_path / "outside.txt").exists()


def test_every_math_command_exists_in_the_installed_latex(tex, tmp_path):
    checks = "".join(f"\\ifdefined\\{name}\\else\\typeout{{UNDEFINED {name}}}\\fi\n" for name in report.MATH_COMMANDS)
    (tmp_path / "report.tex").write_text("\\documentclass{article}\\usepackage{amsmath,amssymb}\n\\begin{document}\n"
                                         + checks + "x\\end{document}\n")
    report.compile_pdf(tmp_path)
    assert re.findall(r"UNDEFINED \w+", (tmp_path / "report.log").read_text()) == []
