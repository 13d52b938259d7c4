"""``jdzhi recall``: recall single items or whole batches, and list the recalls.

``jdzhi recall ENTERPRISE --serials 12,13-20 --reason TEXT`` (or ``--batch B07``) recalls;
``jdzhi recall list`` lists. Verifiers then call those items ``recalled``, with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from jdzhi._format.recalls import recall_json
from jdzhi.commands import _common as common

if TYPE_CHECKING:
    from jdzhi.trace.recalls.store import Recall

__all__ = ["app"]

_RECALL_COMMAND = "items"


class _RecallGroup(TyperGroup):
    """``jdzhi recall ENTERPRISE ...`` runs the ``items`` command (the word may be left out);
    ``list`` lists."""

    # ``Any``: Click's Context type lives in a private module of Typer
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [_RECALL_COMMAND, *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


app = typer.Typer(
    cls=_RecallGroup,
    help="Recall items (serials or a whole batch) so that every verifier calls them recalled; "
         "list the recalls.\n\n"
         "`jdzhi recall ENTERPRISE (--serials 12,13-20 | --batch B07) --reason TEXT "
         "[--effective TIME]`, and `jdzhi recall list`. A recalled item verifies as `recalled` "
         "with the reason (verify, scan, and the phone page through the next trust bundle), "
         "whatever key signed it and whenever.",
    no_args_is_help=True,
)


@app.command(_RECALL_COMMAND)
def items(
    ctx: typer.Context,
    enterprise: Annotated[str, typer.Argument(
        help="Enterprise id, USCC or license number.")],
    reason: Annotated[str, typer.Option(
        "--reason", help="Why, in a sentence: shown by every verifier and kept in the audit log.")],
    serials: Annotated[str | None, typer.Option(
        "--serials", metavar="LIST", help="Serials and ranges, e.g. 12,13-20.")] = None,
    batch: Annotated[str | None, typer.Option(
        "--batch", metavar="BATCH",
        help="A whole batch: every serial the registry signed in it, now and later.")] = None,
    effective: Annotated[str | None, typer.Option(
        "--effective", metavar="TIME",
        help="From when (ISO 8601, may lie in the past or up to a year ahead; no offset = "
             "UTC+08:00). Default: now.")] = None,
    as_json: common.JsonOption = False,
) -> None:
    """Recall serials or a batch of an enterprise (`items` may be left out: `jdzhi recall
    ENTERPRISE --serials 12,13-20 --reason TEXT`).

    Example: jdzhi recall JDZ-GI-2026-0001 --batch B07 --reason "lead above the limit"
    """
    from jdzhi.timeutil import parse_time
    from jdzhi.trace.recalls.store import recall_items

    moment = parse_time(effective, what="--effective") if effective else None
    with common.registry_of(ctx) as db:
        recall = recall_items(db, enterprise, serials=serials, batch=batch, reason=reason,
                              effective_at=moment)
    if as_json:
        common.emit_json(recall_json(recall))
        return
    what = (f"batch {escape(recall.batch)}" if recall.batch is not None
            else common.plural(recall_json(recall)["serial_count"], "serial"))
    common.out.print(
        f"[red]Recalled[/] {what} of {escape(recall.enterprise)} (recall {recall.recall_id}, "
        f"{recall.signed:,} signed) effective {recall.effective_at:%Y-%m-%d %H:%M:%S} UTC: "
        f"{escape(recall.reason)}. Export a fresh trust bundle so that phones learn it.")


@app.command("list")
def list_(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """List every recall: what, of whom, why and from when."""
    from jdzhi.trace.recalls.store import list_recalls

    with common.registry_of(ctx) as db:
        recalls = list_recalls(db)
    if not common.listing(as_json, recalls, recall_json, none="No recalls."):
        _render(recalls)


def _render(recalls: tuple[Recall, ...]) -> None:
    table = common.result_table("Item recalls", ("id", "number"), ("enterprise", "fold"),
                                ("what", "fold"), ("signed", "number"),
                                ("effective (UTC)", "whole"), ("reason", "fold"))
    for recall in recalls:
        shown: dict[str, Any] = recall_json(recall)
        what = (f"batch {recall.batch}" if recall.batch is not None
                else _abbreviated(shown["serials"]))
        table.add_row(str(recall.recall_id), escape(recall.enterprise), escape(what),
                      str(recall.signed), f"{recall.effective_at:%Y-%m-%d %H:%M}",
                      escape(recall.reason))
    common.out.print(table)


def _abbreviated(serials: str, limit: int = 40) -> str:
    return serials if len(serials) <= limit else serials[:limit] + "…"
