"""A case's photos: checked and processed, stored content-addressed (files first, then the row, committed
together), attached with the distance from the report, and served by variant."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.crs import distance_m
from server.auth.principal import Principal
from server.case.effects import on_the_spot
from server.case.models import Case, CasePhoto
from server.case.queries import get_case
from server.case.schemas import PHOTO_KIND_LABELS
from server.case.scope import Scope, visible
from server.case.states import STATE_LABELS, TERMINAL, State
from server.case.trail import db_now, record_event
from server.config import get_settings
from server.errors import Conflict, Forbidden, Invalid, NotFound
from server.messages import role_names
from server.photo.processing import ProcessedPhoto, process_photo
from server.photo.storage import get_storage

# Which roles may add which kind of photo (the administrator may add any).
PHOTO_ROLE_HOLDERS = {
    "before": {"inspector", "acceptor"},
    "after": {"department"},
    "verification": {"inspector"},
    "check": {"inspector"},
}


def add_photo(
    *,
    db: Session,
    principal: Principal,
    scope: Scope,
    code: str,
    role: str,
    data: bytes,
    at: datetime | None = None,
) -> tuple[CasePhoto, bool]:
    """Attach a photo to a case (idempotent: the same bytes in the same role return the stored photo)."""
    if role not in PHOTO_ROLE_HOLDERS:
        raise Invalid("case.photo_kind_unknown", role=role)
    case = get_case(db=db, scope=scope, code=code)
    # a reporter adds the before-photos of its report, and the after-photos of a problem it fixed on the spot
    reporter = case.reporter_id is not None and case.reporter_id == principal.user_id
    own_report = reporter and (role == "before" or (role == "after" and on_the_spot(case)))
    if not (principal.has("admin") or principal.roles & PHOTO_ROLE_HOLDERS[role] or own_report):
        holders = role_names(PHOTO_ROLE_HOLDERS[role])
        raise Forbidden("case.photo_role_required", kind=PHOTO_KIND_LABELS[role], roles=holders, role=role)
    settings = get_settings()
    photo = process_photo(
        data,
        max_bytes=settings.photo_max_bytes,
        max_pixels=settings.photo_max_pixels,
        thumbnail_px=settings.photo_thumbnail_px,
        public_px=settings.photo_public_px,
    )
    try:
        row, created = attach_photo(db=db, principal=principal, case=case, role=role, photo=photo, at=at)
    except IntegrityError as exc:
        if "uq_case_photo_case_id_role_sha256" not in str(exc.orig):
            raise
        # The same photo sent twice at once (a retry racing its original): the unique index made this
        # one wait for the other's commit, and the photo that one stored is the answer.
        db.rollback()
        return attach_photo(db=db, principal=principal, case=case, role=role, photo=photo, at=at)
    if created:
        db.commit()
    return row, created


def store_photo(photo: ProcessedPhoto) -> tuple[str, str, str]:
    """Write a photo's files (the original, the public copy, the thumbnail) and return their keys. Files
    are written before the rows naming them and committed with those rows: a store that fails (a full
    disk) raises before any row exists, and a commit that fails leaves files no row names, which the
    media sweep removes (server/photo/sweep.py)."""
    storage = get_storage(get_settings())
    original, public, thumbnail = (storage.put(b) for b in (photo.original, photo.public, photo.thumbnail))
    return original, public, thumbnail


def attach_photo(
    *,
    db: Session,
    principal: Principal,
    case: Case,
    role: str,
    photo: ProcessedPhoto,
    at: datetime | None = None,
) -> tuple[CasePhoto, bool]:
    """The photo's files, row and event (flushed, not committed), or the row the same bytes already have
    in this role (``created`` False)."""
    existing = db.scalar(
        select(CasePhoto).where(
            CasePhoto.case_id == case.id, CasePhoto.role == role, CasePhoto.sha256 == photo.sha256
        )
    )
    if existing is not None:
        return existing, False
    if case.state in TERMINAL:
        label = STATE_LABELS[State(case.state)]
        raise Conflict("case.over_no_photos", case=case.code, state=case.state, state_label=label)
    settings = get_settings()
    original_key, public_key, thumbnail_key = store_photo(photo)
    geotag = photo.geotag
    distance = None
    if geotag.lon is not None and geotag.lat is not None:
        point = to_shape(case.location)
        distance = distance_m(point.x, point.y, geotag.lon, geotag.lat)
    row = CasePhoto(
        case_id=case.id,
        role=role,
        sha256=original_key,
        public_key=public_key,
        thumbnail_key=thumbnail_key,
        mime=photo.mime,
        width=photo.width,
        height=photo.height,
        size=photo.size,
        exif_location=func.ST_Point(geotag.lon, geotag.lat, 4326) if distance is not None else None,
        exif_taken_at=geotag.taken_at if geotag.taken_at and geotag.taken_at.tzinfo else None,
        distance_m=distance,
        far_from_report=distance is not None and distance > settings.photo_geotag_max_m,
        uploaded_by=principal.user_id,
        uploaded_at=db_now(db, at),
    )
    db.add(row)
    db.flush()
    data_out = {
        "photo_id": row.id,
        "role": role,
        "distance_m": distance,
        "far_from_report": row.far_from_report,
    }
    acting = sorted(principal.roles & (PHOTO_ROLE_HOLDERS[role] | {"admin"})) or ["reporter"]
    record_event(
        db, case, principal, "add_photo", case.state, row.uploaded_at,
        role=acting[0], photo_ids=[row.id], data=data_out,
    )  # fmt: skip
    return row, True


def photo_blob(*, db: Session, scope: Scope, photo_id: int, variant: str) -> tuple[bytes, str]:
    """A photo's bytes and type: the original (evidence), the public copy or the thumbnail."""
    photo = db.scalar(
        select(CasePhoto)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(CasePhoto.id == photo_id, visible(scope))
    )
    if photo is None:
        raise NotFound("case.no_photo", photo_id=photo_id)
    key = {"original": photo.sha256, "public": photo.public_key, "thumbnail": photo.thumbnail_key}[variant]
    mime = photo.mime if variant == "original" else "image/jpeg"  # the derived copies are JPEG
    return get_storage(get_settings()).get(key), mime
