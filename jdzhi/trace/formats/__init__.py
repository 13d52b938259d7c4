"""The signed formats of docs/format.md (labels, records, certificates, COSE, base32): pure
encoders and decoders that raise :class:`~jdzhi.trace.formats.common.FormatError`."""

__all__: list[str] = []  # the API is in the submodules
