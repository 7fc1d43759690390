"""Drafts of reports on the phone (mobile/services/drafts.py): kept with copies of their photos across a
restart, replaced when saved again, resumed on copies, deleted with their photos, each its owner's; and
the version 3 database that holds them."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mobile.services.drafts import DraftError, Drafts
from mobile.services.store import SCHEMA_VERSION, Store

FORM = {
    "category": None,
    "urgency": "normal",
    "description": "井盖松动",
    "pin": [117.02, 36.66],
    "held": "hand",
}


@pytest.fixture
def pictures(tmp_path) -> list[Path]:
    """Three photos as a form holds them (outside the drafts' folder)."""
    folder = tmp_path / "form"
    folder.mkdir()
    paths = [folder / f"{n}.jpg" for n in range(3)]
    for n, path in enumerate(paths):
        path.write_bytes(b"jpeg %d" % n)
    return paths


def open_drafts(tmp_path: Path, owner: int | None = 7) -> Drafts:
    store = Store(tmp_path / "app.sqlite")
    store.set_owner(owner)
    return Drafts(store, tmp_path / "draft_photos")


def test_a_draft_keeps_copies_of_its_photos_across_a_restart(tmp_path, pictures):
    drafts = open_drafts(tmp_path)
    saved = drafts.save(FORM, pictures[:2])
    assert saved.form == FORM and len(saved.photos) == 2
    assert all(p.parent == tmp_path / "draft_photos" for p in saved.photos)
    for path in pictures[:2]:
        path.unlink()  # the form drops its own
    drafts.store.close()

    drafts = open_drafts(tmp_path)  # the app again
    (draft,) = drafts.items()
    assert draft.id == saved.id and draft.form == FORM and draft.saved_at == saved.saved_at
    assert [p.read_bytes() for p in draft.photos] == [b"jpeg 0", b"jpeg 1"]
    assert drafts.count() == 1 and drafts.get(saved.id) == draft


def test_saving_again_replaces_the_draft_and_its_photos(tmp_path, pictures):
    drafts = open_drafts(tmp_path)
    first = drafts.save(FORM, pictures[:2])
    other = drafts.save({**FORM, "description": "另一份"}, [])
    again = drafts.save({**FORM, "description": "补了照片"}, [pictures[2]], first.id)
    assert again.id == first.id and drafts.count() == 2
    assert [p.read_bytes() for p in again.photos] == [b"jpeg 2"]
    assert not any(p.exists() for p in first.photos)  # the photos it no longer holds are gone
    assert [d.id for d in drafts.items()] == [first.id, other.id]  # the latest saved first

    drafts.delete(first.id)
    assert drafts.save(FORM, [], first.id).id not in (first.id, other.id)  # deleted meanwhile: a new one


def test_a_resumed_draft_is_copied_and_stays_until_deleted(tmp_path, pictures):
    drafts = open_drafts(tmp_path)
    saved = drafts.save(FORM, pictures[:1])
    form_folder = tmp_path / "working"
    form_folder.mkdir()
    resumed = drafts.resume(saved.id, form_folder)
    assert resumed.form == FORM and resumed.photos[0].parent == form_folder
    resumed.photos[0].unlink()  # the form removes the photo: the draft keeps its own
    assert saved.photos[0].exists() and drafts.count() == 1

    drafts.delete(saved.id)
    assert drafts.count() == 0 and not saved.photos[0].exists()
    drafts.delete(saved.id)  # gone already: nothing to do
    with pytest.raises(DraftError, match="这份草稿已不在手机上"):
        drafts.resume(saved.id, form_folder)


def test_drafts_are_their_owners_only(tmp_path, pictures):
    drafts = open_drafts(tmp_path, owner=7)
    mine = drafts.save(FORM, pictures[:1])
    drafts.store.set_owner(8)  # another inspector on the same phone
    assert drafts.items() == [] and drafts.count() == 0
    with pytest.raises(DraftError):
        drafts.get(mine.id)
    drafts.delete(mine.id)  # not theirs to delete
    theirs = drafts.save({**FORM, "description": "刘洋的"}, [])
    assert [d.id for d in drafts.items()] == [theirs.id]
    drafts.store.set_owner(7)
    assert [d.id for d in drafts.items()] == [mine.id] and mine.photos[0].exists()


def test_photos_no_draft_holds_are_deleted_when_opened(tmp_path, pictures):
    drafts = open_drafts(tmp_path)
    kept = drafts.save(FORM, pictures[:1])
    stray = tmp_path / "draft_photos" / "left-by-a-save-cut-short.jpg"
    stray.write_bytes(b"x")
    drafts.store.close()
    drafts = open_drafts(tmp_path)
    assert not stray.exists() and kept.photos[0].exists()


def test_a_version_2_database_gets_the_drafts(tmp_path):
    path = tmp_path / "v2.sqlite"
    Store(path).close()
    with closing(sqlite3.connect(path)) as db:  # as version 2 left it: no draft table, no address table
        db.execute("DROP TABLE draft")
        db.execute("DROP TABLE address")
        db.execute("ALTER TABLE grid DROP COLUMN layer")  # (version 5's)
        db.execute("ALTER TABLE grid DROP COLUMN layer_name")
        db.execute("INSERT INTO kv VALUES ('owner', '7')")
        db.execute("PRAGMA user_version = 2")
        db.commit()
    store = Store(path)
    assert store.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION == 5
    assert store.owner == 7 and Drafts(store, tmp_path / "photos").items() == []
    store.close()
