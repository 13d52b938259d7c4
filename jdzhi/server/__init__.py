"""The service center online: ``jdzhi server``, an ASGI application (Starlette, run by uvicorn)
over the home's registry.

It holds no private key: everything it accepts is self-authenticating (records, endorsements and
trust bundles signed by keys the authority certified), and inspectors authenticate with tokens
whose SHA-256 alone the registry keeps. The web framework is imported only by this package, which
only ``jdzhi server`` loads.
"""

__all__ = ["DEFAULT_SCAN_RATE_LIMIT"]

#: scans per client per minute unless `jdzhi server --scan-rate-limit` says otherwise (README)
DEFAULT_SCAN_RATE_LIMIT = 120
