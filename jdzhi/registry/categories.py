"""Product categories a license may cover (青花 blue-and-white, 玲珑 linglong, ...).

Each category has a short ASCII ``code`` used in files and on the command line, Chinese and English
names, and a small ``label_code`` (1-255) that compact encodings such as QR payloads carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jdzhi.errors import Conflict, InvalidInput, NotFound
from jdzhi.registry import audit
from jdzhi.registry.db import rows, transaction

if TYPE_CHECKING:
    from jdzhi.registry.db import Database

__all__ = [
    "BUILTIN_CATEGORIES",
    "Category",
    "add_category",
    "find_category",
    "get_category",
    "list_categories",
    "seed_builtin",
]

#: categories every registry starts with: (code, Chinese name, English name, numeric label code)
BUILTIN_CATEGORIES: tuple[tuple[str, str, str, int], ...] = (
    ("qinghua", "青花", "blue-and-white", 1),
    ("linglong", "玲珑", "linglong (rice-grain)", 2),
    ("fencai", "粉彩", "famille-rose", 3),
    ("yanseyou", "颜色釉", "colour-glaze", 4),
    ("qinghua-linglong", "青花玲珑", "blue-and-white linglong", 5),
    ("youlihong", "釉里红", "underglaze red", 6),
    ("doucai", "斗彩", "doucai (contrasting colours)", 7),
    ("gucai", "古彩", "gucai (famille-verte)", 8),
    ("xincai", "新彩", "xincai (overglaze new colours)", 9),
    ("bodiaci", "薄胎瓷", "eggshell porcelain", 10),
    ("diaosuci", "雕塑瓷", "sculptural porcelain", 11),
)

_CODE = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class Category:
    code: str
    name_zh: str
    name_en: str
    label_code: int


def list_categories(db: Database) -> tuple[Category, ...]:
    """Every category, in label-code order."""
    return tuple(
        Category(**row) for row in rows(
            db, "SELECT code, name_zh, name_en, label_code FROM categories ORDER BY label_code"
        )
    )


def find_category(categories: tuple[Category, ...], code_or_name: str) -> Category | None:
    """The category whose code, Chinese name or English name (any case) is ``code_or_name``."""
    wanted = code_or_name.strip()
    folded = wanted.casefold()
    for category in categories:
        if folded in (category.code, category.name_en.casefold()) or wanted == category.name_zh:
            return category
    return None


def get_category(db: Database, code_or_name: str) -> Category:
    """The category named by its code, Chinese name or English name."""
    categories = list_categories(db)
    found = find_category(categories, code_or_name)
    if found is None:
        known = ", ".join(category.code for category in categories)
        raise NotFound(f"no product category {code_or_name.strip()!r} (known: {known})")
    return found


def add_category(
    db: Database,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    label_code: int | None = None,
) -> Category:
    """Register a new category; ``label_code`` defaults to the next free number."""
    code = code.strip().lower()
    name_zh, name_en = name_zh.strip(), name_en.strip()
    if not _CODE.fullmatch(code):
        raise InvalidInput(
            f"category code {code!r} must start with a letter and use only a-z, 0-9 and '-' "
            "(at most 32 characters)"
        )
    if not name_zh or not name_en:
        raise InvalidInput("a category needs both a Chinese and an English name")
    if label_code is not None and not 1 <= label_code <= 255:
        raise InvalidInput(f"label code {label_code} is outside 1-255")
    with transaction(db):
        existing = list_categories(db)
        for category in existing:
            if code == category.code or find_category((category,), name_zh) or find_category(
                (category,), name_en
            ):
                raise Conflict(
                    f"category {category.code!r} ({category.name_zh}, {category.name_en}) "
                    "already uses that code or name"
                )
        used = {category.label_code for category in existing}
        if label_code is None:
            free = [number for number in range(1, 256) if number not in used]
            if not free:
                raise Conflict("all 255 category label codes are in use")
            label_code = free[0]
        elif label_code in used:
            raise Conflict(f"label code {label_code} is already used by another category")
        category = Category(code=code, name_zh=name_zh, name_en=name_en, label_code=label_code)
        _insert(db, category, reason="added")
    return category


def seed_builtin(db: Database) -> tuple[Category, ...]:
    """Insert the built-in categories that the registry lacks (with audit entries)."""
    added: list[Category] = []
    with transaction(db):
        existing = list_categories(db)
        used_labels = {category.label_code for category in existing}
        for code, name_zh, name_en, label_code in BUILTIN_CATEGORIES:
            if find_category(existing, code) or find_category(existing, name_zh) or (
                label_code in used_labels
            ):
                continue
            category = Category(code=code, name_zh=name_zh, name_en=name_en,
                                label_code=label_code)
            _insert(db, category, reason="built-in")
            added.append(category)
    return tuple(added)


def _insert(db: Database, category: Category, *, reason: str) -> None:
    db.execute(
        "INSERT INTO categories (code, name_zh, name_en, label_code) VALUES (?, ?, ?, ?)",
        [category.code, category.name_zh, category.name_en, category.label_code],
    )
    audit.record_row_change(db, action="category.add", table="categories", key=category.code,
                            before=None, details={"reason": reason})
