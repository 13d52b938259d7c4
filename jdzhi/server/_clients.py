"""Who is asking, without keeping who they are: clients are known by a salted hash of their
address, the salt derived per UTC day from a secret that lives only in the server's memory (and
its workers' environment), so yesterday's hashes cannot be linked to today's or to an address.

Scans are rate-limited per client with a token bucket of ``per_minute`` tokens refilled evenly.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache

#: the environment variable that hands the secret from ``jdzhi server`` to its worker processes
SECRET_ENV = "JDZHI_SERVER_CLIENT_SECRET"
#: buckets kept before idle ones are dropped (bounds the memory a flood of addresses can take)
_MAX_BUCKETS = 100_000


def client_secret() -> bytes:
    """This server's secret: the one its parent process handed down, else a new one."""
    handed = os.environ.get(SECRET_ENV, "")
    try:
        secret = bytes.fromhex(handed)
    except ValueError:
        secret = b""
    return secret if len(secret) == 32 else secrets.token_bytes(32)


@lru_cache(maxsize=4)
def _salt(secret: bytes, day: str) -> bytes:
    return hmac.new(secret, day.encode(), hashlib.sha256).digest()


def client_id(secret: bytes, day: str, address: str) -> bytes:
    """The client's salted hash for ``day`` (YYYY-MM-DD): 16 bytes, the salt never stored.

    Keyed BLAKE2b (a MAC by design, RFC 7693) rather than HMAC: OpenSSL's HMAC lets go of the
    GIL, and taking it back from the busy database thread cost the event loop tens of
    microseconds a scan."""
    return hashlib.blake2b(address.encode(), key=_salt(secret, day), digest_size=16).digest()


@dataclass
class RateLimiter:
    """At most ``per_minute`` scans per client per minute (bursts up to that), 0 for no limit."""

    per_minute: int
    _buckets: dict[bytes, tuple[float, float]] = field(default_factory=dict)

    def retry_after(self, client: bytes, now: float | None = None) -> int:
        """0 when the client may scan now (the scan is counted), else seconds to wait."""
        if self.per_minute <= 0:
            return 0
        moment = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        tokens, last = self._buckets.get(client, (float(self.per_minute), moment))
        tokens = min(float(self.per_minute), tokens + (moment - last) * rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, moment)
            return max(1, math.ceil((1.0 - tokens) / rate))
        if len(self._buckets) >= _MAX_BUCKETS:
            self._drop_idle(moment)
        self._buckets[client] = (tokens - 1.0, moment)
        return 0

    def _drop_idle(self, moment: float) -> None:
        full_after = 60.0  # an idle minute refills any bucket: dropping it changes nothing
        self._buckets = {client: state for client, state in self._buckets.items()
                         if moment - state[1] < full_after}
