"""The passes ``jdzhi scan`` runs on a photo zxing-cpp cannot read as it is.

Each place a symbol may be (:mod:`jdzhi.trace._qr_locate`) is cut out, scaled so that its modules
get a few pixels each, and its light evened out (:mod:`jdzhi.trace._qr_enhance`); zxing-cpp reads
that crop with both its binarizers, sharpened and not. When it still cannot, the finder patterns
found in the crop give the start for fitting the symbol's grid to the photo and reading it module
by module (:mod:`jdzhi.trace._qr_grid`). Every pass stops at the first text it decodes; the work
per photo is bounded by counts (regions, finder triples, sizes), not by a clock, so a photo gives
the same answer on every machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from jdzhi.trace._qr_locate import Region

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Gray = npt.NDArray[np.uint8]

#: regions worked on per photo, strongest source first
MAX_REGIONS = 4
#: finder-pattern triples fitted per region
MAX_TRIPLES = 2
#: a region's symbol is scaled to about this many pixels across (5-6 per module of a version-6
#: symbol), at most this many times up
SYMBOL_PIXELS, MAX_UPSCALE = 240.0, 3.0

GRID_PASS = "grid"

Reader = Callable[..., list[str]]


def rescue(gray: Gray, located: Sequence[Any], read: Reader) -> list[tuple[str, str]]:
    """(text, pass name) of the codes found in ``gray`` by the rescue passes (first that reads).

    ``located``: zxing-cpp's results for symbols it found but could not decode;
    ``read(image, **options)``: zxing-cpp's valid texts in an image.
    """
    from jdzhi.trace import _qr_locate as locate
    from jdzhi.trace.scan import finder_patterns

    triples = _triples_of(finder_patterns(gray))
    regions = locate.merged([*locate.from_positions(located), *locate.from_finders(triples),
                             *locate.texture_regions(gray)])
    for region in regions[:MAX_REGIONS]:
        for name, texts in _region_passes(gray, region, read):
            if texts:
                return [(text, name) for text in texts]
    return []


def _triples_of(patterns: Sequence[Any]) -> list[tuple[tuple[float, float], ...]]:
    from jdzhi.trace.scan import _finder_triples

    return [tuple(pattern.center for pattern in trio) for trio in _finder_triples(patterns)]


def _region_passes(gray: Gray, region: Region, read: Reader
                   ) -> Iterator[tuple[str, list[str]]]:
    """(pass name, texts read) for one region, cheapest pass first, lazily."""
    import numpy as np
    import zxingcpp

    from jdzhi.trace import _qr_enhance as enhance
    from jdzhi.trace import _qr_grid as grid
    from jdzhi.trace._qr_locate import crop_side

    patch, origin = enhance.crop(gray, region.centre, crop_side(region))
    if min(patch.shape) < 21:
        return
    factor = min(max(SYMBOL_PIXELS / region.side, 1.0), MAX_UPSCALE)
    scaled = enhance.rescaled(patch, factor)
    module = region.side * factor / 41  # a guess until the finder patterns say
    even = enhance.normalised(scaled, 2.5 * module)
    crisp = enhance.sharpened(even, 0.8 * module, 1.0)
    views = {"region-even": enhance.to_gray(even), "region-sharpened": enhance.to_gray(crisp)}
    for name, view in views.items():
        yield name, read(view)
        yield name, read(view, binarizer=zxingcpp.Binarizer.GlobalHistogram)
    if region.corners is not None and region.modules is not None:
        corners = (np.array(region.corners) - origin) * factor
        start = grid.Geometry(region.modules, corners)
        module = float(np.hypot(*(corners[1] - corners[0]))) / region.modules
        yield from _grid_reads(scaled, module, start, read, search=False)
    yield from _grid_passes(scaled, list(views.values()), read)


def _grid_reads(scaled: Gray, module: float, start: Any, read: Reader, *, search: bool
                ) -> Iterator[tuple[str, list[str]]]:
    """The symbol read module by module on the grid fitted from ``start``."""
    from jdzhi.trace import _qr_enhance as enhance
    from jdzhi.trace import _qr_grid as grid

    image = enhance.normalised(scaled, 3 * module)
    geometry, _ = grid.fit(image, module, start, search=search)
    for dark in grid.readings(grid.module_values(image, geometry)):
        yield GRID_PASS, read(grid.rendered(dark), is_pure=True)


def _grid_passes(scaled: Gray, views: list[Gray], read: Reader
                 ) -> Iterator[tuple[str, list[str]]]:
    """Symbols read module by module from each finder triple found in the views."""
    import cv2
    import numpy as np

    from jdzhi.trace import _qr_grid as grid
    from jdzhi.trace.scan import _finder_triples, finder_patterns

    patterns: list[Any] = []
    for view in views:
        for pattern in finder_patterns(view):
            if all(np.hypot(*(np.array(pattern.center) - other.center)) > 3
                   for other in patterns):
                patterns.append(pattern)
    for trio in _finder_triples(patterns)[:MAX_TRIPLES]:
        top_left, top_right, bottom_left = (np.array(f.center) for f in trio)
        module = float(np.mean([np.sqrt(cv2.contourArea(f.outline.astype(np.float32)))
                                for f in trio])) / 7
        for size in grid.symbol_sizes(module, top_left, top_right, bottom_left):
            start = grid.from_finders(size, top_left, top_right, bottom_left)
            yield from _grid_reads(scaled, module, start, read, search=True)
