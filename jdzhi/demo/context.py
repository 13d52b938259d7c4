"""What the steps of ``jdzhi demo`` share and what they report.

The demo is a list of small steps (:data:`jdzhi.demo.story.STEPS`) that share one
:class:`DemoContext`. Each step does one real thing with the library (nothing is simulated) and
returns a :class:`StepReport`: a few narrated lines for people and a JSON-ready ``data`` dict for
tools. Later steps read what earlier ones left in the context (``ctx.home``, ``ctx.sample_path``,
``ctx.facts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jdzhi.home import Home

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "DEFAULT_SEED",
    "DEMO_PASSPHRASE",
    "PASSPHRASE_FILE",
    "DemoContext",
    "DemoResult",
    "Step",
    "StepReport",
    "VerdictRow",
    "yes",
]

DEFAULT_SEED = 7
#: the passphrase of every key the demo makes: DEMO ONLY, written beside the keys on purpose
DEMO_PASSPHRASE = "demo-only passphrase, not a secret"
PASSPHRASE_FILE = "DEMO-PASSPHRASE.txt"


@dataclass
class DemoContext:
    """What the steps share: the demo folder, its home, the clock, and facts steps left."""

    folder: Path
    home: Home
    now: datetime
    seed: int = DEFAULT_SEED
    sample_path: Path | None = None
    passphrase: bytes = DEMO_PASSPHRASE.encode()
    #: every verdict the story met, in order, for the closing table
    verdicts: list[VerdictRow] = field(default_factory=list)
    #: free-form results of earlier steps, keyed by step, for later steps
    facts: dict[str, Any] = field(default_factory=dict)
    #: what the demo undoes on its way out, even when a step fails (a server a step started)
    cleanup: ExitStack = field(default_factory=ExitStack)

    @contextmanager
    def registry(self) -> Iterator[Database]:
        from jdzhi.registry.db import open_registry

        db = open_registry(self.home)
        try:
            yield db
        finally:
            db.close()

    def subfolder(self, name: str) -> Path:
        """A folder of the demo's, made when first asked for."""
        path = self.folder / name
        path.mkdir(exist_ok=True)
        return path


@dataclass(frozen=True)
class VerdictRow:
    """One verdict the story met: what was checked, how, what the library said and what the
    story expects (a mismatch is shown, never hidden)."""

    step: str
    subject: str
    method: str
    verdict: str
    expected: str

    @property
    def as_expected(self) -> bool:
        return self.verdict == self.expected


@dataclass(frozen=True)
class StepReport:
    """What one step of the story did: its ``key`` and ``title``, the ``lines`` narrated under
    the title, and the ``data`` that the JSON report holds for it."""

    key: str
    title: str
    lines: tuple[str, ...]
    data: dict[str, Any]


@dataclass(frozen=True)
class DemoResult:
    folder: Path
    home: Home
    steps: tuple[StepReport, ...]
    verdicts: tuple[VerdictRow, ...] = ()
    #: every file the demo wrote, relative to ``folder`` (the home's files included)
    files: tuple[str, ...] = ()

    @property
    def all_as_expected(self) -> bool:
        return all(row.as_expected for row in self.verdicts)


Step = Callable[[DemoContext], StepReport]


def yes(flag: bool) -> str:
    return "yes" if flag else "no"
