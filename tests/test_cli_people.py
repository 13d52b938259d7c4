"""The CLI as people meet it: help that reads well, results on stdout and the rest on stderr,
whole identifiers at 80 columns, clear verdicts, and the mistakes people make answered kindly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Invoke
from label_support import label_of, signed_batch
from rich.cells import cell_len
from trace_support import add_enterprise, issue_key, records, write_csv

from jdzhi.errors import ExitCode
from jdzhi.home import Home

REPO = Path(__file__).resolve().parents[1]


def jdzhi(home: Path, *args: str, columns: int = 80,
          **popen: Any) -> subprocess.CompletedProcess[str]:
    """``python -m jdzhi ARGS`` in its own process, on a pipe, at ``columns`` columns."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("JDZHI_")}
    env.update(JDZHI_HOME=str(home), JDZHI_PASSPHRASE="people test passphrase",
               COLUMNS=str(columns),
               **{name: os.environ[name] for name in ("JDZHI_CACHE_DIR",) if name in os.environ})
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "jdzhi", *args], env=env, cwd=REPO, text=True,
                          **popen)


def _all_help(cli: Invoke, *path: str) -> dict[str, str]:
    """Every command's help text, by command path."""
    from jdzhi.cli import LAZY_COMMANDS

    result = cli(*path, "--help")
    assert result.exit_code == 0, (path, result.output)
    helps = {" ".join(path): result.stdout}
    section = re.search(r"Commands ─+╮\n(.*?)╰", result.stdout, flags=re.S)
    names = re.findall(r"^│ (\S+)\s", section.group(1), flags=re.M) if section else []
    for name in names:
        if name in LAZY_COMMANDS or path:
            helps.update(_all_help(cli, *path, name))
    return helps


# ---------------------------------------------------------------- help


def test_help_reflows_paragraphs_and_shows_real_metavars(
        cli: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    helps = _all_help(cli)
    assert {"", "sign", "scan", "registry add", "registry categories add",
            "keys rotate"} <= set(helps)
    # a docstring's line break is no line break in help: the sentence flows at 200 columns
    assert "unique for the enterprise; category covered by the license" in helps["sign"]
    for path, text in helps.items():
        for placeholder in ("<bool>", "<str>", "<int>", "<float>", "<list[", "<path>", "<dir>",
                            "<file>"):
            assert placeholder not in text, (path, placeholder)
        assert not re.search(r"Usage: .*[{}]", text), path
    assert "Usage: jdzhi scan [OPTIONS] IMAGE_OR_DIR..." in helps["scan"]
    assert re.search(r"--max-scans\s+INTEGER", helps["scan"])
    assert re.search(r"--trust\s+FILE", helps["verify"])


def test_completion_options_are_on_the_root_command_only(cli: Invoke) -> None:
    assert "--install-completion" in cli("--help").stdout
    for command in (("scan",), ("sign",), ("verify",), ("registry", "list"), ("demo",)):
        assert "--install-completion" not in cli(*command, "--help").stdout, command


@pytest.mark.parametrize("args", [("--help",), ("scan", "--help"), ("registry", "--help")])
def test_help_into_a_closed_pipe_exits_0_quietly(tmp_path: Path, args: tuple[str, ...]) -> None:
    """`jdzhi scan --help | head`: the reader is gone before jdzhi writes a byte."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = jdzhi(tmp_path / "home", *args, stdout=write_end)
    finally:
        os.close(write_end)
    assert done.returncode == 0
    assert done.stderr == ""


def test_usage_errors_are_one_line_with_the_help_hint(cli: Invoke) -> None:
    result = cli("scan", "--bogus", "x.jpg")
    assert result.exit_code == ExitCode.USAGE
    assert result.stderr == "error: No such option: --bogus; try 'jdzhi scan --help'\n"
    missing = cli("registry", "show")
    assert missing.exit_code == ExitCode.USAGE
    assert missing.stderr.startswith("error: Missing argument 'ID'")
    assert len(missing.stderr.splitlines()) == 1 and "╭" not in missing.stderr


# ---------------------------------------------------------------- stdout for results


def test_registry_results_go_to_stdout_notes_to_stderr(cli: Invoke, initialized: Home) -> None:
    add_enterprise(cli, name="景德镇市金祥陶瓷有限公司")
    listed = cli("registry", "list")
    assert listed.exit_code == 0 and listed.stderr == ""
    assert "金祥" in listed.stdout and "JDZ-GI-2026-0001" in listed.stdout
    shown = cli("registry", "show", "1")
    assert "status history" in shown.stdout and shown.stderr == ""
    categories = cli("registry", "categories")
    assert "qinghua" in categories.stdout and categories.stderr == ""
    audit = cli("registry", "audit")
    assert "Audit log intact" in audit.stdout and audit.stderr == ""


def test_keys_sign_verify_and_label_results_go_to_stdout(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signed, entries = signed_batch(cli, tmp_path, monkeypatch, 1)
    keys = cli("keys", "list")
    assert "licensee" in keys.stdout and keys.stderr == ""
    verified = cli("verify", entries[0]["label"])
    assert verified.exit_code == 0 and "GENUINE" in verified.stdout and verified.stderr == ""
    labels = cli("label", str(signed), "--out", str(tmp_path / "one.pdf"))
    assert labels.exit_code == 0 and labels.stderr == ""
    assert "Printed 1 label on 1 A4 page into" in labels.stdout
    bundle = cli("trust", "export", "--out", str(tmp_path / "t.cbor"))
    assert "Authority public key:" in bundle.stdout and bundle.stderr == ""


def test_sign_again_says_nothing_new_was_signed(cli: Invoke, initialized: Home,
                                                tmp_path: Path) -> None:
    add_enterprise(cli)
    key = issue_key(cli, tmp_path)
    source = write_csv(tmp_path / "batch.csv", records(10))
    first = cli("sign", str(source), "--key", str(key), "--out", str(tmp_path / "a.jsonl"))
    assert first.exit_code == 0 and first.stdout.startswith("Signed 10 records of ")
    again = cli("sign", str(source), "--key", str(key), "--out", str(tmp_path / "b.jsonl"))
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("0 new, 10 already signed of ") and again.stderr == ""


# ---------------------------------------------------------------- tables at 80 columns


def test_tables_keep_identifiers_whole_at_80_columns(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert jdzhi(home, "init").returncode == 0
    sample = tmp_path / "sample.csv"
    assert jdzhi(home, "registry", "sample", "--count", "12", "--out", str(sample)).returncode == 0
    assert jdzhi(home, "registry", "import", str(sample)).returncode == 0
    listed = jdzhi(home, "registry", "list")
    assert listed.returncode == 0 and listed.stderr == ""
    exported = json.loads(jdzhi(home, "registry", "list", "--json").stdout)
    for entry in exported:
        assert entry["license_no"] in listed.stdout
    header = next(line for line in listed.stdout.splitlines() if "status" in line)
    for word in ("license", "name", "district", "categories", "valid to", "status"):
        assert word in header, header
    assert max(cell_len(line) for line in listed.stdout.splitlines()) <= 80


def test_works_list_shows_registration_numbers_whole(
        tmp_path: Path, cli: Invoke, initialized: Home) -> None:
    from test_works import design

    numbers = [f"赣作登字-2025-F-0000{n:04d}" for n in (1, 2)]
    for seed, number in enumerate(numbers, start=1):
        image = design(tmp_path / f"{seed}.png", seed)
        assert cli("works", "register", str(image), "--reg-no", number, "--title",
                   "青花缠枝莲纹梅瓶青花缠枝莲纹梅瓶", "--owner",
                   "景德镇市青云陶瓷有限公司").exit_code == 0
    listed = jdzhi(initialized.path, "works", "list")
    assert listed.returncode == 0, listed.stderr
    for number in numbers:
        assert number in listed.stdout
    assert max(cell_len(line) for line in listed.stdout.splitlines()) <= 80


# ---------------------------------------------------------------- scan and verify verdicts


def test_scan_takes_a_folder_and_ends_with_a_summary(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, entries = signed_batch(cli, tmp_path, monkeypatch, 2)
    photos = tmp_path / "photos"
    photos.mkdir()
    label_of(entries[0]).save(photos / "b.png")
    label_of(entries[1]).save(photos / "a.png")
    (photos / "notes.txt").write_text("not a photo", encoding="utf-8")
    result = cli("scan", str(photos), "--no-log")
    assert result.exit_code == 0, result.output
    assert result.stdout.index("a.png") < result.stdout.index("b.png")
    assert result.stdout.rstrip().splitlines()[-1] == "2 codes: 2 genuine"
    assert "notes.txt" not in result.stdout and result.stderr == ""


def test_scan_wraps_reasons_at_80_columns_and_a_lab_fail_stands_out(tmp_path: Path) -> None:
    from jdzhi.commands import _common as common
    from jdzhi.commands._verdicts import print_verdict
    from jdzhi.trace.verification.result import EndorsementStatus

    reason = ("the record was signed while the license was valid, and the license was revoked "
              "afterwards on 2026-05-01 for reasons recorded in the registry's status history")
    width = common.out.width
    common.out.width = 80
    try:
        with common.out.capture() as captured:
            print_verdict("GENUINE", "genuine", "serial 1001", [reason],
                          EndorsementStatus("fail", lab="国家日用陶瓷质量检验检测中心",
                                            report_no="R-1"))
    finally:
        common.out.width = width
    text = captured.get()
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    words = " ".join(" ".join(line.split()) for line in lines[1:]).replace("• ", "")
    assert reason in words  # wrapped between words, never inside one
    assert "testing center: FAIL" in text


def test_verify_several_labels_and_hint_at_a_typo(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, entries = signed_batch(cli, tmp_path, monkeypatch, 2)
    good, other = entries[0]["label"], entries[1]["label"]
    both = cli("verify", good, other)
    assert both.exit_code == 0 and both.stdout.count("GENUINE") == 2
    assert both.stdout.rstrip().splitlines()[-1] == "2 records: 2 genuine"
    position = len(good) - 40
    typo = good[:position] + ("A" if good[position] != "A" else "B") + good[position + 1:]
    mixed = cli("verify", other, typo)
    assert mixed.exit_code == ExitCode.CHECK_FAILED
    assert "may be a typo" in mixed.stdout and f"character {position + 1}" in mixed.stdout
    assert mixed.stdout.rstrip().splitlines()[-1] == "2 records: 1 genuine, 1 tampered"
    as_json = json.loads(cli("verify", other, typo, "--json").stdout)
    assert [item["verdict"] for item in as_json] == ["genuine", "tampered"]


def test_verify_of_a_photo_points_to_scan(cli: Invoke, initialized: Home, tmp_path: Path) -> None:
    from PIL import Image

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    result = cli("verify", str(photo))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr == f"error: {photo} is an image; read the labels in it with " \
                            f"`jdzhi scan {photo}`\n"


# ---------------------------------------------------------------- numbers and passphrases


def test_huge_integers_are_usage_errors_not_crashes(cli: Invoke, initialized: Home) -> None:
    for args in (("keys", "revoke", str(2**63), "--reason", "0", "--effective", ""),
                 ("keys", "revoke", "0", "--reason", "x"),
                 ("registry", "categories", "add", "kehua", "--zh", "刻花", "--en", "carved",
                  "--label-code", str(10**30))):
        result = cli(*args)
        assert result.exit_code == ExitCode.USAGE, (args, result.output)
        assert result.stderr.startswith("error: Invalid value for")
        assert "try 'jdzhi" in result.stderr


def test_a_passphrase_that_is_not_utf8_is_a_key_error(
        cli: Invoke, initialized: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "passphrase.txt"
    bad.write_bytes(b"\xff\xfe caf\xe9\n")
    from_file = cli("trust", "export", "--out", str(tmp_path / "a.cbor"),
                    "--passphrase-file", str(bad))
    assert from_file.exit_code == ExitCode.KEY_ERROR
    assert from_file.stderr == f"error: the passphrase file {bad} is not UTF-8 text; a " \
                               "passphrase must be\n"
    monkeypatch.setenv("JDZHI_PASSPHRASE", b"caf\xe9".decode("utf-8", "surrogateescape"))
    from_env = cli("trust", "export", "--out", str(tmp_path / "b.cbor"))
    assert from_env.exit_code == ExitCode.KEY_ERROR
    assert from_env.stderr == "error: $JDZHI_PASSPHRASE is not UTF-8 text; a passphrase must be\n"


def test_init_without_a_terminal_names_the_passphrase_sources(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("JDZHI_")}
    env["JDZHI_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "jdzhi", "init"], env=env, cwd=REPO,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          start_new_session=True)  # no controlling terminal either
    assert done.returncode == ExitCode.KEY_ERROR
    assert "GetPassWarning" not in done.stderr and len(done.stderr.splitlines()) == 1
    assert "--passphrase-file" in done.stderr and "$JDZHI_PASSPHRASE" in done.stderr


def test_a_work_id_too_big_for_sqlite_is_not_found(cli: Invoke, initialized: Home) -> None:
    for args in (("works", "show", str(10**30)), ("works", "remove", str(2**63), "--reason", "r")):
        result = cli(*args)
        assert result.exit_code == ExitCode.NOT_FOUND, (args, result.output)
        assert result.stderr.startswith("error: no registered work")
