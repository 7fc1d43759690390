"""The base layers, read from the TOML file the setting ``basemaps`` names and checked whole: every problem
of every layer is found before any is reported, each a sentence of the catalogue naming the layer and what
to do (``gridops basemaps check`` lists them; a server with a bad file does not start).

A layer is a raster tile service (``kind = "xyz"``: a URL template with {z}, {x} and {y}, WMTS included),
a city's MapLibre style (``"style"``) or a local package GridOps serves itself (``"package"``: PMTiles or
MBTiles; a vector one with its local style file). ``${NAME}`` in a URL is filled from the environment, so a
key such as 天地图's token stays out of the file. The grids and cases are in WGS 84 / CGCS2000 (the same to
well under a metre at city scale): sources in GCJ-02 or BD-09, declared so or known by their host, and
tile matrix sets other than Web Mercator are refused rather than drawn hundreds of metres off."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from os import environ
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from server import messages
from server.basemaps.packages import SUFFIXES, Package, PackageError, open_package
from server.config import get_settings

MAX_ZOOM = 22
KINDS = ("xyz", "style", "package")
GROUPS = ("base", "overlay")
CRS_ALLOWED = ("wgs84", "cgcs2000")
CRS_SHIFTED = {"gcj02": "GCJ-02", "bd09": "BD-09"}
TILE_SIZES = (256, 512)
TEXT_FIELDS = ("id", "name", "kind", "group", "crs", "url", "style", "path", "attribution")
INT_FIELDS = ("minzoom", "maxzoom", "tile_size")
REQUIRED = ("id", "name", "kind", "group", "crs")
# The fields each kind uses besides the common ones (id, name, kind, group, crs, attribution, zooms).
KIND_FIELDS = {"xyz": {"url", "tile_size"}, "style": {"style"}, "package": {"path", "style", "tile_size"}}
LAYER_ID = re.compile(r"[a-z][a-z0-9_-]{0,31}")
ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
PLACEHOLDER = re.compile(r"(?<!\$)\{([^{}]*)\}")
# Hosts of tile services in the shifted coordinates the law requires of Chinese commercial maps.
SHIFTED_HOSTS = {
    "amap.com": ("高德地图", "GCJ-02"),
    "autonavi.com": ("高德地图", "GCJ-02"),
    "map.qq.com": ("腾讯地图", "GCJ-02"),
    "gtimg.com": ("腾讯地图", "GCJ-02"),
    "google.cn": ("谷歌地图中国版", "GCJ-02"),
    "map.baidu.com": ("百度地图", "BD-09"),
    "bdimg.com": ("百度地图", "BD-09"),
    "bdstatic.com": ("百度地图", "BD-09"),
}
# WMTS tile matrix sets in Web Mercator; 天地图 names its services by theirs: vec_w (Web Mercator), vec_c
# (longitude-latitude), so a path part ending in _c on its hosts is the latter.
MERCATOR_SETS = {"w", "googlemapscompatible", "webmercatorquad", "epsg:3857", "epsg:900913", "google"}
TIANDITU_HOSTS = ("tianditu.gov.cn", "tianditu.com")


@dataclass(frozen=True)
class Layer:
    """A checked layer. ``url`` is an xyz layer's tile template with the environment filled in, ``style`` a
    style layer's URL or a vector package's style file, ``path`` a package's file."""

    id: str
    name: str
    kind: str
    group: str
    crs: str
    url: str | None = None
    style: str | None = None
    path: Path | None = None
    attribution: str | None = None
    minzoom: int | None = None
    maxzoom: int | None = None
    tile_size: int = 256

    @property
    def package(self) -> Package | None:
        return open_package(self.path) if self.path else None

    def package_style(self) -> dict:
        """A vector package's style file, read again at each call (an operator may edit it)."""
        return json.loads(Path(self.style).read_text(encoding="utf-8"))


class BasemapsError(Exception):
    """A configuration file with problems: ``problems`` are the sentences, one per problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        self.summary = messages.text("basemaps.config_invalid", path=str(path), count=len(problems))
        super().__init__("\n".join([self.summary, *problems]))


def _problem(code: str, **params) -> str:
    return messages.text(code, **params)


def load(path: Path) -> tuple[Layer, ...]:
    """The layers of the file at ``path``, checked whole (raises :class:`BasemapsError`)."""
    if not path.is_file():
        raise BasemapsError(path, [_problem("basemaps.file_missing", path=str(path))])
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        found = re.search(r"line (\d+), column (\d+)", str(exc))
        where = f"第 {found[1]} 行第 {found[2]} 列" if found else "文字编码不是统一码"
        raise BasemapsError(
            path, [_problem("basemaps.file_unreadable", path=str(path), where=where)]
        ) from None
    entries = data.get("layers")
    if not isinstance(entries, list) or not entries:
        raise BasemapsError(path, [_problem("basemaps.no_layers", path=str(path))])
    problems: list[str] = []
    layers: list[Layer] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        entry = entry if isinstance(entry, dict) else {}
        name = str(entry.get("id") or f"第 {number} 个")
        if isinstance(entry.get("id"), str):
            if entry["id"] in seen:
                problems.append(_problem("basemaps.duplicate_id", layer=entry["id"]))
            seen.add(entry["id"])
        found = _check(entry, name, path.parent)
        if isinstance(found, Layer):
            layers.append(found)
        else:
            problems.extend(found)
    if problems:
        raise BasemapsError(path, problems)
    return tuple(layers)


def _check(entry: dict, name: str, folder: Path) -> Layer | list[str]:
    """The layer ``entry`` describes, or its problems."""
    unknown_fields = sorted(entry.keys() - {*TEXT_FIELDS, *INT_FIELDS})
    problems = [_problem("basemaps.field_unknown", layer=name, field=field) for field in unknown_fields]
    wrong = [
        _problem("basemaps.field_missing", layer=name, field=field)
        for field in REQUIRED
        if field not in entry
    ]
    for fields, kind, expected in ((TEXT_FIELDS, str, "文字"), (INT_FIELDS, int, "整数")):
        for field in fields:
            value = entry.get(field)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool) or value == ""):
                wrong.append(_problem("basemaps.field_type", layer=name, field=field, expected=expected))
    if wrong:  # the checks below read these fields
        return problems + wrong
    if not LAYER_ID.fullmatch(entry["id"]):
        problems.append(_problem("basemaps.bad_id", layer=entry["id"]))
    for field, choices in (
        ("kind", KINDS),
        ("group", GROUPS),
        ("crs", (*CRS_ALLOWED, *CRS_SHIFTED)),
        ("tile_size", TILE_SIZES),
    ):
        value = entry.get(field)
        if value is not None and value not in choices:
            shown = "、".join(str(c) for c in choices)
            problems.append(
                _problem("basemaps.bad_choice", layer=name, field=field, value=value, choices=shown)
            )
    if entry["crs"] in CRS_SHIFTED:
        problems.append(_problem("basemaps.shifted_crs", layer=name, crs=CRS_SHIFTED[entry["crs"]]))
    low, high = entry.get("minzoom", 0), entry.get("maxzoom", MAX_ZOOM)
    if not 0 <= low <= high <= MAX_ZOOM:
        problems.append(
            _problem("basemaps.zoom_range", layer=name, minzoom=low, maxzoom=high, max_zoom=MAX_ZOOM)
        )
    kind = entry["kind"]
    if kind not in KINDS:
        return problems
    common = {"id", "name", "kind", "group", "crs", "attribution", "minzoom", "maxzoom"}
    for field in sorted(entry.keys() - common - KIND_FIELDS[kind] - set(unknown_fields)):
        problems.append(_problem("basemaps.field_unused", layer=name, field=field))
    values = dict(entry)
    if kind == "xyz":
        problems += _check_tiles(entry, name, values)
    elif kind == "style":
        problems += _check_style_url(entry, name, values)
    else:
        problems += _check_package(entry, name, folder, values)
    return problems or Layer(**values)


def _filled(template: str, name: str, problems: list[str]) -> str:
    """``template`` with each ``${NAME}`` replaced by the environment variable (a problem if unset)."""
    for variable in dict.fromkeys(ENV_REFERENCE.findall(template)):
        if variable not in environ:
            problems.append(_problem("basemaps.env_missing", layer=name, name=variable))
    return ENV_REFERENCE.sub(lambda m: environ.get(m[1], ""), template)


def _check_url(entry: dict, name: str, field: str) -> list[str]:
    """A web address, not in shifted coordinates as far as its host tells (unless the layer says so
    already: refused for that)."""
    parts = urlsplit(entry[field])
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [_problem("basemaps.not_url", layer=name, field=field)]
    if entry["crs"] in CRS_SHIFTED:
        return []
    for host, (provider, crs) in SHIFTED_HOSTS.items():
        if parts.hostname == host or parts.hostname.endswith(f".{host}"):
            return [_problem("basemaps.shifted_provider", layer=name, provider=provider, crs=crs)]
    return []


def _check_tiles(entry: dict, name: str, values: dict) -> list[str]:
    if "url" not in entry:
        return [_problem("basemaps.field_missing", layer=name, field="url")]
    problems = _check_url(entry, name, "url")
    placeholders = PLACEHOLDER.findall(entry["url"])
    missing = [f"{{{p}}}" for p in ("z", "x", "y") if p not in placeholders]
    if missing:
        problems.append(_problem("basemaps.url_placeholders", layer=name, missing="、".join(missing)))
    for other in dict.fromkeys(p for p in placeholders if p not in ("z", "x", "y")):
        problems.append(_problem("basemaps.url_unknown_placeholder", layer=name, placeholder=f"{{{other}}}"))
    parts = urlsplit(entry["url"])
    matrix_sets = [v for k, v in parse_qsl(parts.query) if k.lower() == "tilematrixset"]
    tianditu = (parts.hostname or "").endswith(TIANDITU_HOSTS)
    if any(v.lower() not in MERCATOR_SETS for v in matrix_sets) or (
        tianditu and any(part.endswith("_c") for part in parts.path.split("/"))
    ):
        problems.append(_problem("basemaps.not_web_mercator", layer=name, suffix="_w"))
    values["url"] = _filled(entry["url"], name, problems)
    return problems


def _check_style_url(entry: dict, name: str, values: dict) -> list[str]:
    if "style" not in entry:
        return [_problem("basemaps.field_missing", layer=name, field="style")]
    problems = _check_url(entry, name, "style")
    values["style"] = _filled(entry["style"], name, problems)
    return problems


def _check_package(entry: dict, name: str, folder: Path, values: dict) -> list[str]:
    if "path" not in entry:
        return [_problem("basemaps.field_missing", layer=name, field="path")]
    path = (folder / entry["path"]).resolve()  # a relative path is read from the file's own folder
    values["path"] = path
    if path.suffix not in SUFFIXES:
        return [_problem("basemaps.package_kind", layer=name, path=str(path), suffixes="、".join(SUFFIXES))]
    if not path.is_file():
        return [_problem("basemaps.package_missing", layer=name, path=str(path))]
    try:
        package = open_package(path)
    except PackageError:
        return [_problem("basemaps.package_unreadable", layer=name, path=str(path))]
    if package.content_type is None:
        return [_problem("basemaps.package_format", layer=name, path=str(path), format=package.format)]
    if not package.vector:
        return []
    if "style" not in entry:
        return [_problem("basemaps.style_needed", layer=name, field="style")]
    style = (folder / entry["style"]).resolve()
    values["style"] = str(style)
    try:
        document = json.loads(style.read_text(encoding="utf-8"))
        usable = isinstance(document.get("layers"), list) and any(
            isinstance(s, dict) and s.get("type") == "vector" for s in document.get("sources", {}).values()
        )
    except (OSError, ValueError, AttributeError):
        usable = False
    if not usable:
        return [_problem("basemaps.style_unreadable", layer=name, path=str(style))]
    return []


@cache
def _configured(path: Path | None) -> tuple[Layer, ...]:
    return () if path is None else load(path)


def configured() -> tuple[Layer, ...]:
    """The layers of the configured file (none without the setting), checked once per process and file."""
    return _configured(get_settings().basemaps)


def layer(layer_id: str) -> Layer | None:
    return next((layer for layer in configured() if layer.id == layer_id), None)


def configured_or_exit() -> tuple[Layer, ...]:
    """At start: the layers, or every problem on standard error and exit status 1 (no traceback, which
    would hide the sentences an operator has to read)."""
    try:
        return configured()
    except BasemapsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(1) from None
