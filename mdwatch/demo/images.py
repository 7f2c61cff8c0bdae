"""Tiny real PNG images without Pillow (zlib + struct), deterministic per name."""

from __future__ import annotations

import hashlib
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png(width: int, height: int, rgb: tuple[int, int, int], stripe: tuple[int, int, int] | None = None) -> bytes:
    """An RGB, 8-bit PNG filled with ``rgb``; every 8th row drawn in ``stripe`` if given."""
    rows = []
    for y in range(height):
        colour = stripe if stripe is not None and y % 8 == 0 else rgb
        rows.append(b"\x00" + bytes(colour) * width)
    raw = b"".join(rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def png_for(name: str, width: int = 120, height: int = 90) -> bytes:
    """A placeholder image whose colours are derived from ``name`` (stable across runs)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    base = (160 + digest[0] % 96, 160 + digest[1] % 96, 160 + digest[2] % 96)
    stripe = (digest[3] % 128, digest[4] % 128, digest[5] % 128)
    return make_png(width, height, base, stripe)
