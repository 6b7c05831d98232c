"""Where songs are analysed: in this process, a local process pool or Ray. Each task runs
:func:`analyse_song` (the worker) and returns arrays; only the builder writes files."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from musicdance.audio.model_input import span_inputs
from musicdance.choreo.slots import slot_spans
from musicdance.corpus.sources import SongSource
from musicdance.errors import MusicDanceError
from musicdance.raycluster import ray_session

ENGINES = ("process", "ray")
#: Tasks in flight per worker (bounded so that a 10k-song corpus does not queue 10k results).
_IN_FLIGHT_PER_WORKER = 4


def run_analyses(tasks: list[dict], engine: str, workers: int) -> Iterator[tuple[dict, tuple]]:
    """``(task, analyse_song(task))`` for every task, in completion order, on ``engine``
    (``"process"``: in this process when ``workers`` is 1 or there is one task)."""
    if engine == "ray":
        return _run_ray(tasks, workers)
    if workers == 1 or len(tasks) == 1:
        return _run_inline(tasks)
    return _run_processes(tasks, min(workers, len(tasks)))


_LIBRARIES: dict[str, Any] = {}


def cached_library(path: str):
    if path not in _LIBRARIES:
        from musicdance.library import open_library

        _LIBRARIES[path] = open_library(path)
    return _LIBRARIES[path]


def analyse_song(task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """Analyse one song and compute its samples (runs in a worker process or Ray task).

    Returns ``(record, arrays)``; on failure ``arrays`` is None and ``record["error"]`` says
    why (errors never escape, so one bad file cannot break a pool).
    """
    source = SongSource.from_json(task["source"])
    record: dict[str, Any] = {"name": source.name, "key": task["key"], "source": source.to_json()}
    started = time.perf_counter()
    try:
        analysis = _analyse(source)
        style = None
        if source.labels == "rule":
            from musicdance.choreo.choreographer import choreograph

            timeline = choreograph(analysis, cached_library(task["library"]), seed=source.seed)
            spans = [(slot.start_s, slot.end_s) for slot in timeline.slots]
            labels = timeline.phrase_ids()
            style = timeline.style
        elif source.labels == "pairs":
            spans = [(a, b) for a, b, _ in source.spans]
            labels = [phrase_id for _, _, phrase_id in source.spans]
        else:
            spans = slot_spans(analysis)
            labels = [""] * len(spans)
        mel, melody, rhythm = span_inputs(analysis, spans)
    except MusicDanceError as error:
        record["error"] = str(error)
        return record, None
    except Exception as error:  # a bug or an unreadable file: report it, keep the pool alive
        record["error"] = f"{type(error).__name__}: {error}"
        return record, None
    record.update(
        samples=len(spans),
        duration_s=round(float(analysis.duration_s), 3),
        tempo_bpm=round(float(analysis.tempo_bpm), 3),
        meter=int(analysis.meter),
        style=style,
        seconds=round(time.perf_counter() - started, 3),
    )
    arrays = {
        "mel": mel.astype(np.float16),
        "melody": melody.astype(np.float16),
        "rhythm": (rhythm > 0.5).astype(np.uint8),
        "start_s": np.array([a for a, _ in spans], dtype=np.float64),
        "end_s": np.array([b for _, b in spans], dtype=np.float64),
        "labels": np.array(labels, dtype=np.str_) if labels else np.zeros(0, dtype="<U1"),
    }
    return record, arrays


def _analyse(source: SongSource):
    from musicdance.audio.analysis import analyze, analyze_signal

    if source.kind == "synth":
        from musicdance.audio.synth import synth_song

        y, _ = synth_song(
            str(source.genre), bpm=source.bpm, seed=source.seed, duration_s=source.duration_s
        )
        return analyze_signal(y, sr_hz=22050, path=source.name)
    return analyze(str(source.path))


def _run_inline(tasks: list[dict]) -> Iterator[tuple[dict, tuple]]:
    for task in tasks:
        yield task, analyse_song(task)


def _run_processes(tasks: list[dict], workers: int) -> Iterator[tuple[dict, tuple]]:
    # spawn: safe whatever the parent has loaded (torch threads, sqlite handles), on every OS.
    context = multiprocessing.get_context("spawn")
    queue = list(reversed(tasks))
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            running: dict = {}
            while queue or running:
                while queue and len(running) < workers * _IN_FLIGHT_PER_WORKER:
                    task = queue.pop()
                    running[pool.submit(analyse_song, task)] = task
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    yield running.pop(future), future.result()
    except BrokenProcessPool as error:
        raise MusicDanceError(
            "a corpus worker process died (out of memory?); the shards written so far are "
            "kept: run the same command again to resume, with fewer --workers"
        ) from error


def _run_ray(tasks: list[dict], workers: int) -> Iterator[tuple[dict, tuple]]:
    with ray_session(workers, "the default process engine") as ray:
        remote = ray.remote(num_cpus=1, max_retries=1)(analyse_song)
        queue = list(reversed(tasks))
        running: dict = {}
        limit = max(workers, int(ray.cluster_resources().get("CPU", workers)))
        while queue or running:
            while queue and len(running) < limit * _IN_FLIGHT_PER_WORKER:
                task = queue.pop()
                running[remote.remote(task)] = task
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                task = running.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as error:  # a worker died: report the song, go on
                    record = {"name": task["source"].get("path") or "song", "key": task["key"]}
                    record["error"] = f"Ray task failed: {type(error).__name__}: {error}"
                    result = (record, None)
                yield task, result
