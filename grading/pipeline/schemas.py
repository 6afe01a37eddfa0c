"""The JSON-schema checks nbformat and nbgrader make for every cell, each schema compiled once.

nbformat checks every node it builds (``nbformat.v4.new_code_cell``, ``new_output``, ...) against one definition
of its notebook schema, and nbgrader checks every cell's metadata with ``jsonschema.validate(metadata,
schema)``. Both run jsonschema's interpreter, which also checks nbgrader's constant schema against the
meta-schema on every call: a few tenths of a millisecond each, and a submission makes hundreds of these calls.
Here each schema (and each definition of nbformat's) is compiled once with fastjsonschema, the validator
nbformat itself uses for whole notebooks for the same schema dialect (draft 4). An instance it rejects is checked
again by jsonschema, so an error raised is jsonschema's own; tests/test_pipeline_units.py holds the two to the same
verdicts on valid and hostile cells and metadata.
``install()`` (idempotent) puts both in place; importing the package calls it.
"""
from __future__ import annotations

import json
import threading

import fastjsonschema

_lock = threading.Lock()


def _accepts(check, instance) -> bool:
    try:
        check(instance)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


class NbgraderSchema:
    """What nbgrader's metadata validator needs of the ``jsonschema`` module: ``validate(instance, schema)`` with
    the schema compiled once; an invalid instance raises jsonschema's own best-matching error."""

    def __init__(self, jsonschema):
        self._jsonschema, self._checks, self._last = jsonschema, {}, (None, None)

    def __getattr__(self, name):
        return getattr(self._jsonschema, name)

    def validate(self, instance, schema):
        last_schema, check = self._last
        if last_schema is not schema:   # nbgrader loads its schema anew for every notebook: compiled per content
            key = json.dumps(schema, sort_keys=True)
            check = self._checks.get(key)
            if check is None:
                self._jsonschema.validators.validator_for(schema).check_schema(schema)
                with _lock:
                    check = self._checks.setdefault(key, fastjsonschema.compile(schema))
            self._last = (schema, check)
        if not _accepts(check, instance):
            self._jsonschema.validate(instance, schema)


class NodeSchema:
    """A drop-in for ``nbformat.v4.nbbase.validate(node, ref=None)``: a node checked against the definition
    ``ref`` of the current v4 schema, compiled once per definition; whole notebooks (``ref=None``) go to
    nbformat's own ``validate``, which normalizes them too."""

    def __init__(self, original):
        self.original, self._checks = original, {}

    def __call__(self, node, ref=None):
        if ref is None:
            return self.original(node, ref=ref)
        check = self._checks.get(ref)
        if check is None:
            with _lock:
                check = self._checks.setdefault(ref, fastjsonschema.compile(self._definition(ref)))
        if not _accepts(check, node):
            return self.original(node, ref=ref)
        return None

    @staticmethod
    def _definition(ref: str) -> dict:
        import nbformat
        from nbformat.validator import get_validator

        # the schema nbformat's own check of a node uses (jsonschema's, the current minor version)
        schema = get_validator(nbformat.v4.nbformat, name="jsonschema")._schema
        return {"$schema": schema["$schema"], "definitions": schema["definitions"], "$ref": f"#/definitions/{ref}"}


def install() -> None:
    """Compiled checks in nbformat's node constructors and nbgrader's metadata validator (once per process)."""
    from nbformat.v4 import nbbase
    from nbgrader.nbgraderformat import common

    with _lock:
        if not isinstance(common.jsonschema, NbgraderSchema):
            common.jsonschema = NbgraderSchema(common.jsonschema)
        if not isinstance(nbbase.validate, NodeSchema):
            nbbase.validate = NodeSchema(nbbase.validate)
