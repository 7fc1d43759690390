"""Photo checks and versions on real image files made with Pillow, and the content-addressed store."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from server import messages
from server.config import Settings, get_settings
from server.errors import Invalid, NotFound
from server.photo import processing
from server.photo.processing import (
    ImageTooLarge,
    PhotoBusy,
    PhotoRejected,
    distance_m,
    process_photo,
)
from server.photo.storage import LocalStorage, get_storage

SETTINGS = Settings()
LIMITS = {
    "max_bytes": SETTINGS.photo_max_bytes,
    "max_pixels": SETTINGS.photo_max_pixels,
    "thumbnail_px": SETTINGS.photo_thumbnail_px,
    "public_px": SETTINGS.photo_public_px,
}
GPS = ExifTags.GPS
# JPEG markers that may stand before the image data of a version without metadata: SOI, APP0 (JFIF),
# APP2 (colour profile), DQT, SOF0/SOF2, DHT, DRI, SOS.
BARE_MARKERS = {0xD8, 0xE0, 0xE2, 0xDB, 0xC0, 0xC2, 0xC4, 0xDD, 0xDA}


def _noise(width: int, height: int, seed: int = 1) -> Image.Image:
    """Random pixels: they compress badly, as a photo does."""
    return Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3))


def _encode(image: Image.Image, image_format: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **params)
    return out.getvalue()


def _geotagged_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif.get_ifd(ExifTags.IFD.GPSInfo).update(
        {
            GPS.GPSLatitudeRef: "N",
            GPS.GPSLatitude: (36.0, 40.0, 31.08),
            GPS.GPSLongitudeRef: "E",
            GPS.GPSLongitude: (117.0, 1.0, 23.16),
            GPS.GPSAltitude: 71.5,
        }
    )
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:20 09:15:30"
    return exif


def _markers(jpeg: bytes) -> set[int]:
    """The markers of the segments before the image data."""
    assert jpeg[:2] == b"\xff\xd8"
    found, at = {0xD8}, 2
    while True:
        marker = jpeg[at + 1]
        found.add(marker)
        if marker == 0xDA:
            return found
        at += 2 + struct.unpack(">H", jpeg[at + 2 : at + 4])[0]


def _assert_bare_jpeg(data: bytes, max_px: int) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert max(image.size) <= max_px
    assert dict(image.getexif()) == {}
    assert _markers(data) <= BARE_MARKERS, "an APP1 (EXIF/XMP), COM or other metadata segment is present"
    for leak in (b"Exif", b"PhoneMaker", b"http://ns.adobe.com/xap", b"secret note"):
        assert leak not in data
    return image


def _rejected(data: bytes, status: int, code: str, params: dict | None = None, **limits) -> PhotoRejected:
    """The refusal of ``data``: its status, its code and parameters, and the catalogue's sentence."""
    with pytest.raises(PhotoRejected) as caught:
        process_photo(data, **{**LIMITS, **limits})
    error = caught.value
    assert (error.status, error.code, error.params) == (status, code, params or {})
    assert error.message == messages.text(code, **(params or {}))
    return error


# -- accepted photos --------------------------------------------------------------------------------


def test_geotagged_jpeg_keeps_the_original_and_strips_the_public_versions():
    data = _encode(
        _noise(2000, 1000),
        "JPEG",
        quality=90,
        exif=_geotagged_exif(),
        comment=b"secret note",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>',
    )
    photo = process_photo(data, **LIMITS)

    assert photo.original == data
    assert photo.sha256 == hashlib.sha256(data).hexdigest()
    assert (photo.mime, photo.format, photo.width, photo.height, photo.size) == (
        "image/jpeg",
        "JPEG",
        2000,
        1000,
        len(data),
    )
    assert (photo.geotag.lat, photo.geotag.lon) == pytest.approx((36.6753, 117.0231), abs=1e-6)
    assert photo.geotag.altitude_m == pytest.approx(71.5)
    assert Image.open(io.BytesIO(photo.original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)

    public = _assert_bare_jpeg(photo.public, SETTINGS.photo_public_px)
    thumbnail = _assert_bare_jpeg(photo.thumbnail, SETTINGS.photo_thumbnail_px)
    assert public.size == (1600, 800)
    assert thumbnail.size == (320, 160)


def test_large_jpeg_is_reported_at_full_size():
    # Over twice the public size both ways: Pillow decodes it at a reduced scale, the size stays the file's.
    large = Image.linear_gradient("L").resize((4000, 3300)).convert("RGB")
    photo = process_photo(_encode(large, "JPEG"), **LIMITS)
    assert (photo.width, photo.height) == (4000, 3300)
    assert _assert_bare_jpeg(photo.public, SETTINGS.photo_public_px).size == (1600, 1320)
    assert _assert_bare_jpeg(photo.thumbnail, SETTINGS.photo_thumbnail_px).size == (320, 264)


def test_orientation_is_applied_to_the_public_version():
    stored = Image.new("RGB", (400, 200), "red")
    stored.paste((0, 0, 255), (200, 0, 400, 200))  # red on the left, blue on the right, as stored
    photo = process_photo(_encode(stored, "JPEG", exif=_geotagged_exif(orientation=6)), **LIMITS)

    assert (photo.width, photo.height) == (200, 400)  # as a person sees it
    for version in (photo.public, photo.thumbnail):
        upright = _assert_bare_jpeg(version, SETTINGS.photo_public_px)
        assert upright.height == 2 * upright.width
        # Orientation 6: the camera was turned a quarter clockwise; the stored left edge is the top.
        top = upright.getpixel((upright.width // 2, upright.height // 8))
        bottom = upright.getpixel((upright.width // 2, upright.height * 7 // 8))
        assert top[0] > 200 and top[2] < 60
        assert bottom[2] > 200 and bottom[0] < 60


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_a_large_photo_is_shrunk_before_it_is_turned_and_comes_out_upright(image_format):
    stored = Image.new("RGB", (4000, 2000), "red")
    stored.paste((0, 0, 255), (2000, 0, 4000, 2000))
    data = _encode(stored, image_format, exif=_geotagged_exif(orientation=6))
    photo = process_photo(data, **LIMITS)
    assert (photo.width, photo.height) == (2000, 4000)
    upright = _assert_bare_jpeg(photo.public, SETTINGS.photo_public_px)
    assert upright.size == (800, 1600)
    top, bottom = upright.getpixel((400, 100)), upright.getpixel((400, 1500))
    assert top[0] > 200 and top[2] < 60
    assert bottom[2] > 200 and bottom[0] < 60


def test_png_with_transparency_is_laid_on_white():
    image = Image.new("RGBA", (600, 300), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (0, 0, 300, 300))
    data = _encode(image, "PNG")
    photo = process_photo(data, **LIMITS)

    assert (photo.mime, photo.format, photo.width, photo.height) == ("image/png", "PNG", 600, 300)
    assert photo.geotag.lat is None and photo.geotag.taken_at is None
    public = _assert_bare_jpeg(photo.public, SETTINGS.photo_public_px)
    assert public.size == (600, 300)
    assert min(public.getpixel((450, 150))) > 245  # the transparent half is white
    assert _assert_bare_jpeg(photo.thumbnail, SETTINGS.photo_thumbnail_px).size == (320, 160)


def test_webp_with_geotag():
    data = _encode(_noise(800, 600), "WEBP", exif=_geotagged_exif())
    photo = process_photo(data, **LIMITS)

    assert (photo.mime, photo.format, photo.width, photo.height) == ("image/webp", "WEBP", 800, 600)
    assert (photo.geotag.lon, photo.geotag.lat) == pytest.approx((117.0231, 36.6753), abs=1e-6)
    _assert_bare_jpeg(photo.public, SETTINGS.photo_public_px)
    _assert_bare_jpeg(photo.thumbnail, SETTINGS.photo_thumbnail_px)


def test_damaged_exif_does_not_refuse_the_photo():
    data = _encode(_noise(300, 200), "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    photo = process_photo(data, **LIMITS)
    assert photo.geotag.lat is None
    assert _assert_bare_jpeg(photo.public, SETTINGS.photo_public_px).size == (300, 200)


def test_geodesic_distance():
    # One arc-minute of latitude is about 1,849 m at 36.7 N on the WGS 84 ellipsoid.
    assert distance_m(117.0231, 36.6753, 117.0231, 36.6753 + 1 / 60) == pytest.approx(1849.0, abs=2.0)


# -- refused uploads --------------------------------------------------------------------------------


def test_too_large_is_refused_before_anything_else():
    data = b"\xff\xd8\xff" + bytes(SETTINGS.photo_max_bytes)
    error = _rejected(data, 413, "photo.too_large", {"megabytes": 15})
    assert error.message == "照片太大：每张照片最大 15 MB，请缩小后重新上传"
    _rejected(bytes(1024 * 1024 + 1), 413, "photo.too_large", {"megabytes": 0.9}, max_bytes=1_000_000)


@pytest.mark.parametrize(
    ("data", "code", "kind"),
    [
        (b"Dear sir, the street lamp at the corner is broken.\n" * 20, "photo.not_an_image", "看起来是文字"),
        ("路灯损坏，请尽快维修。".encode() * 60, "photo.not_an_image", "看起来是文字"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "photo.not_an_image", "看起来是 PDF 文档"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "photo.heic", None),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", "photo.not_an_image", "看起来是 AVIF 图片"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "photo.not_an_image", "看起来是 GIF 图片"),
        (b"\x00\x01\x02\x03\xfe\xfd" * 10, "photo.not_an_image", "的内容无法识别"),
        (b"", "photo.empty", None),
    ],
    ids=["text", "chinese-text", "pdf", "heic", "avif", "gif", "binary", "empty"],
)
def test_not_an_accepted_image(data, code, kind):
    error = _rejected(data, 415, code, {"kind": kind} if kind else {})
    assert "JPEG、PNG 或 WebP" in error.message  # what to send instead


@pytest.mark.parametrize(("image_format", "name"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WebP")])
def test_truncated_image(image_format, name):
    data = _encode(_noise(600, 400), image_format)
    _rejected(data[: len(data) // 2], 422, "photo.damaged", {"format": name})


def test_damaged_header():
    data = bytearray(_encode(_noise(60, 40), "PNG"))
    data[12:16] = b"XXXX"  # the IHDR chunk's name
    _rejected(bytes(data), 422, "photo.damaged", {"format": "PNG"})


def _png_bomb(width: int, height: int) -> bytes:
    """A complete, valid all-black 1-bit PNG: tens of KB on disk, ``width x height`` bytes once decoded."""

    def chunk(name: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + name + body + struct.pack(">I", zlib.crc32(name + body))

    row = bytes(1 + (width + 7) // 8)  # filter byte and the row's bits
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _images_made() -> int:
    """How many images Pillow has allocated in this process: decoding a file makes one, reading its
    header none."""
    return Image.core.get_stats()["new_count"]


def test_decompression_bomb_is_refused_from_its_header():
    bomb = _png_bomb(8000, 8000)
    assert len(bomb) < 100_000
    made = _images_made()
    error = _rejected(bomb, 422, "photo.too_many_pixels", {"width": 8000, "height": 8000, "limit": "5000"})
    assert error.message.startswith("照片为 8000 × 8000 像素，超过 5000 万像素的上限：")
    assert isinstance(error, ImageTooLarge)
    assert _images_made() == made


def test_decompression_bomb_beyond_what_pillow_opens():
    # With our own limit raised past it, Pillow's guard still refuses to open 400 megapixels.
    error = _rejected(_png_bomb(20000, 20000), 422, "photo.pixel_bomb", {"limit": "100000"}, max_pixels=10**9)
    assert isinstance(error, ImageTooLarge)


@pytest.fixture(scope="module")
def pixel_strip() -> bytes:
    """The hostile probe's photo: a lossless WebP of 16,383 x 3,000 black pixels (49 megapixels, under
    the staff's pixel limit) that is a couple of KB on the wire and hundreds of MB once decoded."""
    data = _encode(Image.new("RGB", (16383, 3000)), "WEBP", lossless=True)
    assert len(data) < 4096
    return data


def test_a_pixel_strip_is_refused_from_its_header_under_the_pixel_limit(pixel_strip):
    assert SETTINGS.photo_max_pixels > 16383 * 3000
    made = _images_made()
    error = _rejected(
        pixel_strip,
        422,
        "photo.strip",
        {"width": 16383, "height": 3000, "ratio": "5.5", "max_ratio": "4"},
    )
    assert "长边是短边的 5.5 倍" in error.message
    assert isinstance(error, ImageTooLarge)
    assert _images_made() == made  # refused before a single pixel was decoded


def test_the_public_pixel_limit_is_lower_than_the_staffs():
    bomb = _png_bomb(6000, 4500)  # 27 megapixels: a staff photo, too many for the public
    assert SETTINGS.public_photo_max_pixels < 6000 * 4500 <= SETTINGS.photo_max_pixels
    made = _images_made()
    params = {"width": 6000, "height": 4500, "limit": "1600"}
    _rejected(bomb, 422, "photo.too_many_pixels", params, max_pixels=SETTINGS.public_photo_max_pixels)
    assert _images_made() == made
    assert process_photo(bomb, **LIMITS).width == 6000


def test_a_photo_wider_than_a_panorama_crop_but_ordinary_passes():
    # A 21:9 phone photo and a 4:1 crop are photos; the shape check is for strips.
    for size in ((2100, 900), (2000, 500)):
        assert process_photo(_encode(Image.new("RGB", size, "grey"), "JPEG"), **LIMITS).width == size[0]


def test_pixel_work_waits_briefly_for_a_slot_then_answers_busy(monkeypatch):
    settings = get_settings()
    monkeypatch.setattr(settings, "photo_work_wait_seconds", 0.05)
    data = _encode(_noise(300, 200), "JPEG")
    slots = processing.work_slots()
    held = 0
    try:
        while slots.acquire(blocking=False):  # every slot of this process taken by other photos
            held += 1
        assert held == settings.photo_work_slots
        made = _images_made()
        with pytest.raises(PhotoBusy) as caught:
            process_photo(data, **LIMITS)
        assert (caught.value.status, caught.value.code) == (503, "photo.busy")
        assert caught.value.params["retry_after"] >= 1
        assert caught.value.message == messages.text("photo.busy")
        assert _images_made() == made
    finally:
        for _ in range(held):
            slots.release()
    assert process_photo(data, **LIMITS).width == 300


# -- storage ----------------------------------------------------------------------------------------


def test_storage_is_content_addressed_and_idempotent(tmp_path):
    storage = LocalStorage(tmp_path)
    data = b"photo bytes"
    key = storage.put(data)

    assert key == hashlib.sha256(data).hexdigest()
    path = storage.path(key)
    assert path == tmp_path / key[:2] / key[2:4] / key
    assert path.read_bytes() == data
    assert storage.get(key) == data
    assert storage.exists(key)
    assert storage.size(key) == len(data)

    inode = path.stat().st_ino
    assert storage.put(data) == key
    assert path.stat().st_ino == inode  # not written again
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]  # no temporary file left behind


def test_storage_missing_and_invalid_keys(tmp_path):
    storage = LocalStorage(tmp_path)
    missing = hashlib.sha256(b"never stored").hexdigest()
    assert not storage.exists(missing)
    for read in (storage.get, storage.size):
        with pytest.raises(NotFound) as caught:
            read(missing)
        assert caught.value.code == "photo.file_missing"
    for key in ["../etc/passwd", "../" * 21 + "x", missing.upper(), missing[:-1], missing + "0", ""]:
        with pytest.raises(Invalid) as caught:
            storage.get(key)
        assert caught.value.code == "photo.bad_key"
        with pytest.raises(Invalid):
            storage.exists(key)
    assert list(tmp_path.iterdir()) == []


def test_get_storage_uses_the_media_root(tmp_path):
    storage = get_storage(Settings(media_dir=tmp_path / "media"))
    key = storage.put(b"x")
    assert (tmp_path / "media" / key[:2] / key[2:4] / key).read_bytes() == b"x"
