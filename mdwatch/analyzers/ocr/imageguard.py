"""Safe loading of downloaded images: format, byte and pixel caps, decompression bombs.

``load_image(data)`` never raises: it returns a ``LoadedImage`` (RGB/RGBA/L first frame, decoded)
or ``Skipped`` with a Chinese reason and a stable code. Order of checks: byte size, then the
format from the header (JPEG, PNG, WebP, GIF; SVG and everything else skipped), then the pixel
count from the header, before a single pixel is decoded. Pillow's own bomb guard is turned into
an error for this call (``DecompressionBombWarning`` is raised as an error), so a file that
lies about its size cannot get past either.

Reduced decoding (``fit``): the OCR stage asks for no more pixels than it will use (the triage
works at 256 px wide, the engines gain nothing above their ``max_side``). A JPEG is then decoded
at 1/2, 1/4 or 1/8 scale by the decoder itself (``Image.draft``: the DCT is scaled, the full-size
pixels never exist), other formats are decoded and reduced. ``LoadedImage.width``/``height``
stay the declared size; ``image.size`` is what was decoded. :func:`read_header` is the header
half alone: every check above, nothing decoded.

Truncated files (a JPEG cut off mid-scan) are skipped with ``code="truncated"``: the pixels
that are there would be decoded grey below the cut, and OCR of half a certificate gives half a
number, which is worse than a clear "could not read" for a compliance finding. Animated GIFs
and WebPs: only the first frame is decoded (``seek`` is never called, frames are never counted).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, UnidentifiedImageError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})

SkipCode = Literal["empty", "too_large", "svg", "unsupported", "too_many_pixels", "truncated", "corrupt"]


@dataclass
class LoadedImage:
    image: Image.Image
    sha256: str
    format: str
    width: int  # declared by the header (``image`` may be a reduced decode)
    height: int


@dataclass(frozen=True, slots=True)
class Header:
    """What the header says, every guard check passed, before a pixel is decoded."""

    sha256: str
    format: str
    width: int
    height: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: str
    code: str
    sha256: str = ""


def _looks_like_svg(head: bytes) -> bool:
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return h.startswith(b"<svg") or ((h.startswith(b"<?xml") or h.startswith(b"<!doctype svg")) and b"<svg" in head.lower())


def read_header(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> Header | Skipped:
    """The format and declared size of ``data`` if it is a safe JPEG, PNG, WebP or GIF; no pixel decoded."""
    opened = _open(data, max_bytes, max_pixels)
    if isinstance(opened, Skipped):
        return opened
    im, header = opened
    im.close()
    return header


def _open(data: bytes, max_bytes: int, max_pixels: int) -> tuple[Image.Image, Header] | Skipped:
    """The opened (not decoded) image and its header, or why it is refused."""
    if not data:
        return Skipped("图片文件为空（0 字节），未识别", "empty")
    digest = hashlib.sha256(data).hexdigest()
    if len(data) > max_bytes:
        return Skipped(f"图片文件过大（{len(data) / 1048576:.1f} MB，上限 {max_bytes / 1048576:.0f} MB），未识别", "too_large", digest)
    if _looks_like_svg(data[:1024]):
        return Skipped("SVG 矢量图不做文字识别", "svg", digest)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data))  # reads the header only
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Skipped("图片像素过多，疑似解压炸弹，未识别", "too_many_pixels", digest)
    except UnidentifiedImageError:
        return Skipped("无法识别的图片格式，未识别", "unsupported", digest)
    except Exception:  # a header parser bug must not stop the scan
        return Skipped("图片文件已损坏，无法解码，未识别", "corrupt", digest)
    fmt = (im.format or "").upper()
    if fmt not in FORMATS:
        return Skipped(f"不支持的图片格式（{fmt or '未知'}），未识别", "unsupported", digest)
    width, height = im.size
    if width <= 0 or height <= 0:
        return Skipped("图片尺寸无效，未识别", "corrupt", digest)
    if width * height > max_pixels:
        return Skipped(
            f"图片像素过多（{width}×{height}，上限 {max_pixels // 1_000_000} 百万像素），疑似解压炸弹，未识别",
            "too_many_pixels",
            digest,
        )
    return im, Header(digest, fmt, width, height, len(data))


def fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled down to at most ``max_side``² pixels, aspect kept (never enlarged).

    A pixel budget rather than a cap on the longer side: a long detail strip (750×3000) keeps
    its width, so its text keeps its size; a square scan of 2400×2400 becomes ``max_side`` a side.
    """
    budget = max_side * max_side
    if width * height <= budget:
        return width, height
    scale = (budget / (width * height)) ** 0.5
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_image(
    data: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    fit: tuple[int, int] | None = None,
    exact: bool = True,
) -> LoadedImage | Skipped:
    """Decode ``data`` if it is a safe JPEG, PNG, WebP or GIF (first frame); otherwise say why not.

    ``fit``: the size the caller needs at most. A JPEG is decoded at the smallest DCT scale that
    still covers it; with ``exact`` the result is then reduced to ``fit`` (aspect kept), without
    it the decoder's size (up to twice ``fit``) is kept, which is enough for a measurement.
    """
    opened = _open(data, max_bytes, max_pixels)
    if isinstance(opened, Skipped):
        return opened
    im, header = opened
    digest = header.sha256
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if fit is not None and header.format == "JPEG" and (fit[0] < header.width or fit[1] < header.height):
                im.draft(None, fit)  # scale only: the mode is converted below as for a full decode
            im.load()  # first frame only: GIF/WebP frames after the first are never decoded
            if im.mode not in ("RGB", "RGBA", "L", "LA"):
                im = im.convert("RGBA" if "transparency" in im.info or im.mode in ("PA", "P") else "RGB")
            else:
                im = im.copy()
            if fit is not None and exact and (im.width > fit[0] or im.height > fit[1]):
                scale = min(fit[0] / im.width, fit[1] / im.height)
                size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
                im = im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Skipped("图片像素过多，疑似解压炸弹，未识别", "too_many_pixels", digest)
    except UnidentifiedImageError:
        return Skipped("无法识别的图片格式，未识别", "unsupported", digest)
    except OSError as exc:
        if "truncated" in str(exc).lower() or "broken data stream" in str(exc).lower():
            return Skipped("图片文件不完整（下载被截断），未识别", "truncated", digest)
        return Skipped("图片文件已损坏，无法解码，未识别", "corrupt", digest)
    except Exception:  # a decoder bug must not stop the scan
        return Skipped("图片文件已损坏，无法解码，未识别", "corrupt", digest)
    return LoadedImage(im, digest, header.format, header.width, header.height)
