"""The OpenAPI 3.1 description of the service, served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

__all__ = ["openapi"]


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(media_type: str, schema: dict[str, Any], limit: int) -> dict[str, Any]:
    return {"required": True, "description": f"at most {limit} bytes",
            "content": {media_type: {"schema": schema}}}


_BINARY = {"type": "string", "format": "binary"}
_ERRORS = {"400": _error("malformed request (code says what)"),
           "413": _error("body larger than the endpoint's limit"),
           "415": _error("wrong Content-Type")}
_SCAN_REQUEST = {
    "type": "object", "required": ["label", "source"], "additionalProperties": False,
    "properties": {"label": {"type": "string"},
                   "source": {"type": "string", "enum": ["page", "inspector"]},
                   "inspector": {"type": "string"},
                   "location": {"type": "string", "description": "'lat,lon' or a place name"}}}
_SCAN_ANSWER = {
    "type": "object",
    "description": "the object `jdzhi scan --json` gives for one code, plus checks, "
                   "first_checked_at and clone_warning",
    "required": ["verdict", "serial", "enterprise", "reasons", "checks", "first_checked_at",
                 "clone_warning"],
    "properties": {
        "verdict": {"type": "string", "enum": [
            "genuine", "suspected-clone", "tampered", "unknown-key", "revoked", "suspended",
            "expired", "malformed"]},
        "serial": {"type": ["string", "null"]},
        "enterprise": {"type": ["string", "null"]},
        "reasons": {"type": "array", "items": {"type": "string"}},
        "endorsement": {"type": "object"},
        "checks": {"type": ["integer", "null"]},
        "first_checked_at": {"type": ["string", "null"]},
        "clone_warning": {"type": ["string", "null"]}}}
_SERIAL_ANSWER = {"type": "object", "properties": {
    "signed": {"type": "boolean"}, "checks": {"type": "integer"},
    "first_checked_at": {"type": ["string", "null"]}, "suspected_clone": {"type": "boolean"},
    "reasons": {"type": "array", "items": {"type": "string"}}}}


def _upload_paths(records_limit: int, message_limit: int) -> dict[str, Any]:
    return {
        "/api/v1/trust": {
            "get": {"summary": "The current trust bundle",
                    "responses": {"200": {"description": "the bundle", "content": {
                        "application/cbor": {"schema": _BINARY}}},
                        "404": _error("none published yet")}},
            "post": {"summary": "Publish a bundle made by `jdzhi trust export` (signed by this "
                                "home's authority key, issued after the current one, its log "
                                "extending the current one's)",
                     "requestBody": _body("application/cbor", _BINARY, message_limit),
                     "responses": {"201": _json("published", {"type": "object"}),
                                   "409": _error("not newer than the current bundle, or its "
                                                 "log not extending the current one's"),
                                   "422": _error("not signed by the authority key"),
                                   **_ERRORS}}},
        "/api/v1/records": {"post": {
            "summary": "Store SIGNED.jsonl lines (all or none; re-sent lines are harmless; "
                       "a line that is not genuine: 400 not-genuine)",
            "parameters": [{"name": "first_line", "in": "query", "required": False,
                            "description": "the body's first line is this line of the sender's "
                                           "file (errors name the file's lines); default 1",
                            "schema": {"type": "integer", "minimum": 1}}],
            "requestBody": _body("application/x-ndjson", {"type": "string"}, records_limit),
            "responses": {"200": _json("stored", {"type": "object", "properties": {
                "stored": {"type": "integer"}, "already_stored": {"type": "integer"}}}),
                "409": _error("a serial stored with other content"), **_ERRORS}}},
        "/api/v1/endorsements": {"post": {
            "summary": "Store a testing-center endorsement (COSE_Sign1 bytes)",
            "requestBody": _body("application/cose", _BINARY, message_limit),
            "responses": {"201": _json("stored", {"type": "object"}),
                          "200": _json("stored before", {"type": "object"}),
                          "422": _error("not signed by a certified lab key"), **_ERRORS}}},
    }


def _read_paths(scan_limit: int) -> dict[str, Any]:
    return {
        "/healthz": {"get": {"summary": "Liveness",
                             "responses": {"200": _json("alive", {"type": "object"})}}},
        "/V/{payload}": {"get": {
            "summary": "The phone verification page of a label (as `jdzhi page export`)",
            "parameters": [{"name": "payload", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "index.html"}}}},
        "/api/v1/scans": {"post": {
            "summary": "Verify a scanned label, count it, apply the clone rules",
            "security": [{}, {"inspector": []}],
            "requestBody": _body("application/json", _SCAN_REQUEST, scan_limit),
            "responses": {"200": _json("the verdict", _SCAN_ANSWER),
                          "401": _error("inspector scan without a valid token"),
                          "429": _error("too many scans from this client (Retry-After)"),
                          **_ERRORS}}},
        "/api/v1/serials/{enterprise}/{serial}": {"get": {
            "summary": "What the registry knows of one serial",
            "parameters": [
                {"name": "enterprise", "in": "path", "required": True,
                 "description": "id, USCC or license number", "schema": {"type": "string"}},
                {"name": "serial", "in": "path", "required": True,
                 "schema": {"type": "string"}}],
            "responses": {"200": _json("the serial", _SERIAL_ANSWER),
                          "404": _error("no such enterprise")}}},
    }


def openapi(version: str, *, scan_limit: int, records_limit: int,
            message_limit: int) -> dict[str, Any]:
    """The description; the limits are the server's body limits in bytes."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "jdzhi service center", "version": version,
                 "description": "The Jingdezhen Zhi (景德镇制) service center online. It holds no "
                                "private key: records, endorsements and trust bundles are "
                                "accepted only when signed by keys the authority certified."},
        "components": {
            "schemas": {"Error": {"type": "object", "required": ["error", "code"],
                                  "properties": {"error": {"type": "string"},
                                                 "code": {"type": "string"}}}},
            "securitySchemes": {"inspector": {"type": "http", "scheme": "bearer",
                                              "description": "`jdzhi inspectors add` token"}}},
        "paths": {**_read_paths(scan_limit), **_upload_paths(records_limit, message_limit)},
    }
