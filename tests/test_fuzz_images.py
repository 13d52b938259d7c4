"""Hostile images for `jdzhi scan`: every pixel mode and odd shape, damaged files of every format
PIL reads here, and decompression bombs declared in each format's header. Scanning one gives a
verdict (``unreadable`` at worst), never another exception."""

from __future__ import annotations

import io
import random
import struct
import tempfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hardening_support import World, build_world, cases
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from jdzhi.images import UnreadableImage, load_gray
from jdzhi.trace.scanning.decode import UNREADABLE, scan_photo
from jdzhi.trace.trust.bundle import decode_bundle
from jdzhi.trace.trust.model import Trust

NOW = datetime(2026, 3, 11, tzinfo=UTC)
FORMATS = ("PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("image-world"), count=1)


@pytest.fixture(scope="module")
def trust(world: World) -> Trust:
    from jdzhi.trace.keys.keyfile import read_public_key

    return decode_bundle(world.bundle.read_bytes(),
                         read_public_key(world.authority_public_key), now=NOW)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="jdzhi-fuzz-images-") as folder:
        yield Path(folder)


@pytest.fixture(scope="module")
def label_files(world: World) -> dict[str, bytes]:
    """A genuine label's QR code, saved in every format."""
    from jdzhi.trace.labels.qr import encode

    image = encode(world.lines()[0]["label"]).to_image(scale=3).convert("RGB")
    files = {}
    for name in FORMATS:
        buffer = io.BytesIO()
        image.save(buffer, format=name)
        files[name] = buffer.getvalue()
    return files


def _scan(trust: Trust, path: Path) -> str:
    outcomes = scan_photo(path, trust, now=NOW)
    assert outcomes
    for outcome in outcomes:
        assert outcome.reasons or outcome.verdict == "genuine"
        assert all("\n" not in reason for reason in outcome.reasons)
    return outcomes[0].verdict


def test_every_format_of_a_genuine_label_scans_genuine(
    trust: Trust, scratch: Path, label_files: dict[str, bytes]
) -> None:
    for name, content in label_files.items():
        path = scratch / f"label.{name.lower()}"
        path.write_bytes(content)
        assert _scan(trust, path) == "genuine", name


_MODES = ("1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LA", "I", "F", "I;16")


@pytest.mark.parametrize(("width", "height"), [
    (1, 1), (2, 2), (1, 5000), (5000, 1), (3, 7000), (20000, 1), (1, 20000), (7000, 3),
])
def test_odd_shapes(trust: Trust, scratch: Path, width: int, height: int) -> None:
    path = scratch / f"odd-{width}x{height}.png"
    Image.new("L", (width, height), 200).save(path)
    assert _scan(trust, path) == UNREADABLE


@pytest.mark.parametrize("mode", _MODES)
def test_every_pixel_mode(trust: Trust, scratch: Path, mode: str) -> None:
    path = scratch / f"mode-{mode.replace(';', '_')}.tiff"
    Image.new(mode, (64, 48)).save(path)
    assert _scan(trust, path) == UNREADABLE


@cases(150)
@given(st.integers(1, 3000), st.integers(1, 3000), st.sampled_from(["1", "L", "RGB", "P"]),
       st.sampled_from(["PNG", "BMP", "GIF", "TIFF"]), st.integers(0, 2**32 - 1))
def test_any_size_and_content(trust: Trust, scratch: Path, width: int, height: int, mode: str,
                              fmt: str, seed: int) -> None:
    if width * height > 1_500_000:
        width, height = width // 4 + 1, height // 4 + 1
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width), dtype=np.uint8)
    path = scratch / f"any.{fmt.lower()}"
    Image.fromarray(pixels, "L").convert(mode).save(path, format=fmt)
    _scan(trust, path)


@cases(250)
@given(st.integers(0, 2**64), st.sampled_from(FORMATS))
def test_damaged_files_of_every_format(trust: Trust, scratch: Path,
                                       label_files: dict[str, bytes], seed: int,
                                       fmt: str) -> None:
    """Byte edits of a real label image: a verdict for each, never an exception."""
    rng = random.Random(seed)
    original = label_files[fmt]
    path = scratch / f"damaged.{fmt.lower()}"
    for _ in range(8):
        changed = bytearray(original)
        for _ in range(rng.randint(1, 6)):
            if len(changed) < 2:
                break
            position = rng.randrange(len(changed))
            kind = rng.choice(("replace", "replace", "insert", "delete", "truncate"))
            if kind == "replace":
                changed[position] = rng.randrange(256)
            elif kind == "insert":
                changed[position:position] = rng.randbytes(rng.randint(1, 16))
            elif kind == "delete":
                del changed[position:position + rng.randint(1, 64)]
            else:
                del changed[max(position, 1):]
        path.write_bytes(bytes(changed))
        _scan(trust, path)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png_declaring(width: int, height: int, data: bytes = b"") -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(data)) + _png_chunk(b"IEND", b""))


def _gif_declaring(width: int, height: int) -> bytes:
    return (b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00"
            + b"\x00\x00\x00\xff\xff\xff" + b"," + struct.pack("<HHHH", 0, 0, width, height)
            + b"\x00\x02\x02\x44\x01\x00;")


def _bmp_declaring(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 0, 0, 0, 0, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 1024, 0, 0, 14 + 40 + 1024) + info + bytes(
        1024)


def _tiff_declaring(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height),
               (279, 4, 1, 1)]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value) for tag, kind, count, value in entries
    ) + b"\x00\x00\x00\x00"
    return b"II*\x00" + struct.pack("<I", 9) + b"\x00" + ifd


def _jpeg_declaring(width: int, height: int) -> bytes:
    small = io.BytesIO()
    Image.new("L", (8, 8), 128).save(small, format="JPEG")
    data = small.getvalue()
    marker = data.index(b"\xff\xc0")
    return (data[:marker + 5] + struct.pack(">HH", height, width) + data[marker + 9:])


@pytest.mark.parametrize(("name", "content"), [
    ("png-65535-square", _png_declaring(65535, 65535)),
    ("png-2^31-wide", _png_declaring(2**31 - 1, 1)),
    ("png-108-megapixels-no-data", _png_declaring(12_000, 9_000)),
    ("gif-65535-square", _gif_declaring(65535, 65535)),
    ("bmp-60000-square", _bmp_declaring(60000, 60000)),
    ("bmp-negative-height", _bmp_declaring(30000, -30000)),
    ("tiff-100000-square", _tiff_declaring(100_000, 100_000)),
    ("jpeg-65535-square", _jpeg_declaring(65535, 65535)),
    ("png-zero-size", _png_declaring(0, 0)),
])
def test_decompression_bombs_and_impossible_headers(trust: Trust, scratch: Path, name: str,
                                                    content: bytes) -> None:
    path = scratch / f"{name}.img"
    path.write_bytes(content)
    assert len(content) < 20_000
    with pytest.raises(UnreadableImage):
        load_gray(path)
    assert _scan(trust, path) == UNREADABLE


def test_a_real_compressed_bomb_is_refused_before_decoding(trust: Trust, scratch: Path) -> None:
    """12,000 x 9,000 black pixels compress to a tiny PNG; decoding them would take 108 MB."""
    rows = (b"\x00" + bytes(12_000)) * 9_000
    path = scratch / "bomb.png"
    path.write_bytes(_png_declaring(12_000, 9_000, rows))
    assert path.stat().st_size < 200_000
    with pytest.raises(UnreadableImage, match="decompression bomb"):
        load_gray(path)
