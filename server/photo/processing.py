"""Checking an uploaded photo and making the versions that are kept and shown.

The original is kept unchanged, privately, as evidence. What the public sees is a re-encoded JPEG turned
upright, scaled down, and carrying nothing but pixels (and the colour profile): no EXIF, GPS, XMP, maker
notes or comments. The type of a file is decided by its content alone; only JPEG, PNG and WebP are
accepted.

Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at its default (False), so a truncated file fails to
load; the pixel limit is checked here, from the header, before any pixel is decoded.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import math
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps

from gis.crs import distance_m
from gis.photo import Geotag, read_geotag
from server.errors import DomainError

__all__ = ["PhotoRejected", "ProcessedPhoto", "distance_m", "process_photo"]

ACCEPTED = "a JPEG, PNG or WebP image"
PUBLIC_QUALITY = 85
THUMBNAIL_QUALITY = 80

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
# Pillow's errors for a file whose header reads but whose data does not.
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error)


class PhotoRejected(DomainError):
    """An upload that is not a photo we keep. ``status``: 413 too large, 415 not a JPEG, PNG or WebP
    image, 422 truncated, corrupt, or more pixels than allowed."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


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
    image.draft(None, (public_px, public_px))  # a large JPEG decodes straight to a reduced size
    try:
        image.load()
    except _DECODE_ERRORS:
        raise PhotoRejected(
            f"the {image_format} image is truncated or damaged: its pixels cannot be read", status=422
        ) from None
    upright = _upright(image)
    if upright.size != image.size:  # turned a quarter
        width, height = height, width
    public = _fit(_flatten(upright), public_px)
    return ProcessedPhoto(
        sha256=hashlib.sha256(data).hexdigest(),
        mime=mime,
        format=image_format,
        width=width,
        height=height,
        size=len(data),
        geotag=read_geotag(image),
        original=data,
        public=_jpeg(public, PUBLIC_QUALITY),
        thumbnail=_jpeg(_fit(public, thumbnail_px), THUMBNAIL_QUALITY),
    )


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
    """The image opened lazily (header only) and its pixel count checked before any decoding."""
    limit = f"the limit is {max_pixels / 1e6:g} megapixels"
    try:
        image = Image.open(io.BytesIO(data), formats=[image_format])
    except Image.DecompressionBombError:
        raise PhotoRejected(f"the image has far too many pixels to be decoded; {limit}", status=422) from None
    except _DECODE_ERRORS:
        raise PhotoRejected(
            f"the file starts like a {image_format} image but cannot be read: it is damaged", status=422
        ) from None
    if image.width * image.height > max_pixels:
        raise PhotoRejected(f"the image is {image.width} x {image.height} pixels; {limit}", status=422)
    return image


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
    long_side = max(image.size)
    if long_side <= max_px:
        return image
    size = (max(1, round(image.width * max_px / long_side)), max(1, round(image.height * max_px / long_side)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


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
