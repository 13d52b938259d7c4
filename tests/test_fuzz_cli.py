"""Hostile command lines: every option value and argument of the commands that take outside text
gets hostile values. The only outcomes allowed are a documented exit code with a one-line error
(or success); never an internal error or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hardening_support import LICENSE_NO, World, build_world, cases, environment
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from jdzhi.cli import app
from jdzhi.errors import ExitCode

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from([
        "", " ", "-", "--", "0", "-1", "1", "65535", "65536", "99999999999999999999", "1e999",
        "nan", "inf", "2026-02-30", "2026-13-01", "2026-03-01T25:00:00",
        "2026-03-01T08:00:00+14:01",
        "9999-12-31T23:59:59Z", "0001-01-01", "../../x", "/dev/null", "\u2028", "\x00", "景德镇",
        LICENSE_NO, "JDZ-GI-2026-0001 ", "珠山区", "qinghua", "qinghua;fencai", "91.5,10",
        "29.27,117.18", "-90,-180", "HTTPS://TRACE.EXAMPLE.CN/V/", "https://x.cn/v/", "%s%n",
        "{}", "[]", "x" * 5000,
    ]),
)
#: outcomes a user may see: success, a failed check, or a documented error
ALLOWED = {int(code) for code in ExitCode} - {int(ExitCode.INTERNAL)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("cli-world"), count=2)


def _run(world: World, args: list[str]) -> None:
    if any("\x00" in arg for arg in args):
        return  # an operating system cannot pass NUL in an argument
    result = CliRunner().invoke(app, ["--home", str(world.home.path), *args],
                                env=environment(world.home.path), catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        args, repr(result.exception))
    assert result.exit_code in ALLOWED, (args, result.output)
    assert "Traceback" not in result.output and "internal error" not in result.output, args
    if result.exit_code not in (0, ExitCode.CHECK_FAILED, ExitCode.USAGE):
        assert result.stderr.startswith("error: "), (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)


def _templates(world: World, tmp: Path) -> list[list[str]]:
    label = world.lines()[0]["label"]
    photo = tmp / "photo.png"
    if not photo.exists():
        from jdzhi.trace.labels.qr import encode

        encode(label).to_image(scale=3).save(photo)
    return [
        ["verify", "{}"],
        ["verify", label, "{}"],
        ["works", "show", "{}"],
        ["works", "remove", "{}", "--reason", "{}"],
        ["verify", label, "--trust", str(world.bundle), "--authority", "{}"],
        ["registry", "show", "{}"],
        ["registry", "list", "--status", "{}"],
        ["registry", "list", "--district", "{}", "--category", "{}"],
        ["registry", "list", "--at", "{}"],
        ["registry", "suspend", "{}", "--reason", "{}", "--effective", "{}"],
        ["registry", "renew", LICENSE_NO, "--valid-to", "{}", "--reason", "r"],
        ["registry", "update", LICENSE_NO, "--district", "{}"],
        ["registry", "update", "{}", "--contact", "{}"],
        ["registry", "issue", "{}", "--license-no", "{}", "--categories", "{}",
         "--valid-from", "{}", "--valid-to", "{}"],
        ["registry", "categories", "add", "{}", "--zh", "{}", "--en", "{}"],
        ["keys", "revoke", "{}", "--reason", "{}", "--effective", "{}"],
        ["keys", "issue", "{}", "--out", str(tmp / "k.key"), "--valid-until", "{}"],
        ["sign", str(tmp / "none.csv"), "--key", str(world.key), "--out",
         str(tmp / "o.jsonl"), "--base-url", "{}"],
        ["scan", str(photo), "--location", "{}", "--inspector", "{}", "--no-log"],
        ["scan", str(photo), "--window-days", "{}", "--max-speed", "{}", "--no-log"],
        ["label", str(world.signed), "--out", str(tmp / "sheet.pdf"), "--level", "{}",
         "--page", "{}"],
        ["label", str(world.signed), "--out", str(tmp / "sheet.pdf"), "--width", "{}",
         "--dpi", "{}"],
        ["trust", "export", "--out", str(tmp / "t.cbor"), "--valid-days", "{}"],
    ]


@pytest.mark.slow
@cases(300)
@given(st.data())
def test_hostile_values_in_every_slot(world: World, tmp_path_factory: pytest.TempPathFactory,
                                      data: st.DataObject) -> None:
    tmp = tmp_path_factory.getbasetemp() / "cli-scratch"
    tmp.mkdir(exist_ok=True)
    template = data.draw(st.sampled_from(_templates(world, tmp)))
    args = [data.draw(HOSTILE) if part == "{}" else part for part in template]
    for made in (tmp / "k.key", tmp / "o.jsonl", tmp / "sheet.pdf", tmp / "t.cbor"):
        made.unlink(missing_ok=True)
    _run(world, args)
