"""The service center online: ``jdzhi server``, an ASGI application (Starlette, run by uvicorn)
over the home's registry.

It holds no private key: everything it accepts is self-authenticating (records, endorsements and
trust bundles signed by keys the authority certified), and inspectors authenticate with tokens
whose SHA-256 alone the registry keeps. The web framework is imported only by this package, which
only ``jdzhi server`` loads.
"""

__all__ = ["DEFAULT_SCAN_RATE_LIMIT", "MESSAGE_BODY_LIMIT", "RECORDS_BODY_LIMIT",
           "SCAN_BODY_LIMIT"]

#: scans per client per minute unless `jdzhi server --scan-rate-limit` says otherwise (README)
DEFAULT_SCAN_RATE_LIMIT = 120

#: the largest bodies the server reads (README), here so that `jdzhi push` knows them too
SCAN_BODY_LIMIT = 1024 * 1024
RECORDS_BODY_LIMIT = 32 * 1024 * 1024
MESSAGE_BODY_LIMIT = 4 * 1024 * 1024
