"""`jdzhi inspectors` and `jdzhi server` on the command line; the rate limiter and the client
hash on their own."""

from __future__ import annotations

import hashlib
import json

from conftest import BOTH_BACKENDS, Invoke

from jdzhi.errors import ExitCode
from jdzhi.home import Home
from jdzhi.server._clients import RateLimiter, client_id

pytestmark = BOTH_BACKENDS


def test_an_inspector_gets_a_token_once_and_the_registry_keeps_its_hash(
        cli: Invoke, initialized: Home) -> None:
    from jdzhi.registry.db import open_registry
    from jdzhi.server.inspectors import inspector_of_token

    added = cli("inspectors", "add", "insp-07", "--json")
    assert added.exit_code == 0, added.output
    data = json.loads(added.stdout)
    token = data["token"]
    assert data["name"] == "insp-07" and len(token) == 43
    db = open_registry(initialized)
    try:
        (stored,) = db.execute("SELECT token_sha256 FROM inspectors").fetchone()
        assert bytes(stored) == hashlib.sha256(token.encode()).digest()
        assert inspector_of_token(db, token) == "insp-07"
        assert inspector_of_token(db, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    finally:
        db.close()
    assert cli("inspectors", "add", "insp-07").exit_code == ExitCode.CONFLICT
    listed = json.loads(cli("inspectors", "list", "--json").stdout)
    assert [i["name"] for i in listed] == ["insp-07"] and "token" not in listed[0]
    assert cli("inspectors", "revoke", "insp-07").exit_code == 0
    assert cli("inspectors", "revoke", "insp-07").exit_code == ExitCode.INVALID_STATE
    assert cli("inspectors", "revoke", "nobody").exit_code == ExitCode.NOT_FOUND
    db = open_registry(initialized)
    try:
        assert inspector_of_token(db, token) is None
    finally:
        db.close()
    assert cli("registry", "audit").exit_code == 0


def test_the_token_without_json_goes_to_stdout_alone(cli: Invoke, initialized: Home) -> None:
    added = cli("inspectors", "add", "Inspector Wang")
    assert added.exit_code == 0
    assert len(added.stdout.strip()) == 43 and "\n" not in added.stdout.strip()
    assert "Inspector Wang" in added.stderr
    assert cli("inspectors", "add", "   ").exit_code == ExitCode.INVALID_INPUT


def test_the_server_needs_an_initialized_home(cli: Invoke) -> None:
    result = cli("server", "--port", "0")
    assert result.exit_code == ExitCode.NOT_INITIALIZED
    assert "jdzhi init" in result.stderr


def test_the_rate_limiter_allows_a_burst_then_refills() -> None:
    limiter = RateLimiter(per_minute=3)
    client = b"c" * 16
    assert [limiter.retry_after(client, now=0.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after(client, now=0.0) == 20  # one token every 20 s
    assert limiter.retry_after(b"d" * 16, now=0.0) == 0
    assert limiter.retry_after(client, now=20.0) == 0
    assert RateLimiter(per_minute=0).retry_after(client) == 0


def test_the_client_hash_changes_with_the_day_and_never_is_the_address() -> None:
    secret = b"s" * 32
    today = client_id(secret, "2026-03-10", "203.0.113.7")
    assert today == client_id(secret, "2026-03-10", "203.0.113.7")
    assert today != client_id(secret, "2026-03-11", "203.0.113.7")
    assert today != client_id(b"t" * 32, "2026-03-10", "203.0.113.7")
    assert b"203.0.113.7" not in today and len(today) == 16


def test_the_exception_edge_answers_a_bug_with_a_bare_json_500() -> None:
    import asyncio

    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from jdzhi.errors import Conflict
    from jdzhi.server.errors import EXCEPTION_HANDLERS

    def bug(_request: Request) -> Response:
        raise RuntimeError("secret detail /etc/passwd")

    def conflict(_request: Request) -> Response:
        raise Conflict("serial 7 is\nstored already")

    app = Starlette(routes=[Route("/bug", bug), Route("/conflict", conflict)],
                    exception_handlers=EXCEPTION_HANDLERS)

    async def ask(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://jdzhi") as client:
            return await client.get(path)

    answer = asyncio.run(ask("/bug"))
    assert answer.status_code == 500
    assert answer.json() == {"error": "internal error in the server; it has been logged",
                             "code": "internal"}
    answer = asyncio.run(ask("/conflict"))
    assert answer.status_code == 409
    assert answer.json() == {"error": "serial 7 is stored already", "code": "conflict"}
