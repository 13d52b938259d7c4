"""Reading request bodies safely: size limits enforced while streaming (a 10 MB body is refused
after the limit, never read whole), strict UTF-8, strict JSON (no NaN, bounded nesting)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from jdzhi.server.errors import ApiError


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or int(declared) > limit:
            raise _too_large(limit)
        return await request.body()  # the HTTP parser holds a body to its declared length
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too-large", f"the body is larger than this endpoint's limit of "
                                      f"{limit} bytes")


def require_type(request: Request, *accepted: str) -> None:
    """415 unless the Content-Type (without parameters) is one of ``accepted``."""
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in accepted:
        raise ApiError(415, "unsupported-media-type",
                       f"send the body as {' or '.join(accepted)} (got {given or 'no type'!r})")


def utf8_text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, "invalid-utf8",
                       f"the body is not valid UTF-8 (byte {error.start})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: one decoder for every body (``json.loads`` with options builds a new one each call)
_decoder = json.JSONDecoder(parse_constant=_no_constant)


def json_value(text: str, *, what: str = "the body") -> Any:
    """Strict JSON: NaN and Infinity refused, deep nesting refused (Python's recursion limit)."""
    try:
        return _decoder.decode(text)
    except RecursionError:
        raise ApiError(400, "invalid-json", f"{what} is nested too deeply") from None
    except ValueError as error:
        raise ApiError(400, "invalid-json",
                       f"{what} is not valid JSON ({str(error)[:120]})") from None


def json_object(body: bytes, fields: dict[str, type | tuple[type, ...]],
                required: tuple[str, ...]) -> dict[str, Any]:
    """A JSON object body with exactly these known ``fields`` of these types."""
    value = json_value(utf8_text(body))
    if not isinstance(value, dict):
        raise ApiError(400, "invalid-json", "the body must be a JSON object")
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise ApiError(400, "unknown-field", f"unknown field {unknown[0]!r} (known: "
                                             f"{', '.join(sorted(fields))})")
    for name in required:
        if name not in value:
            raise ApiError(400, "missing-field", f"the field {name!r} is required")
    for name, kind in fields.items():
        wrong_bool = isinstance(value.get(name), bool) and kind is not bool
        if name in value and (not isinstance(value[name], kind) or wrong_bool):
            raise ApiError(400, "wrong-type", f"the field {name!r} has the wrong type")
    return value
