"""`jdzhi --help` stays fast: the CLI imports no heavy library until a command needs it."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY_MODULES = (
    "sqlite_utils", "cryptography", "numpy", "PIL", "cv2", "imagehash", "qrcode", "zxingcpp",
    "reportlab", "cbor2", "pdqhash", "platformdirs",
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

