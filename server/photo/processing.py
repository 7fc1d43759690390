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

ACCEPTED = "a JPEG, PNG or WebP image"
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
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"PK\x03\x04": "a ZIP archive or an Office document",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"}
# Modes Pillow shrinks with a proper filter (alpha premultiplied); others are flattened first.
_RESAMPLED_MODES = {"RGB", "RGBA", "L", "LA"}
# Pillow's errors for a file whose header reads but whose data does not.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error)


class PhotoRejected(DomainError):
    """An upload that is not a photo we keep. ``status``: 413 too large, 415 not a JPEG, PNG or WebP
    image, 422 truncated, corrupt, or more pixels than allowed."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class ImageTooLarge(PhotoRejected):
    """More pixels than the caller may send, or a strip no camera makes (422): the message says to send a
    normal photo."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=422)


class PhotoBusy(DomainError):
    """Every slot for pixel work in this process stayed taken for the wait: try again after
    ``details["retry_after"]`` seconds."""

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
        raise PhotoRejected(
            f"the photo is {_megabytes(len(data), up=True)}; the limit is {_megabytes(max_bytes, up=False)}",
            status=413,
        )
    image_format, mime = _detect(data)
    image = _open(data, image_format, max_pixels)
    width, height = image.size  # the full size, from the header
    with _work_slot():
        # A large JPEG decodes straight to 1/2, 1/4 or 1/8 scale, still at least the public size.
        image.draft(None, _fitted(image.size, public_px))
        try:
            image.load()
        except _DECODE_ERRORS:
            raise PhotoRejected(
                f"the {image_format} image is truncated or damaged: its pixels cannot be read", status=422
            ) from None
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
        raise PhotoBusy(
            "服务器正忙于处理其他照片，请稍后重新提交（不会重复上报）", retry_after=max(1, math.ceil(wait))
        )
    try:
        yield
    finally:
        slots.release()


def _megabytes(size: int, *, up: bool) -> str:
    """A size in MB to one decimal, rounded up for an upload and down for a limit, so the two never
    read the same when the upload is over."""
    tenths = size * 10 / 2**20
    return f"{(math.ceil(tenths) if up else math.floor(tenths)) / 10:g} MB"


def _detect(data: bytes) -> tuple[str, str]:
    """(Pillow format, MIME type) from the leading bytes."""
    for magic, kind in _MAGIC.items():
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    raise PhotoRejected(f"the file is not {ACCEPTED} ({_looks_like(data)})", status=415)


def _looks_like(data: bytes) -> str:
    if not data:
        return "it is empty"
    for magic, kind in _OTHER_KINDS.items():
        if data.startswith(magic):
            return f"it looks like {kind}"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIF_BRANDS:
            return "it looks like a HEIC photo: set the camera to save JPEG"
        return "it looks like an AVIF image" if brand in (b"avif", b"avis") else "it looks like a video"
    try:
        sample = codecs.getincrementaldecoder("utf-8")().decode(data[:1024])  # a cut last character is fine
    except UnicodeDecodeError:
        return "its content is of a kind we do not recognise"
    if all(char.isprintable() or char in "\t\r\n" for char in sample):
        return "it looks like text"
    return "its content is of a kind we do not recognise"


def _open(data: bytes, image_format: str, max_pixels: int) -> Image.Image:
    """The image opened lazily (header only), its pixel count and shape checked before any decoding."""
    limit = f"{max_pixels / 10_000:g} 万像素的上限"
    send = "请上传手机相机直接拍摄的普通照片，或把照片缩小后再上传"
    try:
        image = Image.open(io.BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"照片像素过多，超过 {limit}：{send}") from None
    except _DECODE_ERRORS:
        raise PhotoRejected(
            f"the file starts like a {image_format} image but cannot be read: it is damaged", status=422
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"照片为 {width} x {height} 像素，超过 {limit}：{send}")
    aspect = max(width, height) / max(1, min(width, height))
    if aspect > MAX_ASPECT:
        raise ImageTooLarge(
            f"照片为 {width} x {height} 像素，长边是短边的 {aspect:.1f} 倍，不像相机拍摄的照片"
            f"（最多 {MAX_ASPECT:g} 倍）：请上传普通照片，全景照片请先裁剪"
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
