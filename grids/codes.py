"""Grid codes: GB/T 2260 administrative codes extended downward (6 / 9 / 12 / 15 digits)."""

from __future__ import annotations

from dataclasses import dataclass

from grids.levels import DEFAULT_SCHEME, LevelScheme


class GridCodeError(ValueError):
    """A code that cannot be a grid code; the message says why, in Chinese (it reaches the person importing
    grids)."""


@dataclass(frozen=True, order=True)
class GridCode:
    value: str
    scheme: LevelScheme = DEFAULT_SCHEME

    def __post_init__(self) -> None:
        validate(self.value, self.scheme)

    @classmethod
    def parse(cls, text: object, scheme: LevelScheme = DEFAULT_SCHEME) -> GridCode:
        return cls(str(text).strip() if text is not None else "", scheme)

    def __str__(self) -> str:
        return self.value

    @property
    def level(self) -> str:
        return self.scheme.level_for_code(self.value).name

    @property
    def parent(self) -> GridCode | None:
        """The code the hierarchy puts above this one (None for the root level)."""
        parent_level = self.scheme.parent_of(self.level)
        if parent_level is None:
            return None
        prefix = self.value[: parent_level.prefix_length]
        return GridCode(prefix.ljust(parent_level.code_length, "0"), self.scheme)

    def extends(self, parent: GridCode | str) -> bool:
        """Whether this code extends ``parent``'s (starts with its significant prefix, one level down)."""
        parent = parent if isinstance(parent, GridCode) else GridCode.parse(parent, self.scheme)
        return self.parent == parent

    def is_ancestor_of(self, other: GridCode) -> bool:
        node = other.parent
        while node is not None:
            if node == self:
                return True
            node = node.parent
        return False

    @property
    def ltree_path(self) -> str:
        chain, node = [], self
        while node is not None:
            chain.append(node.value)
            node = node.parent
        return ".".join(reversed(chain))


def validate(value: str, scheme: LevelScheme = DEFAULT_SCHEME) -> None:
    """Raise GridCodeError with a message a person understands."""
    if not value:
        raise GridCodeError("网格编号为空，请填写")
    if not value.isascii() or not value.isdigit():
        raise GridCodeError(f"网格编号“{value}”只能由数字组成")
    try:
        level = scheme.level_for_code(value)
    except ValueError as exc:
        raise GridCodeError(str(exc)) from None
    parent_level = scheme.parent_of(level.name)
    if level.prefix_length < level.code_length and parent_level is None:
        padding = value[level.prefix_length :]
        if set(padding) != {"0"}:
            raise GridCodeError(f"{level.label}的编号 {value} 应以 {'0' * len(padding)} 结尾")
    if parent_level is not None:
        sequence = value[parent_level.prefix_length : level.prefix_length]
        if sequence and set(sequence) == {"0"}:
            raise GridCodeError(f"{level.label}的编号 {value} 中本级的几位数字（{sequence}）不能全为 0")


def check_extends(child: str, parent: str, scheme: LevelScheme = DEFAULT_SCHEME) -> str | None:
    """A message when ``child``'s code does not extend ``parent``'s, else None."""
    if GridCode.parse(child, scheme).extends(parent):
        return None
    return f"编号 {child} 没有沿用上级编号 {parent}（应以上级编号开头）"
