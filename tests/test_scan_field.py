"""`jdzhi scan` on hard field photos: the rates the issue asks for, and each rescue piece.

The photos come from benchmarks/field_photos.py (a simulator independent of jdzhi's own): real
signed labels at 10-17 mm, bent, tilted, blurred, glared, noisy and JPEG-compressed, over the
porcelain photos when present (generated glazes otherwise). Fixed seeds, 12 photos per band.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import Invoke
from label_support import label_of, scan_json, signed_batch
from PIL import Image

from benchmarks.field_photos import BANDS, field_photo, label_art, porcelain_photos
from jdzhi.home import Home
from jdzhi.trace.labels.qr import encode
from jdzhi.trace.scanning import _enhance as enhance
from jdzhi.trace.scanning import _grid as grid
from jdzhi.trace.scanning import _locate as locate
from jdzhi.trace.scanning._rescue import rescue
from jdzhi.trace.scanning.decode import decode_gray

#: photos per band, and the first seed (development looked at seeds below 1,000 only in bulk)
PER_BAND, FIRST_SEED = 12, 500
#: the least share of each band that must scan genuine (the issue's targets)
REQUIRED = {"mild": 1.0, "medium": 0.97, "hard": 0.80}
#: a label-like text of 147 characters: a version-6 symbol at level M
TEXT = "HTTPS://TRACE.EXAMPLE.CN/V/" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 3 + "ABCDEFGHIJKL" * 2


def test_field_photos_scan_genuine_at_the_issue_rates(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, entries = signed_batch(cli, tmp_path, monkeypatch, PER_BAND)
    arts = [label_art(label_of(entry)) for entry in entries]
    backgrounds = porcelain_photos()
    photos: dict[str, list[str]] = {}
    for name, band in BANDS.items():
        photos[name] = []
        for index, art in enumerate(arts):
            photo = tmp_path / f"{name}-{index}.jpg"
            photo.write_bytes(field_photo(art, band, FIRST_SEED + index, backgrounds).jpeg)
            photos[name].append(str(photo))
    _, results, _ = scan_json(cli, *(path for paths in photos.values() for path in paths),
                              "--no-log")
    serial_of = {str(tmp_path / f"{name}-{index}.jpg"): entry["serial"]
                 for name in BANDS for index, entry in enumerate(entries)}
    # no photo yields a genuine verdict for any serial but its own label's
    assert all(r["serial"] == serial_of[r["image"]] for r in results if r["verdict"] == "genuine")
    counts = {name: len({r["image"] for r in results if r["verdict"] == "genuine"} & set(paths))
              for name, paths in photos.items()}
    for name, paths in photos.items():
        assert counts[name] >= math.ceil(REQUIRED[name] * len(paths)), counts


def _symbol_photo(geometry: grid.Geometry, modules: np.ndarray, shape: tuple[int, int],
                  blur: float = 0.0) -> np.ndarray:
    """The symbol drawn through ``geometry`` into a light frame of ``shape``, every pixel
    sampled at 4 x 4 points (so edges are antialiased), then blurred by ``blur`` pixels."""
    import cv2

    size = geometry.size
    height, width = shape
    # invert the geometry numerically: map a fine module-space grid forward, splat it back
    fine = 12
    steps = (np.arange(-4 * fine, (size + 4) * fine) + 0.5) / fine
    u, v = np.meshgrid(steps, steps)
    points = geometry.to_image(np.stack([u.ravel(), v.ravel()], axis=1))
    inside = (u.ravel() >= 0) & (u.ravel() < size) & (v.ravel() >= 0) & (v.ravel() < size)
    dark = np.zeros(u.size, dtype=bool)
    dark[inside] = modules[v.ravel()[inside].astype(int), u.ravel()[inside].astype(int)]
    total = np.zeros(shape)
    count = np.zeros(shape)
    x = np.clip(np.round(points[:, 0]).astype(int), 0, width - 1)
    y = np.clip(np.round(points[:, 1]).astype(int), 0, height - 1)
    np.add.at(total, (y, x), np.where(dark, 30.0, 220.0))
    np.add.at(count, (y, x), 1)
    image = np.where(count > 0, total / np.maximum(count, 1), 220.0).astype(np.float32)
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    return np.asarray(image.clip(0, 255), dtype=np.uint8)


def test_function_modules_are_those_of_real_symbols() -> None:
    for text in ("HELLO", TEXT, TEXT * 3):
        symbol = encode(text, max_version=40)
        rows, cols, light = grid.function_modules(symbol.size)
        inside = (rows >= 0) & (rows < symbol.size) & (cols >= 0) & (cols < symbol.size)
        dark = symbol.modules[rows[inside].astype(int), cols[inside].astype(int)]
        assert np.array_equal(dark, light[inside] < 0.5)
        assert np.all(light[~inside] == 1)  # the quiet ring
        assert inside.sum() > 3 * 64


def test_a_rendered_reading_decodes() -> None:
    symbol = encode(TEXT)
    texts = decode_gray(grid.rendered(symbol.modules))
    assert [decoded.text for decoded in texts] == [TEXT]


def test_the_grid_is_fitted_through_perspective_and_bend_from_rough_finder_centres() -> None:
    symbol = encode(TEXT)
    size = symbol.size
    truth = grid.Geometry(size, np.array([[60.0, 80.0], [300.0, 50.0], [330.0, 310.0],
                                          [40.0, 290.0]]), (0.1, 0.0, -0.05, 0.0))
    photo = _symbol_photo(truth, symbol.modules, (380, 400), blur=1.2)
    finders = truth.to_image(np.array([[3.5, 3.5], [size - 3.5, 3.5], [3.5, size - 3.5]]))
    rough = finders + np.array([[2.0, -1.5], [-1.0, 2.0], [1.5, 1.0]])  # a module or so off
    module = 240 / size
    image = enhance.normalised(photo, 3 * module)
    start = grid.from_finders(size, *rough)
    fitted, _ = grid.fit(image, module, start)
    centres = np.stack(np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5), -1)
    centres = centres.reshape(-1, 2)
    error = np.hypot(*(fitted.to_image(centres) - truth.to_image(centres)).T)
    assert error.mean() < 0.2 * module
    readings = grid.readings(grid.module_values(image, fitted))
    assert any(np.array_equal(dark, symbol.modules) for dark in readings)
    # the unfitted start, read the same way, is not the symbol: the fit did the work
    assert not any(np.array_equal(dark, symbol.modules)
                   for dark in grid.readings(grid.module_values(image, start)))


def test_undoing_the_blur_on_the_grid_fixes_modules_a_threshold_gets_wrong() -> None:
    symbol = encode(TEXT)
    size = symbol.size
    geometry = grid.Geometry(size, np.array([[20.0, 20.0], [20.0 + 2.6 * size, 20.0],
                                             [20.0 + 2.6 * size, 20.0 + 2.6 * size],
                                             [20.0, 20.0 + 2.6 * size]]))
    photo = _symbol_photo(geometry, symbol.modules, (150, 150), blur=1.5)
    values = grid.module_values(enhance.normalised(photo, 8.0), geometry)
    thresholded, deblurred = (np.sum(dark != symbol.modules) for dark in grid.readings(values))
    assert thresholded > 20 and deblurred < thresholded / 4


def test_deconvolution_separates_modules_a_two_pixel_blur_has_merged() -> None:
    import cv2

    symbol = encode(TEXT).modules
    modules = np.pad(np.kron(symbol, np.ones((3, 3), dtype=bool)), 12)  # 3 pixels a module
    photo = cv2.GaussianBlur(np.where(modules, 40.0, 230.0).astype(np.float32), (0, 0), 2.0)
    photo += np.random.default_rng(7).normal(0, 2, photo.shape).astype(np.float32)
    photo = photo.clip(0, 255).astype(np.uint8)

    def wrong(image: np.ndarray) -> int:
        centres = enhance.normalised(image, 9.0)[13::3, 13::3][:len(symbol), :len(symbol)]
        return int(np.sum((centres < 0) != symbol))

    assert wrong(photo) > 150  # a threshold cannot read a symbol blurred this much
    assert wrong(enhance.deconvolved(photo, 2.0)) < 20
    flat = np.full((60, 80), 200, dtype=np.uint8)  # keeps the grey level of flat paper
    assert np.array_equal(enhance.deconvolved(flat, 2.0), flat)


#: hard field photos (on generated glazes) of small, blurred symbols that neither one zxing-cpp
#: pass nor the rescue passes read before those undid the blur (found by running the earlier
#: scanner on seeds 600-659: it read 47 of the 60, this one 55, all it read before among them)
DEBLURRED_SEEDS = (610, 613, 624, 633)


def test_hard_field_photos_read_once_the_blur_is_undone() -> None:
    import zxingcpp

    from jdzhi.trace.labels.layout import LabelData, SheetSpec
    from jdzhi.trace.labels.png import label_image

    art = label_art(label_image(LabelData("1001", TEXT, "样本陶瓷", "青花"), encode(TEXT),
                                SheetSpec()))
    for seed in DEBLURRED_SEEDS:
        photo = field_photo(art, BANDS["hard"], seed, [])
        assert photo.params["blur_sigma"] > 1.2 and photo.params["symbol_px"] < 200
        gray = np.asarray(Image.open(io.BytesIO(photo.jpeg)).convert("L"))
        assert not any(barcode.valid for barcode in zxingcpp.read_barcodes(gray))
        assert [decoded.text for decoded in decode_gray(gray)] == [TEXT], seed


def test_even_light_leaves_modules_dark_and_light_under_glare() -> None:
    symbol = encode(TEXT)
    modules = np.kron(symbol.modules, np.ones((6, 6), dtype=bool))
    paper = np.linspace(80, 250, modules.shape[1])[None, :]  # shade to glare across the symbol
    photo = np.where(modules, paper * 0.45, paper).astype(np.uint8)
    even = enhance.normalised(photo, 18.0)
    centres = even[3::6, 3::6]
    assert np.array_equal(centres < 0, symbol.modules)
    assert not np.array_equal(photo[3::6, 3::6] < photo.mean(), symbol.modules)


def test_the_texture_detector_finds_a_blurred_symbol_without_finder_patterns() -> None:
    import cv2

    rng = np.random.default_rng(3)
    frame = np.full((1200, 1600), 200, dtype=np.uint8)
    for _ in range(40):  # strokes and rims: edges running one way
        start = rng.integers(0, [1600, 1200])
        cv2.line(frame, tuple(int(v) for v in start), tuple(int(v) for v in start
                 + rng.integers(-400, 400, 2)), 60, int(rng.integers(2, 12)))
    symbol = np.kron(encode(TEXT).modules, np.ones((3, 3), dtype=bool))
    frame[700:700 + symbol.shape[0], 1100:1100 + symbol.shape[1]] = np.where(symbol, 40, 235)
    frame = cv2.GaussianBlur(frame, (0, 0), 2.0)
    regions = locate.texture_regions(frame)
    centre = (1100 + symbol.shape[1] / 2, 700 + symbol.shape[0] / 2)
    assert math.dist(regions[0].centre, centre) < symbol.shape[0] / 2


def test_regions_are_merged_strongest_first() -> None:
    regions = locate.merged([locate.Region((100.0, 100.0), 80.0, "located"),
                             locate.Region((120.0, 110.0), 200.0, "texture"),
                             locate.Region((400.0, 100.0), 80.0, "finders")])
    assert [region.source for region in regions] == ["located", "finders"]


@pytest.mark.parametrize("shape", [(1, 1), (1, 3000), (3000, 1), (21, 21), (300, 300)])
def test_rescue_on_images_without_a_symbol_finds_nothing(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    for image in (np.zeros(shape, np.uint8), rng.integers(0, 256, shape, dtype=np.uint8)):
        assert rescue(image, []) == []


def test_the_regions_looked_at_hold_the_symbol_in_hard_field_photos() -> None:
    import zxingcpp

    from jdzhi.trace.labels.layout import LabelData, SheetSpec
    from jdzhi.trace.labels.png import label_image
    from jdzhi.trace.scanning import _rescue as _qr_rescue
    from jdzhi.trace.scanning._finders import finder_patterns, finder_triples

    label = LabelData("1001", TEXT, "样本陶瓷", "青花")
    art = label_art(label_image(label, encode(TEXT), SheetSpec()))
    held = 0
    for seed in range(FIRST_SEED, FIRST_SEED + 6):
        photo = field_photo(art, BANDS["hard"], seed, [])
        gray = np.asarray(Image.open(io.BytesIO(photo.jpeg)).convert("L"))
        located = [b for b in zxingcpp.read_barcodes(gray, return_errors=True) if not b.valid]
        triples = [tuple(p.center for p in trio)
                   for trio in finder_triples(finder_patterns(gray))]
        regions = locate.merged([*locate.from_positions(located), *locate.from_finders(triples),
                                 *locate.texture_regions(gray)])[:_qr_rescue.MAX_REGIONS]
        corners = np.array(photo.params["symbol_corners"])
        for region in regions:
            side, _ = _qr_rescue._framing(region, gray.shape)
            _, origin = enhance.crop(gray, region.centre, side)
            if np.all(corners >= origin) and np.all(corners <= np.array(origin) + side):
                held += 1
                break
    assert held >= 5, held
