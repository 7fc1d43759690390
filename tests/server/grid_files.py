"""Small grid files for import tests: a 3.6 km x 2.2 km city near Jinan split into two districts,
each split into two streets. Plain WGS 84 rectangles, so expected areas are easy to reason about."""

from __future__ import annotations

import json

WEST, SOUTH = 117.00, 36.60
DX, DY = 0.04, 0.02  # about 3.6 km x 2.2 km


def rect(x0: float, y0: float, x1: float, y1: float) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: str, name: str, geometry: dict | None, parent_code: str | None = None, **extra) -> dict:
    props = {"code": code, "name": name, **extra}
    if parent_code is not None:
        props["parent_code"] = parent_code
    return {"type": "Feature", "properties": props, "geometry": geometry}


def city_features() -> list[dict]:
    """City 370100, districts 370102 (west half) and 370103 (east half), two streets in each."""
    mid = WEST + DX / 2
    q1, q3 = WEST + DX / 4, WEST + 3 * DX / 4
    top = SOUTH + DY
    return [
        feature("370100", "测试市", rect(WEST, SOUTH, WEST + DX, top)),
        feature("370102", "西区", rect(WEST, SOUTH, mid, top), "370100"),
        feature("370103", "东区", rect(mid, SOUTH, WEST + DX, top), "370100"),
        feature("370102001", "西一街道", rect(WEST, SOUTH, q1, top), "370102"),
        feature("370102002", "西二街道", rect(q1, SOUTH, mid, top), "370102"),
        feature("370103001", "东一街道", rect(mid, SOUTH, q3, top), "370103"),
        feature("370103002", "东二街道", rect(q3, SOUTH, WEST + DX, top), "370103"),
    ]


def collection(features: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def many_grids(villages_x: int = 10, villages_y: int = 5, units: int = 10, cell: float = 0.001) -> list[dict]:
    """One city, district and street over a block of villages, each split into units x units unit grids:
    5,053 grids with the defaults."""
    width, height = villages_x * units * cell, villages_y * units * cell
    whole = rect(WEST, SOUTH, WEST + width, SOUTH + height)
    features = [
        feature("370100", "测试市", whole),
        feature("370102", "测试区", whole, "370100"),
        feature("370102001", "测试街道", whole, "370102"),
    ]
    for v in range(villages_x * villages_y):
        vx, vy = v % villages_x, villages_y - 1 - v // villages_x
        village = f"370102001{v + 1:03d}"
        x0, y0 = WEST + vx * units * cell, SOUTH + vy * units * cell
        features.append(
            feature(
                village, f"第{v + 1}社区", rect(x0, y0, x0 + units * cell, y0 + units * cell), "370102001"
            )
        )
        for u in range(units * units):
            ux, uy = u % units, units - 1 - u // units
            x, y = x0 + ux * cell, y0 + uy * cell
            features.append(
                feature(f"{village}{u + 1:03d}", f"第{u + 1}网格", rect(x, y, x + cell, y + cell), village)
            )
    return features
