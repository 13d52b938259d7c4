"""Hostile CSV and JSON imports: `registry import` files and `jdzhi sign` records, damaged byte
by byte or built field by field from hostile values. Every outcome is either a clean import or a
``JdzhiError``, and a refused file stores nothing."""

from __future__ import annotations

import json
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hardening_support import PASSPHRASE, World, build_world, cases, ok, run
from hypothesis import given
from hypothesis import strategies as st

from jdzhi.errors import JdzhiError
from jdzhi.registry.entries import COLUMNS
from jdzhi.trace.formats.records import OPTIONAL_COLUMNS
from jdzhi.trace.signing.batch import REQUIRED_COLUMNS as SIGN_COLUMNS

EDITS_PER_SEED = 20
SEEDS = st.integers(0, 2**64)


def mutants(seed: int, data: bytes) -> Iterator[bytes]:
    """Byte edits of ``data`` (replace, insert, delete, truncate, or a CSV special character)."""
    rng = random.Random(seed)
    for _ in range(EDITS_PER_SEED):
        changed = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            kind = rng.choice(("replace", "special", "insert", "delete", "truncate"))
            position = rng.randrange(max(len(changed), 1))
            if kind == "replace" and changed:
                changed[position] = rng.randrange(256)
            elif kind == "special" and changed:
                changed[position:position + 1] = rng.choice(
                    (b",", b'"', b"\n", b"\r", b"\x00", b";", b"\xef\xbc\x8c", b"\xe2\x80\xa8"))
            elif kind == "insert":
                changed[position:position] = rng.randbytes(rng.randint(1, 6))
            elif kind == "delete" and changed:
                del changed[position:position + rng.randint(1, 12)]
            else:
                del changed[position:]
        if changed != data:
            yield bytes(changed)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("csv-world"))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="jdzhi-fuzz-csv-") as folder:
        yield Path(folder)


_names = count()


def _file(scratch: Path, content: bytes, suffix: str) -> Path:
    path = scratch / f"input-{next(_names)}{suffix}"
    path.write_bytes(content)
    return path


def _counts(world: World) -> tuple[int, ...]:
    with sqlite3.connect(world.home.db_path) as conn:
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                     for table in ("enterprises", "licenses", "signed_records", "audit_log"))


# --- registry import ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def registry_files(world: World, scratch: Path) -> dict[str, bytes]:
    files = {}
    for suffix in (".csv", ".json"):
        path = scratch / f"sample{suffix}"
        ok(run(world.home.path, "registry", "sample", "--count", "3", "--seed", "11",
               "--as-of", "2026-03-01", "--out", str(path)))
        files[suffix] = path.read_bytes()
    return files


def _import(world: World, path: Path) -> None:
    """Import through the library into the world's registry: stored whole, or refused cleanly
    with nothing stored."""
    from jdzhi.registry.db import open_registry
    from jdzhi.registry.exchange import import_file

    before = _counts(world)
    db = open_registry(world.home)
    try:
        result = import_file(db, path)
    except JdzhiError as error:
        assert error.message  # the CLI prints it on one line, whatever it quotes
        assert _counts(world) == before
        return
    finally:
        db.close()
        path.unlink()
    after = _counts(world)
    assert after[0] == before[0] + result.count


@cases(80)
@given(SEEDS, st.sampled_from([".csv", ".json"]))
def test_damaged_registry_files(world: World, scratch: Path, registry_files: dict[str, bytes],
                                seed: int, suffix: str) -> None:
    for content in mutants(seed, registry_files[suffix]):
        _import(world, _file(scratch, content, suffix))


_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "2026-02-30", "2026-13-01", "0000-01-01", "9999-12-31",
                     "2026-03-01T25:00", "99999999999999999999", "-1", "1e309", "NaN",
                     "qinghua;;", "qinghua，fencai", "\u2028", "=cmd|' /C calc'!A0", "'",
                     '"', "a" * 500, "JDZ-GI-2026-0001", "91350100M000100Y43", "360203",
                     "revoked", "suspended", "active", "expired"]),
)
_JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


@cases(300)
@given(st.data())
def test_registry_rows_built_from_hostile_values(world: World, scratch: Path,
                                                 registry_files: dict[str, bytes],
                                                 data: st.DataObject) -> None:
    rows: list[dict[str, Any]] = json.loads(registry_files[".json"])
    for row in rows:
        for _ in range(data.draw(st.integers(0, 3))):
            name = data.draw(st.sampled_from([*COLUMNS, "extra"]))
            row[name] = data.draw(_HOSTILE_TEXT)
    if data.draw(st.booleans()):
        lines = [",".join(COLUMNS)]
        for row in rows:
            lines.append(",".join('"' + str(row.get(c) or "").replace('"', '""') + '"'
                                  for c in COLUMNS))
        content, suffix = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"), ".csv"
    else:
        if data.draw(st.booleans()):
            name = data.draw(st.sampled_from(COLUMNS))
            rows[0][name] = data.draw(_JSON_VALUE)
        document: Any = rows if data.draw(st.integers(0, 9)) else data.draw(_JSON_VALUE)
        content, suffix = json.dumps(document).encode(), ".json"
    _import(world, _file(scratch, content, suffix))


# --- jdzhi sign ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def signing_key(world: World) -> Any:
    from jdzhi.trace.keys.keyfile import load_key

    return load_key(world.key, PASSPHRASE.encode())


def _sign(world: World, scratch: Path, key: Any, content: bytes) -> None:
    from jdzhi.registry.db import open_registry
    from jdzhi.trace.signing.batch import sign_csv

    source = _file(scratch, content, ".csv")
    out = scratch / f"{source.stem}.jsonl"
    before = _counts(world)
    db = open_registry(world.home)
    try:
        summary = sign_csv(db, source, key=key, out=out)
    except JdzhiError as error:
        assert error.message  # the CLI prints it on one line, whatever it quotes
        assert _counts(world) == before and not out.exists()
        return
    finally:
        db.close()
        source.unlink()
    assert len(out.read_text(encoding="utf-8").splitlines()) == summary.count


_SIGN_CSV = ("serial,batch,category,production_date,name,ware_class\n"
             "2001,B7,qinghua,2026-03-01,青花碗,daily\n"
             "2002,B7,fencai,2026-02-28,,\n").encode()


@cases(80)
@given(SEEDS)
def test_damaged_records_files(world: World, scratch: Path, signing_key: Any, seed: int) -> None:
    for content in mutants(seed, _SIGN_CSV):
        _sign(world, scratch, signing_key, content)


@cases(300)
@given(st.data())
def test_records_built_from_hostile_values(world: World, scratch: Path, signing_key: Any,
                                           data: st.DataObject) -> None:
    header = data.draw(st.permutations([*SIGN_COLUMNS, *OPTIONAL_COLUMNS]))
    header = header[:data.draw(st.integers(2, len(header)))]
    if data.draw(st.integers(0, 9)) == 0:
        header = [*header, data.draw(st.sampled_from(["serial", "extra", "", " batch"]))]
    base = {"serial": str(data.draw(st.integers(3000, 9999))), "batch": "B9",
            "category": "qinghua", "production_date": "2026-03-02"}
    lines = [",".join(header)]
    for _ in range(data.draw(st.integers(0, 3))):
        values = [base.get(name, "") for name in header]
        for _ in range(data.draw(st.integers(0, 2))):
            values[data.draw(st.integers(0, len(values) - 1))] = data.draw(_HOSTILE_TEXT)
        lines.append(",".join('"' + value.replace('"', '""') + '"' for value in values))
    content = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    _sign(world, scratch, signing_key, content)


# --- lab results and limits -----------------------------------------------------------------------

_NUMBER = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e999999", "1E+1000000", "-0", "0.0001", "sNaN", "0x10", "１", "1_000",
                     " 0.2 ", "", "9" * 400]),
    st.text(max_size=12),
)


@cases(600)
@given(st.lists(st.tuples(st.sampled_from(["flat", "cups", "large", "x", ""]), _NUMBER,
                          _NUMBER), max_size=4),
       st.sampled_from(["ware_class,pb,cd", "ware_class,pb", "pb,cd,ware_class,extra", ""]))
def test_lab_results_files(scratch: Path, rows: list[tuple[str, str, str]], header: str) -> None:
    from jdzhi.trace.endorsements.lab import default_limits, parse_results

    text = header + "\n" + "".join(
        ",".join('"' + value.replace('"', '""') + '"' for value in row) + "\n" for row in rows)
    path = _file(scratch, text.encode("utf-8", "surrogatepass"), ".csv")
    try:
        results = parse_results(path, default_limits())
    except JdzhiError as error:
        assert error.message
        return
    finally:
        path.unlink()
    assert all(result.pb >= 0 and result.cd >= 0 for result in results)


@cases(600)
@given(_JSON_VALUE | st.fixed_dictionaries({}, optional={
    "standard": _JSON_VALUE, "water_absorption": _JSON_VALUE | _NUMBER,
    "limits": st.dictionaries(st.sampled_from(["flat", "cups", "large", "x"]),
                              st.fixed_dictionaries({"pb": _NUMBER | _JSON_VALUE,
                                                     "cd": _NUMBER | _JSON_VALUE}) | _JSON_VALUE,
                              max_size=3)}))
def test_lab_limits_files(scratch: Path, document: Any) -> None:
    from jdzhi.trace.endorsements.lab import load_limits

    path = _file(scratch, json.dumps(document).encode(), ".json")
    try:
        load_limits(path)
    except JdzhiError as error:
        assert error.message
    finally:
        path.unlink()
