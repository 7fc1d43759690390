"""Departments, categories with their per-district departments, and case tags.

Rows are never deleted (cases refer to them): a taxonomy load deactivates what the new file no longer has.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.database import Base
from server.tenant import CityOwned, city_key

LIMIT_FORM = r"'^[0-9]+(\.[0-9]+)?[mhd]$'"  # a limit as SQL checks it: 30m, 1.5h, 2d


class Department(CityOwned, Base):
    """A department (专业部门) that handles the cases of its categories."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(40))  # unique in its city
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    # a street's own team (街道队伍): the street grid it works in; NULL: a city or district department
    grid_code: Mapped[str | None] = mapped_column(String(15))
    active: Mapped[bool] = mapped_column(server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (UniqueConstraint("city_id", "code"),)


class Category(CityOwned, Base):
    """A node of the category tree (问题分类): a major class (大类) at the top, then middle classes and the
    classes cases are filed under (the leaves, nodes without active children), as deep as the settings
    allow. Components (部件) have codes starting with C, events (事件) with E; a child's code starts with its
    parent's code. Urgency, handling limit, clock, department, district overrides, request limits and
    simple flow are inherited down the tree: each row holds its effective values (what the case workflow
    reads), ``own`` what the node sets itself (what an export writes back). ``lineage`` and ``trail`` are
    the ancestors' codes and names from the top down. ``updated_at`` moves on every change (the phone app
    syncs with ``since=``)."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(40))  # unique in its city
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"), index=True)
    lineage: Mapped[list[str]] = mapped_column(ARRAY(String(40)), server_default="{}")
    trail: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}")
    leaf: Mapped[bool] = mapped_column(server_default=true())
    own: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(100))
    urgency: Mapped[str | None] = mapped_column(String(10))  # a leaf always has one (the loader checks)
    handling_limit: Mapped[str | None] = mapped_column(String(12))  # likewise
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    # Other words people use for it (乱停车 for 机动车乱停放): searched, never shown as its name.
    aliases: Mapped[list[str]] = mapped_column(ARRAY(String(20)), server_default="{}")
    phrases: Mapped[list[str]] = mapped_column(ARRAY(String(60)), server_default="{}")
    clock: Mapped[str | None] = mapped_column(String(8))  # work or natural; NULL: as the urgency says
    simple_flow: Mapped[bool] = mapped_column(server_default=false())  # may be fixed on the spot (即报即处)
    # the grid layer whose heads and inspectors answer for its cases (server.case.effects); NULL: the default
    layer: Mapped[str | None] = mapped_column(ForeignKey("grid_layer.code", ondelete="RESTRICT"))
    active: Mapped[bool] = mapped_column(server_default=true())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    department: Mapped[Department | None] = relationship()
    district_overrides: Mapped[list[CategoryDistrictDepartment]] = relationship(
        cascade="all, delete-orphan", order_by="CategoryDistrictDepartment.district_code"
    )
    request_limits: Mapped[list[CategoryRequestLimit]] = relationship(
        cascade="all, delete-orphan", order_by="CategoryRequestLimit.request_type"
    )

    __table_args__ = (
        UniqueConstraint("city_id", "code"),
        CheckConstraint("kind IN ('component', 'event')", name="kind"),
        CheckConstraint("urgency IN ('urgent', 'important', 'normal')", name="urgency"),
        CheckConstraint(f"handling_limit ~ {LIMIT_FORM}", name="handling_limit"),
        CheckConstraint("clock IN ('work', 'natural')", name="clock"),
        CheckConstraint("(parent_id IS NULL) = (cardinality(lineage) = 0)", name="lineage"),
    )

    @property
    def depth(self) -> int:
        """1 at the top."""
        return len(self.lineage) + 1

    @property
    def parent_code(self) -> str | None:
        return self.lineage[-1] if self.lineage else None

    @property
    def major_code(self) -> str:
        """The top ancestor's code (itself at the top), e.g. E06."""
        return self.lineage[0] if self.lineage else self.code

    @property
    def major_name(self) -> str:
        return self.trail[0] if self.trail else self.name


class CategoryDistrictDepartment(CityOwned, Base):
    """The department that handles a category in one district instead of the category's own."""

    __tablename__ = "category_district_department"

    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"), primary_key=True)
    district_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="RESTRICT"))

    department: Mapped[Department] = relationship()

    __table_args__ = (CheckConstraint("district_code ~ '^[0-9]{6}$'", name="district_code"),)


class Tag(CityOwned, Base):
    """A case tag (重复投诉, 重点督办, ...): the configurable set a case can carry."""

    __tablename__ = "tag"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(40))  # unique in its city
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(server_default=true())

    __table_args__ = (UniqueConstraint("city_id", "code"),)


class RequestType(Base):
    """What a request asks (诉求类型): 咨询, 建议, 投诉, 求助, 举报. Its limits: the department's first
    response (NULL: the receipt limit of the settings) and the handling (NULL: the category's alone)."""

    __tablename__ = "request_type"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    response_limit: Mapped[str | None] = mapped_column(String(12))
    handling_limit: Mapped[str | None] = mapped_column(String(12))
    position: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    active: Mapped[bool] = mapped_column(server_default=true())

    __table_args__ = (
        CheckConstraint(f"response_limit ~ {LIMIT_FORM}", name="response_limit"),
        CheckConstraint(f"handling_limit ~ {LIMIT_FORM}", name="handling_limit"),
    )


class CategoryRequestLimit(CityOwned, Base):
    """A category's own handling limit for one request type (e.g. a 咨询 about noise answered in 2d)."""

    __tablename__ = "category_request_limit"

    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"), primary_key=True)
    request_type: Mapped[str] = mapped_column(
        ForeignKey("request_type.code", ondelete="RESTRICT"), primary_key=True
    )
    handling_limit: Mapped[str] = mapped_column(String(12))

    __table_args__ = (CheckConstraint(f"handling_limit ~ {LIMIT_FORM}", name="handling_limit"),)


class DispatchCenter(CityOwned, Base):
    """A dispatch center below the top one: a street's sub-center (街道分中心), dispatching the cases of its
    grid's subtree ("1+6+N")."""

    __tablename__ = "dispatch_center"

    grid_code: Mapped[str] = mapped_column(String(15), primary_key=True)
    city_id: Mapped[int] = city_key(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(server_default=true())
