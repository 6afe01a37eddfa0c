"""The HTML pages made from graded notebooks, and the notebooks they are made from (html_safety.py says why).

    SanitizeForPages   nbgrader preprocessor, last step of autograding: the autograded notebook that formgrader,
                       the feedback and JupyterLab show carries only safe outputs and markdown
                       (``html_safety.sanitize_notebook``); what was removed is noted (flag ``unsafe_content``).
    FeedbackExporter   the feedback HTML (``c.GenerateFeedback.exporter_class``): nbgrader's feedback template
                       with no script at all, equations as MathML, markdown through ``render_markdown`` and a
                       no-script Content-Security-Policy as the first element of <head>.
    FormgradeExporter  formgrader's manual-grading page (formgrader_safety.py installs it): nbgrader's formgrade
                       template whose own scripts carry the response's CSP nonce; nothing else runs.

Both exporters sanitize the notebook once more just before rendering, whatever preprocessors ran before.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path

from jinja2 import BytecodeCache, pass_context
from traitlets.config import Config
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import NbGraderPreprocessor

from .html_safety import (CACHED_TEXT_CHARS, FEEDBACK_CSP, add_csp_meta, clean_html, latex_to_mathml,
                          render_markdown, sanitize_notebook)

TEMPLATES = Path(__file__).resolve().parent / "templates"


def nbgrader_templates() -> Path:
    import nbgrader.server_extensions.formgrader.handlers as handlers

    return Path(handlers.template_path)


class SanitizeForPages(NbGraderPreprocessor):
    """Autograde, last step: the stored notebook is safe to render anywhere (``sanitize_notebook``)."""

    def preprocess(self, nb, resources):
        from .preprocessors import record

        notes = sanitize_notebook(nb)
        for note in notes:
            record(nb, "unsafe_content", "not shown to graders and students: " + note)
        return nb, resources


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept in this process: each exporter would otherwise compile the same templates
    again (a quarter of a feedback page's time). Jinja checks each template's source checksum against the entry."""

    def __init__(self):
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket):
        self.compiled[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES_COMPILED = _CompiledTemplates()


class _HighlightOnce(Highlight2HTML):
    """nbconvert's code highlighting, each cell's source highlighted once per process (``_highlighted``): every
    submission's page repeats the lab's own code cells. Longer texts, and formatter options other than the default,
    are not cached."""

    def __call__(self, source, language=None, metadata=None):
        source = str(source)
        if self.extra_formatter_options or len(source) > CACHED_TEXT_CHARS:
            return super().__call__(source, language, metadata)
        magics = metadata.get("magics_language") if hasattr(metadata, "get") else None
        return _highlighted(source, language or self.pygments_lexer, magics if isinstance(magics, str) else None)


@functools.lru_cache(maxsize=4096)
def _highlighted(source: str, language: str, magics_language: str | None) -> str:
    return Highlight2HTML(pygments_lexer=language)(source, language, {"magics_language": magics_language}
                                                   if magics_language else None)


class PageExporter(HTMLExporter):
    """nbconvert's HTML exporter for the kit's pages: template ``page_template`` (under grading/pipeline/templates,
    extending one of nbgrader's), student markdown rendered safely, a CSP ``<meta>``."""

    page_template = "lablib_feedback"

    def __init__(self, config=None, **kwargs):
        # nbgrader configures HTMLExporter (template 'feedback' or 'formgrade'): the safe template wins
        parent = kwargs.get("parent")
        config = copy.deepcopy(config if config is not None else getattr(parent, "config", None) or Config())
        bootstrap = nbgrader_templates().parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"
        for section in ("HTMLExporter", type(self).__name__):
            config[section].template_name = self.page_template
            config[section].extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates())]
            config[section].extra_template_paths = [str(TEMPLATES), str(nbgrader_templates()), str(bootstrap)]
            config[section].exclude_anchor_links = True
        super().__init__(config=config, **kwargs)

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        return render_markdown(source, cell.get("attachments", {}) if hasattr(cell, "get") else {})

    def default_filters(self):
        yield from super().default_filters()
        yield ("markdown2html", self.markdown2html)
        yield ("latex2mathml", lambda tex: latex_to_mathml(str(tex).strip().strip("$"), display=True))
        yield ("clean_html", clean_html)

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES_COMPILED  # nbgrader makes an exporter per notebook
        return environment

    def policy(self, resources) -> str:
        return FEEDBACK_CSP

    def _preprocess(self, nb, resources):
        nb, resources = super()._preprocess(nb, resources)
        sanitize_notebook(nb)
        return nb, resources

    def from_notebook_node(self, nb, resources=None, **kw):
        # HTMLExporter.from_notebook_node without its last step, a BeautifulSoup pass over the whole page (two
        # thirds of a feedback page's time) that gives images without alt text a placeholder (the ``image`` macro
        # of safe_outputs.html.j2 writes it) and makes the lab template's cells focusable (this classic-based
        # template has none of them)
        language = nb.metadata.get("language_info", {})
        lexer = language.get("pygments_lexer", language.get("name"))
        self.register_filter("highlight_code", self.filters.get("highlight_code",
                                                                _HighlightOnce(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata,
                                                                       parent=self, resources=resources))
        output, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return add_csp_meta(output, self.policy(resources)), resources


class FeedbackExporter(PageExporter):
    """The feedback HTML students (and their partners) get: no script, nothing loaded from anywhere."""

    page_template = "lablib_feedback"


class FormgradeExporter(PageExporter):
    """Formgrader's page of one submission; ``resources['csp_nonce']`` is the response's script nonce."""

    page_template = "lablib_formgrade"

    def policy(self, resources) -> str:
        from .formgrader_safety import formgrader_csp

        return formgrader_csp(resources["csp_nonce"])
