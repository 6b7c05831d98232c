"""``mdtool serve --processes N``: N pre-forked workers on one port, each with its own runtime;
requests from concurrent clients are answered by more than one worker, the answers are those
of one process, and stopping the server stops every worker."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from runtime_support import STARTER, runtime, write_song_file
from service_support import start_service


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the parent pid
            found.append(int(stat.parent.name))
    return found


def _busy_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_workers_share_the_port_and_stop_together(tmp_path):
    song = write_song_file(tmp_path)
    served = start_service("--library", STARTER, "--no-bundle", "--processes", 2,
                           "--no-preload")  # fmt: skip
    try:
        workers = _children(served.process.pid)
        assert len(workers) == 2
        before = {pid: _busy_seconds(pid) for pid in workers}
        answers, errors = [], []

        def client():
            try:
                for _ in range(2):
                    status, body = served.json(
                        "POST", "/v1/choreograph?seed=4", song.read_bytes(),
                        headers={"Content-Type": "audio/wav"},
                    )  # fmt: skip
                    answers.append((status, body))
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors and len(answers) == 8
        expected = runtime().choreograph_file(song, seed=4).to_json()
        expected["song"]["path"] = None  # no name= given: the upload has no file name
        for status, body in answers:
            assert status == 200 and body["timeline"] == expected
        worked = [_busy_seconds(pid) - before[pid] for pid in workers]
        assert min(worked) > 0.2, worked  # both workers analysed songs
    finally:
        served.stop()
    time.sleep(0.5)
    assert all(not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid) for pid in workers)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().splitlines()[2].lower()
    except OSError:
        return "zombie"
