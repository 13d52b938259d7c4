"""Hostile SIGNED.jsonl for `jdzhi label`: damaged files and entries of hostile values (any
Unicode, path tricks in serials, label texts too long for the QR symbol) are rendered to a PDF and
to PNG files, or refused with a ``JdzhiError``; no file is ever written outside the output."""

from __future__ import annotations

import json
import random
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hardening_support import World, build_world, cases
from hypothesis import given
from hypothesis import strategies as st

from jdzhi.errors import JdzhiError
from jdzhi.trace.labels.layout import SheetSpec
from jdzhi.trace.labels.sheets import read_signed, render_labels


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("labels-world"), count=2)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="jdzhi-fuzz-labels-") as folder:
        yield Path(folder)


_names = count()


def _render(scratch: Path, content: bytes) -> None:
    """Read and render one SIGNED.jsonl into a fresh folder: output only inside it."""
    before = set(scratch.rglob("*"))
    folder = scratch / f"run-{next(_names)}"
    folder.mkdir()
    source = folder / "signed.jsonl"
    source.write_bytes(content)
    try:
        labels = read_signed(source)
        for out in (folder / "out" / "sheet.pdf", folder / "out" / "png"):
            out.parent.mkdir(exist_ok=True)
            render_labels(labels, out, spec=SheetSpec(dpi=100))
    except JdzhiError as error:
        assert error.message
    new = set(scratch.rglob("*")) - before
    assert all(path == folder or folder in path.parents for path in new), sorted(map(str, new))


_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["../../escape", "/etc/passwd", "..", ".", "a/b\\c", "CON", "\x00",
                     "1001", "景德镇", "🏺", "\u202e1001", "x" * 300, "HTTPS://TRACE.EXAMPLE.CN/V/"
                     + "A" * 1000, "", " "]),
)


@cases(120)
@given(st.data())
def test_entries_of_hostile_values(world: World, scratch: Path, data: st.DataObject) -> None:
    entries: list[dict[str, Any]] = world.lines()
    for entry in entries:
        for _ in range(data.draw(st.integers(0, 3))):
            name = data.draw(st.sampled_from(["serial", "label", "enterprise",
                                              "enterprise_short_name", "category",
                                              "category_name_zh"]))
            entry[name] = data.draw(_TEXT | st.integers() | st.none() | st.lists(st.integers()))
    _render(scratch, ("\n".join(json.dumps(entry) for entry in entries) + "\n").encode())


@cases(25)
@given(st.integers(0, 2**64))
def test_damaged_signed_files(world: World, scratch: Path, seed: int) -> None:
    rng = random.Random(seed)
    original = world.signed.read_bytes()
    for _ in range(4):
        changed = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(changed))
            if rng.random() < 0.5:
                changed[position] = rng.randrange(256)
            else:
                del changed[position:position + rng.randint(1, 40)]
        _render(scratch, bytes(changed))
