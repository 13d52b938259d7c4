"""How `verify` and `scan` show verdicts: one block per label, reasons wrapped under a bullet,
the testing center's word (a fail stands out), and one summary line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from jdzhi.commands import _common as common

if TYPE_CHECKING:
    from jdzhi.trace.verification.result import EndorsementStatus

STYLE = {"genuine": "bold green", "tampered": "bold red", "unknown-key": "bold red",
         "revoked": "bold red", "suspended": "bold yellow", "expired": "bold magenta",
         "malformed": "bold red", "suspected-clone": "bold magenta", "unreadable": "bold yellow",
         "stale-trust": "bold yellow", "recalled": "bold red"}


def print_verdict(headline: str, verdict: str, subject: str, reasons: Iterable[str],
                  endorsement: EndorsementStatus | None) -> None:
    """``headline`` in the verdict's colour, then ``subject`` (serial and enterprise), the reasons
    (wrapped with a hanging indent at any width) and the testing center's outcome."""
    common.out.print(f"[{STYLE.get(verdict, 'bold')}]{escape(headline)}[/] {escape(subject)}",
                     highlight=False)
    lines = Table.grid(padding=(0, 1))
    lines.add_column(no_wrap=True)
    lines.add_column(overflow="fold")
    for reason in reasons:
        lines.add_row("  •", escape(reason))
    if endorsement is not None and endorsement.status != "none":
        style = "green" if endorsement.status == "pass" else "bold red"
        lines.add_row("  ", f"testing center: [{style}]{escape(endorsement.status.upper())}[/] "
                            f"({escape(endorsement.lab or '')}, report "
                            f"{escape(endorsement.report_no or '')})")
    if lines.row_count:
        common.out.print(lines, highlight=False, soft_wrap=False)


def print_summary(verdicts: Iterable[str], noun: str) -> None:
    """``3 codes: 2 genuine, 1 revoked`` (genuine first, then the others by name)."""
    counts = Counter(verdicts)
    order = sorted(counts, key=lambda verdict: (verdict != "genuine", verdict))
    common.out.print(f"{common.plural(sum(counts.values()), noun)}: "
                     + ", ".join(f"{counts[verdict]} {verdict}" for verdict in order),
                     highlight=False)
