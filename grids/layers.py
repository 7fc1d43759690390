"""Grid layers (网格图层): several grid hierarchies over one city, e.g. 城市管理网格 and 生态环境网格.

The administrative levels (city, district, street, village by default) are shared by every layer; each
layer adds levels of its own below them (the default layer 城市管理网格 its unit grids, a 责任网格 layer its
responsibility grids). A layer's level scheme is the shared levels followed by its own. Own levels need code
lengths no other layer uses, so a grid code names one grid across the whole deployment. A layer's own grids
tile inside their parents like any hierarchy; grids of different layers may overlap each other freely,
which the topology check sees by checking one layer at a time (``records_of``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from grids.levels import Level, LevelScheme, parse_levels


@dataclass(frozen=True)
class LayerSpec:
    code: str
    name: str
    levels: str  # its own levels, a level spec ("unit:15"); empty: none (its people work on shared grids)


def shared_levels(scheme: LevelScheme, names: Iterable[str]) -> list[Level]:
    """The levels of ``scheme`` every layer shares: the leading ones named in ``names``."""
    wanted = [n.strip() for n in names if n.strip()]
    levels = scheme.levels[: len(wanted)]
    if [lv.name for lv in levels] != wanted:
        raise ValueError(f"shared levels {wanted} must be the first levels of the scheme {scheme.names}")
    return levels


def own_levels(spec: str) -> list[Level]:
    return parse_levels(spec) if spec.strip() else []


def layer_scheme(shared: list[Level], spec: str) -> LevelScheme:
    """The level scheme of a layer: the shared levels, then its own (``spec``)."""
    return LevelScheme([*shared, *own_levels(spec)])


def check_layers(shared: list[Level], layers: Iterable[LayerSpec]) -> None:
    """Raise ValueError (in Chinese, for the operator) when a layer's levels do not make a hierarchy below
    the shared levels, or reuse a name or code length of the shared levels or of another layer's."""
    taken = {lv.name: "共用层级" for lv in shared}
    lengths = {lv.code_length: "共用层级" for lv in shared}
    for layer in layers:
        try:
            layer_scheme(shared, layer.levels)
        except ValueError:
            raise ValueError(
                f"图层“{layer.name}”的层级 {layer.levels} 无效："
                "写成 名称:编码位数 的形式（如 duty:14=责任网格），编码要比上一级长"
            ) from None
        for lv in own_levels(layer.levels):
            for used, key in ((taken, lv.name), (lengths, lv.code_length)):
                if key in used and used[key] != layer.name:
                    raise ValueError(
                        f"图层“{layer.name}”的层级 {lv.name}（{lv.code_length} 位编码）与{used[key]}重复："
                        "每个图层自己的层级要用别的图层没有用过的名称和编码位数"
                    )
                used[key] = layer.name
