"""The runtime service's policy, shared by ``mdtool serve`` and ``mdruntime.service``.

:class:`ServiceConfig` is the one home of the service's defaults and limits (the CLI's option
defaults are read from it); :meth:`ServiceConfig.check_binding` is the one place of the rule
that any address but loopback needs a token. Standard library only, so that the CLI can show
the defaults in its help without loading starlette or numpy.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass

from musicdance.errors import MusicDanceError

__all__ = ["MIB", "ServiceConfig", "is_loopback"]

MIB = 1024 * 1024


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class ServiceConfig:
    """Limits and binding of the service (the options of ``mdtool serve``)."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = None
    max_upload_bytes: int = 64 * MIB
    max_json_bytes: int = 8 * MIB
    body_timeout_s: float = 30.0
    request_timeout_s: float = 120.0
    workers: int = max(os.cpu_count() or 1, 1)
    queue_limit: int = 32
    max_song_s: float = 30 * 60.0
    max_pose_samples: int = 100_000
    #: open connections at most (more are answered 503 and closed at once)
    limit_concurrency: int = 1024
    #: a connection must send a whole request head within this (idle and slow clients)
    idle_timeout_s: float = 10.0
    #: frames one render may have (song length x fps): 30 minutes at 60 fps
    max_frames: int = 108_000
    #: JSON bodies: nesting depth and value count, checked before parsing
    max_json_depth: int = 32
    max_json_values: int = 500_000
    #: open /v1/live WebSocket sessions at most (more are refused with close code 1013)
    max_live_sessions: int = 16

    def public(self) -> dict:
        """The limits clients may want to know (no token, no host)."""
        data = asdict(self)
        for secret in ("token", "host", "port"):
            data.pop(secret)
        return data

    def check_binding(self) -> None:
        """Refuse to bind beyond this machine without a token (one clear error)."""
        if not is_loopback(self.host) and not self.token:
            raise MusicDanceError(
                f"binding to {self.host} exposes the service beyond this machine: give a token "
                "(--token or MDTOOL_SERVE_TOKEN), which clients send as 'Authorization: Bearer "
                "TOKEN'"
            )
