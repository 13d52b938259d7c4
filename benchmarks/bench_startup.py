"""CLI start-up: `jdzhi --help` beside a minimal two-command Typer app, measured in the same run.

Target: jdzhi within 1.25x of the bare app (heavy libraries load only in the commands using them).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL_APP = '''
import typer
app = typer.Typer()
@app.command()
def one() -> None:
    """First."""
@app.command()
def two() -> None:
    """Second."""
app()
'''


def _median_seconds(command: list[str], runs: int) -> float:
    subprocess.run(command, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(runs: int = 15) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "minimal_typer_app.py"
        script.write_text(MINIMAL_APP)
        bare = _median_seconds([sys.executable, str(script), "--help"], runs)
    jdzhi = _median_seconds([sys.executable, "-m", "jdzhi", "--help"], runs)
    return {"bare_typer_help_s": bare, "jdzhi_help_s": jdzhi, "ratio": jdzhi / bare}


if __name__ == "__main__":
    figures = measure()
    print(f"bare Typer app --help : {figures['bare_typer_help_s'] * 1000:7.1f} ms")
    print(f"jdzhi --help          : {figures['jdzhi_help_s'] * 1000:7.1f} ms")
    print(f"ratio                 : {figures['ratio']:.2f}x (target <= 1.25x)")
