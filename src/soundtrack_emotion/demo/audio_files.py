"""Write demo audio with soundfile, byte-for-byte reproducibly.

libsndfile gives every Ogg stream a random serial number, so two encodes of the same audio
differ. ``write_audio`` rewrites the serial of every Ogg page to a value derived from the
track id and recomputes the page checksums; the other containers are deterministic already.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

_WRITE_BLOCK = 32768  # frames per libsndfile write call
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}
_OGG_CAPTURE = b"OggS"
_OGG_HEADER = 27
_SERIAL = slice(14, 18)
_CRC = slice(22, 26)
# Bit-reversal of every byte: Ogg's CRC-32 is the unreflected form of zlib's.
_REVERSE_BITS = bytes(int(f"{b:08b}"[::-1], 2) for b in range(256))


def _ogg_crc(page: bytes) -> int:
    """Ogg page checksum (CRC-32, polynomial 0x04c11db7, init 0, unreflected) via zlib."""
    reflected = zlib.crc32(page.translate(_REVERSE_BITS), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


def with_ogg_serial(data: bytes, serial: int) -> bytes:
    """``data`` (an Ogg file) with every page's stream serial set to ``serial``."""
    out = bytearray(data)
    pos = 0
    while pos < len(out):
        if out[pos : pos + 4] != _OGG_CAPTURE:
            raise ValueError(f"not an Ogg page at byte {pos}")
        n_segments = out[pos + 26]
        header_len = _OGG_HEADER + n_segments
        page_len = header_len + sum(out[pos + _OGG_HEADER : pos + header_len])
        page = out[pos : pos + page_len]
        page[_SERIAL] = struct.pack("<I", serial)
        page[_CRC] = b"\0\0\0\0"
        page[_CRC] = struct.pack("<I", _ogg_crc(bytes(page)))
        out[pos : pos + page_len] = page
        pos += page_len
    return bytes(out)


def write_audio(
    path: Path, audio: np.ndarray, sample_rate: int, *, subtype: str, stream_id: str
) -> None:
    """Write ``audio`` [n, channels] float32 to ``path`` (format from its extension).

    The file is written to a temporary name in the same folder and moved into place.
    """
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported demo audio extension {path.suffix!r} ({path})")
    buffer = io.BytesIO()
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with sf.SoundFile(buffer, "w", sample_rate, channels, subtype=subtype, format=fmt) as out:
        # Fixed-size blocks: libsndfile 1.2.2's Vorbis encoder can crash on one huge write,
        # and a fixed block size keeps the encoded bytes reproducible.
        for start in range(0, len(audio), _WRITE_BLOCK):
            out.write(audio[start : start + _WRITE_BLOCK])
    data = buffer.getvalue()
    if fmt == "OGG":
        data = with_ogg_serial(data, zlib.crc32(stream_id.encode("utf-8")))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
