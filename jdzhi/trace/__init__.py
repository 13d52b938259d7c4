"""Signed product records, labels, verification and scanning."""

__all__: list[str] = []  # the API is in the submodules
