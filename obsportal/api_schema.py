"""The OpenAPI schema says what every endpoint may answer and how it authenticates.

drf-spectacular documents the success response of each view; this postprocessing hook
adds the error answers the portal really gives (each a JSON object with a sentence),
and the ingest endpoint's own credential, so that a client (or schemathesis) can rely
on the schema for every status code.
"""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "A refusal: `detail` (or, for ingest, `reason`) says what was wrong.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
ERRORS = {
    "400": "the request's parameters or body are not valid (the answer names which and why)",
    "401": "no credential, or an unknown, revoked or expired one",
    "403": "the credential may not do this",
    "404": "no such object, or a cursor this API did not issue",
    "405": "the method is not allowed here",
    "406": "the Accept header asks for a format this endpoint does not give",
    "409": "the batch forks a stream: a different event is stored at that seq",
    "413": "the request body is larger than the limit",
    "415": "the request body is not application/json",
    "429": "the credential used up its allowance; retry after `Retry-After` seconds",
}
INGEST_PATH = "/api/v1/ingest"
INGEST_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An agent's ingest token (`agt_…`, `manage.py issue_agent_token`).",
}


def _error(code: str) -> dict[str, Any]:
    return {
        "description": ERRORS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


# No stored value holds U+0000 (obsportal.middleware answers 400 to one): said in the schema.
NO_NUL = "^[^\\u0000]*$"


def _refine_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        if schema.get("type") == "string" and "enum" not in schema and "format" not in schema:
            schema.setdefault("pattern", NO_NUL)
            if parameter.get("required"):
                schema.setdefault("minLength", 1)


def document_errors(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components.setdefault("securitySchemes", {})["ingestToken"] = INGEST_SCHEME
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            codes = ["400", "405", "406"]
            _refine_parameters(operation)
            if path.endswith(".pem"):
                operation["responses"]["200"]["content"] = {
                    "application/x-pem-file": {"schema": {"type": "string"}}
                }
            if path == INGEST_PATH:
                operation["security"] = [{"ingestToken": []}]
                operation.get("requestBody", {})["required"] = True
                codes += ["401", "403", "409", "413", "415", "429"]
            elif any(operation.get("security") or []):
                codes += ["401", "403", "404"]
            else:
                codes += ["404"]
            if "requestBody" in operation and "415" not in codes:
                codes.append("415")  # DRF answers 415 to a body of a type it does not parse
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(code, _error(code))
    return result
