"""`jdzhi demo`: a new folder with its own home, the sample registry imported, a narrated or
JSON summary, and nothing outside the folder touched."""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import _CLEARED_ENV as CLEARED_ENV
from conftest import Invoke
from typer.testing import CliRunner

from jdzhi.cli import app
from jdzhi.demo.context import DEMO_PASSPHRASE, DemoContext, StepReport
from jdzhi.demo.story import STEPS, prepare_folder, run_demo
from jdzhi.errors import ExitCode, InvalidState

FIXED_NOW = "2026-06-01T10:00:00+08:00"


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JDZHI_NOW", FIXED_NOW)


@dataclass(frozen=True)
class DemoRun:
    folder: Path
    summary: dict[str, Any]
    stderr: str
    user_home: Path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One whole `jdzhi demo --json` run, shared by the tests that only read what it left.

    It runs on the real clock (the narrated run below has a fixed one): the story's times come
    from the library, not from JDZHI_NOW."""
    base = tmp_path_factory.mktemp("demo-run")
    with pytest.MonkeyPatch.context() as patch:
        for name in CLEARED_ENV:
            patch.delenv(name, raising=False)
        patch.setenv("JDZHI_HOME", str(base / "user-home"))
        result = CliRunner().invoke(app, ["demo", "--dir", str(base / "demo"), "--json"],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return DemoRun(base / "demo", json.loads(result.stdout), result.stderr, base / "user-home")


def _verdicts(summary: dict[str, Any], step: str) -> dict[str, str]:
    return {row["subject"]: row["verdict"] for row in summary["verdicts"] if row["step"] == step}


def test_demo_json_summary(cli: Invoke, demo_run: DemoRun) -> None:
    folder, summary = demo_run.folder, demo_run.summary
    assert demo_run.stderr == ""  # --json: nothing but the JSON
    assert summary["folder"] == str(folder.resolve())
    assert summary["sample_data"] is True
    steps = {step["step"]: step["data"] for step in summary["steps"]}
    assert list(steps) == ["home", "sample", "import", "overview", "suspend", "workshop", "sign",
                           "labels", "lab", "inspect", "revoke", "clone", "offline", "online",
                           "kiln", "page", "inspectors", "screen", "audit"]
    assert steps["import"]["imported"] == 220
    assert steps["overview"]["enterprises"] == 220
    assert sum(steps["overview"]["statuses"].values()) == 220
    assert steps["suspend"]["valid_before"] is True and steps["suspend"]["valid_after"] is False
    assert steps["audit"]["ok"] is True
    assert (folder / "sample-registry.csv").read_text(encoding="utf-8").startswith(
        "# SAMPLE DATA")
    assert (folder / "home" / "registry.db").exists()
    assert not demo_run.user_home.exists()  # the user's own home is never touched
    listed = cli("--home", str(folder / "home"), "registry", "list", "--json")
    assert len(json.loads(listed.stdout)) == 220

    # the trust chain: the library's verdicts, as the story expects them
    assert steps["sign"]["signed"] == 6 and steps["lab"]["outcome"] == "pass"
    forged = steps["inspect"]["forged_label"].rsplit("/", 1)[-1].removesuffix(".png")
    assert _verdicts(summary, "inspect") == {
        "piece 260001": "genuine",
        f"a copy of piece 260002 relabelled {forged}": "tampered"}
    assert _verdicts(summary, "revoke") == {
        "piece 260001, signed before the revocation": "genuine",
        "piece 260007, signed after the revocation": "revoked"}
    assert _verdicts(summary, "clone") == {
        "piece 260003 at 景德镇": "genuine",
        "piece 260003 at 乌鲁木齐, an hour later": "suspected-clone"}
    scan_log = steps["clone"]["scan_log"]
    assert scan_log["total"] == 6  # every online scan logged; the offline ones are not
    assert [clone["serial"] for clone in scan_log["suspected_clones"]] == ["260003"]
    offline = _verdicts(summary, "offline")
    assert offline == {**_verdicts(summary, "inspect"), **_verdicts(summary, "revoke")}
    assert steps["offline"]["same_verdicts"] == steps["offline"]["checked"] == 4
    assert _verdicts(summary, "screen") == {
        "cropped-mirrored-meiping-lotus-scroll-1.png: 青花缠枝莲纹梅瓶 (SAMPLE) cropped and "
        "mirrored": "copy",
        "look-alike-meiping-banana-leaf-7.png: same shape and palette, another pattern": "clear"}
    copy_screening = steps["screen"]["screenings"][0]
    assert copy_screening["matches"][0]["reg_no"] == "赣作登字-2026-F-90000001"  # the right work
    assert len(steps["screen"]["works"]) == 6
    report = (folder / "screening-report.html").read_text(encoding="utf-8")
    assert report.count("data:image/") >= 4 and "赣作登字-2026-F-90000001" in report
    methods = {row["method"] for row in summary["verdicts"]}
    assert methods == {"photo at 景德镇, registry", "photo at 乌鲁木齐, registry",
                       "photo, trust bundle only", "phone page, center",
                       "photo at 景德镇, center", "photo at 乌鲁木齐, center", "works screen"}
    assert summary["all_as_expected"] is True

    # every output stays in the folder, and the summary lists every file
    on_disk = sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                     if path.is_file() and not path.name.endswith(("-wal", "-shm")))
    assert summary["files"] == on_disk
    assert {"DEMO-PASSPHRASE.txt", "SIGNED.jsonl", "batch-records.csv", "lab-results.csv",
            "keys/workshop.key", "keys/lab.key", "trust-bundle.cbor", "authority.pub",
            "home/keys/authority.key", "phone-page/index.html", "labels/sheet-DEMO-2026-A.pdf",
            *(f"labels/png/{260001 + i}.png" for i in range(6)),
            "labels/after-revocation/260007.png", f"labels/forged/{forged}.png",
            "photos/260001-jingdezhen.jpg", "photos/260003-jingdezhen.jpg",
            "photos/260003-urumqi.jpg", "photos/260007-after-revocation.jpg",
            f"photos/forged-{forged}.jpg", "works/works.csv", "screening-report.html",
            "trust-bundle-online.cbor", "server.log", "kiln/workshop.key", "kiln/records.csv",
            "kiln/SIGNED.jsonl", "kiln/home/workshop.db", "labels/kiln/270001.png",
            "photos/270001-online-1.jpg", "photos/270001-online-2.jpg",
            "submissions/cropped-mirrored-meiping-lotus-scroll-1.png",
            "submissions/look-alike-meiping-banana-leaf-7.png"} <= set(on_disk)
    assert len([name for name in on_disk if name.startswith("works/")
                and name.endswith(".png")]) == 6
    # the offline scans opened no registry: the inspector's home only remembers the bundle
    assert [p.name for p in (folder / "inspector-phone").iterdir()] == ["trust-seen.json"]
    assert (folder / "labels/sheet-DEMO-2026-A.pdf").read_bytes().startswith(b"%PDF-")
    for key in ("keys/workshop.key", "keys/lab.key", "home/keys/authority.key",
                "kiln/workshop.key"):
        assert (folder / key).stat().st_mode & 0o777 == 0o600
    assert (folder / "DEMO-PASSPHRASE.txt").read_text(encoding="utf-8").strip() == \
        DEMO_PASSPHRASE
    signed = (folder / "SIGNED.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["serial"] for line in signed] == [str(260001 + i)
                                                               for i in range(6)]


def _port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _registry_count(folder: Path, sql: str, *params: Any) -> int:
    with closing(sqlite3.connect(folder / "home" / "registry.db")) as db:
        return int(db.execute(sql, params).fetchone()[0])


def test_demo_online_story(demo_run: DemoRun) -> None:
    """The center online: a real server, a workshop with no registry signing against the
    published bundle and pushing, a page scan and two inspectors; the clone flagged, the server
    gone afterwards."""
    folder, summary = demo_run.folder, demo_run.summary
    steps = {step["step"]: step["data"] for step in summary["steps"]}
    online, kiln, page, inspectors = (steps[key] for key in ("online", "kiln", "page",
                                                             "inspectors"))
    assert online["server"] == f"http://127.0.0.1:{online['port']}"
    published = online["published"]
    assert published["file"] == str(folder / "trust-bundle-online.cbor")
    assert published["keys"] == 3  # the workshop's, the lab's and the kiln workshop's keys
    assert published["sha256"] == hashlib.sha256(
        (folder / "trust-bundle-online.cbor").read_bytes()).hexdigest()
    assert online["kiln_license_no"] != steps["workshop"]["license_no"]

    # the workshop signed in its own home, against the bundle: no registry there
    assert kiln["signed"] == 3 and kiln["stored_in"] == "workshop"
    assert kiln["trust"].startswith("bundle")
    assert sorted(p.name for p in (folder / "kiln" / "home").iterdir()
                  if not p.name.endswith(("-wal", "-shm"))) == ["trust-seen.json", "workshop.db"]
    assert kiln["serials"] == ["270001", "270002", "270003"]
    assert {k: kiln["pushed"][k] for k in ("lines", "stored", "already_stored")} == {
        "lines": 3, "stored": 3, "already_stored": 0}
    assert {k: kiln["pushed_again"][k] for k in ("stored", "already_stored")} == {
        "stored": 0, "already_stored": 3}
    # ... and the center stored them: its registry has the kiln's records
    assert _registry_count(folder, "SELECT COUNT(*) FROM signed_records WHERE batch = ?",
                           "DEMO-2026-K") == 3

    # a consumer's page scan is counted apart from the inspectors' scan log
    assert page["verdict"] == "genuine" and page["checks"] == 1
    assert page["clone_warning"] is None
    assert _registry_count(folder, "SELECT COUNT(*) FROM page_scans WHERE serial = ?",
                           "270001") == 1

    # two inspectors far apart: the second is flagged by the center, not by its own phone
    assert _verdicts(summary, "inspectors") == {
        "piece 270001 at 景德镇": "genuine",
        "piece 270001 at 乌鲁木齐, moments later": "suspected-clone"}
    near, far = inspectors["scans"]
    assert (near["checks"], near["verdict_from"]) == (2, "local")
    assert (far["checks"], far["verdict_from"], far["center_verdict"]) == (
        3, "center", "suspected-clone")
    assert near["first_checked_at"] == far["first_checked_at"] == page["first_checked_at"]
    status = inspectors["serial_status"]
    assert status["signed"] is True and status["suspected_clone"] is True
    assert status["checks"] == 3
    assert _registry_count(folder, "SELECT COUNT(*) FROM scans WHERE serial = ? AND verdict = ?",
                           "270001", "suspected-clone") == 1
    assert _registry_count(folder, "SELECT COUNT(*) FROM inspectors") == 2

    # nothing left running: the server exited as Ctrl-C stops it, and its port is closed
    assert inspectors["server_exit"] == 0 and inspectors["port_open_after"] is False
    assert not _port_is_open(online["port"])
    assert "Traceback" not in (folder / "server.log").read_text(encoding="utf-8")
    assert steps["audit"]["ok"] is True  # the center's writes are audited like the rest


def test_the_demo_stops_its_server_when_a_step_fails(tmp_path: Path) -> None:
    from jdzhi.demo._center import RunningCenter, start_center
    from jdzhi.demo._registry_steps import create_home

    started: list[RunningCenter] = []

    def go_online(ctx: DemoContext) -> StepReport:
        center = start_center(ctx.home, ctx.folder / "server.log")
        ctx.cleanup.callback(center.stop)
        started.append(center)
        return StepReport("online", "Online", (), {"port": center.port})

    def fail(ctx: DemoContext) -> StepReport:
        assert _port_is_open(started[0].port)  # it was serving until now
        raise InvalidState("a step failed")

    with pytest.raises(InvalidState, match="a step failed"):
        run_demo(tmp_path / "d", steps=[create_home, go_online, fail])
    (center,) = started
    assert center.process.returncode == 0  # stopped as Ctrl-C stops it
    assert not _port_is_open(center.port)


def test_the_demo_folder_works_with_the_cli_afterwards(cli: Invoke, demo_run: DemoRun) -> None:
    """What the demo leaves is real: the CLI verifies its signed records and its bundle."""
    folder = demo_run.folder
    home = str(folder / "home")
    verified = cli("--home", home, "verify", str(folder / "SIGNED.jsonl"), "--json")
    assert {item["verdict"] for item in json.loads(verified.stdout)} == {"genuine"}
    offline = cli("verify", str(folder / "SIGNED.jsonl"), "--trust",
                  str(folder / "trust-bundle.cbor"), "--authority", str(folder / "authority.pub"),
                  "--json")
    assert {item["verdict"] for item in json.loads(offline.stdout)} == {"genuine"}


def test_demo_narrates_and_prints_its_folder(cli: Invoke, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("demo")
    assert result.exit_code == 0, result.output
    # the narration goes to stderr, the story's result (verdicts, files) to stdout
    folder = tmp_path / "jdzhi-demo-20260601-100000"
    assert folder.is_dir()
    assert [path.name for path in tmp_path.iterdir()] == [folder.name]
    err, out = result.stderr, result.stdout
    assert "SAMPLE data" in err
    assert "Imported 220 enterprises" in err
    assert "DEMO ONLY" in err
    for heading in ("It signs a batch", "It prints the labels",
                    "The testing center endorses the batch", "An inspector scans labelled pieces",
                    "The workshop's license is revoked", "One label, two places at once",
                    "Offline: the trust bundle alone", "The service center goes online",
                    "A workshop signs at its kiln and pushes to the center",
                    "A consumer's phone page reports its scan",
                    "Two inspectors, far apart, report to the center"):
        assert heading in err
    for heading in ("Every verdict of the story", "Files written"):
        assert heading in out and heading not in err
    assert "suspected-clone" in out and "revoked" in out and "tampered" in out
    assert "✗" not in out  # no verdict other than the story's
    assert "  photos/260003-urumqi.jpg\n" in out
    # the center runs on the demo's clock too: the page's count names the fixed moment
    assert "「第 1 次查询 · 首次查询于 2026-06-01 10:00 (UTC+8)」" in err
    assert "3 stored, 0 already there" in err and "port" in err and "is closed" in err
    assert f"The demo folder is {folder}" in out
    assert DEMO_PASSPHRASE not in err + out  # named by its file, never printed


def test_a_second_demo_in_the_same_second_gets_its_own_folder(tmp_path: Path) -> None:
    now = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
    first = prepare_folder(None, now=now, parent=tmp_path)
    assert first == tmp_path / "jdzhi-demo-20260601-100000"
    first.mkdir()
    assert prepare_folder(None, now=now, parent=tmp_path) == tmp_path / (
        "jdzhi-demo-20260601-100000-2")


def test_demo_refuses_a_folder_it_cannot_create(cli: Invoke, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = cli("demo", "--dir", str(blocker / "demo"))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr.startswith(f"error: cannot create the demo folder {blocker / 'demo'}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert blocker.read_text(encoding="utf-8") == "x"


def test_demo_refuses_a_non_empty_folder(cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    result = cli("demo", "--dir", str(tmp_path))
    assert result.exit_code == ExitCode.CONFLICT
    assert result.stderr.strip() == f"error: {tmp_path} is not empty; give a new or empty folder"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_demo_refuses_a_file(cli: Invoke, tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x", encoding="utf-8")
    result = cli("demo", "--dir", str(target))
    assert result.exit_code in (ExitCode.USAGE, ExitCode.INVALID_INPUT)


def test_a_step_is_a_function_of_the_context(tmp_path: Path) -> None:
    seen: list[str] = []

    def count_sample_lines(ctx: DemoContext) -> StepReport:
        assert ctx.sample_path is not None
        lines = len(ctx.sample_path.read_text(encoding="utf-8").splitlines())
        return StepReport("lines", "Counting", (f"{lines} lines",), {"lines": lines})

    result = run_demo(tmp_path / "d", steps=[*STEPS[:2], count_sample_lines],
                      on_step=lambda report: seen.append(report.key))
    assert seen == ["home", "sample", "lines"]
    assert result.steps[-1].data == {"lines": 223}  # two comment lines, the header, 220 rows


def test_sample_pictures_are_seeded_and_say_they_are_synthetic(tmp_path: Path) -> None:
    from PIL import Image

    from jdzhi.demo._drawings import LOOK_ALIKE, WORKS, draw_piece, save_sample_png

    first, again = draw_piece(WORKS[0], size=128), draw_piece(WORKS[0], size=128)
    assert first.tobytes() == again.tobytes()
    look_alike = draw_piece(LOOK_ALIKE, size=128)
    assert (LOOK_ALIKE.shape, LOOK_ALIKE.motif) == (WORKS[0].shape, "banana-leaf")
    assert look_alike.tobytes() != first.tobytes()
    path = save_sample_png(first, tmp_path / "piece.png")
    with Image.open(path) as saved:
        assert "synthetic" in saved.info["Comment"] and "SAMPLE" in saved.info["Comment"]
    with pytest.raises(ValueError, match="unknown shape or motif"):
        draw_piece(replace(WORKS[0], motif="dragons"))
