"""Signing product records: ``jdzhi sign`` (:mod:`jdzhi.trace.signing.batch`, the public entry
point). The private modules hold its parts by job: ``_rows`` (reading and checking the CSV's
rows), ``_chunks`` (signing a chunk of rows, in this process or a worker), ``_staging`` (records
already stored, and new ones staged until the run commits)."""

__all__: list[str] = []  # the API is in the submodules
