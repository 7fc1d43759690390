"""Checking an uploaded photo and making the versions that are kept and shown.

The original is kept unchanged, privately, as evidence. What the public sees is a re-encoded JPEG turned
upright, scaled down, and carrying nothing but pixels (and the colour profile): no EXIF, GPS, XMP, maker
notes or comments. The type of a file is decided by its content alone; only JPEG, PNG and WebP are
accepted.

Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at its default (False), so a truncated file fails to
load. The pixel limit (lower for the public than for staff) and the shape of a camera's frame are checked
from the header, before any pixel is decoded. Decoding then keeps memory bounded: a JPEG decodes straight
to a reduced scale (``draft``), every image is shrunk to the public size before it is turned and
flattened, and a process decodes at most a few photos at a time (``work_slots``): a photo that finds no
slot within a short wait is answered "busy" (503) instead of queueing without bound.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import math
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageOps

from gis.crs import distance_m
from gis.photo import Geotag, read_geotag
from server.config import get_settings
from server.errors import DomainError

__all__ = [
    "ImageTooLarge",
    "PhotoBusy",
    "PhotoRejected",
    "ProcessedPhoto",
    "distance_m",
    "process_photo",
    "work_slots",
]

PUBLIC_QUALITY = 85
THUMBNAIL_QUALITY = 80
# The longest side over the shortest: a camera's frame is at most about 21:9 and a crop of it stays under
# 4:1; a longer strip is a panorama or made to cost pixels, not evidence.
MAX_ASPECT = 4.0

# Leading bytes -> (Pillow format, MIME type). WebP is RIFF....WEBP, checked on its own.
_MAGIC = {
    b"\xff\xd8\xff": ("JPEG", "image/jpeg"),
    b"\x89PNG\r\n\x1a\n": ("PNG", "image/png"),
}
_WEBP = ("WEBP", "image/webp")
# Leading bytes of files people upload by mistake, to say what was sent instead.
_OTHER_KINDS = {
    b"GIF8": "看起来是 GIF 图片",
    b"%PDF": "看起来是 PDF 文档",
    b"PK\x03\x04": "看起来是 ZIP 压缩包或 Office 文档",
    b"II*\x00": "看起来是 TIFF 图片",
    b"MM\x00*": "看起来是 TIFF 图片",
}
_UNKNOWN_KIND = "的内容无法识别"
# Pillow's format names as people write them.
_FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"}
# Modes Pillow shrinks with a proper filter (alpha premultiplied); others are flattened first.
_RESAMPLED_MODES = {"RGB", "RGBA", "L", "LA"}
# Pillow's errors for a file whose header reads but whose data does not.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error)


class PhotoRejected(DomainError):
    """An upload that is not a photo we keep. ``status``: 413 too large, 415 not a JPEG, PNG or WebP
    image, 422 truncated, corrupt, or more pixels than allowed."""

    def __init__(self, code: str, /, *, status: int, **params) -> None:
        super().__init__(code, **params)
        self.status = status


class ImageTooLarge(PhotoRejected):
    """More pixels than the caller may send, or a strip no camera makes (422): the message says to send a
    normal photo."""

    def __init__(self, code: str, /, **params) -> None:
        super().__init__(code, status=422, **params)


class PhotoBusy(DomainError):
    """Every slot for pixel work in this process stayed taken for the wait: try again after
    ``params["retry_after"]`` seconds."""

    status = 503


@dataclass(frozen=True)
class ProcessedPhoto:
    """An accepted photo: the original as uploaded, and its public version and thumbnail (both JPEG).

    ``mime`` and ``format`` are those of the original (decided by its content); ``width`` and
    ``height`` are its full size as a person sees it (orientation applied); ``size`` is its length in
    bytes."""

    sha256: str
    mime: str
    format: str
    width: int
    height: int
    size: int
    geotag: Geotag
    original: bytes
    public: bytes
    thumbnail: bytes


def process_photo(
    data: bytes, *, max_bytes: int, max_pixels: int, thumbnail_px: int, public_px: int
) -> ProcessedPhoto:
    """Check an upload and make its public version (at most ``public_px`` on the long side) and its
    thumbnail (at most ``thumbnail_px``); raise PhotoRejected saying why a file is refused."""
    if len(data) > max_bytes:
        raise PhotoRejected("photo.too_large", megabytes=_megabytes(max_bytes), status=413)
    image_format, mime = _detect(data)
    image = _open(data, image_format, max_pixels)
    width, height = image.size  # the full size, from the header
    with _work_slot():
        # A large JPEG decodes straight to 1/2, 1/4 or 1/8 scale, still at least the public size.
        image.draft(None, _fitted(image.size, public_px))
        try:
            image.load()
        except _DECODE_ERRORS:
            raise PhotoRejected("photo.damaged", format=_FORMAT_NAMES[image_format], status=422) from None
        geotag = read_geotag(image)
        public, turned = _public_version(image, public_px)
        public_jpeg, thumbnail_jpeg = (
            _jpeg(public, PUBLIC_QUALITY),
            _jpeg(_fit(public, thumbnail_px), THUMBNAIL_QUALITY),
        )
    if turned:
        width, height = height, width
    return ProcessedPhoto(
        sha256=hashlib.sha256(data).hexdigest(),
        mime=mime,
        format=image_format,
        width=width,
        height=height,
        size=len(data),
        geotag=geotag,
        original=data,
        public=public_jpeg,
        thumbnail=thumbnail_jpeg,
    )


@cache
def work_slots() -> threading.BoundedSemaphore:
    """This process's slots for pixel work (setting ``photo_work_slots``)."""
    return threading.BoundedSemaphore(get_settings().photo_work_slots)


@contextmanager
def _work_slot() -> Iterator[None]:
    """Hold one of the process's slots for pixel work, waiting at most ``photo_work_wait_seconds``."""
    wait = get_settings().photo_work_wait_seconds
    slots = work_slots()
    if not slots.acquire(timeout=wait):
        raise PhotoBusy("photo.busy", retry_after=max(1, math.ceil(wait)))
    try:
        yield
    finally:
        slots.release()


def _megabytes(limit: int) -> int | float:
    """A size limit in MB, rounded down to one decimal (a whole number without one), so that a photo of
    the size it says is taken."""
    tenths = math.floor(limit * 10 / 2**20)
    return tenths // 10 if tenths % 10 == 0 else tenths / 10


def _detect(data: bytes) -> tuple[str, str]:
    """(Pillow format, MIME type) from the leading bytes."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    if not data:
        raise PhotoRejected("photo.empty", status=415)
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        raise PhotoRejected("photo.heic", status=415)  # an iPhone's own format: how to avoid it
    raise PhotoRejected("photo.not_an_image", kind=_looks_like(data), status=415)


def _looks_like(data: bytes) -> str:
    """What a file that is no accepted photo seems to be, as words after 这个文件."""
    for magic, kind in _OTHER_KINDS.items():
        if data.startswith(magic):
            return kind
    if data[4:8] == b"ftyp":
        return "看起来是 AVIF 图片" if data[8:12] in (b"avif", b"avis") else "看起来是视频"
    try:
        sample = codecs.getincrementaldecoder("utf-8")().decode(data[:1024])  # a cut last character is fine
    except UnicodeDecodeError:
        return _UNKNOWN_KIND
    if all(char.isprintable() or char in "\t\r\n" for char in sample):
        return "看起来是文字"
    return _UNKNOWN_KIND


def _open(data: bytes, image_format: str, max_pixels: int) -> Image.Image:
    """The image opened lazily (header only), its pixel count and shape checked before any decoding."""
    limit = f"{max_pixels / 10_000:g}"  # in units of 10,000 pixels (万像素)
    try:
        image = Image.open(io.BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError:
        raise ImageTooLarge("photo.pixel_bomb", limit=limit) from None
    except _DECODE_ERRORS:
        raise PhotoRejected("photo.damaged", format=_FORMAT_NAMES[image_format], status=422) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge("photo.too_many_pixels", width=width, height=height, limit=limit)
    aspect = max(width, height) / max(1, min(width, height))
    if aspect > MAX_ASPECT:
        raise ImageTooLarge(
            "photo.strip", width=width, height=height, ratio=f"{aspect:.1f}", max_ratio=f"{MAX_ASPECT:g}"
        )
    return image


def _public_version(image: Image.Image, max_px: int) -> tuple[Image.Image, bool]:
    """The decoded image as the public sees it: at most ``max_px`` on its long side, upright, RGB or
    greyscale; and whether it was turned a quarter. It is shrunk first, so that turning and flattening
    copy the small image, not the full one."""
    if image.mode not in _RESAMPLED_MODES:  # a palette or an odd mode would be shrunk pixel by pixel
        image = _flatten(image)
    small = _fit(image, max_px)
    upright = _upright(small)
    return _flatten(upright), upright.size != small.size


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; as stored when its EXIF cannot be read."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # Pillow's EXIF parser fails in many ways on damaged data
        return image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB or greyscale pixels, with any transparency laid on white (JPEG has no alpha)."""
    if image.mode in ("RGB", "L"):
        return image
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def _fit(image: Image.Image, max_px: int) -> Image.Image:
    """The image scaled down to at most ``max_px`` on its long side (never up)."""
    size = _fitted(image.size, max_px)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _fitted(size: tuple[int, int], max_px: int) -> tuple[int, int]:
    """``size`` scaled down to at most ``max_px`` on its long side (never up)."""
    width, height = size
    long_side = max(size)
    if long_side <= max_px:
        return size
    return max(1, round(width * max_px / long_side)), max(1, round(height * max_px / long_side))


def _jpeg(image: Image.Image, quality: int) -> bytes:
    """The pixels of an RGB or greyscale image as a JPEG, with its colour profile when that profile
    describes these pixels, and nothing else."""
    profile = image.info.get("icc_profile") or b""
    space = b"GRAY" if image.mode == "L" else b"RGB "
    bare = image.copy()
    bare.info = {}  # Pillow writes some metadata it finds in info (the JPEG comment) unless told not to
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=quality, icc_profile=profile if profile[16:20] == space else None)
    return out.getvalue()
