"""QR traceability labels from SIGNED.jsonl: print-ready PDF sheets, or one PNG or SVG per label.

The batch driver: it reads the records, encodes their QR symbols (on worker processes for a big
batch) and hands them to one writer (:mod:`.pdf`, :mod:`.png`, :mod:`.svg`); where things go on a
label is :mod:`.layout`'s.

Everything is checked before anything is written: every line of the SIGNED.jsonl file, every QR
symbol against the version limit, every output path (existing files are never overwritten). The
PDF is written to a temporary file and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from jdzhi.errors import Conflict, InvalidInput
from jdzhi.files import write_new
from jdzhi.inputs import parse_json, read_jsonl_lines
from jdzhi.trace.labels.layout import LabelData, SheetSpec
from jdzhi.trace.labels.qr import ErrorCorrection, QrSymbol

__all__ = [
    "ImageFormat",
    "LabelRun",
    "Progress",
    "check_glyphs",
    "encode_labels",
    "file_name_for",
    "iter_symbols",
    "label_file",
    "read_signed",
    "render_labels",
]

Progress = Callable[[int], None]


class ImageFormat(StrEnum):
    PNG = "png"
    SVG = "svg"


#: suffixes that name one image file: labels go one file per label into a folder, so an output
#: named like this is a mistake (a folder "labels.png" would surprise everyone)
_IMAGE_SUFFIXES = frozenset({".png", ".svg", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp",
                             ".webp"})




def read_signed(path: Path) -> list[LabelData]:
    """The labels of a SIGNED.jsonl file (``serial``, ``label``, enterprise and category fields)."""
    labels: list[LabelData] = []
    seen: set[str] = set()
    for number, line in read_jsonl_lines(path):
        try:
            entry = parse_json(line)
        except json.JSONDecodeError:
            raise InvalidInput(f"{path} line {number}: not a JSON object") from None
        if not isinstance(entry, dict):
            raise InvalidInput(f"{path} line {number}: not a JSON object")
        label = _label_from_entry(entry, f"{path} line {number}")
        if label.serial in seen:
            raise InvalidInput(f"{path} line {number}: serial {label.serial} appears twice")
        seen.add(label.serial)
        labels.append(label)
    if not labels:
        raise InvalidInput(f"{path} holds no records")
    return labels


def _label_from_entry(entry: dict[str, Any], where: str) -> LabelData:
    def text_field(*names: str) -> str:
        for name in names:
            value = entry.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        raise InvalidInput(f"{where}: missing text field {names[0]!r}")

    fields = {name: text_field(*names) for name, names in (
        ("serial", ("serial",)),
        ("text", ("label",)),
        ("enterprise", ("enterprise_short_name", "enterprise")),
        ("category", ("category_name_zh", "category_name", "category")),
    )}
    for name, value in fields.items():
        limit = 1000 if name == "text" else 64
        if len(value) > limit or not value.isprintable():
            raise InvalidInput(f"{where}: the {name} must be one line of printable text of at "
                               f"most {limit} characters")
    return LabelData(**fields)


@dataclass(frozen=True)
class LabelRun:
    """What :func:`render_labels` wrote."""

    out: Path
    kind: str  # "pdf", "png" or "svg"
    labels: int
    pages: int
    files: tuple[Path, ...]
    max_version: int
    level: str


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def file_name_for(serial: str, extension: str) -> str:
    """The file name of one label: the serial, with anything unsafe in a path replaced by ``_``."""
    stem = _SAFE_NAME.sub("_", serial).lstrip(".") or "_"
    return f"{stem}.{extension}"


def check_glyphs(labels: Sequence[LabelData]) -> None:
    """Refuse text the label font cannot show (it would print as empty boxes)."""
    from jdzhi.trace.labels.fonts import missing_characters

    missing = missing_characters("".join(f"{lab.enterprise}{lab.category}{lab.serial}"
                                         for lab in labels))
    if missing:
        raise InvalidInput(f"the label font has no glyph for {missing!r}")


def encode_labels(labels: Sequence[LabelData], spec: SheetSpec,
                  progress: Progress | None = None, *, parallel: bool = False
                  ) -> list[QrSymbol]:
    """The QR symbol of every label; refuses any above the version limit (names the serial)."""
    symbols = []
    for symbol in iter_symbols(labels, spec, parallel=parallel):
        symbols.append(symbol)
        if progress is not None:
            progress(1)
    return symbols


def iter_symbols(labels: Sequence[LabelData], spec: SheetSpec, *,
                 parallel: bool) -> Iterator[QrSymbol]:
    """The QR symbols in order; with ``parallel``, a big batch is encoded by worker processes
    meanwhile (:mod:`jdzhi.parallel`: ``JDZHI_WORKERS`` sets their number), so that on two
    cores the workers encode ahead while this process writes the PDF."""
    from jdzhi.parallel import map_chunks

    jobs = [(label.serial, label.text) for label in labels]
    yield from map_chunks(_encode_chunk, (spec.level, spec.max_version), jobs,
                          preload="jdzhi.trace.labels.sheets", parallel=parallel)


def _encode_chunk(context: tuple[ErrorCorrection, int],
                  job: Sequence[tuple[str, str]]) -> list[QrSymbol]:
    from jdzhi.trace.labels.qr import UnencodableText, encode_many

    level, max_version = context
    try:
        return encode_many([text for _, text in job], level=level, max_version=max_version)
    except UnencodableText as error:
        raise InvalidInput(f"serial {job[error.index][0]}: {error.message}") from None


def render_labels(
    labels: Sequence[LabelData],
    out: Path,
    *,
    spec: SheetSpec | None = None,
    image_format: ImageFormat = ImageFormat.PNG,
    progress: Progress | None = None,
    parallel: bool = False,
) -> LabelRun:
    """Render ``labels`` to ``out``: a ``.pdf`` file of sheets, else a directory of images.

    ``progress`` is called with counts of labels done (for images: encoded, then drawn);
    ``parallel`` encodes a big batch on every core (:mod:`jdzhi.parallel`).
    """
    spec = spec or SheetSpec()
    spec.check()
    if not labels:
        raise InvalidInput("no labels to render")
    if out.suffix.lower() == ".pdf":
        _check_pdf_target(out, spec)
        check_glyphs(labels)
        return _render_pdf(labels, out, spec, progress, parallel=parallel)
    targets = _image_targets(labels, out, image_format)
    check_glyphs(labels)
    symbols = encode_labels(labels, spec, progress, parallel=parallel)
    _write_images(labels, symbols, out, targets, image_format, spec, progress)
    return LabelRun(out, image_format.value, len(labels), 0, tuple(targets),
                    max(symbol.version for symbol in symbols), spec.level.value)


def _check_pdf_target(out: Path, spec: SheetSpec) -> None:
    spec.grid()
    if out.exists():
        raise Conflict(f"{out} exists; choose another output (jdzhi never overwrites)")
    if not out.parent.is_dir():
        raise InvalidInput(f"the folder {out.parent} does not exist")


def _image_targets(labels: Sequence[LabelData], out: Path,
                   image_format: ImageFormat) -> list[Path]:
    """The file of each label in the folder ``out``; checks that none exists yet."""
    if out.exists() and not out.is_dir():
        raise Conflict(f"{out} exists and is not a folder")
    if out.suffix.lower() in _IMAGE_SUFFIXES and not out.is_dir():
        raise InvalidInput(f"{out} names one image, but labels are written one file per label "
                           "into a folder: use --out DIR/ or a .pdf")
    targets = [out / file_name_for(label.serial, image_format.value) for label in labels]
    if len(set(targets)) != len(targets):
        raise InvalidInput("two serials map to the same file name; use a PDF instead")
    existing = [t for t in targets if t.exists()]
    if existing:
        raise Conflict(f"{existing[0]} exists ({len(existing)} label files in all); "
                       "jdzhi never overwrites: choose an empty folder")
    return targets


def _render_pdf(labels: Sequence[LabelData], out: Path, spec: SheetSpec,
                progress: Progress | None, *, parallel: bool) -> LabelRun:
    from jdzhi.trace.labels.pdf import write_pdf

    versions: list[int] = []

    def noting_versions() -> Generator[QrSymbol, None, None]:
        for symbol in iter_symbols(labels, spec, parallel=parallel):
            versions.append(symbol.version)
            yield symbol

    # closing: an error or Ctrl-C while drawing stops the workers before it propagates
    with contextlib.closing(noting_versions()) as stream:
        # start the encoders now, so that they work while write_pdf prepares the font
        first = next(stream)
        pages = write_pdf(labels, itertools.chain([first], stream), out, spec, progress)
    return LabelRun(out, "pdf", len(labels), pages, (out,), max(versions), spec.level.value)


def _write_images(labels: Sequence[LabelData], symbols: Sequence[QrSymbol], out: Path,
                  targets: Sequence[Path], image_format: ImageFormat, spec: SheetSpec,
                  progress: Progress | None) -> None:
    from jdzhi.trace.labels.png import label_png
    from jdzhi.trace.labels.svg import label_svg

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidInput(f"cannot create the folder {out}: {error.strerror}") from None
    for label, symbol, target in zip(labels, symbols, targets, strict=True):
        if image_format is ImageFormat.SVG:
            data = label_svg(label, symbol, spec).encode("utf-8")
        else:
            data = label_png(label, symbol, spec)
        write_new(target, data, durable=False)  # one of many, made again from SIGNED.jsonl
        if progress is not None:
            progress(1)


def label_file(signed: Path, out: Path, *, spec: SheetSpec | None = None,
               image_format: ImageFormat = ImageFormat.PNG,
               progress: Progress | None = None, parallel: bool = False) -> LabelRun:
    """Labels for every record of a SIGNED.jsonl file (what ``jdzhi label`` runs)."""
    return render_labels(read_signed(signed), out, spec=spec, image_format=image_format,
                         progress=progress, parallel=parallel)
