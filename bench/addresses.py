"""The address register at a million addresses: search (server/address/service.py: character bigrams under
a GIN index, ranked) beside plain ILIKE on the address text, and reverse geocoding (the GiST index's
nearest neighbours measured on the spheroid) beside ORDER BY ST_Distance without the index, in the same
run, on the same cluster.

A throwaway cluster (removed at the end) gets the demo city and ``--addresses`` synthetic addresses over
历下区's bounds, made set-based in chunks (the same for the same seed), each linked to its grid by the
product's one lookup rule (``deepest_code_sql``): 85 % house numbers (门牌) along 1,000 roads (100 names
such as 山大, 经十, 历山 with ten endings such as 南路, 大街, 巷; numbers 1-800, 5 m apart on a straight
road), 12 % buildings with units (楼栋: 600 housing estates, 30 buildings of 6 units each) and 3 % points
of interest (兴趣点: a name and a kind such as 医院, 小学, 超市, at a road number, with an alias). The load
time and the indexes' sizes are printed.

Search, ``--queries`` of each kind drawn with the seed: two characters (a road's or an estate's name, in
thousands of addresses), a road and number ("山大南路27号"), a place's name, two words in either order
("医院 山大", "27号 山大南路"), and words no address holds. Ours is what the route runs
(``service.search`` then the answer with its grid chain); the baseline asks each word ``ILIKE`` the name or
the address, 10 at most, unordered (the cheapest plain query: it stops at the tenth match).

Reverse geocoding, at points 0-60 m from random addresses: ours (``service.nearest`` then the answer) with
radius 100 m and 500 m, 5 at most; the baseline ``ORDER BY ST_Distance(geography)`` within the radius,
which reads the whole table (``--baseline-points`` of them).

    .venv/bin/python bench/addresses.py [--addresses 1000000] [--queries 40] [--baseline-points 10]

At 1,000,000 addresses on 2 cores the load takes a few minutes (most of it the grid links and the
search index) and 1 GB of disk."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import results  # bench/results.py, beside this file
from sqlalchemy import or_, select
from synthetic import bench_city  # bench/synthetic.py

from server.address import service
from server.address.models import Address
from server.address.views import addresses_out
from server.database import new_session
from server.grid.lookup import deepest_code_sql

GOAL_SEARCH_MS = 50
GOAL_NEAREST_MS = 10
LIMIT = 10
NEAR_LIMIT = 5
CHUNK = 250_000
WEST, SOUTH, EAST, NORTH = 117.007, 36.592, 117.175, 36.708  # 历下区's bounds
BASES = (
    "山大", "经十", "历山", "文化", "泉城", "燕山", "解放", "和平", "花园", "青年",
    "舜耕", "千佛", "环山", "科院", "益寿", "荆山", "浆水", "工业", "旅游", "奥体",
    "龙奥", "窑头", "趵突", "泺源", "大明", "东关", "按察", "朝山", "县西", "五龙",
    "共青", "少年", "天地", "顺河", "北园", "明湖", "黑虎", "英雄", "洪楼", "华能",
    "甸柳", "姚家", "智远", "转山", "羊头", "山师", "建新", "文东", "仁合", "十里",
    "友谊", "三箭", "中润", "名士", "华阳", "现代", "蓝天", "万科", "化纤", "汇隆",
    "辛河", "康虹", "茂岭", "丁家", "齐音", "新泺", "燕翅", "卓越", "盛福", "佛山",
    "棋盘", "济柴", "贡院", "临湖", "鞭指", "芙蓉", "曲水", "舜井", "菜市", "长盛",
    "东仓", "泺河", "历园", "吉第", "清华", "万豪", "建达", "文恒", "熙霖", "绿景",
    "吉祥", "燕文", "燕安", "燕南", "燕北", "七里", "泉景", "百花", "银座", "金鸡",
)  # fmt: skip
ROAD_ENDINGS = (
    "路", "东路", "西路", "南路", "北路", "街", "大街", "巷", "一路", "二路",
)  # fmt: skip
ESTATE_ENDINGS = (
    "花园", "小区", "新村", "苑", "家园", "公寓",
)  # fmt: skip
PLACE_KINDS = (
    "医院", "小学", "中学", "幼儿园", "超市", "银行", "酒店", "公园", "大厦", "广场", "药店", "饭店",
)  # fmt: skip
NOWHERE = ("唐冶", "柳埠", "仲宫", "遥墙", "鹊山", "孟家水库", "彩石溪", "港沟镇")

INSERT = f"""
WITH picked AS (
    SELECT i, abs(hashtextextended('kind' || i, %(seed)s)) %% 100 AS kind_k,
           abs(hashtextextended('road' || i, %(seed)s)) %% %(n_roads)s AS road_k,
           1 + abs(hashtextextended('number' || i, %(seed)s)) %% 800 AS number,
           abs(hashtextextended('estate' || i, %(seed)s)) %% %(n_estates)s AS estate_k,
           1 + abs(hashtextextended('building' || i, %(seed)s)) %% 30 AS building,
           1 + abs(hashtextextended('unit' || i, %(seed)s)) %% 6 AS unit,
           abs(hashtextextended('place' || i, %(seed)s)) %% %(n_places)s AS place_k
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
), named AS (
    SELECT p.*,
           (%(bases)s::text[])[1 + p.road_k %% %(n_bases)s]
               || (%(road_endings)s::text[])[1 + p.road_k / %(n_bases)s] AS road,
           (%(bases)s::text[])[1 + p.estate_k %% %(n_bases)s]
               || (%(estate_endings)s::text[])[1 + p.estate_k / %(n_bases)s] AS estate,
           (%(bases)s::text[])[1 + p.place_k %% %(n_bases)s] AS place_base,
           (%(place_kinds)s::text[])[1 + p.place_k / %(n_bases)s] AS place_kind,
           -- each road and estate somewhere in the bounds, a road in a direction of its own
           %(west)s + (abs(hashtextextended('x' || p.road_k, %(seed)s)) %% 1000000) / 1e6
               * (%(east)s - %(west)s) AS road_x,
           %(south)s + (abs(hashtextextended('y' || p.road_k, %(seed)s)) %% 1000000) / 1e6
               * (%(north)s - %(south)s) AS road_y,
           (abs(hashtextextended('a' || p.road_k, %(seed)s)) %% 360) * pi() / 180 AS angle,
           %(west)s + (abs(hashtextextended('x' || p.estate_k, %(seed)s + 1)) %% 1000000) / 1e6
               * (%(east)s - %(west)s) AS estate_x,
           %(south)s + (abs(hashtextextended('y' || p.estate_k, %(seed)s + 1)) %% 1000000) / 1e6
               * (%(north)s - %(south)s) AS estate_y
    FROM picked p
), placed AS (
    SELECT n.*,
           CASE WHEN n.kind_k < 85 OR n.kind_k >= 97
                THEN n.road_x + n.number * 5 * cos(n.angle) / 89500 + (n.number %% 2) * 0.0001
                ELSE n.estate_x + (n.building %% 6) * 0.0002 END AS lon,
           CASE WHEN n.kind_k < 85 OR n.kind_k >= 97
                THEN n.road_y + n.number * 5 * sin(n.angle) / 111000
                ELSE n.estate_y + (n.building / 6) * 0.00018 END AS lat
    FROM named n
)
INSERT INTO address (register_id, name, address_text, district, road, house_number, building, unit, kind,
                     aliases, geom, grid_code, change_seq)
SELECT 'B-' || i,
       CASE WHEN kind_k >= 97 THEN place_base || place_kind END,
       '济南市历下区' || CASE WHEN kind_k < 85 OR kind_k >= 97 THEN road || number || '号'
                           ELSE estate || building || '号楼' || unit || '单元' END,
       '历下区',
       CASE WHEN kind_k < 85 OR kind_k >= 97 THEN road END,
       CASE WHEN kind_k < 85 OR kind_k >= 97 THEN number || '号' END,
       CASE WHEN kind_k BETWEEN 85 AND 96 THEN building || '号楼' END,
       CASE WHEN kind_k BETWEEN 85 AND 96 THEN unit || '单元' END,
       CASE WHEN kind_k < 85 THEN 'house' WHEN kind_k < 97 THEN 'building' ELSE 'poi' END,
       CASE WHEN kind_k >= 97 THEN ARRAY[left(place_base, 1) || left(place_kind, 1)] ELSE '{{}}' END,
       ST_Point(lon, lat, 4326),
       ({deepest_code_sql("lon", "lat")}),
       i
FROM placed
"""


def load(conn, n: int, seed: int) -> tuple[float, float]:
    """Insert ``n`` addresses in chunks with the address table's secondary indexes dropped, then build them
    again; the seconds each took."""
    params = {
        "seed": seed, "bases": list(BASES), "n_bases": len(BASES), "road_endings": list(ROAD_ENDINGS),
        "n_roads": len(BASES) * len(ROAD_ENDINGS), "estate_endings": list(ESTATE_ENDINGS),
        "n_estates": len(BASES) * len(ESTATE_ENDINGS), "place_kinds": list(PLACE_KINDS),
        "n_places": len(BASES) * len(PLACE_KINDS), "west": WEST, "south": SOUTH, "east": EAST, "north": NORTH,
    }  # fmt: skip
    with conn.cursor() as cur:
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'address' AND indexname LIKE 'ix_%'"
        )
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        started = time.perf_counter()
        cur.execute("SET work_mem = '256MB'")
        for first in range(1, n + 1, CHUNK):
            cur.execute(INSERT, {**params, "first": first, "last": min(first + CHUNK - 1, n)})
            print(f"  {min(first + CHUNK - 1, n):,} addresses", file=sys.stderr)
        cur.execute("SELECT setval('address_change_seq', %s)", (n,))
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cur.execute(definition)
        cur.execute("ANALYZE address")
        return load_s, time.perf_counter() - started


def sizes(conn) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_size_pretty(pg_table_size('address')), "
            "pg_size_pretty(pg_relation_size('ix_address_search_grams')), "
            "pg_size_pretty(pg_relation_size('ix_address_geom')), "
            "(SELECT count(*) FROM address WHERE grid_code IS NULL)"
        )
        table, grams, geom, outside = cur.fetchone()
    return {"table": table, "grams": grams, "geom": geom, "outside": outside}


def mix(conn, n: int, seed: int) -> tuple[dict[str, list[str]], list[tuple[float, float]]]:
    """``n`` queries of each kind and ``n`` points, drawn with ``seed`` (numbers and names from the table)."""
    rng = random.Random(seed)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT road, house_number FROM address WHERE kind = 'house' AND id %% 997 = %s LIMIT %s",
            (seed % 997, n),
        )
        houses = cur.fetchall()
        cur.execute("SELECT name FROM address WHERE kind = 'poi' AND id %% 97 = %s LIMIT %s", (seed % 97, n))
        places = [name for (name,) in cur.fetchall()]
        cur.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM address WHERE id %% 991 = %s LIMIT %s", (seed % 991, n)
        )
        points = [
            (x + rng.uniform(-60, 60) / 89500, y + rng.uniform(-60, 60) / 111000) for x, y in cur.fetchall()
        ]
    two = [
        f"{number} {road}" if i % 2 else f"{rng.choice(PLACE_KINDS)} {rng.choice(BASES)}"
        for i, (road, number) in enumerate(houses)
    ]
    queries = {
        "2 characters": [rng.choice(BASES) for _ in range(n)],
        "road + number": [road + number for road, number in houses],
        "place name": places,
        "two words": two,
        "no match": [rng.choice(NOWHERE) for _ in range(n)],
    }
    return queries, points


def baseline_search(text: str):
    words = text.split()
    condition = [or_(Address.address_text.ilike(f"%{w}%"), Address.name.ilike(f"%{w}%")) for w in words]
    return select(Address).where(*condition).limit(LIMIT)


def baseline_nearest(lon: float, lat: float, radius: float):
    """The nearest within ``radius`` the plain way: the distance of every row on the spheroid."""
    from sqlalchemy import func

    point = func.geography(func.ST_Point(lon, lat, 4326))
    distance = func.ST_Distance(func.geography(Address.geom), point)
    return select(Address).where(distance <= radius).order_by(distance).limit(NEAR_LIMIT)


def timed(db, run, items) -> tuple[list[float], int]:
    """Each item's ms (after one warm-up run of it) and how many found something."""
    times, hits = [], 0
    for item in items:
        run(item)
        db.expunge_all()
        started = time.perf_counter()
        answer = run(item)
        times.append((time.perf_counter() - started) * 1000)
        hits += bool(answer)
        db.expunge_all()
    return times, hits


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) > 1 else times[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--addresses", type=int, default=1_000_000, help="synthetic addresses to load")
    parser.add_argument("--queries", type=int, default=40, help="queries of each kind, and points")
    parser.add_argument(
        "--baseline-points", type=int, default=10, help="points for the baseline's full scans"
    )
    parser.add_argument("--seed", type=int, default=42)
    results.add_argument(parser)
    args = parser.parse_args()

    runs: dict[str, dict[str, tuple[list[float], int]]] = {}
    with bench_city("bench_addresses") as (cluster, url):
        print(f"loading {args.addresses:,} synthetic addresses ...", file=sys.stderr)
        with cluster.connect("bench_addresses") as conn:
            load_s, index_s = load(conn, args.addresses, args.seed)
            size = sizes(conn)
            queries, points = mix(conn, args.queries, args.seed)
        with new_session(url) as db:
            for kind, texts in queries.items():
                print(f"measuring {kind} ...", file=sys.stderr)
                runs[kind] = {
                    "ours": timed(
                        db, lambda t: addresses_out(db, service.search(db=db, text=t, limit=LIMIT)), texts
                    ),
                    "baseline": timed(db, lambda t: list(db.scalars(baseline_search(t))), texts),
                }
            for radius in (100, 500):
                print(f"measuring nearest within {radius} m ...", file=sys.stderr)

                def ours(p, radius=radius):
                    found = service.nearest(db=db, lon=p[0], lat=p[1], radius_m=radius, limit=NEAR_LIMIT)
                    return addresses_out(db, found)

                def plain(p, radius=radius):
                    return list(db.scalars(baseline_nearest(p[0], p[1], radius)))

                runs[f"nearest {radius} m"] = {
                    "ours": timed(db, ours, points),
                    "baseline": timed(db, plain, points[: args.baseline_points]),
                }
            db.rollback()

    with results.table() as printed:
        print(
            f"\naddresses: {args.addresses:,} synthetic addresses over 历下区 (seed {args.seed}); "
            f"load {load_s:.0f} s (with grid links), indexes {index_s:.0f} s; table {size['table']}, "
            f"search index {size['grams']}, point index {size['geom']}; "
            f"{size['outside']:,} outside every grid\n"
            f"{args.queries} queries or points of each kind ({args.baseline_points} points for the nearest "
            "baseline), each timed after one warm-up run; ms; ours = the route's service call and answer, "
            "baseline = ILIKE on name or address (10, unordered) / ORDER BY ST_Distance with no index; "
            "found = queries that found something"
        )
        head = (
            f"{'kind':<16} | {'ours p50':>8} {'p95':>7} {'found':>5} | {'baseline p50':>12} {'p95':>8} "
            f"{'found':>5} | {'baseline/ours p95':>17}"
        )
        print(head)
        print("-" * len(head))
        for kind, run in runs.items():
            (ours_t, ours_found), (plain_t, plain_found) = run["ours"], run["baseline"]
            print(
                f"{kind:<16} | {statistics.median(ours_t):8.1f} {p95(ours_t):7.1f} {ours_found:>5} | "
                f"{statistics.median(plain_t):12.1f} {p95(plain_t):8.1f} {plain_found:>5} | "
                f"{p95(plain_t) / p95(ours_t):17.1f}"
            )
        print(f"\ngoals: search p95 under {GOAL_SEARCH_MS} ms, nearest p95 under {GOAL_NEAREST_MS} ms")
    figures = []
    for kind, run in runs.items():
        goal = GOAL_NEAREST_MS if kind.startswith("nearest") else GOAL_SEARCH_MS
        baseline_name = "ST_Distance, no index" if kind.startswith("nearest") else "ILIKE, no index"
        ours_p95 = p95(run["ours"][0])
        figures.append(
            results.Figure(
                f"{kind}: p95",
                ours_p95,
                p95(run["baseline"][0]),
                "ms",
                baseline_name,
                goal=f"< {goal} ms",
                met=ours_p95 < goal,
            )
        )
    results.write(
        args.json,
        measures=f"search and reverse geocoding over {args.addresses:,} synthetic addresses, p95 per kind, "
        "beside plain ILIKE and ST_Distance queries without the indexes",
        parameters=vars(args),
        figures=figures,
        table=printed,
    )


if __name__ == "__main__":
    main()
