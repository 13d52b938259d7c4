"""`jdzhi label`: PDF sheets, PNG and SVG labels, decoded back with the real QR decoder."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from conftest import Invoke
from label_support import signed_batch
from PIL import Image

from jdzhi.errors import ExitCode
from jdzhi.home import CACHE_ENV, Home

#: what the labels carry, and all a test reads back (as `jdzhi scan` does): any format would
#: now and then find a linear barcode in a QR code's modules (once "9500", with random keys)
QR_CODES = zxingcpp.BarcodeFormat.QRCode


def _pdf_inline_qr_texts(pdf: Path) -> list[str]:
    """Decode every QR bitmap drawn in the PDF's page streams (the bits exactly as printed)."""
    data = pdf.read_bytes()
    texts: list[str] = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", data, flags=re.S):
        try:
            content = zlib.decompress(match.group(1))
        except zlib.error:
            continue
        for image in re.finditer(rb"BI /W (\d+) /H (\d+) /BPC 1 /CS /G /F /AHx ID ([0-9a-f]+)> EI",
                                 content):
            size = int(image.group(1))
            bits = np.unpackbits(np.frombuffer(bytes.fromhex(image.group(3).decode()), np.uint8))
            rows = bits.reshape(size, -1)[:, :size].astype(np.uint8) * 255
            big = Image.fromarray(rows).resize((size * 4, size * 4), Image.Resampling.NEAREST)
            texts += [b.text for b in zxingcpp.read_barcodes(big, formats=QR_CODES)]
    return texts


def test_pdf_sheet_holds_every_label_and_embeds_the_cjk_font(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed, entries = signed_batch(cli, tmp_path, monkeypatch, 45)
    out = tmp_path / "sheet.pdf"
    result = cli("label", str(signed), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # 50 x 25 mm labels on A4 with 10 mm margins and 2 mm gaps: 3 x 10 per page
    assert summary["labels"] == 45 and summary["pages"] == 2 and summary["format"] == "pdf"
    assert summary["max_qr_version"] <= 6 and summary["level"] == "M"
    assert _pdf_inline_qr_texts(out) == [entry["label"] for entry in entries]
    data = out.read_bytes()
    assert data.count(b"/FontFile2") == 1  # the subset Noto Sans SC, embedded once
    assert b"/BaseFont /AAAAAA+NotoSansSC-Regular" in data  # a subset (tagged name)


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler's pdftoppm not installed")
def test_pdf_renders_and_its_codes_scan_from_the_page(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed, entries = signed_batch(cli, tmp_path, monkeypatch, 6)
    out = tmp_path / "sheet.pdf"
    assert cli("label", str(signed), "--out", str(out)).exit_code == 0
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(out), str(tmp_path / "page")],
                   check=True)
    (page,) = tmp_path.glob("page*.png")
    found = sorted(b.text for b in zxingcpp.read_barcodes(Image.open(page), formats=QR_CODES))
    assert found == sorted(entry["label"] for entry in entries)


def test_png_and_svg_folders_one_file_per_serial(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed, entries = signed_batch(cli, tmp_path, monkeypatch, 3)
    pngs = tmp_path / "png"
    result = cli("label", str(signed), "--out", str(pngs), "--dpi", "300")
    assert result.exit_code == 0, result.output
    assert "Wrote 3 PNG labels" in result.stdout
    for entry in entries:
        image = Image.open(pngs / f"{entry['serial']}.png")
        assert image.size == (591, 295)  # 50 x 25 mm at 300 dpi
        assert [b.text for b in zxingcpp.read_barcodes(image, formats=QR_CODES)] == [entry["label"]]
        # the text column is not blank: the mark and the lines were drawn
        text_area = np.asarray(image)[:, 320:]
        assert (text_area < 128).mean() > 0.02
    svgs = tmp_path / "svg"
    assert cli("label", str(signed), "--out", str(svgs), "--format", "svg").exit_code == 0
    root = ET.parse(svgs / "1001.svg").getroot()
    assert root.get("width") == "50mm" and root.get("height") == "25mm"
    paths = root.findall(".//{http://www.w3.org/2000/svg}path")
    assert len(paths) == 6  # the QR code and five lines of text as outlines
    assert "景德镇制" in (root.findtext("{http://www.w3.org/2000/svg}title") or "")


def test_label_options_change_the_grid_and_refuse_what_does_not_fit(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed, _ = signed_batch(cli, tmp_path, monkeypatch, 5)
    out = tmp_path / "a5.pdf"
    result = cli("label", str(signed), "--out", str(out), "--page", "a5", "--width", "40",
                 "--height", "20", "--columns", "2", "--rows", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pages"] == 2
    too_many = cli("label", str(signed), "--out", str(tmp_path / "x.pdf"), "--columns", "9")
    assert too_many.exit_code == ExitCode.INVALID_INPUT
    assert "do not fit a A4 page" in too_many.stderr and not (tmp_path / "x.pdf").exists()
    square = cli("label", str(signed), "--out", str(tmp_path / "y.pdf"), "--width", "20",
                 "--height", "20")
    assert square.exit_code == ExitCode.INVALID_INPUT and "no room for the text" in square.stderr


def test_refuses_to_overwrite(cli: Invoke, initialized: Home, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    signed, _ = signed_batch(cli, tmp_path, monkeypatch, 2)
    out = tmp_path / "sheet.pdf"
    out.write_bytes(b"precious")
    result = cli("label", str(signed), "--out", str(out))
    assert result.exit_code == ExitCode.CONFLICT and "never overwrites" in result.stderr
    assert out.read_bytes() == b"precious"
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "1002.png").write_bytes(b"precious")
    result = cli("label", str(signed), "--out", str(folder))
    assert result.exit_code == ExitCode.CONFLICT
    assert sorted(p.name for p in folder.iterdir()) == ["1002.png"]  # nothing half-written


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist"),
    (b"", "holds no records"),
    (b"not json\n", "line 1: not a JSON object"),
    (b'{"serial": "1"}\n', "line 1: missing text field 'label'"),
    (b"\xff\xfe\n", "not UTF-8"),
    (b'{"serial":"1","label":"HTTPS://X/' + b"A" * 200 + b'","enterprise":"e","category":"c"}',
     "serial 1: label text of 210 characters needs a QR symbol larger than version 6"),
    (b'{"serial":"1","label":"A","enterprise":"e","category":"c"}\n'
     b'{"serial":"1","label":"B","enterprise":"e","category":"c"}\n', "serial 1 appears twice"),
    (b'{"serial":"1","label":"A","enterprise":"a\\rb","category":"c"}',
     "line 1: the enterprise must be one line of printable text"),
    ('{"serial":"1","label":"A","enterprise":"e","category":"\U0001F3FA"}'.encode(),
     "the label font has no glyph"),
])
def test_bad_signed_files_are_one_line_errors_and_write_nothing(
        cli: Invoke, tmp_path: Path, content: bytes | None, message: str) -> None:
    source = tmp_path / "signed.jsonl"
    if content is not None:
        source.write_bytes(content)
    out = tmp_path / "out.pdf"
    result = cli("label", str(source), "--out", str(out))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "jdzhi-home")
    assert not out.exists() and left == (["signed.jsonl"] if content is not None else [])


def test_big_batches_encode_in_worker_processes_in_order_and_fail_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64
    import random

    from jdzhi.errors import InvalidInput
    from jdzhi.trace.labels.layout import LabelData
    from jdzhi.trace.labels.sheets import render_labels

    monkeypatch.setenv("JDZHI_WORKERS", "2")
    monkeypatch.setenv("JDZHI_NOW", "2026-03-10T09:00:00+08:00")  # one creation time for both
    rng = random.Random(3)
    batch = [LabelData(str(i), "HTTPS://TRACE.EXAMPLE.CN/V/"
                       + base64.b32encode(rng.randbytes(77)).decode().rstrip("="),
                       "青云陶瓷", "青花") for i in range(600)]
    out = tmp_path / "big.pdf"
    run = render_labels(batch, out)
    assert run.pages == 20 and run.max_version == 6
    assert _pdf_inline_qr_texts(out) == [label.text for label in batch]
    # the serial path writes the very same file: same symbols, same order, same bytes
    monkeypatch.setenv("JDZHI_WORKERS", "0")
    serial = tmp_path / "serial.pdf"
    assert render_labels(batch, serial).pages == 20
    assert serial.read_bytes() == out.read_bytes()
    serial.unlink()
    monkeypatch.setenv("JDZHI_WORKERS", "2")
    batch[555] = LabelData("555", "HTTPS://TRACE.EXAMPLE.CN/V/" + "A" * 200, "青云陶瓷", "青花")
    failed = tmp_path / "failed.pdf"
    with pytest.raises(InvalidInput, match=r"^serial 555: label text of 227 characters"):
        render_labels(batch, failed)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "jdzhi-home") == ["big.pdf"]


def test_an_unwritable_output_is_a_clean_error(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed, _ = signed_batch(cli, tmp_path, monkeypatch, 1)
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"")
    folder = cli("label", str(signed), "--out", str(a_file / "labels"))
    assert folder.exit_code == ExitCode.INVALID_INPUT, folder.output
    assert folder.stderr.startswith(f"error: cannot create the folder {a_file / 'labels'}")
    if Path("/proc/self").is_dir():  # a folder no one may create files in, even root
        pdf = cli("label", str(signed), "--out", "/proc/sheet.pdf")
        assert pdf.exit_code == ExitCode.INVALID_INPUT, pdf.output
        assert pdf.stderr.startswith("error: cannot write /proc/sheet.pdf")


def test_the_prepared_font_is_cached_and_a_damaged_cache_file_is_made_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fontTools.ttLib import TTFont

    from jdzhi.trace.labels import fonts

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    characters = "景德镇制青云陶瓷青花"
    fonts.pdf_font_file.cache_clear()
    made = fonts.pdf_font_file(characters)
    (cached,) = (tmp_path / "cache" / "fonts").iterdir()
    assert cached.read_bytes()[32:] == made
    assert {ord(ch) for ch in characters} <= set(TTFont(io.BytesIO(made)).getBestCmap())

    def no_subsetting(characters: str) -> bytes:
        raise AssertionError("the font was subset again instead of read from the cache")

    fonts.pdf_font_file.cache_clear()
    with monkeypatch.context() as patched:
        patched.setattr(fonts, "_subset_font", no_subsetting)
        assert fonts.pdf_font_file(characters) == made
    for damage in (cached.read_bytes()[:5000], cached.read_bytes()[:-1] + b"x"):  # cut, changed
        cached.write_bytes(damage)
        fonts.pdf_font_file.cache_clear()
        assert fonts.pdf_font_file(characters) == made  # made again, not the damaged copy
        assert cached.read_bytes()[32:] == made
    assert sorted(p.name for p in cached.parent.iterdir()) == [cached.name]  # no temporaries


def test_an_unusable_cache_folder_only_costs_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jdzhi.trace.labels import fonts
    from jdzhi.trace.labels.layout import LabelData
    from jdzhi.trace.labels.sheets import render_labels

    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")
    monkeypatch.setenv(CACHE_ENV, str(blocker))
    fonts.pdf_font_file.cache_clear()
    out = tmp_path / "sheet.pdf"
    label = LabelData("1", "HTTPS://TRACE.EXAMPLE.CN/V/ABC", "青云陶瓷", "青花")
    assert render_labels([label], out).labels == 1
    assert _pdf_inline_qr_texts(out) == [label.text]


def test_pdf_metadata_is_true_and_every_font_is_embedded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jdzhi.trace.labels.layout import LabelData
    from jdzhi.trace.labels.sheets import render_labels

    monkeypatch.setenv("JDZHI_NOW", "2026-05-04T10:20:30+08:00")
    batch = [LabelData(f"JDZ-{i}", f"HTTPS://TRACE.EXAMPLE.CN/V/ABC{i}", name, "青花")
             for i, name in enumerate(("Qingyun", "Lotus Kiln", "Qingyun"))]
    out = tmp_path / "meta.pdf"
    render_labels(batch, out)
    data = out.read_bytes()
    assert b"/CreationDate (D:20260504022030+00'00')" in data  # JDZHI_NOW, in UTC
    assert b"D:20000101" not in data
    assert b"/Author (Qingyun, Lotus Kiln)" in data  # each enterprise once
    assert b"/Subject (3 QR traceability labels, serials JDZ-0 to JDZ-2)" in data
    assert b"/Helvetica" not in data  # no font is referenced without being embedded
    assert len(re.findall(rb"/BaseFont /", data)) == data.count(b"/FontFile2") == 1

def test_cut_marks_outline_each_label(tmp_path: Path) -> None:
    from jdzhi.trace.labels.layout import LabelData, SheetSpec
    from jdzhi.trace.labels.sheets import render_labels

    label = LabelData("1", "HTTPS://TRACE.EXAMPLE.CN/V/ABC", "青云陶瓷", "青花")
    def streams(path: Path) -> bytes:
        found = b""
        for match in re.finditer(rb"stream\r?\n(.*?)endstream", path.read_bytes(), flags=re.S):
            try:
                found += zlib.decompress(match.group(1))
            except zlib.error:
                continue
        return found

    plain, marked = tmp_path / "plain.pdf", tmp_path / "marked.pdf"
    render_labels([label], plain)
    render_labels([label], marked, spec=SheetSpec(cut_marks=True))
    assert b" re" not in streams(plain)
    assert b" re S" in streams(marked) or b" re\nS" in streams(marked), streams(marked)
    assert _pdf_inline_qr_texts(marked) == [label.text]


def test_an_image_file_name_for_many_labels_is_refused(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed, _ = signed_batch(cli, tmp_path, monkeypatch, 2)
    out = tmp_path / "labels.png"
    result = cli("label", str(signed), "--out", str(out))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert "use --out DIR/ or a .pdf" in result.stderr
    assert not out.exists()
