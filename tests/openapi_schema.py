"""Check request bodies against OpenAI's own OpenAPI 3.1 document, so a client cannot drift.

    errors = request_errors("CreateChatCompletionRequest", body)
    assert not errors, errors

The document lives outside the repository, at ``<workspace>/shared/specs/openai-openapi.json``.
It is loaded once as one ``referencing`` resource (JSON Schema 2020-12, the dialect OpenAPI 3.1
uses) and each schema is checked through ``{"$ref": "<doc>#/components/schemas/<Name>"}``, with
one compiled validator cached per schema name.

Three things about the document shape how it is read here:

* ``nullable: true``. The document still carries 111 of these OpenAPI 3.0 markers, which JSON
  Schema 2020-12 ignores; read literally, ``"stream": null`` would be an error. The validator
  honours the marker: ``None`` passes wherever the schema says ``nullable: true``.
* Unions. Messages, content parts and tools are ``oneOf``s told apart by a tag (``role``,
  ``type``); a plain validator only says "not valid under any of the given schemas". Errors here
  name the branch the body meant, picked by its tag or JSON type: a wrong role reads
  "$.messages[0].role: 'robot' is not one of ['developer', 'system', ...]", a tool message with
  no ``tool_call_id`` reads "$.messages[0]: 'tool_call_id' is a required property".
* Multipart bodies (``CreateTranscriptionRequest``). Pass the form fields as a dict of strings
  (an array field as a list) and each file field as any placeholder *string*, such as
  ``"<binary 32044 bytes>"`` as :mod:`device.sim.loopback` records it. The document types a file
  as ``{"type": "string", "format": "binary"}``; 2020-12 treats ``format`` as an annotation, so
  only the string type is checked, and bytes or a byte count would be an error. Form fields have
  no types on the wire, so for schemas the document sends as ``multipart/form-data`` a string is
  first converted when the property wants a number, integer or boolean (``"0.2"`` -> 0.2).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

# A copy of ../shared/specs/openai-openapi.json (MIT licence beside it), so a clean checkout in
# CI validates without the shared folder; test_loopback_llm checks the copy against the original
# whenever the shared folder is there.
SPEC_PATH = Path(__file__).resolve().parent / "data" / "openai-openapi.json"
SHARED_SPEC_PATH = Path(__file__).resolve().parents[2] / "shared" / "specs" / "openai-openapi.json"
_DOC_URI = "urn:openai:openapi"  # the document has no $id; any fixed URI will do
_MAX_MESSAGE = 200  # characters; a failing 50 kB photo must not flood the test report


def request_errors(schema_name: str, body: dict[str, Any]) -> list[str]:
    """Human-readable errors ("$.messages[0].role: ...") of ``body``; empty when it is valid."""
    if schema_name in _multipart_schemas():
        body = _typed_form_fields(schema_name, body)
    return schema_errors(schema_name, body)


def schema_errors(schema_name: str, instance: Any) -> list[str]:
    """The same check for any schema of the document, responses included, with no form typing."""
    validator = _validator(schema_name)
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [line for error in errors for line in _describe(error)]


@functools.cache
def _document() -> dict[str, Any]:
    if not SPEC_PATH.is_file():
        raise FileNotFoundError(f"OpenAI OpenAPI document not found at {SPEC_PATH}")
    with SPEC_PATH.open(encoding="utf-8") as file:
        document: dict[str, Any] = json.load(file)
    return document


@functools.cache
def _registry() -> Registry[Any]:
    return Registry().with_resource(_DOC_URI, DRAFT202012.create_resource(_document()))


def _allow_null(check: Any) -> Any:
    def checked(validator: Any, value: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if instance is None and isinstance(schema, dict) and schema.get("nullable") is True:
            return iter(())
        return check(validator, value, instance, schema) or iter(())

    return checked


# Every keyword lets null through where the (OpenAPI 3.0) nullable marker says so.
_OpenAPIValidator = validators.extend(
    Draft202012Validator,
    {keyword: _allow_null(check) for keyword, check in Draft202012Validator.VALIDATORS.items()},
)


@functools.cache
def _validator(schema_name: str) -> Validator:
    if schema_name not in _document()["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in {SPEC_PATH.name}")
    schema = {"$ref": f"{_DOC_URI}#/components/schemas/{schema_name}"}
    validator: Validator = _OpenAPIValidator(schema, registry=_registry())
    return validator


@functools.cache
def _multipart_schemas() -> frozenset[str]:
    """Schema names the document's paths send as multipart/form-data."""
    names = set()
    for operations in _document()["paths"].values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue  # a path's shared "parameters" list or "summary"
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("multipart/form-data", {}).get("schema", {}).get("$ref", "")
            if ref:
                names.add(ref.rsplit("/", 1)[-1])
    return frozenset(names)


def _typed_form_fields(schema_name: str, fields: dict[str, Any]) -> dict[str, Any]:
    properties = _document()["components"]["schemas"][schema_name].get("properties", {})
    return {
        name: _typed(value, _declared_types(properties.get(name, {})))
        for name, value in fields.items()
    }


def _declared_types(schema: dict[str, Any]) -> set[str]:
    """Types a property allows, looking through one level of anyOf/oneOf."""
    branches = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    types: set[str] = set()
    for branch in branches:
        declared = branch.get("type")
        types.update([declared] if isinstance(declared, str) else declared or [])
    return types


def _typed(value: Any, types: set[str]) -> Any:
    if not isinstance(value, str) or "string" in types:
        return value
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    for wanted, convert in (("integer", int), ("number", float)):
        if wanted in types:
            try:
                return convert(value)
            except ValueError:
                pass
    return value  # left as sent, so the schema reports it


def _describe(error: ValidationError) -> list[str]:
    """Readable lines for one error; for a failed union, the errors of the branch meant."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        return _describe_union(error)
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    return [f"{error.json_path}: {message}"]


def _describe_union(error: ValidationError) -> list[str]:
    # A bare "is not valid under any of the given schemas" helps nobody. A branch whose tag
    # (a one-value enum such as role "user") or JSON type does not fit was clearly not meant;
    # if exactly one branch is left, its own errors are the useful ones.
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context or []:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    meant = [subs for subs in by_branch.values() if not any(map(_rules_out, subs))]
    if len(meant) == 1:
        return [line for sub in meant[0] for line in _describe(sub)]
    misses = [sub for subs in by_branch.values() for sub in subs if _rules_out(sub)]
    paths = {sub.json_path for sub in misses}
    if not meant and len(paths) == 1:
        wanted = [v for sub in misses for v in _as_list(sub.validator_value)]
        wanted = list(dict.fromkeys(wanted))  # each once, in the document's order
        found = misses[0].instance
        if misses[0].validator == "type":
            return [f"{error.json_path}: {found!r} is not of type {' or '.join(map(str, wanted))}"]
        return [f"{paths.pop()}: {found!r} is not one of {wanted}"]
    return _describe(best_match(error.context or []))


def _rules_out(error: ValidationError) -> bool:
    """Whether this error shows its union branch was not the one meant at all."""
    if error.validator == "type":
        return not error.relative_path
    if error.validator == "const":
        return len(error.relative_path) == 1
    if error.validator == "enum":
        return len(error.relative_path) == 1 and len(error.validator_value) == 1
    return False


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
