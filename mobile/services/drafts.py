"""Drafts: reports the inspector put aside to finish later (no position yet, no time to pick the category),
kept on the phone across restarts until they are resumed and submitted, or deleted.

A draft is the report screen's form as it gave it (a dict kept as JSON: category, urgency, description, the
pin and where it came from) and its photos. Saving copies the photos into the drafts' own folder (fsynced,
as the outbox does) and writes the row in one transaction: the screen may then delete its own copies.

Each draft belongs to the user logged in when it was saved (:attr:`Store.owner`) and is listed, opened and
deleted only while that user is logged in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from mobile.services.errors import AppError
from mobile.services.outbox import durable_copy
from mobile.services.store import Store


class DraftError(AppError, LookupError):
    """A draft that is not there (any more) for the user logged in."""


@dataclass(frozen=True)
class Draft:
    id: int
    saved_at: datetime
    form: dict
    photos: list[Path]


class Drafts:
    """The drafts in ``store``; their photos live in ``media_dir``. Opening it deletes the files in
    ``media_dir`` that no draft holds (left by a save cut short, or by a replaced draft)."""

    def __init__(self, store: Store, media_dir: Path) -> None:
        self.store = store
        self.media_dir = media_dir
        media_dir.mkdir(parents=True, exist_ok=True)
        held = {
            Path(p).name for r in store.query("SELECT photos FROM draft") for p in json.loads(r["photos"])
        }
        for file in media_dir.iterdir():
            if file.name not in held:
                file.unlink(missing_ok=True)

    def save(self, form: dict, photos: Sequence[Path], draft_id: int | None = None) -> Draft:
        """Keep ``form`` and copies of ``photos`` as a new draft, or in place of draft ``draft_id`` (the one
        the form was resumed from; a new one if it was deleted meanwhile)."""
        paths = [str(durable_copy(p, self.media_dir)) for p in photos]
        replaced = self._find(draft_id) if draft_id is not None else None
        row = (datetime.now(UTC).isoformat(), json.dumps(form, ensure_ascii=False), json.dumps(paths))
        with self.store.transaction() as db:
            if replaced is not None:
                db.execute(
                    "UPDATE draft SET saved_at = ?, form = ?, photos = ? WHERE id = ?", (*row, draft_id)
                )
            else:
                draft_id = db.execute(
                    "INSERT INTO draft (owner, saved_at, form, photos) VALUES (?, ?, ?, ?)",
                    (self.store.owner, *row),
                ).lastrowid
        if replaced is not None:
            for path in set(replaced.photos) - {Path(p) for p in paths}:
                path.unlink(missing_ok=True)
        return self.get(draft_id)

    def items(self) -> list[Draft]:
        """The logged-in user's drafts, the latest saved first."""
        return self._load("ORDER BY saved_at DESC, id DESC", ())

    def count(self) -> int:
        rows = self.store.query("SELECT count(*) AS n FROM draft WHERE owner IS ?", (self.store.owner,))
        return rows[0]["n"]

    def get(self, draft_id: int) -> Draft:
        draft = self._find(draft_id)
        if draft is None:
            raise DraftError("这份草稿已不在手机上，可能已经提交或删除：请重新打开草稿列表。")
        return draft

    def resume(self, draft_id: int, folder: Path) -> Draft:
        """Draft ``draft_id`` with copies of its photos in ``folder``, for the form to hold (a form deletes
        the photos it drops); the draft itself stays until it is submitted or deleted."""
        draft = self.get(draft_id)
        return replace(draft, photos=[durable_copy(p, folder) for p in draft.photos])

    def delete(self, draft_id: int) -> None:
        """Delete a draft with its photos (nothing to do when it is gone already)."""
        draft = self._find(draft_id)
        if draft is None:
            return
        with self.store.transaction() as db:
            db.execute("DELETE FROM draft WHERE id = ?", (draft_id,))
        for path in draft.photos:
            path.unlink(missing_ok=True)

    def _find(self, draft_id: int) -> Draft | None:
        found = self._load("AND id = ?", (draft_id,))
        return found[0] if found else None

    def _load(self, where: str, params: tuple) -> list[Draft]:
        """The logged-in user's drafts, ``where`` adding conditions (AND ...) and an order."""
        rows = self.store.query(f"SELECT * FROM draft WHERE owner IS ? {where}", (self.store.owner, *params))
        return [
            Draft(
                id=r["id"],
                saved_at=datetime.fromisoformat(r["saved_at"]),
                form=json.loads(r["form"]),
                photos=[Path(p) for p in json.loads(r["photos"])],
            )
            for r in rows
        ]
