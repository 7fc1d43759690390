"""What the app keeps from the server to work offline: my grids (with geometry, for the offline locator and
the map), the categories, the cases I deal with (my tasks and my reports, with their details), and the
addresses of the register in my grids (searched offline, and naming the place of a report).

"My" is the logged-in user's (:attr:`Store.owner`): each user of a shared phone has grids, cases and
addresses of their own; the categories are the city's, shared by all.

**Addresses** are searched as the server searches them (the words read by grids.words), word by word in any
order, each word anywhere in the address's name, full text or aliases (the server's parts of an address
are not sent: they are in its full text), ranked the same way. The phone holds the addresses of one
inspector's grids, a few thousand: every row of the owner is read with ``instr``, in the order of the
table's key (measured on a desktop: 1-2 ms for 5,000 addresses, 15-35 ms for 50,000, a street's worth; a
phone is a few times slower), which needs no full-text module. SQLite's FTS5 with its
trigram tokenizer would index them, but python-for-android's sqlite3 recipe does not build FTS5, and a
trigram cannot find the two-character words Chinese place names are searched by ("山大")."""

from __future__ import annotations

import json
import math
import threading

from gis.crs import sphere_distance_m
from gis.geojson import geometry_from_geojson
from gis.geometry import as_multipolygon
from grids.locator import Locator
from grids.records import GridRecord
from grids.words import MIN_WORD, normalise, words_of
from mobile.services.store import Store, user_cursor

RECENT_CATEGORIES = 3  # the categories I used last, shown first whatever their count
KIND_ORDER = "CASE kind WHEN 'poi' THEN 0 WHEN 'building' THEN 1 ELSE 2 END"  # places first
NEAR_RADIUS_M = 150.0  # the server's address_near_radius_m: how far a report is said to be near an address
METRES_PER_DEGREE = 110_000.0  # of latitude, rounded down: the box around a point is never too small


def _address(row) -> dict:
    return {
        "id": row["id"],
        "label": row["label"],
        "text": row["text"],
        "kind": row["kind"],
        "aliases": json.loads(row["aliases"]),
        "lon": row["lon"],
        "lat": row["lat"],
        "grid_code": row["grid_code"],
    }


def _match(text: str, category: dict) -> int | None:
    """How well ``text`` (lower case) names ``category``: 0 its name or an alias exactly, 1 the start of
    one, 2 inside one or its code or the name of a class above it (its major or middle class), or the start
    of the pinyin initials of one; None not."""
    words = [category["name"], *category.get("aliases", ())]
    lowered = [w.lower() for w in words]
    if text in lowered:
        return 0
    if any(w.startswith(text) for w in lowered):
        return 1
    others = (category["code"].lower(), *(w.lower() for w in category["trail"]), *lowered)
    if any(text in w for w in others) or any(i.startswith(text) for i in category.get("initials", ())):
        return 2
    return None


def _node(item: dict) -> dict:
    """A cached category as a node of the tree. One synced from a server older than the tree has no
    ``leaf`` (such a server sent the categories only, ``major_code`` being the major class's two digits): it
    is a leaf under its major class (kind letter + major code, "E06") until the next sync replaces it."""
    if "leaf" in item:
        return item
    major = item["kind"][0].upper() + item["major_code"]
    return item | {
        "parent_code": major,
        "depth": 2,
        "leaf": True,
        "trail": [item["major_name"]],
        "major_code": major,
    }


def _major_of(leaf: dict) -> dict:
    """The major class of a category of the second level whose major class is not cached: one synced before
    the tree (an older server sent no node for it), whose ``major_code`` and ``major_name`` name it."""
    return {
        "code": leaf["parent_code"],
        "name": leaf["major_name"],
        "kind": leaf["kind"],
        "parent_code": None,
        "depth": 1,
        "leaf": False,
        "trail": [],
        "major_code": leaf["parent_code"],
        "major_name": leaf["major_name"],
        "aliases": [],
        "initials": [],
        "active": True,
    }


class Cache:
    def __init__(self, store: Store) -> None:
        self.store = store
        # the owner and layer of the grids, and their locator
        self._locator: tuple[tuple[int | None, str | None], Locator] | None = None
        self._tree: dict[str, dict] | None = None  # every category node by code (the city's, not the owner's)
        self._lock = threading.Lock()

    # -- grids ----------------------------------------------------------------------------------------

    def apply_grids(self, codes: list[str], features: list[dict], layers: list[dict] | None = None) -> None:
        """Apply a grid sync answer: keep exactly ``codes``, replacing those given as features, and the grid
        layers I work in (None: as they were). The addresses of the grids no longer mine go; a grid new to
        me has its addresses fetched: the address sync starts over (its cursor counts changes, and those
        addresses may not have changed for long)."""
        owner = self.store.owner
        if layers is not None:
            self.store.set(f"grid_layers.{owner}", layers)
        with self.store.transaction() as db:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS keep (code TEXT PRIMARY KEY)")
            db.execute("DELETE FROM keep")
            db.executemany("INSERT INTO keep VALUES (?)", [(c,) for c in codes])
            gained = db.execute(
                "SELECT count(*) FROM keep WHERE code NOT IN (SELECT code FROM grid WHERE owner IS ?)",
                (owner,),
            ).fetchone()[0]
            if gained:
                db.execute("DELETE FROM kv WHERE key = ?", (user_cursor("addresses", owner),))
            db.execute("DELETE FROM grid WHERE owner IS ? AND code NOT IN (SELECT code FROM keep)", (owner,))
            db.execute(
                "DELETE FROM address WHERE owner IS ? AND grid_code NOT IN (SELECT code FROM keep)", (owner,)
            )
            db.executemany(
                "INSERT INTO grid (owner, code, name, level, parent_code, geometry, layer, layer_name) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (owner, code) DO UPDATE SET name = excluded.name, level = excluded.level, "
                "parent_code = excluded.parent_code, geometry = excluded.geometry, layer = excluded.layer, "
                "layer_name = excluded.layer_name",
                [
                    (
                        owner,
                        f["properties"]["code"],
                        f["properties"]["name"],
                        f["properties"]["level"],
                        f["properties"]["parent_code"],
                        json.dumps(f["geometry"]),
                        f["properties"].get("layer"),
                        f["properties"].get("layer_name"),
                    )
                    for f in features
                ],
            )
        with self._lock:
            self._locator = None

    def grid_layers(self) -> list[dict]:
        """The grid layers I work in (code, name, is_default), the default one first."""
        return self.store.get(f"grid_layers.{self.store.owner}", [])

    def grid_records(self, layer: str | None = None) -> list[GridRecord]:
        """My cached grids of a layer's hierarchy (the shared ones and the layer's own; default: the default
        layer)."""
        layers = self.grid_layers()
        if layer is None:
            layer = next((x["code"] for x in layers if x["is_default"]), None)
        # (a sync before each layer listed its grids: a shared grid counts in every layer)
        mine = next((set(x["codes"]) for x in layers if x["code"] == layer and "codes" in x), None)
        return [
            GridRecord(
                code=r["code"],
                name=r["name"],
                level=r["level"],
                parent_code=r["parent_code"],
                geometry=as_multipolygon(geometry_from_geojson(json.loads(r["geometry"]))),
            )
            for r in self.store.query(
                "SELECT * FROM grid WHERE owner IS ? AND (layer IS NULL OR layer IS ?) ORDER BY code",
                (self.store.owner, layer),
            )
            if mine is None or r["code"] in mine
        ]

    def grid_count(self) -> int:
        return self.store.query("SELECT count(*) AS n FROM grid WHERE owner IS ?", (self.store.owner,))[0][
            "n"
        ]

    def locator(self, layer: str | None = None) -> Locator:
        """The offline locator over the cached grids of a layer (default: the default layer), built once
        per grid change, user or layer."""
        key = self.store.owner, layer
        with self._lock:
            if self._locator is None or self._locator[0] != key:
                self._locator = key, Locator(self.grid_records(layer))
            return self._locator[1]

    def grid_at(self, lon: float, lat: float, layer: str | None = None) -> list[GridRecord]:
        """The chain of cached grids of a layer (default: the default layer) holding a WGS 84 point, root
        first (empty: outside my grids)."""
        return self.locator(layer).locate(lon, lat)

    # -- addresses ------------------------------------------------------------------------------------

    def apply_addresses(self, items: list[dict]) -> None:
        """Keep the addresses of an address sync page (new or changed ones, all in my grids)."""
        owner = self.store.owner
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO address (owner, id, label, text, kind, aliases, lon, lat, grid_code, "
                "search_label, search_text, search_aliases, search_doc) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (owner, id) DO UPDATE SET label = excluded.label, text = excluded.text, "
                "kind = excluded.kind, aliases = excluded.aliases, lon = excluded.lon, lat = excluded.lat, "
                "grid_code = excluded.grid_code, search_label = excluded.search_label, "
                "search_text = excluded.search_text, search_aliases = excluded.search_aliases, "
                "search_doc = excluded.search_doc",
                [
                    (
                        owner,
                        a["id"],
                        a["label"],
                        a["text"],
                        a["kind"],
                        json.dumps(a["aliases"], ensure_ascii=False),
                        a["lon"],
                        a["lat"],
                        a["grid_code"],
                        normalise(a["label"]),
                        normalise(a["text"]),
                        "".join(f"\n{normalise(alias)}\n" for alias in a["aliases"]),
                        normalise(" ".join([a["label"], a["text"], *a["aliases"]])),
                    )
                    for a in items
                ],
            )

    def address_count(self) -> int:
        return self.store.query("SELECT count(*) AS n FROM address WHERE owner IS ?", (self.store.owner,))[0][
            "n"
        ]

    def search_addresses(self, text: str, limit: int = 10) -> list[dict]:
        """My addresses holding every word of ``text`` (in any order, each anywhere in the name, the full
        text or an alias), best first: the name, full text or an alias that is the query, then those with
        more of the words in their label (a place's name, else its address), then in their name or full
        text (not only in an alias), places before buildings and house numbers, the shorter text first.
        None for a query without a word of two characters."""
        query = normalise(text)
        words = words_of(query)
        if not words or max(map(len, words)) < MIN_WORD:
            return []
        found = " AND ".join("instr(search_doc, ?) > 0" for _ in words)
        in_label = " + ".join("(instr(search_label, ?) > 0)" for _ in words)
        in_name = " + ".join("(instr(search_label, ?) > 0 OR instr(search_text, ?) > 0)" for _ in words)
        rows = self.store.query(
            f"SELECT * FROM address WHERE owner IS ? AND {found} ORDER BY "
            "(search_label = ? OR search_text = ? OR instr(search_aliases, ?) > 0) DESC, "
            f"{in_label} DESC, {in_name} DESC, {KIND_ORDER}, length(text), text, id LIMIT ?",
            (
                self.store.owner,
                *words,
                query,
                query,
                f"\n{query}\n",
                *words,
                *(w for w in words for _ in range(2)),
                limit,
            ),
        )
        return [_address(r) for r in rows]

    def nearest_address(self, lon: float, lat: float, radius_m: float = NEAR_RADIUS_M) -> dict | None:
        """My address nearest to the point (WGS 84) within ``radius_m`` metres, with its ``distance_m``;
        None when there is none. The index finds the addresses in the box around the point; their
        distances on the sphere pick the nearest."""
        dlat = radius_m / METRES_PER_DEGREE
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        rows = self.store.query(
            "SELECT * FROM address WHERE owner IS ? AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
            (self.store.owner, lat - dlat, lat + dlat, lon - dlon, lon + dlon),
        )
        near = min(
            ((sphere_distance_m(lon, lat, r["lon"], r["lat"]), r["id"], r) for r in rows),
            default=None,
            key=lambda found: found[:2],
        )
        if near is None or near[0] > radius_m:
            return None
        return _address(near[2]) | {"distance_m": near[0]}

    # -- categories -----------------------------------------------------------------------------------

    def apply_categories(self, items: list[dict]) -> None:
        """Apply categories changed on the server (every node of the tree: major classes, middle classes,
        subclasses): those no longer in use are dropped."""
        with self.store.transaction() as db:
            for c in items:
                if c["active"]:
                    db.execute(
                        "INSERT INTO category (code, data) VALUES (?, ?) "
                        "ON CONFLICT (code) DO UPDATE SET data = excluded.data",
                        (c["code"], json.dumps(c, ensure_ascii=False)),
                    )
                else:
                    db.execute("DELETE FROM category WHERE code = ?", (c["code"],))
        with self._lock:
            self._tree = None

    def categories(self) -> list[dict]:
        """Every cached node of the category tree, by code."""
        rows = self.store.query("SELECT data FROM category ORDER BY code")
        return [_node(json.loads(r["data"])) for r in rows]

    def _nodes(self) -> dict[str, dict]:
        """Every node of the tree by code, the major classes of categories synced before the tree too (read
        once per change: a search runs at every key typed, through a thousand categories)."""
        with self._lock:
            if self._tree is None:
                nodes = {c["code"]: c for c in self.categories()}
                for c in list(nodes.values()):
                    if c["depth"] == 2 and c["parent_code"] not in nodes:  # synced before the tree
                        nodes[c["parent_code"]] = _major_of(c)
                self._tree = nodes
            return self._tree

    def category(self, code: str) -> dict | None:
        return self._nodes().get(code)

    def children(self, parent_code: str | None = None) -> list[dict]:
        """The classes right under ``parent_code`` (None: the major classes), by code."""
        return sorted(
            (c for c in self._nodes().values() if c["parent_code"] == parent_code), key=lambda c: c["code"]
        )

    def path(self, code: str) -> list[dict]:
        """The nodes from the major class down to ``code``'s (empty for an unknown code)."""
        nodes, chain = self._nodes(), []
        while code in nodes:
            chain.append(nodes[code])
            code = nodes[code]["parent_code"]
        return chain[::-1]

    def search_categories(self, text: str = "") -> list[dict]:
        """The categories a case may be filed under (the leaves of the tree) matching ``text``, best first.

        ``text`` matches a category's code, name, the name of a class above it (a search for a middle
        class finds its subclasses), one of its aliases (the words people use: 乱停车, 井盖坏了) or the
        pinyin initials of its name or an alias (ltc). An exact name or alias comes first, then one that
        starts with the text, then the others; within each, the categories I report most (:meth:`usage`)
        first. With no text, my recent and frequent categories come first, marked ``"mine": True``, then
        the others by code."""
        text = text.strip().lower()
        usage = self.usage()
        ranked = []
        for c in self._nodes().values():
            if not c["leaf"]:
                continue
            rank = _match(text, c) if text else 3
            if rank is None:
                continue
            mine = c["code"] in usage
            ranked.append(((rank, *usage[c["code"]]) if mine else (rank, 1, 0, 0), c | {"mine": mine}))
        ranked.sort(key=lambda pair: (pair[0], pair[1]["code"]))
        return [c for _, c in ranked]

    def usage(self, recent: int = RECENT_CATEGORIES) -> dict[str, tuple[int, int, int]]:
        """The categories of my reports (the server's and those still in the outbox) that rank first: the
        ``recent`` last used, then the others by how often; code -> a sort key (smaller first)."""
        owner = self.store.owner
        rows = self.store.query(
            "SELECT json_extract(data, '$.category.code') AS code, json_extract(data, '$.received_at') AS at "
            "FROM cached_case WHERE mine = 1 AND owner IS ? UNION ALL "
            "SELECT json_extract(payload, '$.category'), created_at FROM outbox "
            "WHERE kind = 'report' AND state != 'sent' AND owner IS ?",
            (owner, owner),
        )
        counts: dict[str, int] = {}
        latest: dict[str, str] = {}
        for r in rows:
            counts[r["code"]] = counts.get(r["code"], 0) + 1
            latest[r["code"]] = max(latest.get(r["code"], ""), r["at"] or "")
        lately = sorted(latest, key=latest.get, reverse=True)[:recent]
        return {
            code: (0, lately.index(code), 0) if code in lately else (0, len(lately), -counts[code])
            for code in counts
        }

    # -- cases ----------------------------------------------------------------------------------------

    def apply_cases(self, items: list[dict], *, kind: str) -> None:
        """Keep cases from a sync answer: ``kind`` is "tasks" or "reports" (mine). A changed case's cached
        detail is dropped until it is fetched again."""
        column, owner = "task" if kind == "tasks" else "mine", self.store.owner
        with self.store.transaction() as db:
            for item in items:
                db.execute(
                    f"INSERT INTO cached_case (owner, code, {column}, data) VALUES (?, ?, 1, ?) "
                    f"ON CONFLICT (owner, code) DO UPDATE SET {column} = 1, data = excluded.data, "
                    "detail = NULL",
                    (owner, item["code"], json.dumps(item, ensure_ascii=False)),
                )

    def apply_detail(self, detail: dict) -> None:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO cached_case (owner, code, data, detail) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (owner, code) DO UPDATE SET detail = excluded.detail",
                (
                    self.store.owner,
                    detail["code"],
                    json.dumps(detail, ensure_ascii=False),
                    json.dumps(detail, ensure_ascii=False),
                ),
            )

    def tasks(self, *, active_only: bool = True) -> list[dict]:
        """My verification and check tasks, soonest due first."""
        items = [
            json.loads(r["data"])
            for r in self.store.query(
                "SELECT data FROM cached_case WHERE task = 1 AND owner IS ?", (self.store.owner,)
            )
        ]
        if active_only:
            items = [t for t in items if t.get("active")]
        return sorted(items, key=lambda t: (t.get("due_at") is None, t.get("due_at") or "", t["code"]))

    def apply_patrol_tasks(self, items: list[dict]) -> None:
        """Keep my proactive patrol tasks as the server lists them (all of them: they replace the last)."""
        self.store.set(f"patrol_tasks.{self.store.owner}", items)

    def patrol_tasks(self) -> list[dict]:
        """My proactive patrol tasks of the last sync, the soonest first."""
        return self.store.get(f"patrol_tasks.{self.store.owner}", [])

    def reports(self) -> list[dict]:
        """My reports as the server has them, newest first."""
        rows = self.store.query(
            "SELECT data FROM cached_case WHERE mine = 1 AND owner IS ?", (self.store.owner,)
        )
        return sorted((json.loads(r["data"]) for r in rows), key=lambda c: c["received_at"], reverse=True)

    def case(self, code: str) -> dict | None:
        """The cached detail of a case (timeline and photos) or else its summary."""
        rows = self.store.query(
            "SELECT data, detail FROM cached_case WHERE owner IS ? AND code = ?", (self.store.owner, code)
        )
        if not rows:
            return None
        return json.loads(rows[0]["detail"] or rows[0]["data"])
