"""Reading the text files people hand to jdzhi (CSV, JSON, JSONL), with one set of clean errors."""

from __future__ import annotations

from pathlib import Path

from jdzhi.errors import InvalidInput

#: the largest text file jdzhi reads into memory: 64 MiB holds well over a million CSV rows
MAX_TEXT_BYTES = 64 * 2**20


def read_text_file(path: Path, *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped), or InvalidInput saying why not."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise InvalidInput(f"{path} is a folder, not a file")
        if size > max_bytes:
            raise InvalidInput(f"{path} is {size / 2**20:.0f} MiB; the limit is "
                               f"{max_bytes / 2**20:.0f} MiB")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text") from None
