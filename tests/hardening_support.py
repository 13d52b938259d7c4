"""A real jdzhi world for the hardening and fuzz tests, built once per module through the CLI:
a home with an authority key, one licensed enterprise, its signing key, signed records and a
trust bundle. Every command runs with ``--home`` and an explicit environment, so that module-scoped
fixtures do not depend on the per-test ``JDZHI_HOME``."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from db_support import database_copy
from hypothesis import HealthCheck, settings
from typer.testing import CliRunner, Result

from jdzhi.cli import app
from jdzhi.home import Home
from jdzhi.registry.uscc import generate

PASSPHRASE = "hardening: correct horse battery staple"
LICENSE_NO = "JDZ-GI-2026-0001"
NOW = "2026-03-10T09:00:00+08:00"
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class World:
    home: Home
    key: Path
    signed: Path
    bundle: Path
    authority_public_key: str

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.signed.read_text(encoding="utf-8").splitlines()]


#: the homes whose registry is a PostgreSQL database (build_world's), with its URL
_DATABASES: dict[Path, str] = {}


def home_at(path: Path) -> Home:
    """The home at ``path``, with its database when it is on PostgreSQL (:func:`new_home`)."""
    return Home(path, _DATABASES.get(path.resolve()))


def new_home(path: Path, database_url: str | None = None) -> Home:
    """The home at ``path`` (made by the first command run there), its registry in
    ``database_url``, else where the test's is (JDZHI_DATABASE_URL)."""
    database_url = database_url or os.environ.get("JDZHI_DATABASE_URL")
    if database_url:
        _DATABASES[path.resolve()] = database_url
    return home_at(path)


@contextmanager
def forked_home(source: Home, target: Path) -> Iterator[Home]:
    """A copy of the home ``source`` (its folder and its registry, which no one may be using)
    at ``target``, that goes its own way from there: a stolen backup, another machine."""
    shutil.copytree(source.path, target)
    if source.database_url is None:
        yield home_at(target)
        return
    with database_copy(source) as url:
        yield new_home(target, url)


def environment(home: Path, **more: str) -> dict[str, str]:
    """The environment of a jdzhi process of these tests."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("JDZHI_") or name == "JDZHI_CACHE_DIR"}
    if database_url := _DATABASES.get(home.resolve()):
        env["JDZHI_DATABASE_URL"] = database_url
    env.update(JDZHI_HOME=str(home), JDZHI_PASSPHRASE=PASSPHRASE,
               JDZHI_KEY_PASSPHRASE=PASSPHRASE, JDZHI_NOW=NOW,
               JDZHI_ACTOR="hardening-test")
    env.update(more)  # may set another clock
    return env


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``jdzhi --home HOME ARGS`` in-process with this module's environment."""
    full = environment(home) | (env or {})
    return CliRunner().invoke(app, ["--home", str(home), *args], env=full,
                              catch_exceptions=False)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def csv_text(serials: range, *, batch: str = "B1", category: str = "qinghua",
             day: str = "2026-03-01") -> str:
    return "serial,batch,category,production_date\n" + "".join(
        f"{serial},{batch},{category},{day}\n" for serial in serials)


def build_world(folder: Path, *, count: int = 3, database_url: str | None = None) -> World:
    """A home with one enterprise, its workshop key, ``count`` signed records and a trust
    bundle; its registry in ``database_url``, else where the test's is (JDZHI_DATABASE_URL)."""
    home = new_home(folder / "home", database_url).path
    ok(run(home, "init"))
    uscc = generate(random.Random(5), division_code="360203")
    ok(run(home, "registry", "add", "--uscc", uscc, "--name", "景德镇市青云陶瓷有限公司",
           "--district", "珠山区", "--license-no", LICENSE_NO, "--categories", "qinghua,fencai",
           "--valid-from", "2026-01-01", "--valid-to", "2030-12-31"))
    key = folder / "workshop.key"
    ok(run(home, "keys", "issue", LICENSE_NO, "--out", str(key)))
    source = folder / "records.csv"
    source.write_text(csv_text(range(1001, 1001 + count)), encoding="utf-8")
    signed = folder / "signed.jsonl"
    ok(run(home, "sign", str(source), "--key", str(key), "--out", str(signed)))
    bundle = folder / "trust.cbor"
    exported = json.loads(ok(run(home, "trust", "export", "--out", str(bundle), "--json")).stdout)
    return World(home_at(home), key, signed, bundle, exported["authority_public_key"])


def jdzhi_process(home: Path, *args: str, **more_env: str) -> subprocess.Popen[bytes]:
    """``python -m jdzhi --home HOME ARGS`` as a separate process in its own session (so that a
    test can kill it and every child with one signal)."""
    return subprocess.Popen(
        [sys.executable, "-m", "jdzhi", "--home", str(home), *args],
        env=environment(home, **more_env), cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, start_new_session=True,
    )


def cases(count: int) -> settings:
    """Hypothesis settings of the fuzz tests: ``count`` examples (times JDZHI_FUZZ_EXPLORE under
    `scripts/fuzz`), no deadline (the volume of each example, not its speed, is what they are
    about). Whether the examples are fixed or random follows the profile tests/conftest.py
    loads."""
    scale = int(os.environ.get("JDZHI_FUZZ_EXPLORE") or 1)
    return settings(max_examples=count * scale, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])


def world_on_both_backends(folder: str, count: int) -> Any:
    """The module fixture ``world`` (:func:`build_world` with ``count`` records in a folder of
    that name), made twice: its registry in SQLite, then in a PostgreSQL database (every test
    that takes it runs on both); a test module takes it with ``world = ...``."""
    import pytest
    from conftest import postgres_database

    @pytest.fixture(scope="module", name="world", params=["sqlite", "postgresql"])
    def world(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
        path = tmp_path_factory.mktemp(folder)
        if request.param == "sqlite":
            yield build_world(path, count=count)
            return
        with postgres_database() as database_url:
            yield build_world(path, count=count, database_url=database_url)

    return world


def bundle_world_fixtures(folder: str, now: datetime) -> tuple[Any, Any, Any]:
    """The module fixtures ``world`` (built once in a folder of that name), ``pinned`` (its
    authority key) and ``trust`` (its bundle decoded at ``now``); a test module takes them with
    ``world, pinned, trust = bundle_world_fixtures(...)``."""
    import pytest

    from jdzhi.trace.keys.keyfile import read_public_key
    from jdzhi.trace.trust.bundle import decode_bundle
    from jdzhi.trace.trust.model import Trust

    @pytest.fixture(scope="module", name="world")
    def world(tmp_path_factory: pytest.TempPathFactory) -> World:
        return build_world(tmp_path_factory.mktemp(folder))

    @pytest.fixture(scope="module", name="pinned")
    def pinned(world: World) -> bytes:
        return read_public_key(world.authority_public_key)

    @pytest.fixture(scope="module", name="trust")
    def trust(world: World, pinned: bytes) -> Trust:
        return decode_bundle(world.bundle.read_bytes(), pinned, now=now)

    return world, pinned, trust


def assert_registry_sound(world: World) -> None:
    """The database's integrity check and `jdzhi registry audit` (the hash chain) both pass."""
    from jdzhi.registry.db import integrity_check, open_registry

    db = open_registry(world.home)
    try:
        assert integrity_check(db) == []
    finally:
        db.close()
    ok(run(world.home.path, "registry", "audit"))
