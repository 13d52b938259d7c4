"""Where jdzhi keeps its state: the home directory and the files in it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CACHE_ENV", "HOME_ENV", "Home", "cache_dir", "resolve_home"]

HOME_ENV = "JDZHI_HOME"
#: where jdzhi keeps what it can make again (prepared fonts, compiled kernels)
CACHE_ENV = "JDZHI_CACHE_DIR"


@dataclass(frozen=True)
class Home:
    """A jdzhi home: the registry database and the keys of the service center."""

    path: Path

    @property
    def db_path(self) -> Path:
        return self.path / "registry.db"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def authority_key_path(self) -> Path:
        return self.keys_dir / "authority.key"

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"


def resolve_home(option: Path | None = None) -> Home:
    """The home from ``--home``, else ``JDZHI_HOME``, else the platform's user data directory."""
    if option is not None:
        return Home(option.expanduser().resolve())
    from_env = os.environ.get(HOME_ENV)
    if from_env:
        return Home(Path(from_env).expanduser().resolve())
    import platformdirs

    return Home(Path(platformdirs.user_data_dir("jdzhi", appauthor=False)))


def cache_dir() -> Path:
    """Where jdzhi caches what it can make again: ``JDZHI_CACHE_DIR``, else the user cache
    folder."""
    from_env = os.environ.get(CACHE_ENV)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("jdzhi", appauthor=False))
