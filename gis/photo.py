"""Where and when a photo was taken, from its EXIF: the GPS position and the original time.

Phones write GPS positions in WGS 84, so they are used as they are. A photo's EXIF is whatever the
camera (or anyone) wrote: a missing, malformed or out-of-range value gives None, never an exception.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from PIL import ExifTags, Image

_GPS = ExifTags.GPS
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


@dataclass(frozen=True)
class Geotag:
    """A photo's position (decimal degrees, WGS 84; both or neither), altitude in metres above sea level,
    and the time it was taken: timezone-aware when the camera recorded its UTC offset
    (OffsetTimeOriginal), else naive local time as the camera's clock showed it."""

    lon: float | None = None
    lat: float | None = None
    altitude_m: float | None = None
    taken_at: datetime | None = None


def read_geotag(image: Image.Image | bytes) -> Geotag:
    """The geotag in an opened image or in the bytes of an image file (opened lazily: the pixels are
    not decoded, except for a PNG whose EXIF chunk comes after its pixel data)."""
    try:
        if isinstance(image, bytes):
            image = Image.open(io.BytesIO(image))
        exif = image.getexif()
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        camera = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # Pillow's EXIF parser fails in many ways on damaged data
        return Geotag()
    lat = _read(_coordinate, gps, _GPS.GPSLatitude, _GPS.GPSLatitudeRef, "N", "S", 90.0)
    lon = _read(_coordinate, gps, _GPS.GPSLongitude, _GPS.GPSLongitudeRef, "E", "W", 180.0)
    if lat is None or lon is None:
        lat = lon = None
    return Geotag(
        lon=lon,
        lat=lat,
        altitude_m=_read(_altitude, gps),
        taken_at=_read(_taken_at, camera),
    )


def _read(read: Callable, *args):
    """``read(*args)``, or None when the values it reads are missing or malformed."""
    try:
        return read(*args)
    except Exception:  # any shape of bad value: a str where a number belongs, a short tuple, ...
        return None


def _finite(value) -> float:
    number = float(value)  # a rational with a zero denominator is nan
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii")
    return value.strip("\x00 ")


def _coordinate(gps: dict, tag: int, ref_tag: int, positive: str, negative: str, limit: float) -> float:
    """Degrees, minutes and seconds with their hemisphere to signed decimal degrees."""
    ref = _text(gps[ref_tag]).upper()
    if ref not in (positive, negative):
        raise ValueError(f"hemisphere {ref!r} is not {positive} or {negative}")
    parts = [_finite(part) for part in gps[tag]]
    if not 1 <= len(parts) <= 3 or any(part < 0 for part in parts):
        raise ValueError(f"{parts} is not degrees, minutes and seconds")
    degrees = sum(part / 60**i for i, part in enumerate(parts))
    if degrees > limit:
        raise ValueError(f"{degrees} is beyond {limit} degrees")
    return -degrees if ref == negative else degrees


def _altitude(gps: dict) -> float:
    altitude = _finite(gps[_GPS.GPSAltitude])
    ref = gps.get(_GPS.GPSAltitudeRef, 0)
    below_sea_level = (ref[:1] == b"\x01") if isinstance(ref, bytes) else ref == 1
    return -altitude if below_sea_level else altitude


def _taken_at(camera: dict) -> datetime:
    taken = datetime.strptime(_text(camera[ExifTags.Base.DateTimeOriginal]), "%Y:%m:%d %H:%M:%S")
    offset = _OFFSET.fullmatch(_text(camera.get(ExifTags.Base.OffsetTimeOriginal, "")))
    if offset is None:
        return taken
    sign, hours, minutes = offset.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return taken.replace(tzinfo=timezone(-delta if sign == "-" else delta))
