"""Grid levels: city > district > street > village > unit by default, configurable per city."""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    name: str
    label: str
    code_length: int
    prefix_length: int  # the digits of a code that its children's codes extend


LABELS = {"city": "市", "district": "区县", "street": "街道", "village": "社区村", "unit": "单元网格"}


class LevelScheme:
    """The ordered levels of a hierarchy, from the root down."""

    def __init__(self, levels: list[Level]) -> None:
        if not levels:
            raise ValueError("a level scheme needs at least one level")
        names = [lv.name for lv in levels]
        if len(set(names)) != len(names):
            raise ValueError(f"level names repeat: {names}")
        for upper, lower in itertools.pairwise(levels):
            if lower.code_length < upper.code_length or lower.prefix_length <= upper.prefix_length:
                raise ValueError(f"level {lower.name} must have longer codes than {upper.name}")
        self.levels = list(levels)
        self._index = {lv.name: i for i, lv in enumerate(levels)}

    @classmethod
    def from_spec(cls, spec: str) -> LevelScheme:
        """``"city:6:4,district:6,street:9,village:12,unit:15"``: name:code_length[:prefix_length], each
        optionally followed by ``=label`` (its Chinese name; default the known levels' own)."""
        return cls(parse_levels(spec))

    @property
    def names(self) -> list[str]:
        return [lv.name for lv in self.levels]

    def get(self, name: str) -> Level:
        try:
            return self.levels[self._index[name]]
        except KeyError:
            raise ValueError(f"unknown level {name!r}: expected one of {', '.join(self.names)}") from None

    def index(self, name: str) -> int:
        return self._index[self.get(name).name]

    def child_of(self, name: str) -> Level | None:
        i = self.index(name) + 1
        return self.levels[i] if i < len(self.levels) else None

    def parent_of(self, name: str) -> Level | None:
        i = self.index(name)
        return self.levels[i - 1] if i > 0 else None

    def level_for_code(self, code: str) -> Level:
        """The level a code's length (and, for equal lengths, its padding) says it has.

        Levels sharing a code length (city 370100 and district 370102) are told apart by the zeros
        after the shorter prefix: a code ending in zeros past its prefix belongs to the upper level."""
        candidates = [lv for lv in self.levels if lv.code_length == len(code)]
        if not candidates:
            *shorter, longest = map(str, sorted({lv.code_length for lv in self.levels}))
            expected = f"{'、'.join(shorter)} 或 {longest}" if shorter else longest
            raise ValueError(f"网格编号 {code} 有 {len(code)} 位，应为 {expected} 位")
        for lv in candidates:
            if lv is not candidates[-1] and set(code[lv.prefix_length :]) <= {"0"}:
                return lv
        return candidates[-1]


def parse_levels(spec: str) -> list[Level]:
    """The levels a spec lists (see ``LevelScheme.from_spec``), unchecked as a hierarchy."""
    levels = []
    for item in spec.split(","):
        item, _, label = item.strip().partition("=")
        parts = item.split(":")
        if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts[1:]) or not parts[0]:
            raise ValueError(f"bad level {item!r}: write name:code_length[:prefix_length][=label]")
        length = int(parts[1])
        prefix = int(parts[2]) if len(parts) == 3 else length
        levels.append(Level(parts[0], label.strip() or LABELS.get(parts[0], parts[0]), length, prefix))
    return levels


def spec_of(levels: list[Level]) -> str:
    """The spec that ``parse_levels`` reads back as ``levels``."""
    items = []
    for lv in levels:
        prefix = f":{lv.prefix_length}" if lv.prefix_length != lv.code_length else ""
        label = f"={lv.label}" if lv.label != LABELS.get(lv.name, lv.name) else ""
        items.append(f"{lv.name}:{lv.code_length}{prefix}{label}")
    return ",".join(items)


DEFAULT_SCHEME = LevelScheme.from_spec("city:6:4,district:6,street:9,village:12,unit:15")
