"""Helpers for the trust-chain tests: a licensed enterprise, keys, CSV files, a clock."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke

from jdzhi.registry.uscc import generate

LICENSE_NO = "JDZ-GI-2026-0001"


def set_now(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setenv("JDZHI_NOW", when)


def add_enterprise(cli: Invoke, *, license_no: str = LICENSE_NO, seed: int = 5,
                   categories: str = "qinghua,fencai", valid_from: str = "2026-01-01",
                   valid_to: str = "2030-12-31", name: str = "景德镇市青云陶瓷有限公司") -> None:
    uscc = generate(random.Random(seed), division_code="360203")
    result = cli("registry", "add", "--uscc", uscc, "--name", name, "--district", "珠山区",
                 "--license-no", license_no, "--categories", categories,
                 "--valid-from", valid_from, "--valid-to", valid_to)
    assert result.exit_code == 0, result.output


def issue_key(cli: Invoke, tmp_path: Path, *, enterprise: str = LICENSE_NO,
              name: str = "workshop.key") -> Path:
    out = tmp_path / name
    result = cli("keys", "issue", enterprise, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    return out


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def records(count: int, *, start: int = 1001, batch: str = "B1", category: str = "qinghua",
            day: str = "2026-03-01") -> list[dict[str, str]]:
    return [{"serial": str(start + i), "batch": batch, "category": category,
             "production_date": day} for i in range(count)]


def sign(cli: Invoke, tmp_path: Path, key: Path, rows: list[dict[str, str]],
         name: str = "signed.jsonl") -> tuple[Path, dict[str, Any]]:
    source = write_csv(tmp_path / f"{name}.csv", rows)
    out = tmp_path / name
    result = cli("sign", str(source), "--key", str(key), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def forged_label(label: str) -> str:
    """``label`` with one full base32 symbol of its signature changed: its bytes always differ
    (replacing the tail with "AAA" left them unchanged when it read so already, and the last
    symbol may carry padding bits only)."""
    return label[:-3] + ("B" if label[-3] == "A" else "A") + label[-2:]
