"""Mutation fuzzing of mdtool's file readers: mutators, one-input checks and a tally.

Shared by the seeded corpus in ``tests/fuzz/`` (run by the test suite, through hypothesis) and
the long runs in ``benchmarks/fuzz_*.py``. Every mutation is driven by a ``random.Random`` so a
(seed, source file) pair reproduces an input exactly.

An input ends in one of these outcomes:

- ``read``: the reader accepted it and every writer either wrote a file that reads back or
  refused with a ``MusicDanceError`` and left nothing behind;
- ``rejected``: the reader raised ``MusicDanceError`` (one line naming the file);
- ``uncaught``: any other exception escaped (a bug);
- ``unreadable``: a writer wrote a file that its own reader then rejected, or left a file or a
  temporary file behind after refusing;
- ``hang``: the input took longer than the per-input limit (long runs only).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import re
import struct
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicdance.errors import MusicDanceError

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"

INTERESTING_NUMBERS = [
    "0",
    "-0",
    "1",
    "-1",
    "0.0",
    "1e308",
    "-1e308",
    "1e400",
    "inf",
    "-inf",
    "nan",
    "NaN",
    "1e-320",
    "99999999999999999999",
    "4294967296",
    "2147483648",
    "-2147483649",
    "1e7",
    "12345678.9",
    ".",
    "-",
    "1e",
    "0x10",
    "",
    "3.4e38",
    "0.00000001",
]
INTERESTING_INTS = [
    -1,
    0,
    1,
    2,
    3,
    4,
    5,
    7,
    16,
    255,
    256,
    65535,
    2**31 - 1,
    2**31,
    2**32,
    2**53,
    2**63,
    10**30,
    -(2**31),
]
INTERESTING_FLOATS = [
    0.0,
    -0.0,
    1e-300,
    1e30,
    -1e30,
    1e300,
    float("nan"),
    float("inf"),
    float("-inf"),
    3.4e38,
    1e-45,
    0.5,
]
BVH_WORDS = [
    "ROOT",
    "JOINT",
    "End",
    "Site",
    "{",
    "}",
    "OFFSET",
    "CHANNELS",
    "MOTION",
    "HIERARCHY",
    "Frames:",
    "Frame Time:",
    "Xrotation",
    "Yrotation",
    "Zrotation",
    "Xposition",
    "Yposition",
    "Zposition",
    "6",
    "3",
    "0",
    "7",
    "-3",
    "1000000",
    "[/x]",  # rich markup in a name must not break the CLI's error line
]


# ---------------------------------------------------------------------------------------------
# Mutators


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Generic byte mutations: flips, deletions, duplications, truncation, random inserts."""
    data = bytearray(data)
    op = rng.randrange(6)
    if not data:
        return bytes(rng.randbytes(rng.randrange(1, 64)))
    i = rng.randrange(len(data))
    if op == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif op == 1:
        del data[i : i + rng.randint(1, 256)]
    elif op == 2:
        data[i:i] = data[i : i + rng.randint(1, 256)]
    elif op == 3:
        del data[rng.randrange(len(data)) :]
    elif op == 4:
        data[i:i] = rng.randbytes(rng.randint(1, 32))
    else:
        j = rng.randrange(len(data))
        data[i], data[j] = data[j], data[i]
    return bytes(data)


_NUMBER = re.compile(r"-?\d*\.?\d+(?:[eE][-+]?\d+)?")


def mutate_bvh(text: str, rng: random.Random) -> bytes:
    """One to three structure-aware BVH mutations (or a byte mutation)."""
    for _ in range(rng.randint(1, 4)):
        text = _mutate_bvh_once(text, rng)
    data = text.encode("utf-8", errors="replace")
    return mutate_bytes(data, rng) if rng.random() < 0.1 else data


def _mutate_bvh_once(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    header_end = next((k for k, line in enumerate(lines) if line.strip() == "MOTION"), len(lines))
    # most mutations aim at the hierarchy and the motion header, where the parser branches
    pick = rng.randrange(header_end + 3) if rng.random() < 0.8 else rng.randrange(len(lines))
    pick = min(pick, len(lines) - 1)
    op = rng.randrange(10)
    line = lines[pick]
    if op in (0, 1):  # a number becomes an interesting one
        numbers = list(_NUMBER.finditer(line))
        if numbers:
            m = rng.choice(numbers)
            lines[pick] = line[: m.start()] + rng.choice(INTERESTING_NUMBERS) + line[m.end() :]
    elif op == 2:  # a word becomes another BVH word
        words = line.split()
        if words:
            words[rng.randrange(len(words))] = rng.choice(BVH_WORDS)
            lines[pick] = " ".join(words)
    elif op == 3:
        del lines[pick]
    elif op == 4:
        lines.insert(pick, lines[rng.randrange(len(lines))])
    elif op == 5:
        other = rng.randrange(len(lines))
        lines[pick], lines[other] = lines[other], lines[pick]
    elif op == 6:  # a repeated rotation axis (YXY) or a wrong channel count
        if "CHANNELS" in line:
            words = line.split()
            k = rng.randrange(2, len(words)) if len(words) > 2 else 1
            words[k] = rng.choice(BVH_WORDS[12:18] + ["2", "9", "-1"])
            lines[pick] = " ".join(words)
    elif op == 7:  # the frame header
        k = next((k for k, row in enumerate(lines) if row.startswith("Frame")), None)
        if k is not None:
            lines[k + rng.randrange(2)] = rng.choice(
                [
                    "Frames: 0",
                    "Frames: -5",
                    "Frames: 99999999999",
                    "Frame Time: 0",
                    "Frame Time: -0.033",
                    "Frame Time: nan",
                    "Frame Time: 1e-300",
                    "Frame Time: inf",
                    "Frame Time: 1e300",
                    "Frames: 1",
                    "Frame Time: 0.00001",
                ]
            )
    elif op == 8:  # a joint moved out of its parent: cut a block and paste it elsewhere
        start = rng.randrange(max(header_end, 1))
        block = lines[start : start + rng.randint(1, 12)]
        del lines[start : start + len(block)]
        at = rng.randrange(max(len(lines), 1))
        lines[at:at] = block
    else:  # a whole motion row damaged
        if len(lines) > header_end + 3:
            row = rng.randrange(header_end + 3, len(lines))
            words = lines[row].split()
            if words:
                words[rng.randrange(len(words))] = rng.choice(INTERESTING_NUMBERS)
                lines[row] = " ".join(words)
    return "\n".join(lines)


def split_glb(data: bytes) -> tuple[dict[str, Any], bytes]:
    """JSON document and BIN chunk of a well-formed GLB (the corpus files)."""
    json_length = struct.unpack_from("<I", data, 12)[0]
    document = json.loads(data[20 : 20 + json_length])
    bin_start = 20 + json_length
    bin_length = struct.unpack_from("<I", data, bin_start)[0]
    return document, data[bin_start + 8 : bin_start + 8 + bin_length]


_DEEP = re.compile(r'"__DEEP_(\d+)__"')


def _encode(document: Any) -> bytes:
    """JSON text with every deep-nesting marker replaced by that many nested arrays."""
    text = json.dumps(document, separators=(",", ":"))
    text = _DEEP.sub(lambda m: "[" * int(m.group(1)) + "1" + "]" * int(m.group(1)), text)
    return text.encode("utf-8")


def pack_glb(document: Any, blob: bytes) -> bytes:
    text = _encode(document)
    text += b" " * (-len(text) % 4)
    blob += b"\0" * (-len(blob) % 4)
    total = 12 + 8 + len(text) + 8 + len(blob)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(blob), b"BIN\0"),
            blob,
        ]
    )


def _slots(value: Any, out: list) -> None:
    """Every (container, key) pair of a JSON tree."""
    if isinstance(value, dict):
        for key in list(value):
            out.append((value, key))
            _slots(value[key], out)
    elif isinstance(value, list):
        for index in range(len(value)):
            out.append((value, index))
            _slots(value[index], out)


def _odd_value(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return rng.choice(INTERESTING_INTS)
    if kind == 1:
        return rng.choice(INTERESTING_FLOATS)
    if kind == 2:
        return rng.choice([None, True, False, "", "x" * 300, "../../../../etc/passwd"])
    if kind == 3:
        return []
    if kind == 4:
        return {}
    if kind == 5:  # deep nesting, spliced in as text after encoding (see _encode)
        return f"__DEEP_{rng.choice([10, 100, 2000, 50000])}__"
    if kind == 6:
        return [rng.choice(INTERESTING_INTS) for _ in range(rng.randint(1, 20))]
    return rng.choice(
        [
            "LINEAR",
            "STEP",
            "CUBICSPLINE",
            "SCALAR",
            "VEC4",
            "MAT4",
            "rotation",
            "translation",
            "scale",
            "weights",
        ]
    )


def mutate_glb(data: bytes, rng: random.Random, *, as_gltf: bool = False) -> tuple[bytes, dict]:
    """A mutated GLB (or .gltf JSON with a data: or relative buffer) and any side files.

    Returns the main file's bytes and ``{name: bytes}`` of files to place beside it.
    """
    document, blob = split_glb(data)
    side: dict[str, bytes] = {}
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(10)
        if op <= 3:  # a JSON value becomes an odd one, a key goes, or an integer shifts
            slots: list = []
            _slots(document, slots)
            container, key = rng.choice(slots)
            if op == 0 and isinstance(container, dict):
                del container[key]
            elif (
                op == 1 and isinstance(container[key], int) and not isinstance(container[key], bool)
            ):
                container[key] += rng.choice([-1, 1, 4, -4, 1000, 10**9])
            else:
                container[key] = _odd_value(rng)
        elif op == 4:  # binary data: odd floats at an aligned offset
            if blob:
                at = rng.randrange(0, len(blob) // 4) * 4
                value = rng.choice(INTERESTING_FLOATS)
                with np.errstate(over="ignore"):
                    packed = np.array([value], "<f4").tobytes()
                blob = blob[:at] + packed + blob[at + 4 :]
        elif op == 5:  # many extra empty nodes
            nodes = document.get("nodes")
            if isinstance(nodes, list):
                nodes.extend({} for _ in range(rng.choice([10, 20000])))
        elif op == 6:  # a declared count far beyond the buffer
            accessors = document.get("accessors")
            if isinstance(accessors, list) and accessors and isinstance(accessors[0], dict):
                target = rng.choice(accessors)
                if isinstance(target, dict):
                    target["count"] = rng.choice([2**31, 2**40, 10**12, 0, -1])
        elif op == 7:  # a child that is its own ancestor, or shared by two parents
            nodes = document.get("nodes")
            if isinstance(nodes, list) and len(nodes) > 2 and isinstance(nodes[-1], dict):
                nodes[-1]["children"] = [rng.randrange(len(nodes))]
        elif op == 8:  # a byte stride or offset out of line
            views = document.get("bufferViews")
            if isinstance(views, list) and views and isinstance(views[0], dict):
                view = rng.choice(views)
                if isinstance(view, dict):
                    view[rng.choice(["byteStride", "byteOffset", "byteLength"])] = rng.choice(
                        INTERESTING_INTS
                    )
        else:  # animation timing: huge or negative key times via the writer's fps extra
            asset = document.get("asset")
            if isinstance(asset, dict):
                asset["extras"] = {"musicdance": {"fps": rng.choice(INTERESTING_FLOATS + [1e9])}}
    if as_gltf:
        buffers = document.get("buffers")
        if isinstance(buffers, list) and buffers and isinstance(buffers[0], dict):
            choice = rng.randrange(4)
            if choice == 0:
                buffers[0]["uri"] = "motion.bin"
                side["motion.bin"] = blob
            elif choice == 1:
                buffers[0]["uri"] = rng.choice(
                    [
                        "../../../../etc/passwd",
                        "/etc/passwd",
                        "file:///etc/passwd",
                        "%2e%2e/%2e%2e/etc/hostname",
                        "sub/../../x.bin",
                        "C:\\x.bin",
                        "http://example.com/x.bin",
                        "data:application/octet-stream;base64,@@",
                    ]
                )
            else:
                import base64

                encoded = base64.b64encode(blob).decode("ascii")
                buffers[0]["uri"] = "data:application/octet-stream;base64," + encoded
        text = _encode(document)
        return (mutate_bytes(text, rng) if rng.random() < 0.1 else text), side
    packed = pack_glb(document, blob)
    return (mutate_bytes(packed, rng) if rng.random() < 0.15 else packed), side


# ---------------------------------------------------------------------------------------------
# Checks


@dataclass
class Tally:
    """Counts of outcomes over a fuzz run, with the first few details of each failure kind."""

    counts: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    peak_bytes: int = 0

    def add(self, outcome: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if outcome in FAILURES and len(self.examples.setdefault(outcome, [])) < 5:
            self.examples[outcome].append(detail)

    @property
    def inputs(self) -> int:
        return sum(self.counts.values())

    @property
    def failures(self) -> int:
        return sum(self.counts[name] for name in FAILURES)


FAILURES = ("uncaught", "unreadable", "hang", "cli")


def _describe(error: BaseException) -> str:
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"{type(error).__name__}: {str(error)[:200]}{where}"


def check_motion_file(path: Path, reader: Callable[[Path], Any]) -> tuple[str, str]:
    """Read ``path``; if it reads, every writer must write something readable or refuse cleanly.

    numpy warnings count as uncaught: bad values must end in one clear error, not in noise.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return _check_motion_file(path, reader)


def _check_motion_file(path: Path, reader: Callable[[Path], Any]) -> tuple[str, str]:
    try:
        motion = reader(path)
    except MusicDanceError as error:
        if "\n" in str(error) or str(path) not in str(error):
            return "uncaught", f"error is not one line naming the file: {error}"
        return "rejected", ""
    except Exception as error:  # noqa: BLE001 - counting bugs is the point
        return "uncaught", _describe(error)
    from musicdance.io.bvh import read_bvh, write_bvh
    from musicdance.io.gltf import read_gltf, write_glb

    with tempfile.TemporaryDirectory(prefix="mdfuzz-out-") as folder:
        for write, read_back, name in (
            (write_bvh, read_bvh, "out.bvh"),
            (write_glb, read_gltf, "out.glb"),
        ):
            target = Path(folder) / name
            try:
                write(motion, target)
            except MusicDanceError:
                if any(Path(folder).iterdir()):
                    return "unreadable", f"{name}: a refused write left files behind"
                continue
            except Exception as error:  # noqa: BLE001
                return "uncaught", f"writing {name}: {_describe(error)}"
            try:
                read_back(target)
            except MusicDanceError as error:
                return "unreadable", f"{name}: {error.message}"
            except Exception as error:  # noqa: BLE001
                return "unreadable", f"{name}: {_describe(error)}"
            target.unlink()
    return "read", ""


def check_cli_convert(path: Path, suffix: str) -> tuple[str, str]:
    """``mdtool convert path out.<suffix>`` in-process: exit 0 with a readable output, or
    exit 1 with one ``error: FILE: ...`` line and no output file."""
    from mdtool.cli import main

    with tempfile.TemporaryDirectory(prefix="mdfuzz-cli-") as folder:
        target = Path(folder) / f"out{suffix}"
        stderr = io.StringIO()
        code = 0
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            try:
                main(["convert", str(path), str(target)])
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else 1
            except Exception as error:  # noqa: BLE001
                return "cli", f"convert raised {_describe(error)}"
        text = stderr.getvalue().strip()
        leftovers = [p.name for p in Path(folder).iterdir() if p != target]
        if leftovers:
            return "cli", f"temporary files left: {leftovers}"
        if code == 0:
            if not target.exists():
                return "cli", "exit 0 but no output"
            return "read", ""
        if target.exists():
            return "cli", f"exit {code} but an output file was written"
        if code != 1 or "internal error" in text or not text.startswith("error:"):
            return "cli", f"exit {code}: {text[:300]}"
        if len(text.splitlines()) != 1:
            return "cli", f"more than one line: {text[:300]}"
        return "rejected", ""


def check_audio_file(path: Path, *, analyse: bool = True) -> tuple[str, str]:
    """Decode ``path`` and (when it decodes) analyse it: a result or one clear error."""
    import warnings

    from musicdance.audio.analysis import analyze

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a numpy warning counts as a failure to say it clearly
        try:
            if analyse:
                result = analyze(path)
                if not all(math.isfinite(b) for b in result.beat_times_s):
                    return "uncaught", "non-finite beat times"
            else:
                from musicdance.audio.load import load_audio

                load_audio(path)
        except MusicDanceError as error:
            if "\n" in str(error) or str(path) not in str(error):
                return "uncaught", f"error is not one line naming the file: {error}"
            return "rejected", ""
        except Exception as error:  # noqa: BLE001
            return "uncaught", _describe(error)
    return "read", ""


# ---------------------------------------------------------------------------------------------
# Corpora


def bvh_corpus() -> list[Path]:
    """The shared motion-capture files, the demo dance, and a BVH written by mdtool."""
    files = sorted((SHARED_DATA / "bvh").glob("*.bvh")) + [REPO / "examples" / "demo_dance.bvh"]
    return [p for p in files if p.is_file()]


def small_bvh_text(path: Path, max_frames: int = 40) -> str:
    """The file with its motion block cut to ``max_frames`` (fast to mutate and read)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    head, _, body = text.partition("\nMOTION")
    lines = body.strip("\n").split("\n")
    frames = [row for row in lines[2:] if row.strip()][:max_frames]
    return "\n".join([head, "MOTION", f"Frames: {len(frames)}", lines[1].strip(), *frames]) + "\n"


def glb_corpus(folder: Path) -> list[Path]:
    """GLB files written by mdtool from the BVH corpus (short) into ``folder``."""
    from musicdance.io.bvh import read_bvh
    from musicdance.io.gltf import write_glb
    from musicdance.motion.motion import slice_frames

    out = []
    for source in bvh_corpus()[:4]:
        motion = slice_frames(read_bvh(source), 0, 20)
        target = folder / f"{source.stem}.glb"
        write_glb(motion, target)
        out.append(target)
    return out


# ---------------------------------------------------------------------------------------------
# Long runs (benchmarks/fuzz_*.py)


class _Hang(BaseException):
    """Raised by the alarm when one input runs past its time limit (not an ``Exception``, so
    no handler in the code under test swallows it)."""


def run_campaign(
    name: str,
    make_input: Callable[[random.Random, Path], Path],
    checks: list[Callable[[Path], tuple[str, str]]],
    *,
    seconds: float,
    seed: int,
    limit_s: float = 20.0,
    max_inputs: int | None = None,
    memory_limit_bytes: int | None = 8 * 1024**3,
    report_every: int = 500,
) -> Tally:
    """Fuzz for ``seconds``: make an input, run every check on it, tally the outcomes.

    An alarm stops any input after ``limit_s`` seconds (counted as a hang); the address space
    is capped at ``memory_limit_bytes`` so an allocation from an unchecked declared size fails
    (as an uncaught ``MemoryError``) instead of swapping; the peak traced allocation of any one
    input is recorded (``tracemalloc``, which sees numpy arrays).
    """
    import resource
    import signal
    import time
    import tracemalloc

    if memory_limit_bytes:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = (
            memory_limit_bytes if hard == resource.RLIM_INFINITY else min(hard, memory_limit_bytes)
        )
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    def alarm(signum, frame):
        raise _Hang()

    signal.signal(signal.SIGALRM, alarm)
    tally = Tally()
    rng = random.Random(seed)
    tracemalloc.start()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"mdfuzz-{name}-") as folder:
        work = Path(folder)
        while time.monotonic() - start < seconds:
            if max_inputs is not None and tally.inputs >= max_inputs:
                break
            input_seed = rng.randrange(2**32)
            case = work / "case"
            case.mkdir(exist_ok=True)
            tracemalloc.reset_peak()
            signal.setitimer(signal.ITIMER_REAL, limit_s)
            try:
                try:
                    path = make_input(random.Random(input_seed), case)
                except Exception as error:  # noqa: BLE001 - a mutator bug, not a reader bug
                    print(f"  mutator failed on seed {input_seed}: {_describe(error)}")
                    continue
                outcome, detail = "read", ""
                for k, check in enumerate(checks):
                    found, why = check(path)
                    if k == 0 or found in FAILURES:
                        outcome, detail = found, why
                    if found in FAILURES:
                        break
            except _Hang:
                outcome, detail = "hang", f"seed {input_seed}"
            except MemoryError:
                outcome, detail = "uncaught", f"MemoryError, seed {input_seed}"
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            tally.peak_bytes = max(tally.peak_bytes, tracemalloc.get_traced_memory()[1])
            tally.add(outcome, f"{detail} (seed {input_seed})")
            for leftover in case.iterdir():
                if leftover.is_file():
                    leftover.unlink()
            if report_every and tally.inputs % report_every == 0:
                print(f"  {tally.inputs} inputs, {dict(tally.counts)}", flush=True)
    tracemalloc.stop()
    return tally


def print_tally(name: str, tally: Tally, seconds: float) -> None:
    import resource

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: {tally.inputs} inputs in {seconds:.0f} s")
    for outcome in ("read", "rejected", *FAILURES):
        print(f"  {outcome:>10}: {tally.counts.get(outcome, 0)}")
    print(
        f"  peak traced allocation of one input: {tally.peak_bytes / 1e6:.1f} MB; "
        f"process peak RSS {rss_mb:.0f} MB"
    )
    for outcome, details in tally.examples.items():
        for detail in details:
            print(f"  {outcome}: {detail}")


def campaign_main(
    doc: str,
    title: str,
    make_checks: Callable[[Any], tuple[Callable, list[Callable[[Path], tuple[str, str]]]]],
    *,
    name: str,
    cli_every: int,
    report_every: int = 500,
) -> None:
    """The command line of a ``benchmarks/fuzz_*.py`` run: parse ``--seconds --seed --inputs
    --cli-every``, run the campaign that ``make_checks(args)`` describes (``make_input`` and the
    checks), print the tally and exit 1 if any input failed."""
    import argparse
    import sys
    import time

    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--inputs", type=int, default=None, help="stop after this many inputs")
    parser.add_argument(
        "--cli-every", type=int, default=cli_every, help="run the CLI on every Nth input"
    )
    args = parser.parse_args()
    make_input, checks = make_checks(args)
    start = time.monotonic()
    tally = run_campaign(
        name, make_input, checks, seconds=args.seconds, max_inputs=args.inputs, seed=args.seed,
        report_every=report_every,
    )  # fmt: skip
    print_tally(title, tally, time.monotonic() - start)
    sys.exit(1 if tally.failures else 0)


def every_nth(check: Callable[[Path, int], tuple[str, str]], every: int) -> Callable:
    """A check that runs ``check(path, n)`` on every ``every``-th input only (the CLI is slow)."""
    counter = {"n": 0}

    def sometimes(path: Path) -> tuple[str, str]:
        counter["n"] += 1
        return check(path, counter["n"]) if counter["n"] % every == 0 else ("read", "")

    return sometimes


# ---------------------------------------------------------------------------------------------
# Audio


def audio_corpus(folder: Path, seconds: float = 4.0) -> list[Path]:
    """Short clips of the demo song in several containers and sample formats (WAV int16 and
    float stereo, FLAC, Ogg, mp3) and the first 96 kB of the shipped mp3, into ``folder``."""
    import soundfile as sf

    from musicdance.audio.load import load_audio

    y, _ = load_audio(REPO / "examples" / "demo_song.mp3", sr_hz=22050)
    clip = y[int(30 * 22050) : int((30 + seconds) * 22050)]
    stereo = np.stack([clip, clip[::-1]], axis=1)
    out = []
    for name, data, rate, subtype in (
        ("int16.wav", clip, 22050, "PCM_16"),
        ("float.wav", stereo, 44100, "FLOAT"),
        ("clip.flac", clip, 22050, "PCM_16"),
        ("clip.ogg", clip, 22050, "VORBIS"),
        ("clip.mp3", clip, 22050, "MPEG_LAYER_III"),
    ):
        path = folder / name
        sf.write(path, data, rate, subtype=subtype)
        out.append(path)
    # the start of the real demo song's mp3 stream, as shipped (cut at about 5 s)
    head = folder / "demo_head.mp3"
    head.write_bytes((REPO / "examples" / "demo_song.mp3").read_bytes()[: 96 * 1024])
    out.append(head)
    return out


def mutate_audio(data: bytes, suffix: str, rng: random.Random) -> bytes:
    """WAV header fields (rate, channels, bits, sizes, format) and sample values, or bytes."""
    data = bytearray(data)
    if suffix == ".wav" and data[:4] == b"RIFF" and rng.random() < 0.75:
        fmt = data.find(b"fmt ")
        at = data.find(b"data")
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(6)
            if op == 0 and fmt > 0:  # sample rate
                rate = rng.choice(
                    [0, 1, 2, 100, 3999, 4000, 8000, 192000, 768001, 2**31 - 1, 2**32 - 1]
                )
                struct.pack_into("<I", data, fmt + 12, rate)
            elif op == 1 and fmt > 0:  # channels
                struct.pack_into(
                    "<H", data, fmt + 10, rng.choice([0, 1, 2, 3, 64, 65, 1024, 65535])
                )
            elif op == 2 and fmt > 0:  # format code and bits per sample
                struct.pack_into("<H", data, fmt + 8, rng.choice([0, 1, 2, 3, 6, 7, 0xFFFE]))
                struct.pack_into("<H", data, fmt + 22, rng.choice([0, 1, 8, 16, 24, 32, 64]))
            elif op == 3 and at > 0:  # declared data size
                struct.pack_into(
                    "<I", data, at + 4, rng.choice([0, 1, 2**31, 2**32 - 1, len(data) * 1000])
                )
            elif op == 4 and at > 0:  # odd sample values (float files: 1e30, NaN, inf)
                value = rng.choice([1e30, -1e30, float("nan"), float("inf"), 3.4e38, 1e3, 2.0])
                start = at + 8 + rng.randrange(0, max((len(data) - at - 8) // 4, 1)) * 4
                count = rng.choice([1, 100, 10**6])
                with np.errstate(over="ignore"):
                    packed = np.full(count, value, "<f4").tobytes()
                data[start : start + len(packed)] = packed[: max(len(data) - start, 0)]
            elif op == 5:  # RIFF size
                struct.pack_into("<I", data, 4, rng.choice([0, 4, 2**32 - 1]))
        return bytes(data)
    return mutate_bytes(bytes(data), rng)


# ---------------------------------------------------------------------------------------------
# Growth (issue 24): cost counted in executed Python lines or traced bytes, never in seconds


def count_lines(function: Callable[[], Any]) -> int:
    """Python lines executed while ``function()`` runs (every module, the stdlib included)."""
    import sys

    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame, event, arg):
        return local

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        function()
    finally:
        sys.settrace(previous)
    return count


def peak_traced_bytes(function: Callable[[], Any]) -> int:
    """Largest amount of memory traced by ``tracemalloc`` (numpy arrays included) during
    ``function()``, above what was allocated before it started."""
    import tracemalloc

    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        function()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        if started:
            tracemalloc.stop()
