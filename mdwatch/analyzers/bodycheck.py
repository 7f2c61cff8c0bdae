"""Bodies the analyzer must not trust as they come (issue 10, item 8).

- :func:`looks_binary`: a body that is not text (random bytes, a PNG, ZIP or PDF served as
  ``text/html``) is reported with :data:`NOT_TEXT` and never analysed: decoded as GB18030 such
  bytes read as random Chinese characters, in which a claim can always be found.
- :func:`flatten_deep`: libxml2 stops reading a document nested deeper than 256 elements (all
  text after that point is lost). When it does, :func:`mdwatch.analyzers.extract._parse` reads
  the page again with the elements beyond ``cap`` levels dropped — their text kept, a block
  element's boundary kept as ``<br>`` — so the whole page is analysed, in linear time.

Pure: stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["DEPTH_CAP", "NOT_TEXT", "flatten_deep", "looks_binary"]

NOT_TEXT = "页面内容不是文本（疑似二进制数据），未分析。"

# file signatures of formats that are never a web page
_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"\xff\xd8\xff",  # JPEG
    b"%PDF-",
    b"PK\x03\x04",  # ZIP, DOCX, XLSX, JAR, APK
    b"PK\x05\x06",  # empty ZIP
    b"\x1f\x8b",  # gzip (a body still compressed)
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"\x7fELF",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE (DOC, XLS)
    b"\x00\x00\x01\x00",  # ICO
    b"OggS",
    b"fLaC",
    b"ID3",  # MP3
    b"wOFF",
    b"wOF2",
    b"\x28\xb5\x2f\xfd",  # zstd
)
_RIFF_KINDS = (b"WEBP", b"WAVE", b"AVI ")
# C0 control characters other than tab, line feed, vertical tab, form feed and carriage return
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_SAMPLE = 16_384  # characters of the decoded text looked at
_MIN_CONTROLS = 4
_MAX_SHARE = 0.01  # text has (next to) none; random bytes about 10 %


def looks_binary(body: bytes | None, text: str) -> bool:
    """True if ``body`` (raw bytes, when known) / ``text`` (as decoded) is not text.

    By signature (PNG, JPEG, GIF, PDF, ZIP, gzip …) or by the share of control characters in the
    decoded text: a text page, whatever its encoding or a wrong charset declaration, has none
    besides tabs and line breaks (a mis-declared page decodes to U+FFFD, never to controls).
    """
    if body is not None:
        head = body[:16]
        if head.startswith(_MAGIC) or (head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS):
            return True
    sample = text[:_SAMPLE]
    controls = len(_CONTROL.findall(sample))
    return controls >= _MIN_CONTROLS and controls > len(sample) * _MAX_SHARE


# ---------------------------------------------------------------------------------------------
# deep nesting

#: nesting kept when a page is flattened: under libxml2's limit (256) and Python's recursion limit
DEPTH_CAP = 200

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param", "source",
     "track", "wbr", "basefont", "bgsound", "frame", "isindex", "spacer", "nobr"}
)
# raw-text elements, kept whole (their content is no markup); and elements whose content the
# analyzer never reads, emptied (their own nesting could be the deep part)
_RAW = "script|style|textarea|title|xmp|plaintext"
_EMPTIED = "svg|math|template|noscript|iframe|object"
_TOKEN = re.compile(
    r"<!--.*?(?:-->|\Z)"
    r"|<[!?][^>]*>"
    rf"|<(?P<raw>{_RAW})\b[^>]*>.*?(?:</(?P=raw)\s*>|\Z)"
    rf"|<(?P<emptied>{_EMPTIED})\b.*?(?:</(?P=emptied)\s*>|\Z)"
    r"|<(?P<end>/?)(?P<name>[a-zA-Z][^\s/>]*)(?P<rest>[^>]*)>",
    re.S | re.I,
)


def flatten_deep(text: str, blocks: Collection[str], cap: int = DEPTH_CAP) -> str:
    """``text`` with every element nested deeper than ``cap`` levels unwrapped (its text kept).

    An unwrapped element of ``blocks`` becomes ``<br>`` at its start and end, so its text stays
    a block of its own. Open elements are tracked as an HTML parser would (an end tag closes the
    nearest open element of its name and any left open inside it), so the nesting libxml2 sees
    never exceeds ``cap`` (plus the html and body elements it may add). Linear in ``len(text)``.
    """
    stack: list[str] = []
    open_count: dict[str, int] = {}
    unwrapped: dict[str, int] = {}  # unwrapped start tags whose end tag is still to come, by name

    def replace(m: re.Match[str]) -> str:
        if m.group("emptied"):
            name = m.group("emptied").lower()
            return f"<{name}></{name}>"
        name = m.group("name")
        if name is None:  # comment, doctype, processing instruction, raw-text element
            return m.group(0)
        name = name.lower()
        gap = "<br>" if name in blocks else ""
        if m.group("end"):
            if unwrapped.get(name):
                unwrapped[name] -= 1
                return gap
            if open_count.get(name):
                while stack:
                    top = stack.pop()
                    open_count[top] -= 1
                    if top == name:
                        break
            return m.group(0)
        if name in _VOID or m.group("rest").rstrip().endswith("/"):
            return m.group(0)
        if len(stack) >= cap:
            unwrapped[name] = unwrapped.get(name, 0) + 1
            return gap
        stack.append(name)
        open_count[name] = open_count.get(name, 0) + 1
        return m.group(0)

    return _TOKEN.sub(replace, text)
