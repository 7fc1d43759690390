"""Geotags read back from real image files whose EXIF is built with Pillow."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from gis.photo import Geotag, read_geotag

GPS = ExifTags.GPS


def _exif(gps: dict | None = None, camera: dict | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps or {})
    exif.get_ifd(ExifTags.IFD.Exif).update(camera or {})
    return exif


def _file(image_format: str, exif: Image.Exif | bytes | None = None) -> bytes:
    out = io.BytesIO()
    params = {} if exif is None else {"exif": exif}
    Image.new("RGB", (32, 24), "olive").save(out, image_format, **params)
    return out.getvalue()


def _dms(degrees: float) -> tuple[float, float, float]:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    return (float(whole), float(minutes), (degrees - whole - minutes / 60) * 3600)


JINAN = {
    GPS.GPSLatitudeRef: "N",
    GPS.GPSLatitude: _dms(36.6753),
    GPS.GPSLongitudeRef: "E",
    GPS.GPSLongitude: _dms(117.0231),
    GPS.GPSAltitudeRef: b"\x00",
    GPS.GPSAltitude: 71.5,
}
TAKEN = {
    ExifTags.Base.DateTimeOriginal: "2026:11:20 09:15:30",
    ExifTags.Base.OffsetTimeOriginal: "+08:00",
}


def test_jpeg_position_altitude_and_time():
    tag = read_geotag(_file("JPEG", _exif(JINAN, TAKEN)))
    assert tag.lat == pytest.approx(36.6753, abs=1e-6)
    assert tag.lon == pytest.approx(117.0231, abs=1e-6)
    assert tag.altitude_m == pytest.approx(71.5)
    assert tag.taken_at == datetime(2026, 11, 20, 9, 15, 30, tzinfo=timezone(timedelta(hours=8)))
    assert tag.taken_at.utcoffset() == timedelta(hours=8)


def test_opened_image_and_webp():
    data = _file("WEBP", _exif(JINAN))
    tag = read_geotag(Image.open(io.BytesIO(data)))
    assert (tag.lon, tag.lat) == pytest.approx((117.0231, 36.6753), abs=1e-6)


def test_southern_and_western_hemispheres_below_sea_level():
    gps = {
        GPS.GPSLatitudeRef: "S",
        GPS.GPSLatitude: _dms(33.8688),
        GPS.GPSLongitudeRef: "W",
        GPS.GPSLongitude: _dms(70.6693),
        GPS.GPSAltitudeRef: b"\x01",
        GPS.GPSAltitude: 12.0,
    }
    tag = read_geotag(_file("JPEG", _exif(gps)))
    assert (tag.lon, tag.lat) == pytest.approx((-70.6693, -33.8688), abs=1e-6)
    assert tag.altitude_m == pytest.approx(-12.0)
    assert tag.taken_at is None


def test_time_without_offset_is_naive_local_time():
    tag = read_geotag(_file("JPEG", _exif(camera={ExifTags.Base.DateTimeOriginal: "2026:01:05 18:00:00"})))
    assert tag.taken_at == datetime(2026, 1, 5, 18, 0, 0)
    assert tag.taken_at.tzinfo is None
    assert (tag.lon, tag.lat, tag.altitude_m) == (None, None, None)


def test_png_without_exif():
    assert read_geotag(_file("PNG")) == Geotag(lon=None, lat=None, altitude_m=None, taken_at=None)


@pytest.mark.parametrize(
    "exif",
    [
        b"Exif\x00\x00this is not a TIFF header",
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff\x00\x00",  # an IFD claiming 65535 entries
        bytes(range(256)) * 4,
    ],
    ids=["not-tiff", "lying-ifd", "noise"],
)
def test_garbage_exif_gives_nothing(exif):
    assert read_geotag(_file("JPEG", exif)) == Geotag()


def test_not_an_image_gives_nothing():
    assert read_geotag(b"plain text, not a photo") == Geotag()


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        ({GPS.GPSLatitudeRef: "X"}, "altitude"),  # no such hemisphere
        ({GPS.GPSLatitude: (95.0, 0.0, 0.0)}, "altitude"),  # beyond the pole
        ({GPS.GPSLatitude: (IFDRational(36, 0), 0.0, 0.0)}, "altitude"),  # a zero denominator
        ({GPS.GPSLongitude: (117.0, 1.0, 23.0, 5.0)}, "altitude"),  # four numbers
        ({GPS.GPSAltitude: IFDRational(71, 0)}, "position"),
    ],
    ids=["hemisphere", "range", "zero-denominator", "four-numbers", "altitude"],
)
def test_one_broken_value_spares_the_others(change, kept):
    tag = read_geotag(_file("JPEG", _exif({**JINAN, **change}, TAKEN)))
    assert tag.taken_at is not None
    if kept == "altitude":
        assert (tag.lon, tag.lat) == (None, None)
        assert tag.altitude_m == pytest.approx(71.5)
    else:
        assert tag.altitude_m is None
        assert (tag.lon, tag.lat) == pytest.approx((117.0231, 36.6753), abs=1e-6)


def test_impossible_date_spares_the_position():
    tag = read_geotag(_file("JPEG", _exif(JINAN, {ExifTags.Base.DateTimeOriginal: "0000:00:00 00:00:00"})))
    assert tag.taken_at is None
    assert (tag.lon, tag.lat) == pytest.approx((117.0231, 36.6753), abs=1e-6)
