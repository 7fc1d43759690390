"""The desktop camera: pictures handed out from a folder, or generated street photos placed at the GPS."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from gis.photo import read_geotag
from mobile.platform.camera import AndroidCamera, DesktopCamera, default_camera
from mobile.platform.gps import SimulatedGps


@pytest.fixture(autouse=True)
def desktop(monkeypatch):
    monkeypatch.delenv("ANDROID_ARGUMENT", raising=False)
    monkeypatch.delenv("GRIDOPS_MOBILE_PHOTOS", raising=False)


def take(camera, dest: Path) -> Path | None:
    results = []
    camera.take(dest, results.append)
    assert len(results) == 1  # the desktop camera answers before take() returns
    return results[0]


def test_a_sample_photo_is_a_geotagged_street_scene(tmp_path):
    gps = SimulatedGps()
    fix = gps.positions(40)[-1]
    before = datetime.now(UTC).replace(microsecond=0)
    dest = tmp_path / "photos" / "shot.jpg"
    assert take(DesktopCamera(gps=gps), dest) == dest

    image = Image.open(dest)
    assert (image.format, image.size) == ("JPEG", (2000, 1500))
    sky, road = image.getpixel((1000, 5)), image.getpixel((1000, 1495))
    assert sky[2] > sky[0] + 60  # blue above
    assert max(road) < 110  # dark asphalt below
    geotag = read_geotag(dest.read_bytes())
    assert geotag.lon == pytest.approx(fix.lon, abs=1e-6) and geotag.lat == pytest.approx(fix.lat, abs=1e-6)
    assert geotag.taken_at.tzinfo is not None
    assert before <= geotag.taken_at <= datetime.now(UTC)


def test_no_two_sample_photos_are_alike(tmp_path):
    first, second = DesktopCamera(), DesktopCamera()  # two cameras still number their photos apart
    shots = [take(camera, tmp_path / f"{n}.jpg") for n, camera in enumerate((first, second, first))]
    pixels = [Image.open(shot).convert("RGB") for shot in shots]
    for n in range(3):
        for m in range(n):
            assert ImageChops.difference(pixels[n], pixels[m]).getbbox() is not None
    assert read_geotag(shots[0].read_bytes()).lat is None  # no GPS, no position


def test_pictures_from_a_folder_are_handed_out_in_turn(tmp_path):
    folder = tmp_path / "my photos"
    folder.mkdir()
    for name, colour in (("b.JPG", "red"), ("a.png", "green"), ("c.jpeg", "blue")):
        Image.new("RGB", (64, 48), colour).save(folder / name, "PNG" if name.endswith("png") else "JPEG")
    (folder / "notes.txt").write_text("not a picture")
    camera = DesktopCamera(folder)
    taken = [take(camera, tmp_path / "out" / f"{n}.jpg").read_bytes() for n in range(4)]
    expected = [(folder / name).read_bytes() for name in ("a.png", "b.JPG", "c.jpeg", "a.png")]
    assert taken == expected


def test_the_folder_may_come_from_the_environment(tmp_path, monkeypatch):
    Image.new("RGB", (64, 48), "orange").save(tmp_path / "only.jpg")
    monkeypatch.setenv("GRIDOPS_MOBILE_PHOTOS", str(tmp_path))
    shot = take(DesktopCamera(), tmp_path / "out" / "shot.jpg")
    assert shot.read_bytes() == (tmp_path / "only.jpg").read_bytes()


def test_a_folder_without_pictures_gives_sample_photos(tmp_path):
    shot = take(DesktopCamera(tmp_path), tmp_path / "shot.jpg")
    assert Image.open(shot).size == (2000, 1500)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(ValueError, match="nowhere: there is no such folder"):
        DesktopCamera(tmp_path / "nowhere")


def test_default_camera(monkeypatch):
    gps = SimulatedGps()
    assert isinstance(default_camera(gps), DesktopCamera)
    monkeypatch.setenv("ANDROID_ARGUMENT", "/data/data/org.gridops.gridops/files/app")
    assert isinstance(default_camera(gps), AndroidCamera)
