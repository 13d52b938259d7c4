"""Every test runs against its own temporary jdzhi home (``JDZHI_HOME``) and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from typer.testing import CliRunner, Result

from benchmarks.run import fresh_database
from jdzhi.cli import app
from jdzhi.home import Home

#: real porcelain photos for calibration; tests that need them skip when the folder is absent
PORCELAIN_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "porcelain-dev"

#: property tests that gate CI draw the same examples on every run (a failure reproduces);
#: `scripts/fuzz N` sets JDZHI_FUZZ_EXPLORE=N for a random, N times wider exploration instead
FUZZ_EXPLORE = int(os.environ.get("JDZHI_FUZZ_EXPLORE") or 0)
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("explore" if FUZZ_EXPLORE else "ci")

_CLEARED_ENV = ("JDZHI_PASSPHRASE", "JDZHI_KEY_PASSPHRASE", "JDZHI_NOW", "JDZHI_DEBUG",
                "JDZHI_ACTOR", "JDZHI_BASE_URL", "JDZHI_WORKERS", "JDZHI_DATABASE_URL")

#: the registry's two homes; a module (``pytestmark = BOTH_BACKENDS``) or a test marked with it
#: runs once on each: the home's SQLite file, and a fresh PostgreSQL database
BOTH_BACKENDS = pytest.mark.parametrize("registry_backend", ["sqlite", "postgresql"],
                                        indirect=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``sqlite_only`` runs on SQLite only (its PostgreSQL case is deselected)."""
    dropped = [item for item in items if item.get_closest_marker("sqlite_only")
               and getattr(item, "callspec", None) is not None
               and item.callspec.params.get("registry_backend") == "postgresql"]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder (prepared fonts) per test process, never the user's own."""
    return tmp_path_factory.mktemp("jdzhi-cache")


@pytest.fixture
def registry_backend(request: pytest.FixtureRequest) -> str:
    """Where the test's registry lives: ``sqlite`` (the home's file, unless the test is
    parametrized with :data:`BOTH_BACKENDS`) or ``postgresql`` (``JDZHI_DATABASE_URL`` set to a
    fresh database of the test cluster)."""
    backend: str = getattr(request, "param", "sqlite")
    return backend


@pytest.fixture(autouse=True)
def jdzhi_home(tmp_path: Path, cache_dir: Path, registry_backend: str,
               request: pytest.FixtureRequest,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    for name in _CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "jdzhi-home"
    monkeypatch.setenv("JDZHI_HOME", str(path))
    monkeypatch.setenv("JDZHI_ACTOR", "test-operator")
    monkeypatch.setenv("JDZHI_CACHE_DIR", str(cache_dir))
    database_url = None
    if registry_backend == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("JDZHI_DATABASE_URL", database_url)
    yield Home(path, database_url)


Invoke = Callable[..., Result]


@pytest.fixture
def cli() -> Invoke:
    """Run ``jdzhi`` in-process; ``result.stdout`` and ``result.stderr`` are kept apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return invoke


#: the passphrase of every key the tests make (the `initialized` fixture sets it for the test)
TEST_PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def initialized(cli: Invoke, jdzhi_home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A home after `jdzhi init`, with JDZHI_PASSPHRASE and JDZHI_KEY_PASSPHRASE (the keys it
    issues) set to TEST_PASSPHRASE.

    The home is made on 2026-01-01 (unless the test set its clock first), before any moment the
    tests move the clock to, so that the audit log's times never run backwards."""
    monkeypatch.setenv("JDZHI_PASSPHRASE", TEST_PASSPHRASE)
    monkeypatch.setenv("JDZHI_KEY_PASSPHRASE", TEST_PASSPHRASE)
    clock = os.environ.get("JDZHI_NOW")
    monkeypatch.setenv("JDZHI_NOW", clock or "2026-01-01T00:00:00+08:00")
    result = cli("init")
    assert result.exit_code == 0, result.output
    if clock is None:
        monkeypatch.delenv("JDZHI_NOW")
    return jdzhi_home


@pytest.fixture
def porcelain_dir() -> Path:
    if not PORCELAIN_DIR.is_dir():
        pytest.skip("../shared/data/porcelain-dev is not present on this machine")
    return PORCELAIN_DIR


@contextmanager
def postgres_database() -> Iterator[str]:
    """The URL of a fresh, empty database on the test's PostgreSQL cluster
    (``scripts/with-postgres``, which ``scripts/test`` runs pytest under), dropped afterwards.
    Without a cluster the test skips, except in CI, where it fails."""
    server = os.environ.get("JDZHI_TEST_DATABASE_URL")
    if not server:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs the PostgreSQL tests: JDZHI_TEST_DATABASE_URL is not set")
        pytest.skip("no PostgreSQL test cluster (run pytest under scripts/with-postgres)")
    with fresh_database(server, "jdzhi_test") as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database for the test (:func:`postgres_database`)."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of each kind: a SQLite file, a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
