"""A photo made ready to upload: upright, at most 1600 px, stamped, and still geotagged.

The stamp is a banner along the bottom with the time (Beijing time), the place and the inspector, the
way field photos are stamped (水印) so that a printed or forwarded copy still says when, where and by
whom it was taken. The EXIF position and original time are kept (or written when the camera left them
out): the server reads them to check that a report's photo was taken where and when it says.

Asia/Shanghai is UTC+8 all year (no daylight saving since 1991), so a fixed offset stands for it and the
phone needs no time zone database.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from PIL import ExifTags, Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from gis.photo import Geotag, read_geotag

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
# Fonts with Chinese glyphs, first found wins: Debian's fonts-noto-cjk, then Android's system font. The
# collections' third face (index 2) is Simplified Chinese.
CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/system/fonts/NotoSansCJK-Regular.ttc"),
)
CJK_FACE = 2
_EXIF_TIME = "%Y:%m:%d %H:%M:%S"
# Pillow's errors for a file it recognises but cannot decode.
_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


def cjk_font_path() -> Path | None:
    """The first installed font of :data:`CJK_FONTS`, or None."""
    return next((path for path in CJK_FONTS if path.is_file()), None)


@lru_cache(maxsize=8)
def stamp_font(size: int) -> ImageFont.FreeTypeFont:
    """A font of ``size`` px that writes Chinese when a CJK font is installed; else Pillow's default
    font, whose Chinese characters come out as empty boxes."""
    path = cjk_font_path()
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(str(path), size, index=CJK_FACE if path.suffix == ".ttc" else 0)


def set_position(exif: Image.Exif, lon: float, lat: float) -> None:
    """Write a WGS 84 position into ``exif``'s GPS block (degrees, minutes, seconds, hemisphere)."""
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            ExifTags.GPS.GPSVersionID: b"\x02\x03\x00\x00",
            ExifTags.GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
            ExifTags.GPS.GPSLatitude: _dms(abs(lat)),
            ExifTags.GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
            ExifTags.GPS.GPSLongitude: _dms(abs(lon)),
            ExifTags.GPS.GPSMapDatum: "WGS-84",
        }
    )


def set_taken_at(exif: Image.Exif, when: datetime) -> None:
    """Write the time a photo was taken: ``when`` (aware) as its local time and UTC offset."""
    if when.tzinfo is None:
        raise ValueError("the time a photo was taken needs its time zone")
    offset = when.strftime("%z")
    camera = exif.get_ifd(ExifTags.IFD.Exif)
    camera[ExifTags.Base.DateTimeOriginal] = when.strftime(_EXIF_TIME)
    camera[ExifTags.Base.OffsetTimeOriginal] = f"{offset[:3]}:{offset[3:]}"


def _dms(degrees: float) -> tuple[float, float, float]:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    return (float(whole), float(minutes), round((degrees - whole - minutes / 60) * 3600, 4))


def prepare_photo(
    src: Path,
    dest_dir: Path,
    *,
    inspector: str,
    place: str,
    lon: float | None,
    lat: float | None,
    taken_at: datetime | None = None,
    max_px: int = 1600,
    quality: int = 85,
) -> Path:
    """Make the upload copy of the photo ``src`` in ``dest_dir`` and return its path.

    The copy is turned upright as its EXIF orientation says (and marked orientation 1), scaled down to at
    most ``max_px`` on its long side, stamped, and saved as a JPEG of ``quality``. It keeps the source's
    EXIF GPS block and original time; a source without a position gets ``lon``/``lat`` (when given), one
    without a time gets ``taken_at`` or now (a naive ``taken_at`` is Beijing time). The stamp shows the
    photo's time in Beijing time ("YYYY-MM-DD HH:MM"), ``inspector`` and ``place``.

    The file is named by the SHA-256 of its bytes and written atomically, so a crash never leaves half a
    photo and preparing the same photo twice (same time and stamp) gives the same file. A file that is
    not an image raises ValueError."""
    source = _open(src, max_px)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    if source.geotag.lat is not None:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(source.exif.get_ifd(ExifTags.IFD.GPSInfo))
    elif lon is not None and lat is not None:
        set_position(exif, lon, lat)
    shown = source.geotag.taken_at
    if shown is not None:
        source_camera = source.exif.get_ifd(ExifTags.IFD.Exif)
        camera = exif.get_ifd(ExifTags.IFD.Exif)
        for tag in (ExifTags.Base.DateTimeOriginal, ExifTags.Base.OffsetTimeOriginal):
            if tag in source_camera:
                camera[tag] = source_camera[tag]
    else:
        shown = taken_at or datetime.now(SHANGHAI)
        if shown.tzinfo is None:
            shown = shown.replace(tzinfo=SHANGHAI)
        set_taken_at(exif, shown.astimezone(SHANGHAI))
    if shown.tzinfo is not None:  # a camera time without its offset is the phone's (Beijing) time
        shown = shown.astimezone(SHANGHAI)

    stamped = _stamp(source.pixels, [f"{shown:%Y-%m-%d %H:%M}  {inspector}", place])
    out = io.BytesIO()
    stamped.save(out, "JPEG", quality=quality, exif=exif, icc_profile=source.icc_profile)
    data = out.getvalue()
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"{hashlib.sha256(data).hexdigest()}.jpg"
    if not path.exists():
        write_atomically(path, data)
    return path


class _Source(NamedTuple):
    pixels: Image.Image  # upright, RGB, scaled down
    exif: Image.Exif  # as the file had it
    geotag: Geotag
    icc_profile: bytes | None  # the colour profile, when it describes RGB pixels


def _open(src: Path, max_px: int) -> _Source:
    try:
        with Image.open(src) as image:
            image.draft("RGB", (max_px, max_px))  # a large JPEG decodes straight to about the size needed
            image.load()
            exif = image.getexif()
            geotag = read_geotag(image)
            profile = image.info.get("icc_profile") or b""
            pixels = _rgb(_upright(image))
    except FileNotFoundError:
        raise
    except _UNREADABLE as exc:
        raise ValueError(f"{src} is not an image that can be read ({exc})") from None
    pixels.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
    return _Source(pixels, exif, geotag, profile if profile[16:20] == b"RGB " else None)


def _upright(image: Image.Image) -> Image.Image:
    """A copy turned as the EXIF orientation says; as stored when the EXIF cannot be read."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # Pillow's EXIF parser fails in many ways on damaged data
        return image.copy()


def _rgb(image: Image.Image) -> Image.Image:
    """RGB pixels, any transparency laid on white (JPEG has no alpha)."""
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")


def _stamp(image: Image.Image, lines: list[str]) -> Image.Image:
    """``image`` with ``lines`` in white on a translucent dark banner along its bottom. The text is
    sized to the picture (a 1600 x 1200 photo gets 43 px), and a line too long for it is cut short."""
    width, height = image.size
    size = max(12, round(min(width, height) / 28))
    font = stamp_font(size)
    margin = size // 2
    line_height = round(size * 1.4)
    top = height - 2 * margin - line_height * len(lines)
    banner = Image.new("RGBA", image.size)
    draw = ImageDraw.Draw(banner)
    draw.rectangle((0, top, width, height), fill=(0, 0, 0, 150))
    for number, line in enumerate(lines):
        text = _cut(line, font, width - 2 * margin)
        draw.text((margin, top + margin + number * line_height), text, font=font, fill="white")
    return Image.alpha_composite(image.convert("RGBA"), banner).convert("RGB")


def _cut(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    """``text``, or as much of it as fits in ``width`` px followed by an ellipsis."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to the disk, then rename it over
    ``path``: readers see the whole file or none."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
