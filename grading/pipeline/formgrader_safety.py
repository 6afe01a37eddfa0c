"""Formgrader that runs no script of a student's, in the instructor's Jupyter server.

nbgrader 0.9.6's formgrader renders a submission on the server (``SubmissionHandler``: nbconvert's HTMLExporter,
template ``formgrade``, classic base) into a whole page at ``<base_url>/formgrader/submissions/<id>/``, which
JupyterLab's *Formgrader* tab shows in an iframe. That page has the origin of the Jupyter server itself, so a
script in it holds the instructor's session: it reads the ``_xsrf`` cookie and can call ``/api/contents`` (read
solutions/, write into the course or lablib/), ``/api/kernels`` and ``/api/terminals``. nbgrader sends no
Content-Security-Policy beyond ``frame-ancestors``, loads MathJax from a CDN, and inserts the markdown and
``text/html``/``application/javascript`` outputs of the notebook as they are; ``SubmissionFilesHandler``
(``/formgrader/submissions/<id>/<file>``) serves any file of the autograded directory, HTML included, from
the same origin.

``harden()`` changes that, for every formgrader handler (idempotent; class level, so the order in which
Jupyter loads extensions does not matter):

* each response carries ``formgrader_csp(nonce)``: scripts only with the response's random nonce, which only
  the page templates' own script tags carry (``pages.FormgradeExporter`` for a submission; nbgrader's other
  formgrader pages through ``NonceLoader``); nothing loaded from another origin; no plugins, frames, forms or
  ``<base>``; ``frame-ancestors 'self'`` for JupyterLab's tab;
* the files of a submission are served with ``FILES_CSP`` (``sandbox``: an opaque origin where nothing runs);
* a submission is rendered by ``pages.FormgradeExporter`` (sanitized notebook, markdown through
  ``html_safety.render_markdown``, equations as MathML: no CDN, typeset offline);
* nbgrader's own page templates are rendered with autoescaping (a student id or a URL path cannot break out
  of the inline scripts that quote them).

How it is switched on: grading/nbgrader_config.py calls ``harden()`` whenever it is read inside a Jupyter server
that has loaded formgrader (formgrader reads it at start-up and on every request of its API), and this module
is also a Jupyter server extension (``--ServerApp.jpserver_extensions='{"grading.pipeline.formgrader_safety":
true}'``) for servers that serve formgrader from a configuration elsewhere.
"""
from __future__ import annotations

import base64
import hashlib
import re

from .html_safety import new_nonce

# Inline event handlers nbgrader's own formgrader pages use (gradebook_notebook_submissions.tpl): allowed by hash.
NBGRADER_INLINE_HANDLERS = ("toggleAllNames()",)


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def formgrader_csp(nonce: str) -> str:
    """The policy of a formgrader page whose own scripts carry ``nonce``."""
    handlers = " ".join(_hash(h) for h in NBGRADER_INLINE_HANDLERS)
    return "; ".join([
        "default-src 'none'",
        f"script-src 'nonce-{nonce}' 'unsafe-hashes' {handlers}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-src 'none'",
        "object-src 'none'",
        "frame-ancestors 'self'",
    ])


FILES_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
"""The files of a submission served by formgrader: shown, never run (a sandboxed, opaque origin)."""


class NonceLoader:
    """A Jinja loader over nbgrader's formgrader templates that gives each ``<script`` tag written in a template
    file the response's nonce (``csp_nonce``). Only the template files are changed, never the values rendered
    into them, so a value that looks like a script tag gets no nonce."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):
        return getattr(self.loader, name)

    def get_source(self, environment, template):
        source, filename, uptodate = self.loader.get_source(environment, template)
        return re.sub(r"<script\b", '<script nonce="{{ csp_nonce }}"', source), filename, uptodate

    def load(self, environment, name, globals=None):
        from jinja2 import BaseLoader

        return BaseLoader.load(self, environment, name, globals)


def _nonce(handler) -> str:
    if getattr(handler, "_lablib_csp_nonce", None) is None:
        handler._lablib_csp_nonce = new_nonce()
    return handler._lablib_csp_nonce


class _NoncedExporter:
    """The page exporter, handing the response's nonce to the template."""

    def __init__(self, exporter, nonce: str):
        self.exporter, self.nonce = exporter, nonce

    def from_filename(self, filename, resources=None, **kw):
        resources = dict(resources or {}, csp_nonce=self.nonce)
        return self.exporter.from_filename(filename, resources=resources, **kw)


def harden() -> None:
    """Make every formgrader handler safe (module docstring). Idempotent."""
    from jinja2 import Environment

    from nbgrader.server_extensions.formgrader import base, handlers

    from .pages import FormgradeExporter

    if getattr(base.BaseHandler, "_lablib_hardened", False):
        return

    def content_security_policy(self) -> str:
        if isinstance(self, handlers.SubmissionFilesHandler):
            return FILES_CSP
        return formgrader_csp(_nonce(self))

    def exporter(self):
        cached = self.settings.get("lablib_formgrade_exporter")
        if cached is None:
            original = self.settings.get("nbgrader_exporter")
            cached = FormgradeExporter(config=getattr(original, "config", None))
            self.settings["lablib_formgrade_exporter"] = cached
        return _NoncedExporter(cached, _nonce(self))

    def render(self, name, **ns):
        env = self.settings.get("lablib_jinja2_env")
        if env is None:
            env = Environment(loader=NonceLoader(self.settings["nbgrader_jinja2_env"].loader), autoescape=True)
            self.settings["lablib_jinja2_env"] = env
        return env.get_template(name).render(**ns, csp_nonce=_nonce(self))

    def set_default_headers(self):
        original_set_default_headers(self)
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")

    original_set_default_headers = base.BaseHandler.set_default_headers
    base.BaseHandler.content_security_policy = property(content_security_policy)
    base.BaseHandler.exporter = property(exporter)
    base.BaseHandler.render = render
    base.BaseHandler.set_default_headers = set_default_headers
    base.BaseHandler._lablib_hardened = True


def hardened() -> bool:
    """Whether formgrader's handlers are hardened in this process."""
    from nbgrader.server_extensions.formgrader import base

    return bool(getattr(base.BaseHandler, "_lablib_hardened", False))


def _jupyter_server_extension_points():
    return [{"module": "grading.pipeline.formgrader_safety"}]


def _load_jupyter_server_extension(serverapp) -> None:
    harden()
    serverapp.log.info("formgrader hardened: Content-Security-Policy with nonces, sanitized submissions")
