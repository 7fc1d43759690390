"""Taking a photo: the phone's camera app on Android, picked or generated pictures on the desktop.

Either way the picture ends up as a file at the path the caller chose, and the caller is told which
(``None`` when the inspector cancelled or the camera failed). The picture is the camera's own: stamping
and scaling come after, in :func:`mobile.services.photos.prepare_photo`.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from PIL import ExifTags, Image, ImageDraw

from mobile.platform import on_android, with_permissions
from mobile.platform.gps import Fix, Gps
from mobile.services.photos import cjk_font_path, set_position, set_taken_at, stamp_font

PHOTOS_ENV = "GRIDOPS_MOBILE_PHOTOS"  # a folder of pictures for the desktop camera to hand out
PICTURE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
SAMPLE_SIZE = (2000, 1500)
_samples = itertools.count(1)  # numbers the generated photos of this run: no two are alike


class Camera(Protocol):
    def take(self, dest: Path, on_done: Callable[[Path | None], None]) -> None:
        """Take a picture into the file ``dest`` and call ``on_done(dest)``, or ``on_done(None)`` when
        there is none (cancelled, refused or failed). ``on_done`` may run before ``take`` returns or
        later on another thread than the caller's."""
        ...


class AndroidCamera:
    """The phone's camera app through plyer, after asking for the CAMERA permission.

    plyer 2.1 hands the camera app a ``file://`` address for ``dest``, which Android refuses from apps
    that target API 24 or later (FileUriExposedException) unless the app's StrictMode VM policy allows
    it: ``take`` lifts that check first. The camera app must be able to write ``dest``; a FileProvider
    (``content://``) would not need that, and plyer has no release with one yet."""

    def take(self, dest: Path, on_done: Callable[[Path | None], None]) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.unlink(missing_ok=True)  # so that an old file is never taken for the new picture

        def finished(filename: str) -> bool:
            taken = Path(filename)
            on_done(taken if taken.is_file() and taken.stat().st_size > 0 else None)
            return False  # True would make plyer delete the file

        def permitted(granted: frozenset[str]) -> None:
            if "CAMERA" not in granted:
                on_done(None)
                return
            from jnius import autoclass
            from plyer import camera

            strict_mode = autoclass("android.os.StrictMode")
            strict_mode.setVmPolicy(autoclass("android.os.StrictMode$VmPolicy$Builder")().build())
            camera.take_picture(filename=str(dest), on_complete=finished)

        with_permissions(["CAMERA"], permitted)


class DesktopCamera:
    """A camera for the desktop and the tests.

    When ``folder`` (default: the folder named by ``GRIDOPS_MOBILE_PHOTOS``) holds pictures (.jpg,
    .jpeg, .png), each ``take`` copies the next of them in name order, starting over after the last.
    Otherwise it draws a sample street photo (see :func:`sample_photo`) placed at ``gps``'s last fix.
    ``on_done`` is called before ``take`` returns."""

    def __init__(self, folder: Path | None = None, gps: Gps | None = None) -> None:
        if folder is None and os.environ.get(PHOTOS_ENV):
            folder = Path(os.environ[PHOTOS_ENV])
        if folder is not None and not folder.is_dir():
            raise ValueError(f"{folder}: there is no such folder of photos")
        self._pictures = (
            sorted(p for p in folder.iterdir() if p.suffix.lower() in PICTURE_SUFFIXES and p.is_file())
            if folder is not None
            else []
        )
        self._turn = itertools.count()
        self._gps = gps

    def take(self, dest: Path, on_done: Callable[[Path | None], None]) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self._pictures:
            shutil.copyfile(self._pictures[next(self._turn) % len(self._pictures)], dest)
        else:
            fix = self._gps.last if self._gps is not None else None
            dest.write_bytes(sample_photo(next(_samples), fix, datetime.now().astimezone()))
        on_done(dest)


def sample_photo(number: int, fix: Fix | None, now: datetime) -> bytes:
    """A 2000 x 1500 JPEG of a street: sky, buildings, pavement, a kerb, the road, and a carton left on
    the pavement with a red label "占道堆物 #number" (in English without a CJK font), the kind of problem
    inspectors report. The scene varies with ``number`` and ``now``. Its EXIF has the time ``now`` (aware)
    and, when ``fix`` is given, its position."""
    rng = random.Random(f"{number}:{now.isoformat()}")
    width, height = SAMPLE_SIZE
    image = Image.new("RGB", SAMPLE_SIZE)
    draw = ImageDraw.Draw(image)
    horizon = round(height * rng.uniform(0.36, 0.46))
    kerb = horizon + round((height - horizon) * rng.uniform(0.4, 0.55))

    sky_top = (rng.randint(60, 110), rng.randint(120, 160), rng.randint(200, 240))
    for y in range(horizon):  # the sky lightens towards the horizon
        share = y / horizon
        draw.line(((0, y), (width, y)), fill=tuple(round(c + (225 - c) * share) for c in sky_top))
    x = 0
    while x < width:  # a row of buildings with lit and dark windows
        building_width, building_height = rng.randint(140, 340), rng.randint(120, horizon - 30)
        grey = rng.randint(110, 190)
        draw.rectangle(
            (x, horizon - building_height, x + building_width, horizon), fill=(grey, grey - 8, grey - 16)
        )
        for wy in range(horizon - building_height + 20, horizon - 40, 46):
            for wx in range(x + 16, x + building_width - 30, 42):
                draw.rectangle((wx, wy, wx + 22, wy + 28), fill=rng.choice(((60, 70, 90), (235, 220, 150))))
        x += building_width + rng.randint(0, 24)
    draw.rectangle((0, horizon, width, kerb), fill=(178, 172, 160))  # pavement
    for px in range(-rng.randint(0, 120), width, 120):  # paving joints
        draw.line(((px, horizon), (px - 60, kerb)), fill=(150, 145, 135), width=3)
    draw.rectangle((0, kerb, width, kerb + 28), fill=(205, 205, 200))  # kerb stones
    draw.rectangle((0, kerb + 28, width, height), fill=(62, 64, 68))  # road
    lane = kerb + 28 + (height - kerb - 28) // 2
    for lx in range(-rng.randint(0, 300), width, 300):
        draw.rectangle((lx, lane - 8, lx + 160, lane + 8), fill=(235, 235, 230))

    box_width = rng.randint(300, 460)
    box_height = round(box_width * rng.uniform(0.55, 0.8))
    box_x = rng.randint(80, width - box_width - 80)
    box_bottom = kerb - rng.randint(20, 90)
    box = (box_x, box_bottom - box_height, box_x + box_width, box_bottom)
    draw.rectangle(box, fill=(176, 128, 76), outline=(110, 74, 40), width=8)
    draw.rectangle(
        (box_x + box_width // 2 - 18, box[1], box_x + box_width // 2 + 18, box_bottom), fill=(200, 170, 120)
    )
    label = f"占道堆物 #{number}" if cjk_font_path() is not None else f"Obstruction #{number}"
    font = stamp_font(64)
    left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
    label_x, label_y = box_x, box[1] - (bottom - top) - 60
    draw.rectangle(
        (label_x, label_y, label_x + right - left + 40, label_y + bottom - top + 40), fill=(200, 30, 30)
    )
    draw.text((label_x + 20 - left, label_y + 20 - top), label, font=font, fill="white")

    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "GridOps"
    exif[ExifTags.Base.Model] = "desktop camera"
    set_taken_at(exif, now)
    if fix is not None:
        set_position(exif, fix.lon, fix.lat)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def default_camera(gps: Gps | None = None) -> Camera:
    """The camera app on Android; elsewhere a :class:`DesktopCamera` placing its photos at ``gps``."""
    return AndroidCamera() if on_android() else DesktopCamera(gps=gps)
