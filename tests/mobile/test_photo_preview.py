"""A tap on a photo of a report opens it large, to keep or delete: no tap deletes a photo by itself
(tried in the street, one tap on a thumbnail deleted the photo with no preview or undo)."""

from __future__ import annotations

from pathlib import Path

import mobile.main  # noqa: F401 (first: it sets the window's size, which Kivy fixes when it makes it)
from tests.mobile.app_driver import log_in, synced


def test_a_tapped_photo_is_shown_before_it_is_deleted(drive, server):
    d = drive()
    log_in(d, server.url)
    synced(d)
    d.nav("report")
    strip = d.find("PhotoStrip")
    d.tap(strip.ids.take)
    d.until(lambda: len(strip.paths) == 1 and strip.busy == 0, "the photo")
    (path,) = strip.paths

    d.tap(d.find("Thumbnail", root=strip))
    preview = d.popup("PhotoPreview")
    assert preview.source == path
    d.tap(preview.ids.keep)  # 保留: the photo stays
    d.until(lambda: preview.parent is None, "the preview to close")
    assert strip.paths == [path] and Path(path).exists()

    d.tap(d.find("Thumbnail", root=strip))
    preview = d.popup("PhotoPreview")
    d.tap(preview.ids.delete)  # 删除这张
    d.until(lambda: strip.paths == [], "the photo to go")
    assert not Path(path).exists()
