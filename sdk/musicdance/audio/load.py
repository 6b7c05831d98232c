"""Decode audio files to mono at the analysis rate, in bounded memory.

mp3, wav, ogg and flac go through soundfile (libsndfile); m4a/aac and other containers go through
audioread where a decoder (ffmpeg or GStreamer) is installed. Blocks are mixed to mono and
resampled with a streaming soxr resampler as they are read, so the only full-length buffer is the
mono signal at the analysis rate (a 60-minute file at 22050 Hz is 318 MB of float32).

Limits, checked from the header before any sample is decoded (module constants; the song
length also per call, ``max_song_s``): file size ``MAX_AUDIO_BYTES``, sample rate
``MIN_SAMPLE_RATE_HZ`` to ``MAX_SAMPLE_RATE_HZ``, ``MAX_CHANNELS``, song length ``MAX_SONG_S``.
Samples beyond ``MAX_SAMPLE_ABS`` (float files) are refused with one line.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicdance.errors import MusicDanceError

__all__ = [
    "ANALYSIS_SR", "AudioInfo", "load_audio", "SOUNDFILE_SUFFIXES", "AUDIOREAD_SUFFIXES",
    "MAX_SONG_S", "MIN_SAMPLE_RATE_HZ", "MAX_SAMPLE_RATE_HZ", "MAX_CHANNELS", "MAX_AUDIO_BYTES",
    "MAX_SAMPLE_ABS",
]

#: Sample rate of every analysis, in Hz.
ANALYSIS_SR = 22050
#: Suffixes decoded by soundfile.
SOUNDFILE_SUFFIXES = (".wav", ".mp3", ".ogg", ".oga", ".flac", ".aif", ".aiff", ".opus")
#: Suffixes decoded by audioread (needs ffmpeg or GStreamer).
AUDIOREAD_SUFFIXES = (".m4a", ".aac", ".mp4", ".wma", ".webm")
#: Block length read at a time, in seconds of input audio.
_BLOCK_S = 20.0
#: Longest song accepted by default, in seconds (``max_song_s`` changes it per call).
MAX_SONG_S = 2 * 3600.0
#: Former name of ``MAX_SONG_S``.
MAX_DURATION_S = MAX_SONG_S
#: Lowest and highest sample rate accepted, in Hz (below 4 kHz there is no music to analyse).
MIN_SAMPLE_RATE_HZ = 4000
MAX_SAMPLE_RATE_HZ = 768_000
#: Most channels accepted in one file.
MAX_CHANNELS = 64
#: Largest audio file accepted, in bytes.
MAX_AUDIO_BYTES = 4 * 1024**3
#: Largest sample magnitude accepted (full scale is 1; float files may exceed it a little).
MAX_SAMPLE_ABS = 1000.0
#: Most samples (frames x channels) read in one block.
_BLOCK_SAMPLES = 2**22


@dataclass
class AudioInfo:
    """What the decoder reported about a file.

    Attributes:
        path: the file, as given.
        sr_in_hz: sample rate of the file, in Hz.
        channels: channel count of the file.
        duration_s: duration of the decoded signal, in seconds.
        decoder: ``"soundfile"`` or ``"audioread"``.
        truncated: the file ended (or failed) before the length its header announced.
    """

    path: str
    sr_in_hz: int
    channels: int
    duration_s: float
    decoder: str
    truncated: bool = False


def load_audio(
    path: str | os.PathLike[str], *, sr_hz: int = ANALYSIS_SR, max_duration_s: float | None = None,
    max_song_s: float | None = None,
) -> tuple[np.ndarray, AudioInfo]:
    """Decode ``path`` to a mono float32 signal at ``sr_hz``.

    Args:
        path: an audio file (wav, mp3, ogg, flac; m4a/aac with ffmpeg or GStreamer installed).
        sr_hz: output sample rate in Hz (int > 0).
        max_duration_s: stop decoding after this many seconds (None: whole file).
        max_song_s: refuse a song longer than this many seconds, from its header and before
            decoding (None: ``MAX_SONG_S``); with ``max_duration_s`` only the part that is
            decoded counts.

    Returns:
        y: np.ndarray [shape=(n,), dtype=float32], mono signal at ``sr_hz`` in [-1, 1] (roughly).
        info: an ``AudioInfo`` describing the input.

    Raises:
        MusicDanceError: missing, empty, corrupt or non-audio file; no decoder for the container;
            a file beyond the limits (size, sample rate, channels, length, sample values).
    """
    p = Path(path)
    if not p.exists():
        raise MusicDanceError("no such file", path=p)
    if p.is_dir():
        raise MusicDanceError("is a directory, expected an audio file", path=p)
    size = p.stat().st_size
    if size == 0:
        raise MusicDanceError("file is empty", path=p)
    if size > MAX_AUDIO_BYTES:
        raise MusicDanceError(
            f"file is {size / 1e9:.1f} GB, larger than the {MAX_AUDIO_BYTES / 1e9:.1f} GB audio "
            "limit",
            path=p,
        )
    song_s = MAX_SONG_S if max_song_s is None else float(max_song_s)
    if not song_s > 0:
        raise MusicDanceError(f"max_song_s must be positive, got {max_song_s}", path=p)
    limits = _Limits(song_s, max_duration_s)
    suffix = p.suffix.lower()
    if suffix in AUDIOREAD_SUFFIXES:
        return _load_audioread(p, sr_hz, limits)
    return _load_soundfile(p, sr_hz, limits)


@dataclass(frozen=True)
class _Limits:
    """The song-length limit (refuse beyond) and the optional cut (decode only the start)."""

    song_s: float
    cut_s: float | None

    def decode_s(self) -> float:
        """Seconds of input to decode at most."""
        return self.song_s if self.cut_s is None else min(self.cut_s, self.song_s)

    def check_header(self, p: Path, sr_in: int, channels: int, declared_s: float | None) -> None:
        """Refuse from the header alone: sample rate, channel count, declared length."""
        if not MIN_SAMPLE_RATE_HZ <= sr_in <= MAX_SAMPLE_RATE_HZ:
            raise MusicDanceError(
                f"sample rate {sr_in} Hz is outside the {MIN_SAMPLE_RATE_HZ} to "
                f"{MAX_SAMPLE_RATE_HZ} Hz that can be analysed",
                path=p,
            )
        if not 1 <= channels <= MAX_CHANNELS:
            raise MusicDanceError(
                f"{channels} channels; 1 to {MAX_CHANNELS} can be read", path=p
            )
        if declared_s is not None and self.cut_s is None and declared_s > self.song_s:
            raise MusicDanceError(self.too_long(declared_s), path=p)

    def too_long(self, seconds: float | None) -> str:
        length = f"{seconds / 60:.1f} minutes long" if seconds else "longer than allowed"
        return (
            f"the song is {length}; the limit is {self.song_s / 60:g} minutes (max_song_s, "
            "or --max-song-min on the command line)"
        )


def _check_block(block: np.ndarray, p: Path | str | None) -> None:
    """Refuse samples far beyond full scale (float files holding 1e30): one clear error."""
    peak = float(np.max(np.abs(block), initial=0.0, where=~np.isnan(block)))
    if peak > MAX_SAMPLE_ABS:  # false for an all-NaN block; NaN samples become 0 later
        raise MusicDanceError(
            f"samples reach {peak:.3g}; audio samples must lie within about [-1, 1] (at most "
            f"{MAX_SAMPLE_ABS:g} is accepted)",
            path=p,
        )


def _resampler(sr_in: int, sr_out: int):
    """Return a function block -> resampled block (streaming; call with last=True at the end)."""
    if sr_in == sr_out:
        return lambda block, last=False: block
    import soxr

    stream = soxr.ResampleStream(sr_in, sr_out, 1, dtype="float32", quality="HQ")
    return lambda block, last=False: stream.resample_chunk(block, last=last)


class _Growing:
    """A float32 buffer that is filled block by block (preallocated when the length is known)."""

    def __init__(self, expected: int) -> None:
        self.data = np.zeros(max(expected, 1024), dtype=np.float32)
        self.n = 0

    def append(self, block: np.ndarray) -> None:
        need = self.n + len(block)
        if need > len(self.data):
            grown = np.zeros(max(need, int(len(self.data) * 1.25)), dtype=np.float32)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = block
        self.n = need

    def result(self) -> np.ndarray:
        """The filled part (a view when nearly full: no second full-length copy)."""
        if self.n >= 0.9 * len(self.data):
            return self.data[: self.n]
        return self.data[: self.n].copy()


@contextlib.contextmanager
def _quiet_c_stderr():
    """Silence C-level stderr (libmpg123 prints parser warnings for damaged mp3 files)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to redirect
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load_soundfile(p: Path, sr_out: int, limits: _Limits):
    if p.suffix.lower() != ".mp3":
        return _load_soundfile_inner(p, sr_out, limits)
    # libmpg123 writes parser warnings for damaged files straight to fd 2; this redirects the
    # whole process's stderr while the file decodes, so it is limited to mp3 files
    with _quiet_c_stderr():
        return _load_soundfile_inner(p, sr_out, limits)


def _load_soundfile_inner(p: Path, sr_out: int, limits: _Limits):
    import soundfile as sf

    try:
        handle = sf.SoundFile(str(p))
    except sf.LibsndfileError as error:
        if p.suffix.lower() in SOUNDFILE_SUFFIXES or _looks_like_audio(p):
            detail = _short(error)
            if "does not exist" in detail or "Format not recognised" in detail:
                detail = "unrecognised or damaged data"
            raise MusicDanceError(
                f"cannot decode audio ({detail}); the file may be corrupt, truncated or not "
                f"really {p.suffix.lstrip('.') or 'audio'}",
                path=p,
            ) from None
        raise MusicDanceError(
            "not an audio file that can be read (supported: wav, mp3, ogg, flac; m4a/aac with "
            "ffmpeg installed)",
            path=p,
        ) from None
    except (RuntimeError, OSError) as error:
        raise MusicDanceError(f"cannot open audio: {_short(error)}", path=p) from None
    with handle:
        sr_in = int(handle.samplerate)
        channels = int(handle.channels)
        total = handle.frames if 0 < handle.frames < 2**62 else 0
        limits.check_header(p, sr_in, channels, total / sr_in if total and sr_in > 0 else None)
        limit_frames = int(limits.decode_s() * sr_in)
        expected_in = min(total, limit_frames) if total else int(60 * sr_in)
        out = _Growing(int(np.ceil(expected_in * sr_out / sr_in)) + 16)
        resample = _resampler(sr_in, sr_out)
        block_frames = max(1, min(int(_BLOCK_S * sr_in), _BLOCK_SAMPLES // channels))
        read = 0
        failed = False
        try:
            while read < limit_frames + (1 if limits.cut_s is None else 0):
                block = handle.read(
                    min(block_frames, limit_frames + 1 - read), dtype="float32", always_2d=True
                )
                if len(block) == 0:
                    break
                read += len(block)
                if read > limit_frames:
                    if limits.cut_s is None:  # the header understated the length
                        raise MusicDanceError(limits.too_long(None), path=p)
                    block = block[: len(block) - (read - limit_frames)]
                    read = limit_frames
                _check_block(block, p)
                mono = block.mean(axis=1, dtype=np.float32) if channels > 1 else block[:, 0]
                out.append(resample(np.ascontiguousarray(mono)))
        except (sf.LibsndfileError, RuntimeError) as error:
            if read == 0:
                raise MusicDanceError(
                    f"cannot decode audio ({_short(error)}); the file may be corrupt", path=p
                ) from None
            failed = True  # a damaged tail: keep what decoded
        out.append(resample(np.zeros(0, dtype=np.float32), last=True))
    y = out.result()
    if read == 0 or len(y) == 0:
        raise MusicDanceError("no audio samples could be decoded", path=p)
    _check_finite(y, p)
    declared = _wav_declared_bytes(p)
    short_wav = declared is not None and declared > p.stat().st_size
    truncated = failed or short_wav or (total > 0 and read < min(total, limit_frames) * 0.99)
    info = AudioInfo(str(p), sr_in, channels, len(y) / sr_out, "soundfile", truncated)
    return y, info


def _load_audioread(p: Path, sr_out: int, limits: _Limits):
    try:
        import audioread
    except ImportError:  # pragma: no cover - audioread ships with librosa
        raise MusicDanceError(
            f"decoding {p.suffix} needs the 'audioread' package and ffmpeg; "
            "install them (pip install audioread; apt-get install ffmpeg) or convert to wav/flac",
            path=p,
        ) from None
    try:
        backends = audioread.available_backends()
    except Exception:  # noqa: BLE001 - probing backends must never crash
        backends = []
    backends = [b for b in backends if b.__name__ != "RawAudioFile"]
    if not backends:
        raise MusicDanceError(
            f"no decoder for {p.suffix} files: install ffmpeg (apt-get install ffmpeg) or "
            "GStreamer, or convert the file to wav/flac/mp3",
            path=p,
        )
    try:
        with audioread.audio_open(str(p), backends=backends) as handle:
            sr_in, channels = int(handle.samplerate), int(handle.channels)
            declared = float(handle.duration or 0.0)
            limits.check_header(p, sr_in, channels, declared if declared > 0 else None)
            limit_s = limits.decode_s()
            expected_s = min(declared or 60.0, limit_s)
            out = _Growing(int(expected_s * sr_out) + 16)
            resample = _resampler(sr_in, sr_out)
            read = 0
            for buf in handle:
                block = np.frombuffer(buf, dtype="<i2").astype(np.float32) / 32768.0
                block = block[: len(block) // channels * channels]
                block = block.reshape(-1, channels).mean(axis=1, dtype=np.float32)
                read += len(block)
                if read > limit_s * sr_in and limits.cut_s is None:
                    raise MusicDanceError(limits.too_long(None), path=p)
                out.append(resample(block))
                if read >= limit_s * sr_in:
                    break
            out.append(resample(np.zeros(0, dtype=np.float32), last=True))
    except MusicDanceError:
        raise
    except Exception as error:  # noqa: BLE001 - audioread raises many unrelated types
        raise MusicDanceError(f"cannot decode audio: {_short(error)}", path=p) from None
    y = out.result()
    if len(y) == 0:
        raise MusicDanceError("no audio samples could be decoded", path=p)
    _check_finite(y, p)
    return y, AudioInfo(str(p), sr_in, channels, len(y) / sr_out, "audioread")


def _check_finite(y: np.ndarray, p: Path) -> None:
    bad = ~np.isfinite(y)
    if bad.any():
        y[bad] = 0.0


def _wav_declared_bytes(p: Path) -> int | None:
    """File size a RIFF/WAVE header announces (end of its data chunk), None if not a WAV."""
    import struct

    with open(p, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        for _ in range(64):
            chunk = handle.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                return offset + 8 + size
            offset += 8 + size + (size & 1)
            handle.seek(offset)
    return None


def _looks_like_audio(p: Path) -> bool:
    with open(p, "rb") as handle:
        head = handle.read(12)
    return head[:4] in (b"RIFF", b"OggS", b"fLaC", b"FORM") or head[:3] == b"ID3" or (
        len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0
    )


def _short(error: BaseException) -> str:
    """The decoder's last message line, without libsndfile's echo of the path and with its
    "Unspecified internal error" said as what it means for a user."""
    text = str(error).strip().splitlines()
    line = text[-1] if text else type(error).__name__
    if line.startswith("Error opening") and "': " in line:
        line = line.split("': ", 1)[1].rstrip(".")
    return "unrecognised or damaged data" if "internal error" in line.lower() else line
