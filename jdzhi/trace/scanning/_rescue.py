"""The passes ``jdzhi scan`` runs on a photo zxing-cpp cannot read as it is.

Each place a symbol may be (:mod:`jdzhi.trace.scanning._locate`) is cut out, scaled so that its
modules get a few pixels each, and its light evened out (:mod:`jdzhi.trace.scanning._enhance`);
zxing-cpp reads that crop with both its binarizers: as it is, sharpened, and with a blur of about
two pixels undone (a Wiener filter: what most often keeps a small symbol from reading is blur
wider than half its module). When it still cannot, the symbols it located there and the
finder-pattern triples found in the deblurred crop are the starts for fitting the symbol's grid
to the deblurred crop and reading it module by module (:mod:`jdzhi.trace.scanning._grid`).
Every pass stops at the first text it decodes; the work per photo is bounded by counts (regions,
grid starts), not by a clock, so a photo gives the same answer on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jdzhi.trace.scanning._locate import Region

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from jdzhi.trace.scanning._grid import Geometry

    Gray = npt.NDArray[np.uint8]

#: regions worked on per photo, strongest source first
MAX_REGIONS = 3
#: grid fits per region (symbols zxing-cpp located first, then finder triples) and per photo
#: (on the development photos every symbol the grid read was read by a photo's first fit)
MAX_STARTS, MAX_FITS = 3, 2
#: a located symbol is scaled to about this many pixels across (5-6 per module of a version-6
#: symbol), at most this many times up
SYMBOL_PIXELS, MAX_UPSCALE = 240.0, 3.0
#: a texture region (no size known) is cut as this share of the frame's long side (within the
#: bounds) and scaled to about this many pixels across, at most this many times up
TEXTURE_SHARE, TEXTURE_BOUNDS, TEXTURE_PIXELS, TEXTURE_UPSCALE = 0.3, (320.0, 640.0), 720.0, 2.5

GRID_PASS = "grid"
DEBLURRED_PASS = "region-deblurred"
#: the blur (Gaussian sigma, photo pixels) the deblurred passes undo: about what defocus and
#: hand shake leave on the smallest symbols a phone still reads (measured on simulated photos)
DEBLUR_SIGMA = 2.0


@dataclass
class _Budget:
    """Grid fits (the costly pass, some 60 ms each) left for a photo."""

    fits: int = MAX_FITS

    def take(self) -> bool:
        self.fits -= 1
        return self.fits >= 0


@dataclass(frozen=True)
class _Start:
    """Where a grid fit starts: a rough geometry and the module size in pixels."""

    geometry: Geometry
    module: float


def rescue(gray: Gray, located: Sequence[Any]) -> list[tuple[str, str]]:
    """(text, pass name) of the codes the rescue passes find in ``gray`` (the first region that
    reads); ``located``: zxing-cpp's results for symbols it found but could not decode."""
    from jdzhi.trace.scanning import _locate as locate
    from jdzhi.trace.scanning._finders import finder_patterns, finder_triples

    if min(gray.shape) < 21:  # not even a version-1 symbol's width
        return []
    triples = [tuple(pattern.center for pattern in trio)
               for trio in finder_triples(finder_patterns(gray))]
    regions = locate.merged([*locate.from_positions(located), *locate.from_finders(triples),
                             *locate.texture_regions(gray)])
    budget = _Budget()
    for region in regions[:MAX_REGIONS]:
        for name, texts in _region_passes(gray, region, budget):
            if texts:
                return [(text, name) for text in texts]
    return []


def _read(image: Gray, **options: Any) -> tuple[list[str], list[Any]]:
    """zxing-cpp's decoded texts in ``image`` and its results for QR symbols it located but
    could not decode."""
    import zxingcpp

    texts: list[str] = []
    located = []
    for barcode in zxingcpp.read_barcodes(image,
                                          formats=zxingcpp.barcode_formats_from_str("QRCode"),
                                          return_errors=True, **options):
        if barcode.valid:
            if barcode.text not in texts:
                texts.append(barcode.text)
        else:
            located.append(barcode)
    return texts, located


def _framing(region: Region, shape: tuple[int, ...]) -> tuple[float, float]:
    """The side of the square to cut around a region and the factor to scale it by."""
    if region.source == "texture":  # where, roughly, but not how large
        low, high = TEXTURE_BOUNDS
        side = min(max(TEXTURE_SHARE * max(shape), low), high)
        return side, min(max(TEXTURE_PIXELS / side, 1.0), TEXTURE_UPSCALE)
    factor = min(max(SYMBOL_PIXELS / region.side, 1.0), MAX_UPSCALE)
    return 1.6 * region.side + 40, factor


def _region_passes(gray: Gray, region: Region, budget: _Budget
                   ) -> Iterator[tuple[str, list[str]]]:
    """(pass name, texts read) for one region, cheapest pass first, lazily."""
    import numpy as np
    import zxingcpp

    from jdzhi.trace.scanning import _enhance as enhance
    from jdzhi.trace.scanning import _grid as grid

    side, factor = _framing(region, gray.shape)
    patch, origin = enhance.crop(gray, region.centre, side)
    if min(patch.shape) < 21:
        return
    scaled = enhance.rescaled(patch, factor)
    deblurred = enhance.rescaled(enhance.deconvolved(patch, DEBLUR_SIGMA), factor)
    # a guess until a symbol is found: a small module for a texture region (the upscale is
    # chosen for such), else the region's side over a version-6 symbol's
    module = 3.0 * factor if region.source == "texture" else region.side * factor / 41
    even = enhance.normalised(scaled, 2.5 * module)
    views = {"region-even": enhance.to_gray(even),
             "region-sharpened": enhance.to_gray(enhance.sharpened(even, 0.8 * module, 1.0)),
             DEBLURRED_PASS: enhance.to_gray(enhance.normalised(deblurred, 2.5 * module))}
    starts: list[_Start] = []
    if region.corners is not None and region.modules is not None:
        starts.append(_located_start((np.array(region.corners) - origin) * factor,
                                     region.modules))
    for name, view in views.items():
        for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
            texts, located = _read(view, binarizer=binarizer)
            yield name, texts
            for found in _symbols_of(located):
                starts.append(_located_start(*found))
    # finder patterns survive in the deblurred view where blur has merged their rings
    starts += _finder_starts([views[DEBLURRED_PASS]])
    for start in _distinct(starts)[:MAX_STARTS]:
        if not budget.take():
            return
        # fitted where the blur is undone; read there and as photographed (a label that was
        # sharp to begin with reads best as it is)
        image = enhance.normalised(deblurred, 3 * start.module)
        geometry, _ = grid.fit(image, start.module, start.geometry)
        for fitted in (image, enhance.normalised(scaled, 3 * start.module)):
            for dark in grid.readings(grid.module_values(fitted, geometry)):
                yield GRID_PASS, _read(grid.rendered(dark), is_pure=True)[0]


def _symbols_of(located: Sequence[Any]) -> list[tuple[Any, int]]:
    """(corners, size in modules) of the QR symbols among zxing-cpp's undecoded results."""
    from jdzhi.trace.scanning._locate import from_positions

    return [(region.corners, region.modules) for region in from_positions(located)
            if region.corners is not None and region.modules is not None]


def _located_start(corners: Any, size: int) -> _Start:
    import numpy as np

    from jdzhi.trace.scanning._grid import Geometry

    corners = np.asarray(corners, dtype=float)
    module = float(np.hypot(*(corners[1] - corners[0]))) / size
    return _Start(Geometry(size, corners), module)


def _finder_starts(views: list[Gray]) -> list[_Start]:
    """Grid starts from the finder-pattern triples found in any of the views."""
    import cv2
    import numpy as np

    from jdzhi.trace.scanning import _grid as grid
    from jdzhi.trace.scanning._finders import finder_patterns, finder_triples

    patterns: list[Any] = []
    for view in views:
        for pattern in finder_patterns(view):
            if all(np.hypot(*(np.array(pattern.center) - other.center)) > 3
                   for other in patterns):
                patterns.append(pattern)
    starts = []
    for trio in finder_triples(patterns):
        top_left, top_right, bottom_left = (np.array(f.center) for f in trio)
        # the outer ring of a finder pattern is 7 modules square
        module = float(np.mean([np.sqrt(cv2.contourArea(f.outline.astype(np.float32)))
                                for f in trio])) / 7
        for size in grid.symbol_sizes(module, top_left, top_right, bottom_left):
            starts.append(_Start(grid.from_finders(size, top_left, top_right, bottom_left),
                                 module))
    return starts


def _distinct(starts: list[_Start]) -> list[_Start]:
    """``starts`` without those of the same size whose top-left corner is within three modules
    of an earlier one's."""
    import numpy as np

    kept: list[_Start] = []
    for start in starts:
        if not any(start.geometry.size == other.geometry.size
                   and np.hypot(*(start.geometry.corners[0] - other.geometry.corners[0]))
                   < 3 * other.module for other in kept):
            kept.append(start)
    return kept
