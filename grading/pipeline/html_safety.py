"""Pages staff and students open: what a student wrote is shown, never run.

Everything in a submission is hostile input: markdown answers (raw HTML, ``javascript:`` links), what the student's
code displayed (``text/html``, ``application/javascript``, SVG, widgets, an object's ``_repr_html_``), output
metadata the page templates print into attributes, and any student string the grader quotes in a note. Three
layers keep it from running in formgrader (the instructor's session) and in the feedback HTML (the student's, and
through the pair rule the partner's):

1. **Stored notebooks are sanitized** (``sanitize_notebook``): the autograded and feedback notebooks keep only
   outputs of the types in ``SAFE_OUTPUT_TYPES`` (images checked to be real base64 PNG/JPEG, metadata reduced to
   numeric sizes); every other output is replaced by a visible note. Markdown (cells and ``text/markdown``
   outputs) that carries raw HTML beyond a few inert tags, or a link whose scheme is not http/https/mailto, is
   stored as a code block, so no renderer (nbconvert, JupyterLab, formgrader) sees HTML in it.
2. **Pages are rendered by the kit** (``render_markdown``, ``clean_html``): markdown goes through nbconvert's own
   parser, equations become MathML on the server (``latex_to_mathml``: no MathJax, no third-party script, typeset
   offline by the browser), and the resulting HTML is sanitized by nh3 (Ammonia) with a strict allowlist: no
   script, style, iframe, form, meta, base, object or event attribute; links only to http(s)/mailto, opened in a
   new tab; images only as ``data:`` PNG/JPEG/GIF.
3. **Every page carries a Content-Security-Policy that runs no script of a student's** (``FEEDBACK_CSP`` as a
   ``<meta>``; formgrader's pages get ``formgrader_csp(nonce)`` as a header, see formgrader_safety.py).

Student strings the pipeline writes into markdown (the grading notes, the tamper report) go through
``escape_markdown`` / ``code_span``, which make them literal text in any CommonMark renderer.
"""
from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import secrets
from urllib.parse import urlsplit

import nh3

# -- escaping student strings for markdown -------------------------------------------------------------------

_ASCII_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])""")


def escape_markdown(text: str, limit: int = 2000) -> str:
    """``text`` as literal markdown text on one line: every ASCII punctuation character backslash-escaped
    (CommonMark: no HTML, link, emphasis or ``$`` math can start), line breaks as spaces, at most ``limit``
    characters of the original."""
    text = str(text)
    if len(text) > limit:
        text = text[:limit] + "…"
    text = " ".join(text.splitlines())
    return _ASCII_PUNCTUATION.sub(r"\\\1", text)


def code_span(text: str, limit: int = 200) -> str:
    """``text`` as a markdown code span (literal in every renderer): one line, fenced with more backticks than any
    run of backticks inside it."""
    text = " ".join(str(text)[:limit].splitlines())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def code_block(text: str) -> str:
    """``text`` as a fenced markdown code block (literal in every renderer)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


# -- sanitizing HTML ------------------------------------------------------------------------------------------

_TEXT_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "u", "s", "del", "ins", "mark",
    "small", "sub", "sup", "code", "pre", "kbd", "samp", "var", "blockquote", "q", "abbr", "cite", "ul", "ol", "li",
    "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col", "a", "img",
    "span", "div", "details", "summary", "figure", "figcaption", "input",
}
# MathML Core (what latex2mathml writes), without the elements and attributes that link or load anything
_MATH_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup",
    "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
    "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts", "none", "mfenced",
}
_MATH_ATTRIBUTES = {
    "display", "displaystyle", "scriptlevel", "mathvariant", "mathsize", "stretchy", "fence", "separator",
    "separators", "lspace", "rspace", "accent", "accentunder", "movablelimits", "largeop", "symmetric", "minsize",
    "maxsize", "form", "linethickness", "columnalign", "columnspacing", "columnlines", "rowalign", "rowspacing",
    "rowlines", "frame", "framespacing", "equalrows", "equalcolumns", "notation", "width", "height", "depth",
    "voffset", "open", "close", "encoding",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align", "style", "colspan", "rowspan"},
    "td": {"align", "style", "colspan", "rowspan"},
    "col": {"span"},
    "ol": {"start"},
    "input": {"type", "checked", "disabled"},
    "abbr": {"title"},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
    "pre": {"class"},
    **{tag: set(_MATH_ATTRIBUTES) for tag in _MATH_TAGS},
}
_IMAGE_URL = re.compile(r"data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/]+=*\Z")
LINK_SCHEMES = {"http", "https", "mailto"}
_CSS_CLASS = re.compile(r"[A-Za-z0-9_-]{1,40}\Z")
_SIZE = re.compile(r"\d{1,5}(\.\d+)?(px|%|em)?\Z")


def _absolute_link(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in LINK_SCHEMES and (parts.scheme.lower() == "mailto" or bool(parts.netloc))


def _attribute_filter(tag: str, name: str, value: str):
    if tag == "a" and name == "href":
        return value if _absolute_link(value) else None   # no javascript:, data:, relative (same-origin) links
    if tag == "img" and name == "src":
        return value if _IMAGE_URL.match(value.strip()) else None   # no request leaves the page for an image
    if tag == "input" and name == "type":
        return value if value == "checkbox" else None       # task lists only
    if name == "class":
        kept = [c for c in value.split() if _CSS_CLASS.match(c) and not c.startswith(("nbgrader", "btn", "panel",
                                                                                         "modal", "navbar"))]
        return " ".join(kept) or None                        # highlighting classes; not the page's own widgets
    if name in ("width", "height") and tag == "img":
        return value if _SIZE.match(value.strip()) else None
    return value


def clean_html(fragment: str) -> str:
    """An HTML fragment reduced to inert markup: text formatting, tables, lists, links to http(s)/mailto (opened
    in a new tab, no referrer), ``data:`` raster images and MathML. Script, style, event attributes, iframes,
    forms, meta/base, SVG, objects and every unknown tag or attribute are removed (nh3, i.e. Ammonia)."""
    return nh3.clean(
        fragment, tags=_TEXT_TAGS | _MATH_TAGS, clean_content_tags={"script", "style", "template"},
        attributes=_ATTRIBUTES, attribute_filter=_attribute_filter, strip_comments=True,
        link_rel="noopener noreferrer nofollow", url_schemes=LINK_SCHEMES | {"data"},
        set_tag_attribute_values={"a": {"target": "_blank"}}, filter_style_properties={"text-align"})


# -- equations ------------------------------------------------------------------------------------------------

def latex_to_mathml(tex: str, display: bool = False) -> str:
    """LaTeX math as sanitized MathML (typeset by the browser itself, offline); on a LaTeX error, the source as
    escaped text between its delimiters."""
    from latex2mathml.converter import convert

    try:
        mathml = convert(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of errors on input it does not know
        delimiter = "$$" if display else "$"
        return f'<code class="math-error">{html.escape(delimiter + tex + delimiter)}</code>'
    return clean_html(mathml)


# -- markdown -------------------------------------------------------------------------------------------------

def _parser(renderer):
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    return MarkdownWithMath(renderer=renderer)


def _page_renderer(attachments):
    """nbconvert's markdown renderer with equations as MathML and attachments as data: images (PNG/JPEG only)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class PageRenderer(IPythonRenderer):
        def block_math(self, body):
            return latex_to_mathml(body, display=True)

        def inline_math(self, body):
            return latex_to_mathml(body)

        def latex_environment(self, name, body):
            return latex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)

        def block_mermaidjs(self, code):
            return self.block_code(code)

        def _embed_image_or_attachment(self, src):
            if src.startswith("attachment:"):
                bundle = self.attachments.get(src[len("attachment:"):], {})
                for mime in ("image/png", "image/jpeg"):
                    data = raster_base64(bundle.get(mime), mime)
                    if data:
                        return f"data:{mime};base64,{data}"
                return ""
            return src

    return PageRenderer(escape=False, attachments=attachments or {}, exclude_anchor_links=True,
                        allow_harmful_protocols=False)


# the longest text kept in a per-process cache (the labs' longest cell has 3,330 characters): a cache holds at most
# a few thousand texts of this size, whatever a class hands in
CACHED_TEXT_CHARS = 10_000


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """Markdown (nbconvert's dialect: tables, ``$`` math, task lists) as safe HTML for a page: equations in
    MathML, then ``clean_html``. A cell without attachments, up to ``CACHED_TEXT_CHARS`` long, is rendered once per
    process (``_render_plain``): every submission's page repeats the lab's own text."""
    source = str(source)
    if not attachments and len(source) <= CACHED_TEXT_CHARS:
        return _render_plain(source)
    return clean_html(_parser(_page_renderer(attachments or {})).render(source))


@functools.lru_cache(maxsize=2048)
def _render_plain(source: str) -> str:
    return clean_html(_parser(_page_renderer({})).render(source))


_INERT_TAG = re.compile(r"</?(b|i|u|s|em|strong|sub|sup|br|hr|p|code|kbd|mark|small|del|ins|center)\s*/?>\Z",
                        re.IGNORECASE)


_ACTIVE_TEX = re.compile(r"\\(href|url|style|class|cssId|unicode|html|require|data|mmlToken)\b|<[A-Za-z!?/]")


def _unsafe_markdown_tokens(tokens) -> list[str]:
    found = []
    for token in tokens:
        kind = token.get("type")
        if kind in ("block_html", "inline_html") and not _INERT_TAG.match(token.get("raw", "").strip()):
            found.append(f"raw HTML {token.get('raw', '').strip()[:60]!r}")
        elif kind == "link" and not _absolute_link(token.get("attrs", {}).get("url", "")):
            url = token.get("attrs", {}).get("url", "")
            if urlsplit(url).scheme or url.strip().lower().startswith(("//", "\\")):  # relative links are harmless
                found.append(f"link to {url[:60]!r}")
        elif kind in ("inline_math", "block_math", "latex_environment") and _ACTIVE_TEX.search(
                token.get("raw", "") + str(token.get("attrs", {}).get("body", ""))):
            found.append("an equation with links, styles or raw HTML")   # e.g. MathJax's \\href{javascript:...}
        elif kind == "text" and re.search(r"<[A-Za-z!?/]", token.get("raw", "")):
            found.append(f"HTML-like text {token['raw'].strip()[:60]!r}")   # as another renderer might read it
        elif kind == "image":
            url = token.get("attrs", {}).get("url", "")
            if urlsplit(url).scheme not in ("", "attachment") or url.strip().startswith("//"):
                found.append(f"image from {url[:60]!r}")
        found += _unsafe_markdown_tokens(token.get("children", []) or [])
    return found


def unsafe_markdown(source: str) -> list[str]:
    """What in ``source`` a markdown renderer could turn into script or a request (``neutralize_markdown``).
    Parsed once per process for each text (``_unsafe_markdown``): every submission repeats the lab's own cells."""
    source = str(source)
    return list(_unsafe_markdown(source) if len(source) <= CACHED_TEXT_CHARS else _unsafe_markdown.__wrapped__(source))


@functools.lru_cache(maxsize=2048)
def _unsafe_markdown(source: str) -> tuple[str, ...]:
    try:
        return tuple(_unsafe_markdown_tokens(_parser(None)(source)))
    except Exception as exc:  # a parser failure on hostile input: show it as text
        return (f"unparsable markdown ({type(exc).__name__})",)


def neutralize_markdown(source: str) -> tuple[str, list[str]]:
    """``(source, found)``: markdown that no renderer can turn into script. ``found`` lists the raw HTML (other
    than a few inert tags such as ``<br>`` or ``<sub>``) and the non-http(s)/mailto links and remote images in
    ``source`` (as nbconvert's parser sees them); when there are any, the markdown is returned as a code block
    under a one-line note, so it is shown as the text the student wrote."""
    found = unsafe_markdown(source)
    if not found:
        return source, []
    note = ("*(shown as text by the grader: this answer contains HTML or links that could run code in the page; "
            "formatting and equations are not rendered)*")
    return f"{note}\n\n{code_block(str(source))}", found


# -- notebooks ------------------------------------------------------------------------------------------------

SAFE_OUTPUT_TYPES = ("text/plain", "image/png", "image/jpeg", "text/latex", "text/markdown")
_MAX_IMAGE_SIDE = 10_000
_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_SAFE_ID = re.compile(r"[A-Za-z0-9_.-]{1,100}\Z")
_KEPT_CELL_METADATA = ("nbgrader", "tags", "editable", "deletable", "collapsed", "scrolled", "jupyter", "trusted")


def raster_base64(data, mime: str) -> str | None:
    """``data`` as canonical base64 if it is a PNG or JPEG image of type ``mime``, else None (nothing but base64
    characters can then reach the ``src`` attribute a template writes it into)."""
    if isinstance(data, list):
        data = "".join(data)
    if not isinstance(data, str) or mime not in _MAGIC:
        return None
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(raw).decode("ascii") if raw.startswith(_MAGIC[mime]) else None


def _image_size(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if 0 < value <= _MAX_IMAGE_SIDE else None


def _removed_note(kinds) -> dict:
    import nbformat

    text = (f"[not shown: {', '.join(sorted(kinds))} output of the student's code. Pages made by the grader show "
            "only text, PNG/JPEG images and LaTeX from a submission.]")
    return nbformat.v4.new_output("display_data", data={"text/plain": text})


def sanitize_outputs(outputs) -> tuple[list, set]:
    """Outputs reduced to ``SAFE_OUTPUT_TYPES`` (see the module docstring); returns ``(outputs, removed types)``."""
    import nbformat

    kept, removed = [], set()
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            kept.append(nbformat.v4.new_output("stream", name="stderr" if output.get("name") == "stderr"
                                               else "stdout", text=str("".join(output.get("text", "")))))
            continue
        if kind == "error":
            kept.append(nbformat.v4.new_output(
                "error", ename=str(output.get("ename", "")), evalue=str(output.get("evalue", "")),
                traceback=[str(line) for line in output.get("traceback", []) if isinstance(line, str)]))
            continue
        if kind not in ("display_data", "execute_result"):
            removed.add(f"an output of type {str(kind)[:40]!r}")
            continue
        data, metadata, dropped = {}, {}, set()
        for mime, value in (output.get("data") or {}).items():
            if mime in ("image/png", "image/jpeg"):
                clean = raster_base64(value, mime)
                if clean is None:
                    dropped.add(f"{mime} (not a valid image)")
                    continue
                data[mime] = clean
                size = (output.get("metadata") or {}).get(mime)
                size = {k: _image_size(size.get(k)) for k in ("width", "height")} if isinstance(size, dict) else {}
                if any(v is not None for v in size.values()):
                    metadata[mime] = {k: v for k, v in size.items() if v is not None}
            elif mime == "text/plain":
                data[mime] = "".join(value) if isinstance(value, list) else str(value)
            elif mime == "text/latex":
                value = "".join(value) if isinstance(value, list) else str(value)
                if _ACTIVE_TEX.search(value):
                    dropped.add("text/latex with links, styles or HTML")
                else:
                    data[mime] = value
            elif mime == "text/markdown":
                data[mime], found = neutralize_markdown("".join(value) if isinstance(value, list) else str(value))
                if found:
                    dropped.add("text/markdown with HTML")
            else:
                dropped.add(str(mime)[:80])
        removed |= dropped
        if data:
            new = nbformat.v4.new_output(kind, data=data, metadata=metadata)
            if kind == "execute_result":
                new.execution_count = output.get("execution_count") if isinstance(
                    output.get("execution_count"), int) else None
            kept.append(new)
        if dropped:
            kept.append(_removed_note(dropped))
    return kept, removed


def sanitize_notebook(nb) -> list[str]:
    """Make an nbformat notebook safe for every page that renders it, in place (module docstring, layer 1);
    returns one sentence per cell that lost something."""
    notes = []
    for key in [k for k in nb.metadata if k in ("widgets",)]:
        del nb.metadata[key]
    if not isinstance(nb.metadata.get("title", ""), str):
        del nb.metadata["title"]
    for index, cell in enumerate(nb.cells):
        label = f"cell {index}"
        for key in [k for k in cell.metadata if k not in _KEPT_CELL_METADATA]:
            del cell.metadata[key]
        if "tags" in cell.metadata:
            tags = cell.metadata["tags"]
            cell.metadata["tags"] = [t for t in tags if isinstance(t, str) and _SAFE_ID.match(t)] \
                if isinstance(tags, list) else []
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id") if isinstance(
            cell.metadata.get("nbgrader"), dict) else None
        if grade_id is not None and not (isinstance(grade_id, str) and _SAFE_ID.match(grade_id)):
            raise ValueError(f"{label}: nbgrader grade_id {str(grade_id)[:80]!r} is not a plain identifier")
        if cell.get("attachments"):
            kept = {}
            for name, bundle in cell.attachments.items():
                for mime in ("image/png", "image/jpeg"):
                    data = raster_base64(bundle.get(mime) if isinstance(bundle, dict) else None, mime)
                    if data and _SAFE_ID.match(str(name)):
                        kept[name] = {mime: data}
                        break
            if len(kept) < len(cell.attachments):
                notes.append(f"{label}: attachments other than PNG/JPEG images were removed")
            cell.attachments = kept
        if cell.cell_type == "markdown":
            cell.source, found = neutralize_markdown(cell.source)
            if found:
                notes.append(f"{label}: shown as text ({'; '.join(found[:3])})")
        elif cell.cell_type == "raw":
            cell.metadata.pop("raw_mimetype", None)
            cell.metadata.pop("format", None)
        elif cell.cell_type == "code":
            cell.outputs, removed = sanitize_outputs(cell.get("outputs", []))
            if removed:
                notes.append(f"{label}: outputs not shown ({', '.join(sorted(removed))[:300]})")
    return notes


# -- Content-Security-Policy ----------------------------------------------------------------------------------

FEEDBACK_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; base-uri 'none'; "
                "form-action 'none'")
"""A self-contained page (feedback, reports): no script at all, nothing loaded from anywhere; inline styles and
data: images and fonts only."""


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def add_csp_meta(page: str, policy: str = FEEDBACK_CSP) -> str:
    """``page`` (a whole HTML document written by a template) with a CSP ``<meta>`` as the first element of its
    ``<head>``, before anything a browser could load or run (directives only a header can carry are left out)."""
    policy = "; ".join(d.strip() for d in policy.split(";")   # what a <meta> policy cannot say (headers only)
                       if d.split() and d.split()[0] not in ("frame-ancestors", "sandbox", "report-uri"))
    match = re.search(r"<head(\s[^>]*)?>", page, re.IGNORECASE)
    if match is None:
        raise ValueError("not an HTML document with a <head>")
    meta = f'\n<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">'
    return page[:match.end()] + meta + page[match.end():]


def page(title: str, body_html: str, *, css: str = "") -> str:
    """A standalone HTML page (e.g. a report the kit writes) around trusted ``body_html`` built with
    ``render_markdown``/``clean_html``/``html.escape``: UTF-8, the no-script CSP first, inline CSS only."""
    return add_csp_meta(
        f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{html.escape(title)}</title>"
        f"\n<style>{css}</style>\n</head>\n<body>\n{body_html}\n</body>\n</html>\n")
