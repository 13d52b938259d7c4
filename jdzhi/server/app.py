"""The ASGI application of `jdzhi server` (Starlette): routes, body limits, rate limit."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from jdzhi import __version__
from jdzhi._format.records import records_stored_json
from jdzhi.errors import InvalidInput
from jdzhi.home import Home
from jdzhi.registry.db import open_registry
from jdzhi.server import (
    DEFAULT_SCAN_RATE_LIMIT,
    MESSAGE_BODY_LIMIT,
    RECORDS_BODY_LIMIT,
    SCAN_BODY_LIMIT,
)
from jdzhi.server import _service as lib
from jdzhi.server._clients import RateLimiter, client_id, client_secret
from jdzhi.server._desk import Desk
from jdzhi.server._http import json_object, read_body, require_type, utf8_text
from jdzhi.server._openapi import openapi
from jdzhi.server._scans import ScanRequest, serial_status
from jdzhi.server._uploads import current_bundle, publish_bundle, store_endorsement, store_records
from jdzhi.server.errors import EXCEPTION_HANDLERS, ApiError
from jdzhi.server.inspectors import inspector_of_token
from jdzhi.timeutil import utc_now

__all__ = ["ServerSettings", "create_app"]

MAX_LABEL_CHARS = 2000
#: where scans are posted; the page served here reports its checks to it (the page online)
SCANS_PATH = "/api/v1/scans"
#: the environment variable that hands the settings to uvicorn's worker processes
SETTINGS_ENV = "JDZHI_SERVER_SETTINGS"


@dataclass(frozen=True)
class ServerSettings:
    home: str
    database_url: str | None = None
    scan_rate_limit: int = DEFAULT_SCAN_RATE_LIMIT

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServerSettings:
        return cls(**json.loads(os.environ[SETTINGS_ENV]))


class _Service:
    """What the routes share in one process."""

    def __init__(self, settings: ServerSettings) -> None:
        self.home = Home(Path(settings.home), settings.database_url)
        self.desk = Desk(self.home)
        self.limiter = RateLimiter(settings.scan_rate_limit)
        self.secret = client_secret()
        db = open_registry(self.home)
        try:
            authority = lib.authority_public_key(db)
            self.page_folder, self.page_paths = lib.page_prefixes(db)
        finally:
            db.close()
        self.page_files = lib.page_files(authority, SCANS_PATH)
        self.content_types, self.page_headers = lib.page_headers()
        self.openapi = openapi(__version__, scan_limit=SCAN_BODY_LIMIT,
                               records_limit=RECORDS_BODY_LIMIT, message_limit=MESSAGE_BODY_LIMIT)

    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi_json(self, _request: Request) -> Response:
        return JSONResponse(self.openapi)

    async def page_file(self, name: str, _request: Request) -> Response:
        if name == lib.BUNDLE_FILE:
            content = await self.desk.call(current_bundle)
        else:
            content = self.page_files[name]
        return Response(content, media_type=self.content_types[name], headers=self.page_headers)

    async def get_trust(self, _request: Request) -> Response:
        return Response(await self.desk.call(current_bundle), media_type="application/cbor")

    async def post_trust(self, request: Request) -> Response:
        require_type(request, "application/cbor", "application/octet-stream")
        body = await read_body(request, MESSAGE_BODY_LIMIT)
        return JSONResponse(await self._registry_work(publish_bundle, body), status_code=201)

    async def post_records(self, request: Request) -> Response:
        require_type(request, "application/x-ndjson", "application/jsonl")
        first_line = _first_line(request.query_params.get("first_line", "1"))
        text = utf8_text(await read_body(request, RECORDS_BODY_LIMIT))
        stored = await self._registry_work(partial(store_records, first_line=first_line), text)
        return JSONResponse(records_stored_json(stored))

    async def post_endorsement(self, request: Request) -> Response:
        require_type(request, "application/cose", "application/octet-stream")
        body = await read_body(request, MESSAGE_BODY_LIMIT)
        answer, created = await self._registry_work(store_endorsement, body)
        return JSONResponse(answer, status_code=201 if created else 200)

    async def _registry_work(self, work: Any, *args: Any) -> Any:
        """Uploads run on a thread with a connection of their own: verifying thousands of
        records must not hold up scans."""
        from starlette.concurrency import run_in_threadpool

        def run() -> Any:
            db = open_registry(self.home)
            try:
                return work(db, *args, utc_now())
            finally:
                db.close()

        return await run_in_threadpool(run)

    async def post_scan(self, request: Request) -> Response:
        now = utc_now()
        day = now.date().isoformat()
        client = client_id(self.secret, day, request.client.host if request.client else "")
        wait = self.limiter.retry_after(client)
        if wait:
            raise ApiError(429, "rate-limited", f"too many scans from this client: retry in "
                           f"{wait} s", {"Retry-After": str(wait)})
        require_type(request, "application/json")
        data = json_object(await read_body(request, SCAN_BODY_LIMIT),
                           {"label": str, "source": str, "inspector": str, "location": str},
                           ("label", "source"))
        if data["source"] not in ("page", "inspector"):
            raise InvalidInput("source is 'page' or 'inspector'")
        if len(data["label"]) > MAX_LABEL_CHARS:
            raise InvalidInput(f"a label is at most {MAX_LABEL_CHARS} characters")
        where = lib.parse_location(data.get("location"))
        inspector = ""
        if data["source"] == "inspector":
            inspector = await self._inspector(request, data.get("inspector"))
        elif "inspector" in data:
            raise InvalidInput("only an inspector scan (source 'inspector') names an inspector")
        answer = await self.desk.scan(ScanRequest(data["label"], data["source"], inspector,
                                                  where, client, day))
        return Response(answer, media_type="application/json")

    async def _inspector(self, request: Request, claimed: str | None) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthorized", "an inspector scan needs 'Authorization: Bearer "
                           "TOKEN' (`jdzhi inspectors add`)", {"WWW-Authenticate": "Bearer"})
        name = await self.desk.call(inspector_of_token, token.strip())
        if name is None:
            raise ApiError(401, "unauthorized", "the inspector token is unknown or revoked",
                           {"WWW-Authenticate": "Bearer"})
        if claimed is not None and " ".join(claimed.split()) != name:
            raise ApiError(403, "forbidden", "the token belongs to another inspector")
        return name

    async def get_serial(self, request: Request) -> Response:
        enterprise, serial = request.path_params["enterprise"], request.path_params["serial"]
        return JSONResponse(await self.desk.call(serial_status, enterprise, serial))

    def routes(self) -> list[BaseRoute]:
        page = [Route(f"{path}{{payload:path}}", partial(self.page_file, "index.html"))
                for path in self.page_paths]
        page += [Route(f"{self.page_folder}{name}", partial(self.page_file, name))
                 for name in (*self.page_files, lib.BUNDLE_FILE)]
        return [  # the hot route first: Starlette tries routes in order
            Route(SCANS_PATH, self.post_scan, methods=["POST"]),
            Route("/healthz", self.healthz),
            Route("/api/v1/openapi.json", self.openapi_json),
            Route("/api/v1/trust", self.get_trust, methods=["GET"]),
            Route("/api/v1/trust", self.post_trust, methods=["POST"]),
            Route("/api/v1/records", self.post_records, methods=["POST"]),
            Route("/api/v1/endorsements", self.post_endorsement, methods=["POST"]),
            Route("/api/v1/serials/{enterprise}/{serial}", self.get_serial),
            *page,
        ]


def _first_line(text: str) -> int:
    """``?first_line=N``: the body's first line is line N of the sender's file (`jdzhi push`
    sends a big file in parts), so that an error names the file's line."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 2**53:
        raise InvalidInput("first_line is a line number from 1")
    return int(text)


def create_app(settings: ServerSettings | None = None) -> Starlette:
    """The application over ``settings.home`` (else the settings `jdzhi server` handed down)."""
    service = _Service(settings or ServerSettings.from_env())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        service.desk.close()

    return Starlette(routes=service.routes(), lifespan=lifespan,
                     exception_handlers=EXCEPTION_HANDLERS)
