"""Hand-made ZIP damage for the hostile tests: flags and compression methods no library writes."""

from __future__ import annotations

import io
import re
import struct
import zipfile


def patch_member(data: bytes, name: str, *, flag_bits: int = 0, method: int | None = None) -> bytes:
    """Set flag bits and/or the compression method of one member in its local and central headers."""
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        local = zf.getinfo(name).header_offset
    assert buf[local : local + 4] == b"PK\x03\x04"
    central = next(
        m.start() for m in re.finditer(rb"PK\x01\x02", bytes(buf))
        if buf[m.start() + 46 : m.start() + 46 + struct.unpack_from("<H", buf, m.start() + 28)[0]] == name.encode()
    )
    for flag_at, method_at in ((local + 6, local + 8), (central + 8, central + 10)):
        struct.pack_into("<H", buf, flag_at, struct.unpack_from("<H", buf, flag_at)[0] | flag_bits)
        if method is not None:
            struct.pack_into("<H", buf, method_at, method)
    return bytes(buf)
