"""jdzhi.trace.labels.qr: the version/level contract, both encoders, real-decoder round trips."""

from __future__ import annotations

import base64
import random
import string

import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st

from jdzhi.errors import InvalidInput
from jdzhi.trace.labels.qr import ErrorCorrection, UnencodableText, encode, encode_many

BASE = "HTTPS://TRACE.EXAMPLE.CN/V/"


def _label(payload: bytes) -> str:
    return BASE + base64.b32encode(payload).decode().rstrip("=")


def _decode(text_symbol_image: object) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(text_symbol_image)]


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=77))
def test_label_texts_round_trip_within_version_6_at_level_m(payload: bytes) -> None:
    text = _label(payload)
    symbol = encode(text)
    assert symbol.version <= 6 and symbol.level is ErrorCorrection.M
    assert symbol.size == 17 + 4 * symbol.version == symbol.modules.shape[0]
    assert _decode(symbol.to_image(scale=3)) == [text]


def test_77_payload_bytes_are_exactly_version_6() -> None:
    assert encode(_label(bytes(range(77)))).version == 6


def test_a_text_too_long_for_version_6_is_refused_and_lower_level_is_selectable() -> None:
    text = BASE + "A" * 128  # 155 alphanumeric characters: one more than 6-M holds
    with pytest.raises(InvalidInput, match="larger than version 6 at level M"):
        encode(text)
    symbol = encode(text, level="L")
    assert symbol.version == 6 and symbol.level is ErrorCorrection.L
    assert _decode(symbol.to_image(scale=2)) == [text]
    with pytest.raises(InvalidInput, match="at level H"):
        encode(_label(bytes(77)), level="h")


def test_mixed_modes_fall_back_to_the_segment_optimizer() -> None:
    # an uppercase URL followed by digits: zxing-cpp's single mode needs version 8, qrcode fits 6
    text = BASE + "1" * 170
    symbol = encode(text)
    assert symbol.version <= 6
    assert _decode(symbol.to_image(scale=2)) == [text]


@pytest.mark.parametrize("bad", ["", "x" * 5000])
def test_empty_and_huge_texts_are_clean_errors(bad: str) -> None:
    with pytest.raises(InvalidInput):
        encode(bad)


def test_bad_level_and_version_are_clean_errors() -> None:
    with pytest.raises(InvalidInput, match="not one of L, M, Q, H"):
        encode("A", level="X")
    with pytest.raises(InvalidInput, match="between 1 and 40"):
        encode("A", max_version=41)


def test_image_has_a_quiet_zone_and_svg_path_covers_every_dark_module() -> None:
    symbol = encode(_label(b"\x01" * 40))
    image = np.asarray(symbol.to_image(scale=1))
    assert image.shape == (symbol.size + 8, symbol.size + 8)
    assert image[:4].all() and image[:, :4].all()  # light border
    path = symbol.to_svg_path()
    widths = [int(part.split("h")[1].split("v")[0]) for part in path.split("M")[1:]]
    assert sum(widths) == int(symbol.modules.sum())


def _zint_auto(text: str, level: str) -> np.ndarray:
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level=level)
    return np.asarray(barcode.to_image(scale=1, add_quiet_zones=False)) == 0


@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
def test_batch_mask_choice_gives_zints_own_symbols_bit_for_bit(level: str) -> None:
    # texts of versions 1 to 12: the packed scoring (up to version 9, with version information
    # from 7) and zint's own choice beyond it; alphanumeric, numeric and byte texts
    rng = random.Random(level)
    alphabets = [string.ascii_uppercase + string.digits + " $%*+-./:", string.digits,
                 string.ascii_letters + string.punctuation]
    texts = ["".join(rng.choice(rng.choice(alphabets)) for _ in range(length))
             for length in (1, 9, 20, 41, 60, 85, 110, 140, 170, 200, 240, 290, 330)
             for _ in range(2)]
    symbols = encode_many(texts, level=level, max_version=40)
    versions = {symbol.version for symbol in symbols}
    assert 1 in versions and any(7 <= v <= 9 for v in versions) and max(versions) > 9
    for text, symbol in zip(texts, symbols, strict=True):
        assert symbol.text == text and symbol.level.value == level
        assert np.array_equal(symbol.modules, _zint_auto(text, level)), (text, symbol.version)


def test_a_batch_names_the_text_that_does_not_fit() -> None:
    texts = [_label(bytes(20)), _label(bytes(77)), BASE + "A" * 200, ""]
    with pytest.raises(UnencodableText, match="larger than version 6") as raised:
        encode_many(texts)
    assert raised.value.index == 2
    with pytest.raises(UnencodableText, match="cannot be empty") as raised:
        encode_many(texts[:2] + texts[3:])
    assert raised.value.index == 2
    assert encode_many([]) == []
