"""Helpers for the label and scan tests: a workshop that has signed records, label photos."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke
from PIL import Image
from trace_support import add_enterprise, issue_key, lines, records, sign

from jdzhi.trace.labels.layout import LabelData, SheetSpec
from jdzhi.trace.labels.png import label_image
from jdzhi.trace.labels.qr import encode

#: signing time of the records the helpers make (China Standard Time)
SIGNED_AT = "2026-03-10T09:00:00+08:00"


def signed_batch(cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int,
                 *, start: int = 1001) -> tuple[Path, list[dict[str, Any]]]:
    """SIGNED.jsonl of ``count`` genuine records of the test workshop (needs `initialized`)."""
    monkeypatch.setenv("JDZHI_NOW", SIGNED_AT)
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    out, _ = sign(cli, tmp_path, key, records(count, start=start))
    return out, lines(out)


def label_of(entry: dict[str, Any], *, text: str | None = None) -> Image.Image:
    """A rendered 300 dpi label for one SIGNED.jsonl entry (``text`` replaces its QR text)."""
    data = LabelData(serial=entry["serial"], text=text or entry["label"],
                     enterprise=entry["enterprise_short_name"],
                     category=entry["category_name_zh"])
    spec = SheetSpec(dpi=300)
    return label_image(data, encode(data.text, level=spec.level, max_version=40), spec)


def qr_image(text: str, scale: int = 6) -> Image.Image:
    """A bare QR code of any text (even one no label may carry), for adversarial scans."""
    return encode(text, max_version=40).to_image(scale=scale).convert("L")


def scan_json(cli: Invoke, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = cli("scan", *args, "--json")
    return result.exit_code, (json.loads(result.stdout) if result.stdout else []), result.stderr
