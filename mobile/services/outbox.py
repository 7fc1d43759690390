"""The outbox: reports and task replies waiting to reach the server, kept on the phone until they have.

Adding an item copies its photos into the app's storage (fsynced) and writes the item in one SQLite
transaction before the screen says "saved"; from then on nothing the phone or the network does loses it.
Each item carries a client UUID made once, so sending it again is harmless: the server answers a repeated
report with the same case.

States: ``queued`` (waiting), ``sending`` (the sync is on it; after a crash it simply resumes), ``sent``
(the server's answer carried the case code for this UUID), ``failed`` (the server refused it, with the
reason; the inspector may retry or delete it). An item may be deleted only before it was sent.

Each item belongs to the user logged in when it was added (:attr:`Store.owner`): the outbox shows, counts
and hands to the sync only that user's items.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mobile.services.errors import AppError
from mobile.services.photos import write_atomically
from mobile.services.store import Store

MAX_PHOTOS = 3
REPLY_ACTIONS = {"reply_verification": "verification", "reply_check": "check"}


class OutboxError(AppError, ValueError):
    """An item that cannot be added, retried or deleted (the message says why)."""


@dataclass(frozen=True)
class OutboxPhoto:
    id: int
    position: int
    path: Path
    photo_id: int | None  # the server's photo id once uploaded


@dataclass(frozen=True)
class OutboxItem:
    id: int
    client_uuid: str
    kind: str  # report | reply
    state: str  # queued | sending | sent | failed
    payload: dict
    case_code: str | None
    error: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    photos: list[OutboxPhoto] = field(default_factory=list)

    @property
    def photo_role(self) -> str:
        return "before" if self.kind == "report" else REPLY_ACTIONS[self.payload["action"]]

    def role_of(self, photo: OutboxPhoto) -> str:
        """The role ``photo`` is uploaded with: the item's, but for the after-photos of a problem fixed on
        the spot (即报即处), which a report holds from position ``MAX_PHOTOS`` on."""
        return "after" if self.kind == "report" and photo.position >= MAX_PHOTOS else self.photo_role


def _now() -> str:
    return datetime.now(UTC).isoformat()


def durable_copy(src: Path, folder: Path) -> Path:
    """``src`` inside ``folder``: as it is when already there, else copied there and fsynced."""
    src = Path(src)
    if src.resolve().parent == folder.resolve():
        return src
    dest = folder / f"{uuid.uuid4().hex}{src.suffix.lower() or '.jpg'}"
    write_atomically(dest, src.read_bytes())
    return dest


class Outbox:
    """The outbox in ``store``; photos live in ``media_dir``. Open one per app process: opening it deletes
    the files in ``media_dir`` that no item holds (left by an add cut short before its transaction)."""

    def __init__(self, store: Store, media_dir: Path) -> None:
        self.store = store
        self.media_dir = media_dir
        media_dir.mkdir(parents=True, exist_ok=True)
        held = {Path(r["path"]).name for r in store.query("SELECT path FROM outbox_photo")}
        for file in media_dir.iterdir():
            if file.name not in held:
                file.unlink(missing_ok=True)

    # -- adding ---------------------------------------------------------------------------------------

    def add_report(
        self,
        *,
        category: str,
        lon: float,
        lat: float,
        accuracy_m: float | None,
        description: str,
        urgency: str | None,
        photos: Sequence[Path],
        address: str | None = None,
        position_source: str = "gps",
        after_photos: Sequence[Path] = (),
    ) -> OutboxItem:
        """Queue an inspector's report (one to three photos; the position in WGS 84, from a fix ("gps") or
        a pin placed on the map by hand ("manual")); with ``after_photos`` (one to three), a problem the
        inspector fixed on the spot (即报即处)."""
        if not 1 <= len(photos) <= MAX_PHOTOS:
            raise OutboxError(f"一条上报需要 1 到 {MAX_PHOTOS} 张照片：请补拍，或删去多余的照片。")
        if len(after_photos) > MAX_PHOTOS:
            raise OutboxError(f"处置后照片最多 {MAX_PHOTOS} 张：请删去多余的照片。")
        payload = {
            "category": category,
            "lon": lon,
            "lat": lat,
            "crs": "wgs84",
            "accuracy_m": accuracy_m,
            "position_source": position_source,
            "description": description,
            "urgency": urgency,
            "address": address,
            "device_time": _now(),
            "channel": "inspector",
        }
        if after_photos:
            payload["fixed_on_site"] = True
        return self._add("report", payload, photos, case_code=None, after_photos=after_photos)

    def add_reply(
        self,
        *,
        case_code: str,
        action: str,
        result: str,
        note: str,
        version: int,
        lon: float | None,
        lat: float | None,
        photos: Sequence[Path],
    ) -> OutboxItem:
        """Queue a reply to a verification (confirmed | not_found) or check (pass | rework) task."""
        if action not in REPLY_ACTIONS:
            raise OutboxError("只能回复核实任务或核查任务：请从任务列表打开任务再回复。")
        if len(photos) > MAX_PHOTOS:
            raise OutboxError(f"一条回复最多 {MAX_PHOTOS} 张照片：请删去多余的照片。")
        payload = {
            "action": action,
            "result": result,
            "note": note,
            "version": version,
            "lon": lon,
            "lat": lat,
        }
        return self._add("reply", payload, photos, case_code=case_code)

    def _add(
        self,
        kind: str,
        payload: dict,
        photos: Sequence[Path],
        case_code: str | None,
        after_photos: Sequence[Path] = (),
    ) -> OutboxItem:
        placed = [*enumerate(photos), *((MAX_PHOTOS + i, p) for i, p in enumerate(after_photos))]
        paths = [(position, durable_copy(p, self.media_dir)) for position, p in placed]
        with self.store.transaction() as db:
            item_id = db.execute(
                "INSERT INTO outbox (owner, client_uuid, kind, state, payload, case_code, created_at) "
                "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                (
                    self.store.owner,
                    str(uuid.uuid4()),
                    kind,
                    json.dumps(payload, ensure_ascii=False),
                    case_code,
                    _now(),
                ),
            ).lastrowid
            db.executemany(
                "INSERT INTO outbox_photo (item_id, position, path) VALUES (?, ?, ?)",
                [(item_id, position, str(p)) for position, p in paths],
            )
        return self.get(item_id)

    # -- reading --------------------------------------------------------------------------------------

    def get(self, item_id: int) -> OutboxItem:
        items = self._load("AND id = ?", (item_id,))
        if not items:
            raise OutboxError("这条记录已不在发件箱中，可能已经删除：请重新打开发件箱。")
        return items[0]

    def items(self, *states: str) -> list[OutboxItem]:
        """Items in these states (all when none given), newest first."""
        if not states:
            return self._load("ORDER BY id DESC", ())
        marks = ",".join("?" * len(states))
        return self._load(f"AND state IN ({marks}) ORDER BY id DESC", states)

    def pending(self) -> list[OutboxItem]:
        """What the sync sends, oldest first: queued items, and items a crash left ``sending``."""
        return self._load("AND state IN ('queued', 'sending') ORDER BY id", ())

    def counts(self) -> dict[str, int]:
        rows = self.store.query(
            "SELECT state, count(*) AS n FROM outbox WHERE owner IS ? GROUP BY state", (self.store.owner,)
        )
        counts = dict.fromkeys(("queued", "sending", "sent", "failed"), 0)
        counts.update({r["state"]: r["n"] for r in rows})
        return counts

    def _load(self, where: str, params: tuple) -> list[OutboxItem]:
        """The logged-in user's items, ``where`` adding conditions (AND ...) and an order."""
        rows = self.store.query(f"SELECT * FROM outbox WHERE owner IS ? {where}", (self.store.owner, *params))
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        photos: dict[int, list[OutboxPhoto]] = {i: [] for i in ids}
        for p in self.store.query(
            f"SELECT * FROM outbox_photo WHERE item_id IN ({','.join('?' * len(ids))}) ORDER BY position",
            tuple(ids),
        ):
            photos[p["item_id"]].append(OutboxPhoto(p["id"], p["position"], Path(p["path"]), p["photo_id"]))
        return [
            OutboxItem(
                id=r["id"],
                client_uuid=r["client_uuid"],
                kind=r["kind"],
                state=r["state"],
                payload=json.loads(r["payload"]),
                case_code=r["case_code"],
                error=r["error"],
                attempts=r["attempts"],
                created_at=datetime.fromisoformat(r["created_at"]),
                sent_at=datetime.fromisoformat(r["sent_at"]) if r["sent_at"] else None,
                photos=photos[r["id"]],
            )
            for r in rows
        ]

    # -- the inspector's choices ----------------------------------------------------------------------

    def retry(self, item_id: int) -> OutboxItem:
        """Queue a failed item again."""
        with self.store.transaction() as db:
            changed = db.execute(
                "UPDATE outbox SET state = 'queued', error = NULL WHERE id = ? AND state = 'failed'",
                (item_id,),
            ).rowcount
        if not changed:
            raise OutboxError("只有发送失败的记录可以重发；其他记录有网络时会自动发送。")
        return self.get(item_id)

    def delete(self, item_id: int) -> None:
        """Delete an item that was not sent yet (queued or failed), with its photos."""
        item = self.get(item_id)
        if item.state in ("sending", "sent") or (item.kind == "report" and item.case_code):
            raise OutboxError("这条上报已送达服务器，不能再删除：可以点“详情”查看案件的办理经过。")
        with self.store.transaction() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (item_id,))
        for photo in item.photos:
            photo.path.unlink(missing_ok=True)

    # -- the sync's bookkeeping -----------------------------------------------------------------------

    def start_sending(self, item_id: int) -> None:
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1 "
                "WHERE id = ? AND state <> 'sent'",
                (item_id,),
            )

    def reached_server(self, item_id: int, case_code: str) -> None:
        """The server's answer carried the case code for this item's UUID."""
        with self.store.transaction() as db:
            db.execute("UPDATE outbox SET case_code = ? WHERE id = ?", (case_code, item_id))

    def photo_sent(self, photo_row_id: int, photo_id: int) -> None:
        with self.store.transaction() as db:
            db.execute("UPDATE outbox_photo SET photo_id = ? WHERE id = ?", (photo_id, photo_row_id))

    def finish(self, item_id: int, *, error: str | None = None) -> None:
        """``sent``, or ``failed`` with the reason a person understands."""
        with self.store.transaction() as db:
            if error is None:
                db.execute(
                    "UPDATE outbox SET state = 'sent', error = NULL, sent_at = ? WHERE id = ?",
                    (_now(), item_id),
                )
            else:
                db.execute("UPDATE outbox SET state = 'failed', error = ? WHERE id = ?", (error, item_id))

    def requeue(self, item_id: int, reason: str) -> None:
        """Back to ``queued`` after a network problem, keeping the reason for the screen."""
        with self.store.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'queued', error = ? WHERE id = ? AND state = 'sending'",
                (reason, item_id),
            )

    # -- retention ------------------------------------------------------------------------------------

    def purge_sent(self, before: datetime) -> int:
        """Delete the items of every user sent before ``before``, with their photos (rows and files): the
        server has them, and the phone's storage is small. The cases they became stay in the cache (their
        timeline is the server's). Returns how many items went."""
        with self.store.transaction() as db:
            rows = db.execute(
                "SELECT id FROM outbox WHERE state = 'sent' AND sent_at < ?",
                (before.astimezone(UTC).isoformat(),),
            ).fetchall()
            ids = [r["id"] for r in rows]
            marks = ",".join("?" * len(ids))
            paths = {
                r["path"]
                for r in db.execute(f"SELECT path FROM outbox_photo WHERE item_id IN ({marks})", ids)
            }
            db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)  # their photo rows go with them
            held = {r["path"] for r in db.execute("SELECT path FROM outbox_photo")}
        for path in paths - held:
            Path(path).unlink(missing_ok=True)
        return len(ids)
