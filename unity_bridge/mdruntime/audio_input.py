"""Recognising uploaded audio by its first bytes (never by a client-supplied file name)."""

from __future__ import annotations

from musicdance.errors import MusicDanceError

__all__ = ["AUDIO_FORMATS", "sniff_audio_format"]

#: Formats accepted from bytes, with the suffix that routes them to the right decoder.
AUDIO_FORMATS = {
    "wav": ".wav",
    "mp3": ".mp3",
    "ogg": ".ogg",
    "flac": ".flac",
    "aiff": ".aiff",
    "m4a": ".m4a",
}


def sniff_audio_format(data: bytes) -> str:
    """``"wav"``, ``"mp3"``, ``"ogg"``, ``"flac"``, ``"aiff"`` or ``"m4a"`` from the container's
    magic bytes; ``MusicDanceError`` when none matches."""
    head = bytes(data[:16])
    if len(head) < 4:
        raise MusicDanceError("the upload is empty or too short to be audio")
    if head[:4] == b"RIFF" and head[8:12] in (b"WAVE", b"RF64") or head[:4] in (b"RF64", b"BW64"):
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:3] == b"ID3" or (head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        return "mp3"
    if head[4:8] == b"ftyp":
        return "m4a"
    raise MusicDanceError(
        "unrecognised audio format (send wav, mp3, ogg, flac or aiff; m4a needs ffmpeg on the "
        "server)"
    )
