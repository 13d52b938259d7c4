"""`jdzhi --help` stays fast: the CLI imports no heavy library until a command needs it."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import Invoke

HEAVY_MODULES = (
    "sqlalchemy", "psycopg", "alembic", "sqlite_utils", "cryptography", "nacl", "numpy", "PIL",
    "cv2", "faiss", "qrcode", "zxingcpp", "reportlab", "cbor2", "pdqhash", "platformdirs", "numba",
    "starlette", "uvicorn", "fastapi", "httpx", "anyio",
)


def test_cli_start_up_imports_no_heavy_library() -> None:
    probe = (
        "import sys, json; from jdzhi.cli import app; "
        "json.dump(sorted({m.split('.')[0] for m in sys.modules}), sys.stdout)"
    )
    loaded = set(json.loads(subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout))
    assert loaded.isdisjoint(HEAVY_MODULES), sorted(loaded & set(HEAVY_MODULES))



def test_every_lazy_summary_is_its_commands_own_first_help_line() -> None:
    from jdzhi.cli import LAZY_COMMANDS, load_command

    for name, lazy in LAZY_COMMANDS.items():
        command = load_command(name)
        first_line = " ".join((command.help or "").strip().split("\n\n")[0].split())
        assert lazy.summary == first_line, name


def test_root_help_lists_every_command_without_importing_them(cli: Invoke) -> None:
    from jdzhi.cli import LAZY_COMMANDS

    result = cli("--help")
    assert result.exit_code == 0
    for name, lazy in LAZY_COMMANDS.items():
        assert name in result.stdout
        assert lazy.summary[:30] in " ".join(result.stdout.split())
