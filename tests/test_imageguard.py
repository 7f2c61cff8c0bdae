"""imageguard.load_image: formats, caps and hostile files are skipped with a reason, never raised."""

from __future__ import annotations

import io
import time

from PIL import Image

from mdwatch.analyzers.ocr.imageguard import LoadedImage, Skipped, load_image


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _picture() -> Image.Image:
    img = Image.linear_gradient("L").resize((300, 200)).convert("RGB")
    return img


def test_jpeg_png_webp_gif_are_loaded() -> None:
    for fmt in ("JPEG", "PNG", "WEBP", "GIF"):
        out = load_image(_encode(_picture(), fmt))
        assert isinstance(out, LoadedImage), (fmt, out)
        assert out.format == fmt
        assert (out.width, out.height) == (300, 200)
        assert len(out.sha256) == 64
        assert out.image.size == (300, 200)


def test_zero_bytes() -> None:
    out = load_image(b"")
    assert isinstance(out, Skipped) and out.code == "empty" and "0 字节" in out.reason


def test_truncated_jpeg_is_skipped() -> None:
    data = _encode(Image.effect_noise((640, 480), 60).convert("RGB"), "JPEG", quality=90)
    out = load_image(data[: len(data) // 2])
    assert isinstance(out, Skipped) and out.code == "truncated" and "截断" in out.reason


def test_decompression_bomb_is_refused_before_decoding() -> None:
    data = _encode(Image.new("1", (10_000, 10_000)), "PNG")  # 100 megapixels, ~12 kB
    start = time.process_time()  # this process's CPU: a busy machine does not count, a decode would
    out = load_image(data)
    assert time.process_time() - start < 0.5
    assert isinstance(out, Skipped) and out.code == "too_many_pixels" and "炸弹" in out.reason


def test_pixel_cap_below_pillow_guard() -> None:
    data = _encode(Image.new("L", (3000, 3000)), "PNG")
    out = load_image(data, max_pixels=5_000_000)
    assert isinstance(out, Skipped) and out.code == "too_many_pixels" and "3000×3000" in out.reason


def test_thousand_frame_gif_reads_first_frame_only() -> None:
    frames = [Image.new("P", (16, 16), i % 200) for i in range(1000)]
    for i, f in enumerate(frames):
        f.putpixel((i % 16, (i // 16) % 16), 255)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=20, loop=0)
    with Image.open(io.BytesIO(buf.getvalue())) as check:
        assert getattr(check, "n_frames", 0) > 500
    start = time.process_time()
    out = load_image(buf.getvalue())
    assert time.process_time() - start < 0.2
    assert isinstance(out, LoadedImage) and out.format == "GIF" and out.image.size == (16, 16)


def test_svg_is_skipped() -> None:
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    out = load_image(svg)
    assert isinstance(out, Skipped) and out.code == "svg" and "SVG" in out.reason
    assert isinstance(load_image(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), Skipped)


def test_other_formats_and_garbage_are_skipped() -> None:
    bmp = load_image(_encode(_picture(), "BMP"))
    assert isinstance(bmp, Skipped) and bmp.code == "unsupported" and "BMP" in bmp.reason
    junk = load_image(b"<html>not an image</html>")
    assert isinstance(junk, Skipped) and junk.code == "unsupported"


def test_huge_byte_size_is_skipped_without_decoding() -> None:
    out = load_image(b"\xff\xd8" + b"\x00" * (2 * 1024 * 1024), max_bytes=1024 * 1024)
    assert isinstance(out, Skipped) and out.code == "too_large" and "MB" in out.reason
