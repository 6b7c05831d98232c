"""One SDK policy under every shell: the CLI and the runtime call the same SDK functions for the
service defaults and the token rule, choosing the bundle, validating a timeline and exporting."""

from __future__ import annotations

import pytest

from musicdance.errors import MusicDanceError
from musicdance.serving import ServiceConfig, is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.4", False), ("::", False), ("example.org", False)],
)  # fmt: skip
def test_loopback_rule(host, loopback):
    assert is_loopback(host) is loopback
    config = ServiceConfig(host=host)
    if loopback:
        config.check_binding()
    else:
        with pytest.raises(MusicDanceError, match=f"binding to {host} .* give a token"):
            config.check_binding()
        ServiceConfig(host=host, token="secret").check_binding()


def test_serve_defaults_come_from_the_service_config():
    import inspect

    from mdtool.serve_commands import serve

    defaults = ServiceConfig()
    options = {name: p.default.default for name, p in inspect.signature(serve).parameters.items()}
    assert options["host"] == defaults.host and options["port"] == defaults.port
    assert options["max_upload_mb"] * 1024 * 1024 == defaults.max_upload_bytes
    assert options["max_song_min"] * 60 == defaults.max_song_s
    assert options["request_timeout"] == defaults.request_timeout_s
    assert options["body_timeout"] == defaults.body_timeout_s
    assert options["workers"] == defaults.workers and options["queue"] == defaults.queue_limit
