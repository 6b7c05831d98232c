"""Starting ``mdtool serve`` on a free loopback port and talking to it with the standard library."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    work_dir: Path
    token: str | None = None
    log: object = None

    def log_text(self) -> str:
        return _tail(self.log)

    def request(
        self, method: str, path: str, body: bytes | dict | None = None,
        headers: dict | None = None, timeout: float = 120.0,
    ) -> tuple[int, dict, bytes]:  # fmt: skip
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, body=None, **kwargs) -> tuple[int, dict]:
        status, _, data = self.request(method, path, body, **kwargs)
        return status, json.loads(data)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_service(
    *args: object, work_dir: Path | None = None, cwd: Path | None = None,
    env: dict | None = None, token: str | None = None, wait_s: float = 60.0,
) -> Served:  # fmt: skip
    """``mdtool serve --port 0 ARGS`` in a child process, once it answers /v1/health."""
    command = [sys.executable, "-m", "mdtool.cli", "serve", "--port", "0", *map(str, args)]
    if work_dir is not None:
        command += ["--work-dir", str(work_dir)]
    log = tempfile.TemporaryFile("w+")  # never a pipe nobody reads
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, text=True, cwd=cwd,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    line = process.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not found:
        process.kill()
        raise RuntimeError(f"mdtool serve did not start: {line!r} {_tail(log)}")
    served = Served(process, int(found.group(1)), work_dir or Path(), token, log)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if served.request("GET", "/v1/health", timeout=5)[0] == 200:
                return served
        except OSError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            served.stop()
            raise RuntimeError(f"mdtool serve did not answer: {_tail(log)}")
        time.sleep(0.1)


def _tail(log) -> str:
    if log is None:
        return ""
    log.flush()
    log.seek(0)
    return log.read()[-4000:]
