"""Safe loading of downloaded images: format, byte and pixel caps, decompression bombs.

``load_image(data)`` never raises: it returns a ``LoadedImage`` (RGB/RGBA/L first frame, decoded)
or ``Skipped`` with a Chinese reason and a stable code. Order of checks: byte size, then the
format from the header (JPEG, PNG, WebP, GIF; SVG and everything else skipped), then the pixel
count from the header, before a single pixel is decoded. Pillow's own bomb guard is turned into
an error for this call (``DecompressionBombWarning`` is raised as an error), so a file that
lies about its size cannot get past either.

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
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Skipped:
    reason: str
    code: str
    sha256: str = ""


def _looks_like_svg(head: bytes) -> bool:
    h = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return h.startswith(b"<svg") or ((h.startswith(b"<?xml") or h.startswith(b"<!doctype svg")) and b"<svg" in head.lower())


def load_image(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> LoadedImage | Skipped:
    """Decode ``data`` if it is a safe JPEG, PNG, WebP or GIF (first frame); otherwise say why not."""
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
            im.load()  # first frame only: GIF/WebP frames after the first are never decoded
            if im.mode not in ("RGB", "RGBA", "L", "LA"):
                im = im.convert("RGBA" if "transparency" in im.info or im.mode in ("PA", "P") else "RGB")
            else:
                im = im.copy()
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
    return LoadedImage(im, digest, fmt, width, height)
