"""`jdzhi works`: registering, importing, listing and removing protected works; bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import BOTH_BACKENDS, Invoke
from PIL import Image, ImageDraw

from jdzhi.errors import InvalidInput
from jdzhi.home import Home
from jdzhi.similarity.works import read_import_csv

pytestmark = BOTH_BACKENDS

REG_1 = "国作登字-2024-F-00000001"
REG_2 = "赣作登字-2023-F-00000002"


def design(path: Path, seed: int, size: tuple[int, int] = (320, 260)) -> Path:
    """A generated design: random ellipses, lines and polygons on a light ground."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (245, 242, 235))
    draw = ImageDraw.Draw(image)
    width, height = size
    for _ in range(40):
        x, y = rng.randint(0, width), rng.randint(0, height)
        r = rng.randint(6, 40)
        colour = (rng.randint(0, 200), rng.randint(0, 200), rng.randint(60, 255))
        shape = rng.choice(("ellipse", "line", "polygon"))
        if shape == "ellipse":
            draw.ellipse((x - r, y - r, x + r, y + r), outline=colour, width=rng.randint(1, 4))
        elif shape == "line":
            draw.line((x, y, rng.randint(0, width), rng.randint(0, height)), fill=colour,
                      width=rng.randint(1, 5))
        else:
            draw.polygon([(x + rng.randint(-r, r), y + rng.randint(-r, r)) for _ in range(5)],
                         fill=colour)
    image.save(path)
    return path


def register(cli: Invoke, image: Path, reg_no: str = REG_1, *extra: str) -> object:
    return cli("works", "register", str(image), "--reg-no", reg_no, "--title", "青花缠枝莲纹梅瓶",
               "--owner", "青云陶瓷", *extra)


def test_register_list_show_remove_with_audit(cli: Invoke, initialized: Home,
                                              tmp_path: Path) -> None:
    image = design(tmp_path / "vase.png", 1)
    result = cli("works", "register", str(image), "--reg-no", REG_1, "--title", "梅瓶",
                 "--owner", "青云陶瓷", "--created", "2023-05-01", "--json")
    assert result.exit_code == 0, result.output
    work = json.loads(result.stdout)
    assert (work["reg_no"], work["title"], work["owner"], work["creation_date"],
            work["image"], work["width"], work["height"]) == (
        REG_1, "梅瓶", "青云陶瓷", "2023-05-01", "vase.png", 320, 260)
    listed = json.loads(cli("works", "list", "--json").stdout)
    assert [w["reg_no"] for w in listed] == [REG_1]
    assert json.loads(cli("works", "show", REG_1, "--json").stdout) == work
    assert json.loads(cli("works", "show", str(work["id"]), "--json").stdout) == work
    removed = cli("works", "remove", REG_1, "--reason", "withdrawn")
    assert removed.exit_code == 0 and "Removed" in removed.stdout
    assert json.loads(cli("works", "list", "--json").stdout) == []
    audit = cli("registry", "audit", "--json")
    assert audit.exit_code == 0, audit.output
    from jdzhi.registry.db import open_registry, rows

    db = open_registry(initialized)
    actions = [r["action"] for r in rows(db, "SELECT action FROM audit_log WHERE entity LIKE "
                                             "'works:%' ORDER BY seq")]
    assert actions == ["work.register", "work.remove"]
    assert rows(db, "SELECT * FROM work_features") == []


@pytest.mark.parametrize("reg_no", [
    "国作登字-2024-F-0000001", "国作登字-2024-F-000000001", "作登字-2024-F-00000001",
    "美作登字-2024-F-00000001", "国作登字2024-F-00000001", "国作登字-1024-F-00000001",
    "国作登字-2024-Z-00000001", "",
])
def test_malformed_registration_numbers_are_refused(cli: Invoke, initialized: Home,
                                                    tmp_path: Path, reg_no: str) -> None:
    result = register(cli, design(tmp_path / "a.png", 1), reg_no)
    assert result.exit_code == 3  # type: ignore[attr-defined]
    assert "registration number" in result.stderr  # type: ignore[attr-defined]
    assert json.loads(cli("works", "list", "--json").stdout) == []


def test_duplicates_are_refused(cli: Invoke, initialized: Home, tmp_path: Path) -> None:
    assert register(cli, design(tmp_path / "a.png", 1)).exit_code == 0  # type: ignore[attr-defined]
    again = register(cli, design(tmp_path / "b.png", 2))
    assert again.exit_code == 5  # type: ignore[attr-defined]
    assert f"work {REG_1} is already registered" in again.stderr  # type: ignore[attr-defined]
    same_image = register(cli, tmp_path / "a.png", REG_2)
    assert same_image.exit_code == 5  # type: ignore[attr-defined]
    assert "very image already registered" in same_image.stderr  # type: ignore[attr-defined]
    assert len(json.loads(cli("works", "list", "--json").stdout)) == 1


def _bomb(folder: Path) -> Path:
    # a PNG whose header declares 20000 x 20000 pixels (400 MP): refused before decoding
    path = folder / "bomb.png"
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(("maker", "message"), [
    (lambda p: p / "missing.png", "cannot read the file"),
    (lambda p: (p / "notes.png").write_text("not an image") and p / "notes.png", "not an image"),
    (lambda p: (p / "cut.jpg").write_bytes(
        (design(p / "full.jpg", 3)).read_bytes()[:600]) and p / "cut.jpg", "truncated"),
    (lambda p: Image.new("RGB", (20, 300), "white").save(p / "tiny.png") or p / "tiny.png",
     "too small"),
    (_bomb, "decompression bomb"),
])
def test_bad_images_are_refused_and_nothing_is_stored(
        cli: Invoke, initialized: Home, tmp_path: Path, maker: object, message: str) -> None:
    image = maker(tmp_path)  # type: ignore[operator]
    result = register(cli, image)
    assert result.exit_code == 3, result.output  # type: ignore[attr-defined]
    assert message in result.stderr  # type: ignore[attr-defined]
    assert len(result.stderr.strip().splitlines()) == 1  # type: ignore[attr-defined]
    assert json.loads(cli("works", "list", "--json").stdout) == []


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("image,reg_no,title,owner,creation_date\n" + "\n".join(rows) + "\n",
                    encoding="utf-8")
    return path


def test_import_registers_every_row_with_relative_and_absolute_paths(
        cli: Invoke, initialized: Home, tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    absolute = design(tmp_path / "abs.png", 9)
    rows = [f"img/{i}.png,国作登字-2024-F-{i:08d},作品{i},青云陶瓷,2023-0{i}-01"
            for i in range(1, 6)]
    for i in range(1, 6):
        design(tmp_path / "img" / f"{i}.png", 100 + i)
    rows.append(f"{absolute},赣作登字-2022-F-00000099,绝对路径,青云陶瓷,")
    result = cli("works", "import", str(_csv(tmp_path / "works.csv", rows)), "--json")
    assert result.exit_code == 0, result.output
    imported = json.loads(result.stdout)
    assert [w["reg_no"] for w in imported][-1] == "赣作登字-2022-F-00000099"
    assert imported[-1]["creation_date"] is None
    assert len(json.loads(cli("works", "list", "--json").stdout)) == 6


@pytest.mark.parametrize(("row", "code", "message"), [
    ("img/2.png,国作登字-2024-F-00000001,重复,青云陶瓷,", 5, "row 3: registration number"),
    ("img/missing.png,国作登字-2024-F-00000002,缺图,青云陶瓷,", 3, "row 3:"),
    ("img/2.png,国作登字-2024-F-00000002,坏日期,青云陶瓷,2023-13-01", 3,
     "row 3: creation date"),
    ("img/2.png,bad-number,坏号,青云陶瓷,", 3, "row 3: registration number"),
    ("img/bad.png,国作登字-2024-F-00000002,坏图,青云陶瓷,", 3, "row 3:"),
    ("img/1.png,国作登字-2024-F-00000002,同图,青云陶瓷,", 5, "row 3:"),
])
def test_import_is_all_or_nothing_with_row_numbers(
        cli: Invoke, initialized: Home, tmp_path: Path, row: str, code: int,
        message: str) -> None:
    (tmp_path / "img").mkdir()
    design(tmp_path / "img" / "1.png", 1)
    design(tmp_path / "img" / "2.png", 2)
    (tmp_path / "img" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\ngarbage")
    csv_file = _csv(tmp_path / "works.csv",
                    ["img/1.png,国作登字-2024-F-00000001,第一,青云陶瓷,2023-01-01", row])
    result = cli("works", "import", str(csv_file))
    assert result.exit_code == code, result.output
    assert message in result.stderr and "nothing imported" in result.stderr
    assert json.loads(cli("works", "list", "--json").stdout) == []


def test_import_refuses_a_missing_unreadable_or_huge_csv(
        cli: Invoke, initialized: Home, tmp_path: Path) -> None:
    from jdzhi.inputs import MAX_TEXT_BYTES

    latin = tmp_path / "latin.csv"
    latin.write_bytes("image,reg_no,title,owner,creation_date\nx.png,1,caf\xe9,o,\n".encode(
        "latin-1"))
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:  # sparse: its size is refused before anything is read
        handle.truncate(MAX_TEXT_BYTES + 1)
    for path, message in ((latin, "is not UTF-8 text"), (huge, "the limit is")):
        result = cli("works", "import", str(path))
        assert result.exit_code == 3, result.output
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert json.loads(cli("works", "list", "--json").stdout) == []
    # the command's argument check catches these first; the library says why as well
    for path, message in ((tmp_path / "missing.csv", "does not exist"),
                          (tmp_path, "is a folder, not a file")):
        with pytest.raises(InvalidInput, match=message):
            read_import_csv(path)


def test_import_refuses_a_csv_without_the_columns(cli: Invoke, initialized: Home,
                                                  tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("picture,number\nx.png,1\n", encoding="utf-8")
    result = cli("works", "import", str(bad))
    assert result.exit_code == 3
    assert "lacks the column(s) image, reg_no, title, owner, creation_date" in result.stderr


def test_unknown_work_is_not_found(cli: Invoke, initialized: Home) -> None:
    result = cli("works", "show", REG_1)
    assert result.exit_code == 4
    assert f"no registered work '{REG_1}'" in result.stderr
    assert cli("works", "remove", REG_1, "--reason", "x").exit_code == 4
