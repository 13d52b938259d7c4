"""jdzhi.demo.photosim: the cylinder wrap puts each column where such a cylinder does."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jdzhi.demo.photosim import _wrap_cylinder


@pytest.mark.parametrize("curvature", [0.3, 0.8, 1.2])
@pytest.mark.parametrize("share", [0.1, 0.3, 0.5, 0.75])
def test_a_column_appears_where_the_cylinder_puts_it(curvature: float, share: float) -> None:
    width = 1001
    label = np.full((12, width), 255, dtype=np.uint8)
    column = round(share * (width - 1))
    label[:, column] = 0
    wrapped = _wrap_cylinder(label, curvature)
    # arc position s in [-1, 1] of the label's half-width appears at sin(s c) / sin(c)
    arc = column / (width - 1) * 2 - 1
    expected = (math.sin(arc * curvature) / math.sin(curvature) + 1) / 2 * (width - 1)
    darkest = int(np.argmin(wrapped[6]))
    assert abs(darkest - expected) <= 1.5
    assert wrapped.shape == label.shape


def test_no_curvature_leaves_the_label_as_it_is() -> None:
    label = np.arange(200, dtype=np.uint8).reshape(10, 20)
    assert _wrap_cylinder(label, 0.0) is label
