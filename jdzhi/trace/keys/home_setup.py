"""``jdzhi init``: a home's registry, authority key and label base, each made only once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from jdzhi.errors import InvalidState, KeyUnusable
from jdzhi.registry import audit
from jdzhi.registry.db import InitResult, initialize, open_registry, transaction
from jdzhi.trace.formats.labels import DEFAULT_BASE_URL
from jdzhi.trace.keys.authority import AuthorityResult, ensure_authority
from jdzhi.trace.trust.from_registry import BASE_URL_SETTING, given_base_url, setting

if TYPE_CHECKING:
    from jdzhi.home import Home

__all__ = ["HomeSetup", "initialize_home"]


@dataclass(frozen=True)
class HomeSetup:
    """What :func:`initialize_home` found or made: the registry, the authority key, the label
    base."""

    registry: InitResult
    authority: AuthorityResult
    base_url: str


def initialize_home(home: Home, passphrase: bytes | None, base_url: str | None, *,
                    simulated_clock: bool = False) -> HomeSetup:
    """``jdzhi init``: the registry, the authority key and the label base, each made only once.

    ``passphrase`` protects a new authority key (it may be None when the key exists already).
    A ``base_url`` other than the stored one is refused rather than silently changed.
    ``simulated_clock`` makes a new home honour ``JDZHI_NOW`` (a demo's home).
    """
    if base_url is not None:
        given_base_url(base_url)
    if passphrase is None and not home.authority_key_path.exists():
        raise KeyUnusable("a passphrase is needed to create the authority key")
    registry = initialize(home, simulated_clock=simulated_clock)
    db = open_registry(home)
    try:
        stored = setting(db, BASE_URL_SETTING)
        if stored is not None and base_url is not None and base_url != stored:
            raise InvalidState(
                f"the registry's label base is {stored}; `jdzhi init` does not change it"
            )
        authority = ensure_authority(home, db, passphrase)
        if stored is None:
            with transaction(db):
                stored = setting(db, BASE_URL_SETTING)  # again: another init may have set it
                if stored is None:
                    stored = base_url or DEFAULT_BASE_URL
                    db.execute("INSERT INTO trace_settings (name, value) VALUES (?, ?)",
                               [BASE_URL_SETTING, stored])
                    audit.record_row_change(db, action="setting.set", table="trace_settings",
                                            key=BASE_URL_SETTING, before=None)
    finally:
        db.close()
    return HomeSetup(registry, authority, stored)
