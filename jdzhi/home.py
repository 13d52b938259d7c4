"""Where jdzhi keeps its state: the home directory and the files in it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CACHE_ENV", "DATABASE_URL_ENV", "HOME_ENV", "Home", "cache_dir", "resolve_home"]

HOME_ENV = "JDZHI_HOME"
#: a database server that keeps the registry instead of the home's SQLite file (``--db``)
DATABASE_URL_ENV = "JDZHI_DATABASE_URL"
#: where jdzhi keeps what it can make again (prepared fonts, compiled kernels)
CACHE_ENV = "JDZHI_CACHE_DIR"


@dataclass(frozen=True)
class Home:
    """A jdzhi home: the registry database and the keys of the service center.

    The registry is the home's SQLite file (``registry.db``), or the database at ``database_url``
    (``postgresql://…``); key files, checkpoints and caches stay in the home folder either way."""

    path: Path
    #: may hold a password: kept out of the repr
    database_url: str | None = field(default=None, repr=False)

    @property
    def has_registry(self) -> bool:
        """Whether the home names a registry: a database server, or its file exists."""
        return self.database_url is not None or self.db_path.exists()

    @property
    def db_path(self) -> Path:
        return self.path / "registry.db"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def authority_key_path(self) -> Path:
        return self.keys_dir / "authority.key"


def resolve_home(option: Path | None = None, database_url: str | None = None) -> Home:
    """The home from ``--home``, else ``JDZHI_HOME``, else the platform's user data directory;
    its registry at ``database_url`` (``--db``), else ``JDZHI_DATABASE_URL``, else its file."""
    url = database_url or os.environ.get(DATABASE_URL_ENV) or None
    if option is not None:
        return Home(option.expanduser().resolve(), url)
    from_env = os.environ.get(HOME_ENV)
    if from_env:
        return Home(Path(from_env).expanduser().resolve(), url)
    import platformdirs

    return Home(Path(platformdirs.user_data_dir("jdzhi", appauthor=False)), url)


def cache_dir() -> Path:
    """Where jdzhi caches what it can make again: ``JDZHI_CACHE_DIR``, else the user cache
    folder."""
    from_env = os.environ.get(CACHE_ENV)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("jdzhi", appauthor=False))
