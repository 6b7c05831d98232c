"""Fuzzing engines for timelines, libraries and the service (issue 14), shared by the seeded
corpus in ``tests/fuzz/test_fuzz_*.py`` and the long runs in ``benchmarks/fuzz_*.py``.

Every engine takes a ``random.Random`` (same seed, same inputs) and classifies each input's
outcome: ``ok`` (accepted and well-formed), ``refused`` (one clear ``MusicDanceError`` or a 4xx
with the JSON envelope), ``uncaught`` (anything else: the bugs), ``hang`` (over the time limit),
``partial`` (an output that is half written or cannot be read back), ``changed`` (a failed
command changed files).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

HANG_S = 20.0

_ODD_VALUES = [
    None, True, False, 0, -1, 1, 2**63, -(2**63) - 1, 10**400 // 10**300, 1e308, -1e308, 5e-324,
    0.0, -0.0, "", "x", "0", "NaN", "1e999", "../../etc/passwd", "\u0000", "A" * 5000, [], {},
    [1, 2, 3], {"a": 1}, [[[[[]]]]],
]  # fmt: skip


class Hang(Exception):
    """The input took longer than the limit."""


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hang` in this (main) thread after ``seconds`` (SIGALRM)."""

    def expired(signum, frame):
        raise Hang()

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Tally:
    """Counts of outcomes, with a few examples of each bad one."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.slowest_s = 0.0

    def add(self, outcome: str, detail: str = "", seconds: float = 0.0) -> None:
        self.counts[outcome] += 1
        self.slowest_s = max(self.slowest_s, seconds)
        if outcome not in ("ok", "refused"):
            self.examples.setdefault(outcome, [])
            if len(self.examples[outcome]) < 5:
                self.examples[outcome].append(detail[:300])

    @property
    def bad(self) -> int:
        return sum(n for k, n in self.counts.items() if k not in ("ok", "refused"))

    def summary(self) -> dict:
        return {
            "inputs": sum(self.counts.values()),
            **{k: self.counts.get(k, 0) for k in ("ok", "refused", "uncaught", "hang",
                                                   "partial", "changed")},  # fmt: skip
            "slowest_s": round(self.slowest_s, 3),
            "examples": self.examples,
        }


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# -- JSON mutation ---------------------------------------------------------------------------


def _paths(value, prefix=()):
    yield prefix
    if len(prefix) > 12:
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for k, inner in enumerate(value[:12]):
            yield from _paths(inner, (*prefix, k))


def _at(value, path):
    for step in path:
        value = value[step]
    return value


def mutate_json(data, rng: random.Random, rounds: int | None = None):
    """A structurally mutated deep copy of ``data`` (keys removed, wrong types, extreme and
    non-finite numbers, lists repeated or emptied, deep nesting)."""
    try:
        data = copy.deepcopy(data)
    except RecursionError:  # already nested too deep to copy: mutate the top level only
        return {"wrapped": rng.choice(_ODD_VALUES)}
    for _ in range(rounds or rng.choice((1, 1, 1, 2, 3))):
        paths = list(_paths(data))
        path = rng.choice(paths[1:] or paths)
        if not path:
            return rng.choice(_ODD_VALUES)
        parent, key = _at(data, path[:-1]), path[-1]
        value = parent[key]
        op = rng.randrange(10)
        if op == 0 and isinstance(parent, dict):
            del parent[key]
        elif op == 1:
            parent[key] = copy.deepcopy(rng.choice(_ODD_VALUES))
        elif op == 2 and isinstance(value, int | float) and not isinstance(value, bool):
            parent[key] = rng.choice((value * 1e6, -value, value + 1e-9, value * 1e300, 1e999))
        elif op == 3 and isinstance(value, list) and value:
            parent[key] = value * rng.choice((2, 50, 2000))
        elif op == 4 and isinstance(value, list):
            parent[key] = value[: rng.randrange(len(value) + 1)][::-1]
        elif op == 5:
            nested = value
            for _ in range(rng.choice((5, 40, 3000))):
                nested = [nested]
            parent[key] = nested
        elif op == 6 and isinstance(value, str):
            parent[key] = value + rng.choice(("/..", "\x00", "é" * 10, "x" * 10_000))
        elif op == 7 and isinstance(parent, dict):
            parent[rng.choice(("extra", "__proto__", "slots", "fps"))] = rng.choice(_ODD_VALUES)
        elif op == 8 and isinstance(value, int | float) and not isinstance(value, bool):
            parent[key] = rng.choice((float("nan"), float("inf"), -float("inf")))
        elif isinstance(value, str):
            parent[key] = len(value)
        else:
            parent[key] = type(value).__name__
    return data


def mutate_text(text: str, rng: random.Random) -> str:
    """Byte-level damage to JSON text: cuts, flips, spliced tokens."""
    op = rng.randrange(5)
    if op == 0:
        return text[: rng.randrange(len(text) + 1)]
    if op == 1:
        chars = list(text)
        for _ in range(rng.choice((1, 3, 20))):
            chars[rng.randrange(len(chars))] = rng.choice('{}[]",:0-eE.\\ \x00')
        return "".join(chars)
    if op == 2:
        at = rng.randrange(len(text))
        token = rng.choice(("NaN", "Infinity", "-Infinity", "1e999", "[" * 5000))
        return text[:at] + token + text[at:]
    if op == 3:
        return text.replace('"', "'", rng.choice((1, 5)))
    return text + rng.choice(("", "}", "garbage", "\n" * 3))


def dumps_any(data) -> str:
    """JSON text of ``data`` even when it holds NaN, infinities or deep nesting."""
    try:
        return json.dumps(data)
    except (RecursionError, ValueError):
        return '{"schema": "mdtool.timeline", "deep": ' + "[" * 5000 + "]" * 5000 + "}"


# -- timelines -------------------------------------------------------------------------------


def fuzz_timeline_one(text: str, library, tally: Tally, *, render: bool) -> None:
    """Parse ``text`` as a timeline, check it against ``library``, and (``render``) render and
    write it; classify the outcome."""
    from musicdance.choreo.render import render_timeline
    from musicdance.choreo.timeline import parse_timeline
    from musicdance.errors import MusicDanceError

    started = time.perf_counter()
    try:
        with time_limit(HANG_S):
            timeline = parse_timeline(text)
            timeline.validate(library)
            if render:
                motion = render_timeline(timeline, library)
                expected = int(math.floor(timeline.duration_s * timeline.fps + 1e-6)) + 1
                if motion.num_frames != expected:
                    tally.add("partial", f"{motion.num_frames} frames, expected {expected}")
                    return
    except MusicDanceError as error:
        message = str(error)
        outcome = "refused" if "\n" not in message and len(message) < 600 else "uncaught"
        tally.add(outcome, message, time.perf_counter() - started)
        return
    except Hang:
        tally.add("hang", text[:200], time.perf_counter() - started)
        return
    except Exception as error:  # noqa: BLE001 - the bugs being counted
        tally.add("uncaught", f"{type(error).__name__}: {error}", time.perf_counter() - started)
        return
    tally.add("ok", "", time.perf_counter() - started)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- libraries -------------------------------------------------------------------------------

_ROW_DAMAGE = [
    "UPDATE phrases SET energy = 'abc' WHERE rowid = ?",
    "UPDATE phrases SET count_frames = 'not json' WHERE rowid = ?",
    "UPDATE phrases SET count_frames = '[5, 3, -1]' WHERE rowid = ?",
    "UPDATE phrases SET fps = 0 WHERE rowid = ?",
    "UPDATE phrases SET num_frames = -5 WHERE rowid = ?",
    "UPDATE phrases SET num_frames = 99999999999 WHERE rowid = ?",
    "UPDATE phrases SET start_features = x'0102' WHERE rowid = ?",
    "UPDATE phrases SET motion_file = '../../etc/passwd' WHERE rowid = ?",
    "UPDATE phrases SET motion_sha256 = 'x' WHERE rowid = ?",
    "UPDATE phrases SET tempo_bpm = NULL WHERE rowid = ?",
    "UPDATE phrases SET skeleton = 'octopus' WHERE rowid = ?",
    "DELETE FROM phrases WHERE rowid = ?",
    "UPDATE schema_version SET version = 999 WHERE ? > 0",
]


def damage_library(folder: Path, rng: random.Random) -> str:
    """Damage a library folder in one of many ways; returns what was done."""
    db = folder / "library.sqlite"
    if not db.is_file() or db.stat().st_size == 0:
        return "nothing left to damage"
    op = rng.randrange(9)
    if op == 0:
        db.write_bytes(b"")
        return "empty database"
    if op == 1:
        db.unlink()
        return "missing database"
    if op == 2:
        data = db.read_bytes()
        db.write_bytes(data[: rng.randrange(len(data))])
        return "truncated database"
    if op in (3, 4):
        data = bytearray(db.read_bytes())
        for _ in range(rng.choice((1, 4, 64))):
            at = rng.randrange(len(data))
            data[at] = rng.randrange(256)
        db.write_bytes(bytes(data))
        return "flipped database bytes"
    if op == 5:
        files = sorted((folder / "motions").glob("*.npz"))
        target = rng.choice(files)
        if rng.random() < 0.5:
            target.unlink()
            return "missing motion file"
        data = bytearray(target.read_bytes())
        data[rng.randrange(len(data))] ^= 0xFF
        target.write_bytes(bytes(data))
        return "damaged motion file"
    statement = rng.choice(_ROW_DAMAGE)
    try:
        with sqlite3.connect(db) as connection:
            connection.execute(statement, (rng.randrange(1, 8),))
    except (sqlite3.Error, UnicodeDecodeError) as error:  # already damaged beyond SQL
        return f"sql refused: {error}"
    return statement


def fuzz_library_one(folder: Path, rng: random.Random, phrase, tally: Tally) -> None:
    """Run read and write operations on a damaged library; reads must succeed or raise one
    clear error; a failed write must change nothing; repair must be all or nothing."""
    from musicdance.errors import MusicDanceError
    from musicdance.library import open_library
    from musicdance.library.repair import repair_library
    from musicdance.library.validate import validate_library

    def attempt(name: str, fn, writes: bool) -> None:
        before = snapshot(folder) if writes else None
        started = time.perf_counter()
        try:
            with time_limit(HANG_S):
                fn()
        except MusicDanceError as error:
            if writes and snapshot(folder) != before:
                tally.add("changed", f"{name}: {error}")
            elif "\n" in str(error):
                tally.add("uncaught", f"{name}: multi-line {error}")
            else:
                tally.add("refused", "", time.perf_counter() - started)
            return
        except Hang:
            tally.add("hang", name, time.perf_counter() - started)
            return
        except Exception as error:  # noqa: BLE001 - the bugs being counted
            tally.add("uncaught", f"{name}: {type(error).__name__}: {error}")
            return
        tally.add("ok", "", time.perf_counter() - started)

    def read_all():
        library = open_library(folder)
        for info in library.infos():
            library.get(info.id)
        library.stats()

    def validate():
        validate_library(open_library(folder))

    def add():
        import dataclasses

        from musicdance.library import Phrase

        info = dataclasses.replace(phrase.info, id=f"fuzz-{rng.randrange(10**6)}")
        new = Phrase(info=info, motion=phrase.motion, contacts=phrase.contacts)
        open_library(folder).add([new])

    def tag():
        library = open_library(folder)
        library.tag(library.ids()[:2] or ["nothing"], ["fuzzed"])

    def repair():
        destination = folder.parent / f"repaired-{rng.randrange(10**9)}"
        try:
            repair_library(folder, destination)
        except MusicDanceError:
            if destination.exists():
                tally.add("partial", "a failed repair left its destination")
            raise
        if destination.exists():
            open_library(destination).infos()
            shutil.rmtree(destination)

    for name, fn, writes in (("read", read_all, False), ("validate", validate, False),
                             ("add", add, True), ("tag", tag, True),
                             ("repair", repair, False)):  # fmt: skip
        attempt(name, fn, writes)


def library_seed(folder: Path, phrases) -> Path:
    from musicdance.library import create_library

    create_library(folder).add(phrases)
    return folder


def copy_tree(source: Path, destination: Path) -> Path:
    if destination.exists():
        shutil.rmtree(destination)
    shutil.copytree(source, destination)
    return destination


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system
