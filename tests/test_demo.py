"""`jdzhi demo`: a new folder with its own home, the sample registry imported, a narrated or
JSON summary, and nothing outside the folder touched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke

from jdzhi.demo import DEMO_PASSPHRASE, STEPS, DemoContext, StepReport, run_demo
from jdzhi.errors import ExitCode
from jdzhi.home import Home


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JDZHI_NOW", "2026-06-01T10:00:00+08:00")


def _verdicts(summary: dict[str, Any], step: str) -> dict[str, str]:
    return {row["subject"]: row["verdict"] for row in summary["verdicts"] if row["step"] == step}


def test_demo_json_summary(cli: Invoke, tmp_path: Path, jdzhi_home: Home) -> None:
    folder = tmp_path / "demo"
    result = cli("demo", "--dir", str(folder), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["folder"] == str(folder.resolve())
    assert summary["sample_data"] is True
    steps = {step["step"]: step["data"] for step in summary["steps"]}
    assert list(steps) == ["home", "sample", "import", "overview", "suspend", "workshop", "sign",
                           "lab", "inspect", "revoke", "offline", "audit"]
    assert steps["import"]["imported"] == 220
    assert steps["overview"]["enterprises"] == 220
    assert sum(steps["overview"]["statuses"].values()) == 220
    assert steps["suspend"]["valid_before"] is True and steps["suspend"]["valid_after"] is False
    assert steps["audit"]["ok"] is True
    assert (folder / "sample-registry.csv").read_text(encoding="utf-8").startswith(
        "# SAMPLE DATA")
    assert (folder / "home" / "registry.db").exists()
    assert not jdzhi_home.path.exists()  # the user's own home is never touched
    listed = cli("--home", str(folder / "home"), "registry", "list", "--json")
    assert len(json.loads(listed.stdout)) == 220

    # the trust chain: the library's verdicts, as the story expects them
    assert steps["sign"]["signed"] == 6 and steps["lab"]["outcome"] == "pass"
    assert _verdicts(summary, "inspect") == {
        "piece 260001": "genuine", "piece 260002, serial digit altered": "tampered"}
    assert _verdicts(summary, "revoke") == {
        "piece 260001, signed before the revocation": "genuine",
        "piece 260007, signed after the revocation": "revoked"}
    offline = _verdicts(summary, "offline")
    assert offline == {**_verdicts(summary, "inspect"), **_verdicts(summary, "revoke")}
    assert steps["offline"]["same_verdicts"] == steps["offline"]["checked"] == 4
    assert summary["all_as_expected"] is True

    # every output stays in the folder, and the summary lists every file
    on_disk = sorted(str(path.relative_to(folder)) for path in folder.rglob("*")
                     if path.is_file() and not path.name.endswith(("-wal", "-shm")))
    assert summary["files"] == on_disk
    assert {"DEMO-PASSPHRASE.txt", "SIGNED.jsonl", "batch-records.csv", "lab-results.csv",
            "keys/workshop.key", "keys/lab.key", "trust-bundle.cbor", "authority.pub",
            "home/keys/authority.key", "phone-page/index.html"} <= set(on_disk)
    for key in ("keys/workshop.key", "keys/lab.key", "home/keys/authority.key"):
        assert (folder / key).stat().st_mode & 0o777 == 0o600
    assert (folder / "DEMO-PASSPHRASE.txt").read_text(encoding="utf-8").strip() == \
        DEMO_PASSPHRASE
    signed = (folder / "SIGNED.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["serial"] for line in signed] == [str(260001 + i)
                                                               for i in range(6)]


def test_the_demo_folder_works_with_the_cli_afterwards(cli: Invoke, tmp_path: Path) -> None:
    """What the demo leaves is real: the CLI verifies its signed records and its bundle."""
    folder = tmp_path / "demo"
    assert cli("demo", "--dir", str(folder), "--json").exit_code == 0
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
    folder = tmp_path / "jdzhi-demo-20260601-100000"
    assert folder.is_dir()
    assert "SAMPLE data" in result.stderr
    assert "Imported 220 enterprises" in result.stderr
    assert f"The demo folder is {folder}" in result.stderr
    again = cli("demo")  # same second: a second, distinct folder
    assert again.exit_code == 0
    assert (tmp_path / "jdzhi-demo-20260601-100000-2").is_dir()


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
