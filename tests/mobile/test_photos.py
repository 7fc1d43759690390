"""The upload copy of a photo: upright, scaled, stamped, still geotagged, atomically named by content,
and accepted by the server's own photo checks."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from gis.photo import read_geotag
from mobile.services.photos import (
    SHANGHAI,
    cjk_font_path,
    prepare_photo,
    set_position,
    set_taken_at,
    stamp_font,
)
from server.config import Settings
from server.photo.processing import process_photo

BASE = (70, 130, 90)  # the photo's colour everywhere but its marked corner
MARK = (220, 30, 30)
LON, LAT = 117.021345, 36.661234
TAKEN = datetime(2026, 11, 20, 9, 15, 30, tzinfo=SHANGHAI)


def phone_photo(path: Path, *, size=(2000, 1500), orientation: int | None = 6, geotag: bool = True) -> Path:
    """A JPEG as a phone stores a portrait shot: landscape pixels with EXIF orientation 6 (turn 90
    degrees clockwise to view), its stored top-left corner red, with GPS and time when ``geotag``."""
    image = Image.new("RGB", size, BASE)
    image.paste(MARK, (0, 0, size[0] // 4, size[1] // 4))
    exif = Image.Exif()
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    if geotag:
        set_position(exif, LON, LAT)
        exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSAltitude] = 71.5
        set_taken_at(exif, TAKEN)
    image.save(path, "JPEG", quality=92, exif=exif)
    return path


def prepare(src: Path, dest: Path, **kwargs) -> Path:
    arguments = {"inspector": "张伟", "place": "芙蓉街社区 第 12 网格", "lon": None, "lat": None} | kwargs
    return prepare_photo(src, dest, **arguments)


def close(pixel, colour, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def test_upright_scaled_stamped_and_still_geotagged(tmp_path):
    out = prepare(phone_photo(tmp_path / "IMG_0001.jpg"), tmp_path / "ready")
    data = out.read_bytes()
    image = Image.open(out)
    assert image.format == "JPEG"
    assert image.size == (1200, 1600)  # turned upright (portrait), the long side down to 1600
    image.load()
    # Orientation 6 turns the stored top-left corner to the top right.
    assert close(image.getpixel((1150, 50)), MARK)
    assert close(image.getpixel((50, 50)), BASE)
    assert close(image.getpixel((600, 800)), BASE)
    exif = image.getexif()
    assert exif[ExifTags.Base.Orientation] == 1

    geotag = read_geotag(data)
    assert geotag.lon == pytest.approx(LON, abs=1e-6) and geotag.lat == pytest.approx(LAT, abs=1e-6)
    assert geotag.altitude_m == pytest.approx(71.5)  # the whole GPS block is the camera's
    assert geotag.taken_at == TAKEN and geotag.taken_at.utcoffset() == timedelta(hours=8)

    # The banner: the bottom rows are darkened and carry white text; the rows above are untouched.
    bottom = image.crop((0, 1540, 1200, 1600))
    assert bottom.convert("L").getextrema()[1] >= 230
    assert all(a < b - 20 for a, b in zip(image.getpixel((1190, 1595)), BASE, strict=True))
    assert close(image.getpixel((1190, 1400)), BASE)  # the banner is about a tenth of the height


def test_content_naming_is_atomic_and_repeatable(tmp_path):
    src = phone_photo(tmp_path / "IMG_0002.jpg")
    dest = tmp_path / "ready"
    first = prepare(src, dest)
    assert first.parent == dest
    assert first.name == hashlib.sha256(first.read_bytes()).hexdigest() + ".jpg"
    assert prepare(src, dest) == first
    assert sorted(p.name for p in dest.iterdir()) == [first.name]  # no temporary file left behind
    another = prepare(src, dest, inspector="李娜")  # another stamp is another photo
    assert another != first
    assert sorted(dest.iterdir()) == sorted([first, another])


def test_a_photo_without_geotag_gets_the_position_and_time_given(tmp_path):
    src = phone_photo(tmp_path / "plain.jpg", orientation=None, geotag=False)
    taken_at = datetime(2026, 11, 20, 1, 15, tzinfo=UTC)  # 09:15 in Jinan
    out = prepare(src, tmp_path / "ready", lon=LON, lat=LAT, taken_at=taken_at)
    geotag = read_geotag(out.read_bytes())
    assert (geotag.lon, geotag.lat) == (pytest.approx(LON, abs=1e-6), pytest.approx(LAT, abs=1e-6))
    assert geotag.taken_at == taken_at
    camera = Image.open(out).getexif().get_ifd(ExifTags.IFD.Exif)
    assert camera[ExifTags.Base.DateTimeOriginal] == "2026:11:20 09:15:00"
    assert camera[ExifTags.Base.OffsetTimeOriginal] == "+08:00"
    assert Image.open(out).size == (1600, 1200)  # no orientation: as stored

    naive = prepare(src, tmp_path / "naive", taken_at=datetime(2026, 11, 20, 9, 15))  # Beijing time
    tag = read_geotag(naive.read_bytes())
    assert tag.taken_at == datetime(2026, 11, 20, 9, 15, tzinfo=timezone(timedelta(hours=8)))
    assert tag.lon is None and tag.lat is None  # no position known, none invented


def test_without_a_time_it_is_stamped_now(tmp_path):
    before = datetime.now(UTC).replace(microsecond=0)
    out = prepare(phone_photo(tmp_path / "plain.jpg", geotag=False), tmp_path / "ready")
    taken = read_geotag(out.read_bytes()).taken_at
    assert taken.utcoffset() == timedelta(hours=8)
    assert before <= taken <= datetime.now(UTC)


def test_a_camera_time_is_kept_over_the_time_given(tmp_path):
    out = prepare(
        phone_photo(tmp_path / "IMG.jpg"), tmp_path / "ready", taken_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    assert read_geotag(out.read_bytes()).taken_at == TAKEN


def test_small_and_transparent_pictures(tmp_path):
    small = tmp_path / "small.png"
    picture = Image.new("RGBA", (800, 600), (0, 0, 0, 0))  # fully transparent: laid on white
    picture.save(small)
    out = prepare(small, tmp_path / "ready")
    image = Image.open(out)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (800, 600))  # never enlarged
    assert close(image.getpixel((400, 100)), (255, 255, 255), tolerance=4)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("notes.jpg", "巡查记录：无问题".encode()),
        ("empty.jpg", b""),
        ("cut.jpg", None),  # a JPEG cut short: its header reads, its pixels do not
    ],
)
def test_a_file_that_is_not_an_image_is_refused(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        whole = phone_photo(tmp_path / "whole.jpg").read_bytes()
        content = whole[: len(whole) // 2]
    path.write_bytes(content)
    with pytest.raises(ValueError, match="is not an image that can be read") as error:
        prepare(path, tmp_path / "ready")
    assert str(path) in str(error.value)
    assert not (tmp_path / "ready").exists()


def test_the_server_accepts_the_prepared_photo(tmp_path):
    out = prepare(phone_photo(tmp_path / "IMG_0003.jpg"), tmp_path / "ready")
    settings = Settings()
    processed = process_photo(
        out.read_bytes(),
        max_bytes=settings.photo_max_bytes,
        max_pixels=settings.photo_max_pixels,
        thumbnail_px=settings.photo_thumbnail_px,
        public_px=settings.photo_public_px,
    )
    assert (processed.format, processed.width, processed.height) == ("JPEG", 1200, 1600)
    assert processed.geotag.lon == pytest.approx(LON, abs=1e-6)
    assert processed.geotag.taken_at == TAKEN
    assert processed.sha256 == out.stem
    public = Image.open(io.BytesIO(processed.public))
    assert public.size == (1200, 1600)
    assert close(public.getpixel((1150, 50)), MARK)  # the server sees it upright as well


def test_the_stamp_writes_chinese():
    """Chinese place names need a CJK font: set-up installs fonts-noto-cjk (scripts/install-system.sh)."""
    assert cjk_font_path() is not None, "no CJK font: install fonts-noto-cjk"
    font = stamp_font(40)
    masks = {char: bytes(font.getmask(char)) for char in "历下区"}
    assert len(set(masks.values())) == 3  # three real glyphs, not one empty box three times
    assert all(any(mask) for mask in masks.values())
