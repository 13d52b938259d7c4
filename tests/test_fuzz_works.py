"""Hostile input for the copyright side: design images of every odd shape and pixel mode and
damaged files go through loading and fingerprinting (registration and screening) with only a
clean ``JdzhiError``; damaged `works import` CSVs import whole or store nothing."""

from __future__ import annotations

import io
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import numpy as np
import pytest
from hardening_support import World, build_world, cases, run
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from jdzhi.errors import ExitCode, JdzhiError

ALLOWED = {int(code) for code in ExitCode} - {int(ExitCode.INTERNAL)}


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="jdzhi-fuzz-works-") as folder:
        yield Path(folder)


def _fingerprint(path: Path) -> None:
    """Load ``path`` as a design and fingerprint it both ways, or refuse it cleanly."""
    from jdzhi.similarity.fingerprint import query_fingerprint, work_fingerprint
    from jdzhi.similarity.images import load_image

    try:
        image = load_image(path)
    except JdzhiError as error:
        assert error.message and "\n" not in error.message
        return
    work_fingerprint(image)
    query_fingerprint(image)


@pytest.mark.parametrize(("width", "height"), [
    (32, 32), (31, 500), (32, 60000), (60000, 32), (33, 5000), (5000, 33), (40, 20000),
])
def test_odd_shapes(scratch: Path, width: int, height: int) -> None:
    rng = np.random.default_rng(width * height)
    for name, pixels in (("noise", rng.integers(0, 256, (height, width), dtype=np.uint8)),
                         ("flat", np.full((height, width), 255, dtype=np.uint8))):
        path = scratch / f"{name}-{width}x{height}.png"
        Image.fromarray(pixels).save(path)
        _fingerprint(path)


@pytest.mark.parametrize("mode", ["1", "P", "RGBA", "CMYK", "LA", "I", "F", "I;16", "YCbCr"])
def test_every_pixel_mode(scratch: Path, mode: str) -> None:
    path = scratch / f"mode-{mode.replace(';', '_')}.tiff"
    Image.new(mode, (64, 64)).save(path)
    _fingerprint(path)


@pytest.fixture(scope="module")
def design() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    image = Image.fromarray(rng.integers(0, 256, (96, 128, 3), dtype=np.uint8), "RGB")
    files = {}
    for fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt)
        files[fmt] = buffer.getvalue()
    return files


@cases(80)
@given(st.integers(0, 2**64), st.sampled_from(["PNG", "JPEG", "WEBP", "TIFF"]))
def test_damaged_design_files(scratch: Path, design: dict[str, bytes], seed: int,
                              fmt: str) -> None:
    rng = random.Random(seed)
    path = scratch / f"damaged.{fmt.lower()}"
    for _ in range(5):
        changed = bytearray(design[fmt])
        for _ in range(rng.randint(1, 5)):
            if len(changed) < 2:
                break
            position = rng.randrange(len(changed))
            if rng.random() < 0.6:
                changed[position] = rng.randrange(256)
            else:
                del changed[position:position + rng.randint(1, 64)]
        path.write_bytes(bytes(changed))
        _fingerprint(path)


# --- works import ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("works-world")
    world = build_world(folder, count=1)
    rng = np.random.default_rng(9)
    for number in (1, 2):
        Image.fromarray(rng.integers(0, 256, (80, 80), dtype=np.uint8)).save(
            folder / f"design-{number}.png")
    return world


_names = count()
_IMPORT = ("image,reg_no,title,owner,creation_date\n"
           "design-1.png,{a},青花缠枝莲,景德镇市青云陶瓷有限公司,2025-05-01\n"
           "design-2.png,{b},粉彩花鸟,景德镇市青云陶瓷有限公司,\n")


def _works(world: World) -> int:
    with sqlite3.connect(world.home.db_path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM works").fetchone()[0])


@cases(60)
@given(st.integers(0, 2**64))
def test_damaged_works_import_files(world: World, seed: int) -> None:
    """Through `jdzhi works import` (the contract): a documented exit code, one line of error,
    and a refused file stores nothing."""
    rng = random.Random(seed)
    number = next(_names)
    text = _IMPORT.format(a=f"赣作登字-2026-F-{number:08d}",
                          b=f"赣作登字-2026-F-{number + 10**7:08d}")
    folder = world.home.path.parent
    for attempt in range(4):
        changed = bytearray(text.encode("utf-8"))
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(changed))
            choice = rng.random()
            if choice < 0.4:
                changed[position] = rng.randrange(256)
            elif choice < 0.7:
                changed[position:position + 1] = rng.choice((b",", b'"', b"\n", b"/", b".."))
            else:
                del changed[position:position + rng.randint(1, 20)]
        path = folder / f"works-{number}-{attempt}.csv"
        path.write_bytes(bytes(changed))
        before = _works(world)
        try:
            result = run(world.home.path, "works", "import", str(path))
        finally:
            path.unlink()
        assert result.exit_code in ALLOWED, result.output
        assert "internal error" not in result.output, result.output
        if result.exit_code == 0:
            assert _works(world) > before
        else:
            assert result.stderr.startswith("error: ")
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
            assert _works(world) == before
