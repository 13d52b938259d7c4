"""Reaching the service center online (`jdzhi server`) from elsewhere: :mod:`.client` (the one
HTTP client: addresses, timeouts, errors), :mod:`.uploads` (records, endorsements, trust
bundles) and :mod:`.scans` (inspectors' scans and the center's verdict)."""

__all__: list[str] = []
