"""``jdzhi registry categories``: the product categories a license may cover."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from jdzhi.commands import _common as common

if TYPE_CHECKING:
    from jdzhi.registry.categories import Category

__all__ = ["app"]

app = typer.Typer(
    help="Product categories a license may cover. Without a subcommand: list them.",
    invoke_without_command=True,
)


@app.callback()
def categories_main(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    if ctx.invoked_subcommand is None:
        _list_categories(ctx, as_json)


@app.command("list")
def categories_list(ctx: typer.Context, as_json: common.JsonOption = False) -> None:
    """List the product categories."""
    _list_categories(ctx, as_json)


def _list_categories(ctx: typer.Context, as_json: bool) -> None:
    from jdzhi.registry.categories import list_categories

    with common.registry_of(ctx) as db:
        found = list_categories(db)
    if common.listing(as_json, found, _category_json):
        return
    table = common.result_table("product categories", ("code", "whole"), ("中文", "whole"),
                                ("English", "fold"), ("label code", "number"))
    for category in found:
        table.add_row(category.code, category.name_zh, escape(category.name_en),
                      str(category.label_code))
    common.out.print(table)


def _category_json(category: Category) -> dict[str, Any]:
    return {"code": category.code, "name_zh": category.name_zh, "name_en": category.name_en,
            "label_code": category.label_code}


@app.command("add")
def categories_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short ASCII code, e.g. kehua.")],
    name_zh: Annotated[str, typer.Option("--zh", help="Chinese name, e.g. 刻花.")],
    name_en: Annotated[str, typer.Option("--en", help="English name, e.g. carved.")],
    label_code: Annotated[int | None, typer.Option(
        "--label-code", min=1, max=255,
        help="Number 1-255 carried on labels. Default: the next free one.")] = None,
    as_json: common.JsonOption = False,
) -> None:
    """Add a product category licenses may cover.

    Example: jdzhi registry categories add kehua --zh 刻花 --en carved
    """
    from jdzhi.registry.categories import add_category

    with common.registry_of(ctx) as db:
        category = add_category(db, code=code, name_zh=name_zh, name_en=name_en,
                                label_code=label_code)
    if as_json:
        common.emit_json(_category_json(category))
    else:
        common.out.print(f"[green]Added[/] category {category.code} ({category.name_zh}, "
                         f"{escape(category.name_en)}), label code {category.label_code}")
