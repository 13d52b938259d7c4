"""Secrets: key files are 0600 and encrypted, and no passphrase or private key material appears in
any output of a full workflow run as real processes: stdout, stderr (errors included), JSON, the
files the commands write, the registry database and its journal."""

from __future__ import annotations

import base64
import os
import random
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hardening_support import LICENSE_NO, NOW, REPO, csv_text

from jdzhi.errors import ExitCode, KeyUnusable
from jdzhi.home import Home
from jdzhi.registry.uscc import generate
from jdzhi.trace.keys.keyfile import load_key

AUTHORITY_PASSPHRASE = "Authority-passphrase-7Hq2!"
WORKSHOP_PASSPHRASE = "workshop passphrase 景德镇 9xK"
LAB_PASSPHRASE = "lab-Passphrase-41zz"


def _forms(secret: bytes) -> list[bytes]:
    """The ways a secret could leak: raw, hex (both cases), base64, base64url, base32."""
    text_forms = {secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(),
                  base64.urlsafe_b64encode(secret).decode().rstrip("="),
                  base64.b32encode(secret).decode().rstrip("=")}
    return [secret, *(form.encode() for form in text_forms)]


def _private_material(path: Path, passphrase: str) -> list[bytes]:
    from cryptography.hazmat.primitives import serialization

    key = load_key(path, passphrase.encode())
    private = key._private
    seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    # the encrypted file's own base64 body must not be echoed either
    body = [line for line in path.read_bytes().splitlines() if line and b"-----" not in line]
    return [*_forms(seed), *_forms(der), *body]


class Workflow:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.outputs: list[tuple[str, bytes]] = []
        for name, passphrase in (("authority", AUTHORITY_PASSPHRASE),
                                 ("workshop", WORKSHOP_PASSPHRASE), ("lab", LAB_PASSPHRASE)):
            (root / f"{name}.pass").write_text(passphrase + "\n", encoding="utf-8")

    def run(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> bytes:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("JDZHI_")}
        environment.update(JDZHI_HOME=str(self.home), JDZHI_NOW=NOW, JDZHI_ACTOR="secrets-test",
                           COLUMNS="200", **(env or {}))
        done = subprocess.run([sys.executable, "-m", "jdzhi", *args], env=environment,
                              cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=300, check=False)
        self.outputs += [(f"{args} stdout", done.stdout), (f"{args} stderr", done.stderr)]
        assert done.returncode == expect, (args, done.stdout, done.stderr)
        return done.stdout

    def pass_file(self, name: str) -> str:
        return str(self.root / f"{name}.pass")


@pytest.mark.slow
def test_no_secret_in_any_output_of_a_full_workflow(tmp_path: Path) -> None:
    flow = Workflow(tmp_path)
    authority = ("--passphrase-file", flow.pass_file("authority"))
    flow.run("init", *authority, "--json")
    uscc = generate(random.Random(5), division_code="360203")
    flow.run("registry", "add", "--uscc", uscc, "--name", "景德镇市青云陶瓷有限公司",
             "--district", "珠山区", "--license-no", LICENSE_NO, "--categories", "qinghua",
             "--valid-from", "2026-01-01", "--valid-to", "2030-12-31", "--json")
    key = tmp_path / "workshop.key"
    flow.run("keys", "issue", LICENSE_NO, "--out", str(key), *authority,
             "--key-passphrase-file", flow.pass_file("workshop"), "--json")
    lab_key = tmp_path / "lab.key"
    flow.run("lab", "add", "景德镇陶瓷检测中心", "--out", str(lab_key), *authority,
             "--key-passphrase-file", flow.pass_file("lab"), "--json")
    source = tmp_path / "records.csv"
    source.write_text(csv_text(range(1001, 1011)), encoding="utf-8")
    signed = tmp_path / "signed.jsonl"
    flow.run("sign", str(source), "--key", str(key), "--out", str(signed), "--json",
             env={"JDZHI_PASSPHRASE": WORKSHOP_PASSPHRASE})
    flow.run("sign", str(source), "--key", str(key), "--out", str(tmp_path / "human.jsonl"),
             "--passphrase-file", flow.pass_file("workshop"))
    results = tmp_path / "results.csv"
    results.write_text("ware_class,pb,cd\nflat,0.2,0.01\n", encoding="utf-8")
    flow.run("lab", "endorse", LICENSE_NO, "B1", "--results", str(results), "--key",
             str(lab_key), "--report-no", "R-1", "--passphrase-file", flow.pass_file("lab"),
             "--json")
    flow.run("verify", str(signed), "--json")
    bundle = tmp_path / "trust.cbor"
    flow.run("trust", "export", "--out", str(bundle), *authority, "--json")
    flow.run("keys", "list", "--json")
    flow.run("keys", "rotate", LICENSE_NO, "--out", str(tmp_path / "rotated.key"), *authority,
             "--key-passphrase-file", flow.pass_file("workshop"))
    flow.run("registry", "show", LICENSE_NO, "--json")
    flow.run("registry", "audit", "--json")
    flow.run("registry", "export", str(tmp_path / "export.csv"))
    # refusals print one line and still no secret
    flow.run("sign", str(source), "--key", str(key), "--out", str(tmp_path / "wrong.jsonl"),
             expect=ExitCode.KEY_ERROR, env={"JDZHI_PASSPHRASE": AUTHORITY_PASSPHRASE})
    authority_key = Home(flow.home).authority_key_path
    flow.run("sign", str(source), "--key", str(authority_key), "--out",
             str(tmp_path / "authority.jsonl"), *authority, expect=ExitCode.KEY_ERROR)
    flow.run("trust", "export", "--out", str(tmp_path / "t2.cbor"), "--passphrase-file",
             flow.pass_file("workshop"), expect=ExitCode.KEY_ERROR)
    flow.run("keys", "issue", LICENSE_NO, "--out", str(key), *authority,
             "--key-passphrase-file", flow.pass_file("workshop"), expect=ExitCode.CONFLICT,
             env={"JDZHI_DEBUG": "1"})
    flow.run("keys", "issue", LICENSE_NO, "--out", str(tmp_path / "no.key"),
             expect=ExitCode.KEY_ERROR)  # no passphrase anywhere: refused, nothing written

    key_files = [key, lab_key, tmp_path / "rotated.key", authority_key]
    secrets: dict[str, list[bytes]] = {
        "authority passphrase": [AUTHORITY_PASSPHRASE.encode()],
        "workshop passphrase": [WORKSHOP_PASSPHRASE.encode()],
        "lab passphrase": [LAB_PASSPHRASE.encode()],
        "authority private key": _private_material(authority_key, AUTHORITY_PASSPHRASE),
        "workshop private key": _private_material(key, WORKSHOP_PASSPHRASE),
        "rotated private key": _private_material(tmp_path / "rotated.key", WORKSHOP_PASSPHRASE),
        "lab private key": _private_material(lab_key, LAB_PASSPHRASE),
    }
    assert not (tmp_path / "no.key").exists()
    # the search can fail: it finds the key in an unencrypted PEM and in the key file itself
    from cryptography.hazmat.primitives import serialization

    plain_pem = load_key(key, WORKSHOP_PASSPHRASE.encode())._private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    assert any(form in plain_pem for form in secrets["workshop private key"])
    assert any(form in key.read_bytes() for form in secrets["workshop private key"])
    for path in key_files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----"), path
        with pytest.raises(KeyUnusable):
            load_key(path, b"not the passphrase")
    written = [path for path in tmp_path.rglob("*")
               if path.is_file() and path not in key_files and not path.name.endswith(".pass")]
    assert any(path.name.startswith("registry.db") for path in written)
    flow.outputs += [(str(path), path.read_bytes()) for path in written]
    assert len(flow.outputs) > 40
    for where, content in flow.outputs:
        for what, forms in secrets.items():
            for form in forms:
                assert form not in content, f"{what} appears in {where}"
