// The map: grids by level with drill-down, the selected grid's people, the cases from the vector tiles (as
// dots or as a heat map, filtered by the filter bar, refetched as cases change), the inspectors moved
// live by the event stream, with today's tracks, the areas of the open warnings (outlined; a click
// shows the warning and opens its reminder letter), redrawn as warnings change, and on request the
// pollution sources in the view (a click shows the source and the recent cases near it).
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { api, apiJson, cityHeaders, messageOf, tokens } from "/static/api.js";
import { el, openCase } from "/static/case.js";
import { addBaseLayers, MAP_LOCALE, PLAIN_STYLE, setVisible, showBase } from "/static/placemap.js";
import { openLetter, openWarnings, watchWarnings } from "/static/warnings.js";

// The zoom from which each level below the root is drawn; each deeper level two zooms later.
const LEVEL_ZOOMS = [0, 10, 12.5, 15];
const LEVEL_COLORS = ["#1f6feb", "#d97706", "#15803d", "#9333ea", "#dc2626", "#0e7490"];
// Labels are drawn by the browser from this local font: the style has no glyphs URL, so nothing is fetched.
const LABEL_FONT = "Noto Sans CJK SC, sans-serif";
const CHINA = [73, 18, 135, 54]; // the start view before any grid is imported
// The layers: case points by light from the server's cluster zoom on, clusters with their counts below, or
// both as a heat map; the inspectors with their names, and today's tracks.
const LAYERS = {
  cases: "cases-point",
  clusters: "cases-cluster",
  counts: "cases-count",
  heat: "cases-heat",
  heatClusters: "cases-heat-cluster",
  inspectors: "inspectors-dot",
  inspectorNames: "inspectors-name",
  tracks: "tracks-line",
  warnings: "warnings-fill",
  warningLines: "warnings-line",
  sources: "sources-dot",
};
const DOTS = [LAYERS.clusters, LAYERS.counts, LAYERS.cases];
const HEAT = [LAYERS.heatClusters, LAYERS.heat];
// What the state filter's default ("open": 在办) stands for, as the server's workflow names the states.
const OPEN_STATES = [
  "reported", "verifying", "registered", "filed", "dispatched", "returned", "suspended", "handled", "checking",
  "checked",
];
const KIND = { component: "部件", event: "事件" };
const LIGHT_COLOR = [
  "match", ["get", "light"], "green", "#2e9d48", "yellow", "#e0a800", "red", "#d62828", "#8a949e",
];
const NO_FEATURES = { type: "FeatureCollection", features: [] };
window.gridopsLayers = LAYERS;

const filters = document.getElementById("filters");
const panel = document.getElementById("panel");
let map = null;
let selected = null; // the grid clicked on the map (its detail from the API), whose children are drawn
const inspectors = new Map(); // user id -> the inspector's position (a GeoJSON point feature)
const tracks = new Map(); // shift client_uuid -> today's track (a GeoJSON line feature)

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

// -- the base map --------------------------------------------------------------------------------------

// The switcher on the map: one base layer at a time (or none: the plain background), the overlays each on or
// off. ``added`` is what ``addBaseLayers`` added.
class LayerSwitcher {
  constructor(added) {
    this.added = added;
  }

  onAdd(map) {
    const box = document.createElement("form");
    box.id = "basemaps";
    box.className = "maplibregl-ctrl maplibregl-ctrl-group";
    box.setAttribute("aria-label", "底图");
    const title = document.createElement("strong");
    title.textContent = "底图";
    box.append(title);
    const choice = (type, value, text, checked, onChange) => {
      const name = type === "radio" ? "basemap" : "overlay";
      const input = Object.assign(document.createElement("input"), { type, value, checked, name });
      input.addEventListener("change", () => onChange(input));
      const label = document.createElement("label");
      label.append(input, text);
      box.append(label);
    };
    const bases = this.added.filter(({ basemap }) => basemap.group === "base");
    const shown = (ids) => map.getLayoutProperty(ids[0], "visibility") !== "none";
    for (const { basemap, ids } of bases) {
      choice("radio", basemap.id, basemap.name, shown(ids), () => showBase(map, this.added, basemap.id));
    }
    choice("radio", "", "无底图", !bases.some(({ ids }) => shown(ids)), () => showBase(map, this.added, null));
    for (const { basemap, ids } of this.added.filter(({ basemap }) => basemap.group === "overlay")) {
      choice("checkbox", basemap.id, basemap.name, true, (input) => setVisible(map, ids, input.checked));
    }
    this.box = box;
    return box;
  }

  onRemove() {
    this.box.remove();
  }
}

// The level drawn at a zoom: the deepest one whose zoom is reached (below the root, if there is more
// than the root).
function levelAt(levels, zoom) {
  const drawn = levels.length > 1 ? levels.slice(1) : levels;
  let level = drawn[0];
  drawn.forEach((candidate, i) => {
    const from = LEVEL_ZOOMS[i] ?? LEVEL_ZOOMS.at(-1) + 2 * (i - LEVEL_ZOOMS.length + 1);
    if (zoom >= from) level = candidate;
  });
  return level;
}

// The level drawn: the one for the zoom, or the selected grid's children when they are deeper.
function levelShown(levels) {
  const level = levelAt(levels, map.getZoom());
  const index = levels.findIndex((candidate) => candidate.name === selected?.level);
  const child = levels[index + 1];
  return index >= 0 && child && levels.indexOf(level) <= index ? child : level;
}

function byLevel(levels, values) {
  return ["match", ["get", "level"], ...levels.flatMap((level, i) => [level.name, values(i)]), values(0)];
}

function addGridLayers(levels) {
  map.addSource("grids", { type: "geojson", data: NO_FEATURES });
  map.addSource("selected", { type: "geojson", data: NO_FEATURES });
  map.addLayer({ id: "grids-fill", type: "fill", source: "grids", paint: { "fill-opacity": 0.12 } });
  map.addLayer({ id: "grids-line", type: "line", source: "grids" });
  paintGrids(levels);
  map.addLayer({
    id: "grids-label",
    type: "symbol",
    source: "grids",
    layout: { "text-field": ["get", "name"], "text-size": 13, "text-max-width": 8 },
    paint: { "text-color": "#1f2933", "text-halo-color": "#ffffff", "text-halo-width": 1.5 },
  });
  map.addLayer({
    id: "grids-selected",
    type: "line",
    source: "selected",
    paint: { "line-color": "#17324d", "line-width": 3 },
  });
}

// The grids' colours and widths by level (the chosen grid layer's levels).
function paintGrids(levels) {
  const color = byLevel(levels, (i) => LEVEL_COLORS[i % LEVEL_COLORS.length]);
  map.setPaintProperty("grids-fill", "fill-color", color);
  map.setPaintProperty("grids-line", "line-color", color);
  map.setPaintProperty("grids-line", "line-width", byLevel(levels, (i) => Math.max(0.8, 2.5 - 0.4 * i)));
}

// The grid layers (城市管理网格, 生态环境网格 ...) in the filter bar, the default one chosen; each with its
// levels from the root down.
let gridLayers = [];

async function loadGridLayers() {
  const [ok, layers] = await apiJson("/api/grids/layers");
  if (!ok) return;
  gridLayers = layers;
  const select = filters.elements.grid_layer;
  select.replaceChildren(...layers.map((layer) => new Option(layer.name, layer.code, false, layer.is_default)));
}

const gridLayer = () => filters.elements.grid_layer.value;

let asked = 0; // the latest request for grids: an older answer is dropped

// The view as west,south,east,north, within the ranges the server takes.
function viewBox() {
  const b = map.getBounds();
  const clamp = (v, limit) => Math.min(limit, Math.max(-limit, v)).toFixed(6);
  return [clamp(b.getWest(), 180), clamp(b.getSouth(), 85), clamp(b.getEast(), 180), clamp(b.getNorth(), 85)];
}

async function loadGrids(levels) {
  const level = levelShown(levels);
  const mine = ++asked;
  const query = new URLSearchParams({ bbox: viewBox().join(","), level: level.name });
  if (gridLayer()) query.set("layer", gridLayer());
  const answer = await api(`/api/grids/bbox?${query}`);
  const body = await answer.json();
  if (mine !== asked || !map) return;
  if (!answer.ok) {
    setStatus(body.detail);
    return;
  }
  map.getSource("grids").setData(body);
  setStatus(`${level.label}：${body.features.length} 个网格`);
}

// -- cases ----------------------------------------------------------------------------------------

// The case tile URL with the filter bar's choices; a period's dates are whole days of the city's calendar
// (the server's, whatever the browser's time zone).
function caseTiles() {
  const form = new FormData(filters);
  const query = new URLSearchParams();
  for (const name of ["state", "light", "category", "department", "tag", "since", "until"]) {
    if (form.get(name)) query.set(name, form.get(name));
  }
  if (query.get("state") === "open") {
    query.delete("state"); // the open cases: every state but the final ones (closed, voided, merged)
    for (const state of OPEN_STATES) query.append("state", state);
  }
  const filtered = query.size ? `?${query}` : "";
  return [`${location.origin}/tiles/cases/{z}/{x}/{y}.mvt${filtered}`];
}

function addCaseLayers() {
  map.addSource("cases", { type: "vector", tiles: caseTiles(), maxzoom: 16 });
  map.addLayer({
    id: LAYERS.clusters,
    type: "circle",
    source: "cases",
    "source-layer": "clusters",
    paint: {
      "circle-color": LIGHT_COLOR,
      "circle-opacity": 0.8,
      "circle-radius": ["interpolate", ["linear"], ["get", "count"], 1, 10, 100, 20, 1000, 32],
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 1.5,
    },
  });
  map.addLayer({
    id: LAYERS.counts,
    type: "symbol",
    source: "cases",
    "source-layer": "clusters",
    layout: { "text-field": ["to-string", ["get", "count"]], "text-size": 12, "text-allow-overlap": true },
    paint: { "text-color": "#1f2933", "text-halo-color": "#ffffff", "text-halo-width": 1.5 },
  });
  map.addLayer({
    id: LAYERS.cases,
    type: "circle",
    source: "cases",
    "source-layer": "cases",
    paint: {
      "circle-color": LIGHT_COLOR,
      "circle-radius": 6,
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 1.5,
    },
  });
  addHeatLayer(LAYERS.heatClusters, "clusters", ["get", "count"]);
  addHeatLayer(LAYERS.heat, "cases", 1);
}

// The heat map counts every case: a cluster weighs its count, a point one. Clusters hold more cases at lower
// zooms, so the intensity grows with the zoom. Hidden until the filter bar's toggle shows it.
function addHeatLayer(id, sourceLayer, weight) {
  map.addLayer({
    id,
    type: "heatmap",
    source: "cases",
    "source-layer": sourceLayer,
    layout: { visibility: "none" },
    paint: {
      "heatmap-weight": weight,
      "heatmap-intensity": ["interpolate", ["linear"], ["zoom"], 8, 0.5, 14, 2],
      "heatmap-radius": ["interpolate", ["linear"], ["zoom"], 8, 24, 16, 40],
      "heatmap-opacity": 0.8,
      "heatmap-color": [
        "interpolate", ["linear"], ["heatmap-density"],
        0, "rgba(33, 102, 172, 0)", 0.2, "#67a9cf", 0.4, "#d1e5f0", 0.6, "#fddbc7", 0.8, "#ef8a62", 1, "#b2182b",
      ],
    },
  });
}

// Dots or the heat map, as the filter bar's toggle says.
function showHeat(on) {
  for (const id of DOTS) map.setLayoutProperty(id, "visibility", on ? "none" : "visible");
  for (const id of HEAT) map.setLayoutProperty(id, "visibility", on ? "visible" : "none");
}

// The filter bar's options: categories grouped by kind and their ancestors, departments and tags.
async function loadFilterOptions() {
  const fill = (name, groups) => {
    const select = filters.elements[name];
    select.replaceChildren(select.options[0]);
    for (const [label, items] of groups) {
      const parent = label ? select.appendChild(document.createElement("optgroup")) : select;
      if (label) parent.label = label;
      for (const item of items) parent.append(new Option(item.name, item.code));
    }
  };
  const [[, categories], [, departments], [, tags]] = await Promise.all(
    ["/api/categories", "/api/departments", "/api/tags"].map((path) => apiJson(path)),
  );
  // cases are filed under the leaves of the category tree: each under the names of its ancestors
  const leaves = categories.filter((c) => c.leaf);
  const groups = Map.groupBy(leaves, (c) => [KIND[c.kind] ?? c.kind, ...c.trail].join(" · "));
  fill("category", groups);
  fill("department", [["", departments]]);
  fill("tag", [["", tags]]);
}

filters.addEventListener("change", (event) => {
  if (!map?.getSource("cases")) return;
  if (event.target.name === "heat") showHeat(event.target.checked);
  else if (event.target.name === "tracks") showTracks(event.target.checked);
  else if (event.target.name === "sources") showSources(event.target.checked);
  else if (event.target.name !== "grid_layer") map.getSource("cases").setTiles(caseTiles());
});

// -- inspectors and their tracks ------------------------------------------------------------------

function addInspectorLayers() {
  map.addSource("tracks", { type: "geojson", data: NO_FEATURES });
  map.addSource("inspectors", { type: "geojson", data: NO_FEATURES });
  map.addLayer({
    id: LAYERS.tracks,
    type: "line",
    source: "tracks",
    layout: { "line-join": "round", "line-cap": "round", visibility: "none" },
    paint: { "line-color": "#7c3aed", "line-width": 3, "line-opacity": 0.8 },
  });
  map.addLayer({
    id: LAYERS.inspectors,
    type: "circle",
    source: "inspectors",
    paint: {
      "circle-color": "#1f6feb",
      "circle-radius": 7,
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 2,
    },
  });
  map.addLayer({
    id: LAYERS.inspectorNames,
    type: "symbol",
    source: "inspectors",
    layout: {
      "text-field": ["get", "user_name"],
      "text-size": 12,
      "text-offset": [0, 1.2],
      "text-anchor": "top",
      "text-allow-overlap": true,
    },
    paint: { "text-color": "#0b3d91", "text-halo-color": "#ffffff", "text-halo-width": 1.5 },
  });
}

// The open warnings' areas: each warning's grid outlined, its message and letter a click away.
function addWarningLayers() {
  map.addSource("warnings", { type: "geojson", data: NO_FEATURES });
  map.addLayer({
    id: LAYERS.warnings,
    type: "fill",
    source: "warnings",
    paint: { "fill-color": "#d62828", "fill-opacity": 0.08 },
  });
  map.addLayer({
    id: LAYERS.warningLines,
    type: "line",
    source: "warnings",
    paint: { "line-color": "#d62828", "line-width": 3, "line-dasharray": [2, 1] },
  });
}

const areaShapes = new Map(); // grid code -> its geometry (GeoJSON), read once

async function loadWarnings() {
  const [ok, items] = await openWarnings();
  if (!ok || !map?.getSource("warnings")) return; // roles without dashboards see no warnings
  const features = [];
  for (const w of items) {
    if (!areaShapes.has(w.area_code)) {
      const [found, grid] = await apiJson(`/api/grids/${w.area_code}`);
      if (!found) continue;
      areaShapes.set(w.area_code, grid.geometry);
    }
    const { id, message, state_name, letter_number } = w;
    features.push({
      type: "Feature",
      id,
      geometry: areaShapes.get(w.area_code),
      properties: { id, message, state_name, letter_number: letter_number ?? "" },
    });
  }
  map.getSource("warnings")?.setData({ type: "FeatureCollection", features });
  document.getElementById("map").dataset.warnings = features.map((f) => f.id).join(" ");
}

function showWarning(feature, where) {
  const { id, message, state_name, letter_number } = feature.properties;
  const status = document.createElement("p");
  const box = document.createElement("div");
  box.className = "warning-popup";
  const text = document.createElement("p");
  text.textContent = `预警（${state_name}）：${message}`;
  box.append(text);
  if (letter_number) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `打开提醒函 ${letter_number}`;
    button.onclick = async () => (status.textContent = await openLetter(id));
    box.append(button, status);
  }
  new maplibregl.Popup().setLngLat(where).setDOMContent(box).addTo(map);
}

const collection = (features) => ({ type: "FeatureCollection", features: [...features.values()] });

// The latest positions of the inspectors on shift today, to start from (the stream moves them on).
async function loadPositions() {
  const [ok, body] = await apiJson("/api/patrol/positions");
  if (!map) return;
  if (!ok) {
    setStatus(messageOf(body));
    return;
  }
  inspectors.clear();
  for (const feature of body.features) inspectors.set(feature.id, feature);
  map.getSource("inspectors").setData(collection(inspectors));
}

let tracksAsked = 0; // the latest request for tracks: an older answer is dropped

async function loadTracks() {
  const mine = ++tracksAsked;
  const [ok, body] = await apiJson(`/api/patrol/tracks/today?bbox=${viewBox().join(",")}`);
  if (mine !== tracksAsked || !map) return;
  if (!ok) {
    setStatus(messageOf(body));
    return;
  }
  tracks.clear();
  for (const feature of body.features) tracks.set(feature.id, feature);
  map.getSource("tracks").setData(collection(tracks));
}

function showTracks(on) {
  map.setLayoutProperty(LAYERS.tracks, "visibility", on ? "visible" : "none");
  if (on) loadTracks();
}

const tracksShown = () => filters.elements.tracks.checked;

// -- pollution sources ----------------------------------------------------------------------------

function addSourceLayers() {
  map.addSource("sources", { type: "geojson", data: NO_FEATURES });
  map.addLayer({
    id: LAYERS.sources,
    type: "circle",
    source: "sources",
    layout: { visibility: "none" },
    paint: {
      "circle-color": "#7a4a12",
      "circle-radius": 7,
      "circle-stroke-color": "#facc15",
      "circle-stroke-width": 2.5,
    },
  });
}

let sourcesAsked = 0; // the latest request for sources: an older answer is dropped

// The active sources in the view; their codes on the map element (``data-sources``) once drawn.
async function loadSources() {
  const mine = ++sourcesAsked;
  const [ok, body] = await apiJson(`/api/sources/bbox?bbox=${viewBox().join(",")}`);
  if (mine !== sourcesAsked || !map) return;
  if (!ok) {
    setStatus(messageOf(body));
    return;
  }
  map.getSource("sources").setData(body);
  document.getElementById("map").dataset.sources = body.features.map((f) => f.id).join(" ");
}

function showSources(on) {
  map.setLayoutProperty(LAYERS.sources, "visibility", on ? "visible" : "none");
  if (on) loadSources();
}

const sourcesShown = () => filters.elements.sources.checked;

// A source clicked: its kind, address and responsible member, and the recent cases near it (each opens).
async function showSource(code, where) {
  const [ok, source] = await apiJson(`/api/sources/${encodeURIComponent(code)}`);
  if (!map) return;
  if (!ok) {
    setStatus(messageOf(source));
    return;
  }
  const near = `${source.near_radius_m} 米内近 ${source.near_days} 天的案件`;
  const caseItem = (c) => {
    const open = (event) => {
      event.preventDefault();
      openCase(c.code);
    };
    const link = el("a", { href: "#", "data-case": c.code, onclick: open }, c.code);
    return el("li", {}, link, ` ${c.category}（${c.state_label}，约 ${Math.round(c.distance_m)} 米）`);
  };
  const box = el(
    "div",
    { class: "source-popup", "data-source": source.code },
    el("strong", {}, source.name),
    el("p", {}, `${source.kind_label} · 编号 ${source.code}`),
    el("p", {}, `地址：${source.address}`),
    el("p", {}, `责任网格员：${source.responsible}`),
    source.notes ? el("p", {}, `备注：${source.notes}`) : null,
    el("p", {}, source.nearby_cases.length ? `${near}：` : `${near}：无`),
    el("ul", {}, source.nearby_cases.map(caseItem)),
  );
  new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(where).setDOMContent(box).addTo(map);
}

// -- drill-down -----------------------------------------------------------------------------------

function boundsOf(geometry) {
  const points = geometry.coordinates.flat(geometry.type === "Polygon" ? 1 : 2);
  const start = new maplibregl.LngLatBounds(points[0], points[0]);
  return points.reduce((bounds, point) => bounds.extend(point), start);
}

function showPanel(levels, grid) {
  const inLayer = (p, role) => p.role === role && (!gridLayer() || p.layer === gridLayer());
  const names = (role) => grid.people.filter((p) => inLayer(p, role)).map((p) => p.name).join("、") || "无";
  document.getElementById("grid-name").textContent = grid.name;
  document.getElementById("grid-code").textContent = grid.code;
  document.getElementById("grid-level").textContent =
    levels.find((level) => level.name === grid.level)?.label ?? grid.level;
  document.getElementById("grid-head").textContent = names("head");
  document.getElementById("grid-inspectors").textContent = names("inspector");
  panel.hidden = false;
  map.resize();
}

// A grid clicked: the map fits it, the panel tells who is responsible for it, its children are drawn.
async function selectGrid(levels, code) {
  const answer = await api(`/api/grids/${code}`);
  const grid = await answer.json();
  if (!map) return;
  if (!answer.ok) {
    setStatus(grid.detail);
    return;
  }
  selected = grid;
  map.getSource("selected").setData(grid.geometry);
  showPanel(levels, grid);
  map.fitBounds(boundsOf(grid.geometry), { padding: 40 });
}

function unselectGrid(levels) {
  selected = null;
  panel.hidden = true;
  if (!map) return;
  map.getSource("selected").setData(NO_FEATURES);
  map.resize();
  loadGrids(levels);
}

export function showMap(config) {
  let levels = config.levels;
  // Another grid layer chosen: its levels, its grids.
  filters.elements.grid_layer.onchange = () => {
    levels = gridLayers.find((layer) => layer.code === gridLayer())?.scheme ?? config.levels;
    if (!map?.getSource("grids")) return;
    paintGrids(levels);
    unselectGrid(levels);
  };
  map = new maplibregl.Map({
    container: "map",
    style: PLAIN_STYLE, // the base layers go under the grids once it is loaded
    bounds: config.bounds ?? CHINA,
    fitBoundsOptions: { padding: 20 },
    localIdeographFontFamily: LABEL_FONT,
    locale: MAP_LOCALE,
    // The tiles need the login (and the city worked in); the token is read at each request, so a refreshed
    // one is used.
    transformRequest: (url) =>
      url.startsWith(`${location.origin}/tiles/`)
        ? { url, headers: { ...cityHeaders(), Authorization: `Bearer ${tokens()?.access_token}` } }
        : undefined,
  });
  window.gridopsMap = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  map.on("load", () => {
    addGridLayers(levels);
    addCaseLayers();
    addInspectorLayers();
    addWarningLayers();
    addSourceLayers();
    loadWarnings();
    showHeat(filters.elements.heat.checked);
    showTracks(tracksShown());
    showSources(sourcesShown());
    loadGrids(levels);
    loadPositions();
    const shown = map;
    addBaseLayers(shown, config.basemaps, "grids-fill").then((added) => {
      if (added.length && map === shown) shown.addControl(new LayerSwitcher(added), "top-right");
    });
    // A click shows the source under it, opens the case, zooms in on a cluster, shows a warning, or else
    // selects the grid.
    map.on("click", (event) => {
      const layers = [LAYERS.sources, LAYERS.cases, LAYERS.clusters, LAYERS.warnings, "grids-fill"];
      const [feature] = map.queryRenderedFeatures(event.point, { layers });
      if (!feature) return;
      if (feature.layer.id === LAYERS.sources) showSource(feature.properties.code, event.lngLat);
      else if (feature.layer.id === LAYERS.cases) openCase(feature.properties.code);
      else if (feature.layer.id === LAYERS.warnings) showWarning(feature, event.lngLat);
      else if (feature.layer.id === LAYERS.clusters) {
        map.easeTo({ center: feature.geometry.coordinates, zoom: map.getZoom() + 2 });
      } else selectGrid(levels, feature.properties.code);
    });
    // The pointer over what opens or zooms.
    map.on("mousemove", (event) => {
      const layers = [LAYERS.sources, LAYERS.cases, LAYERS.clusters];
      const over = map.queryRenderedFeatures(event.point, { layers });
      map.getCanvas().style.cursor = over.length ? "pointer" : "";
    });
  });
  loadFilterOptions();
  loadGridLayers();
  document.getElementById("panel-close").onclick = () => unselectGrid(levels);
  map.on("moveend", () => {
    if (!map.getSource("grids")) return;
    loadGrids(levels);
    if (tracksShown()) loadTracks();
    if (sourcesShown()) loadSources();
  });
}

watchWarnings(() => map && loadWarnings());

const REFRESH_MS = 2000;
let refreshTimer = null;

// A case changed: the case tiles are fetched again, at most once every REFRESH_MS. Null: the stream is
// (again) live and changes may have been missed, so the inspectors' positions are read again too.
export function onCaseChanged(data) {
  if (data === null && map?.getSource("inspectors")) loadPositions();
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    map?.getSource("cases")?.setTiles(caseTiles());
  }, REFRESH_MS);
}

// An inspector's new position (the stream's position event: the newest point of an upload): the inspector
// moves there and the shift's track of today grows by it; the upload's other points come with the next
// reading of the tracks.
export function onPosition(data) {
  if (!map?.getSource("inspectors")) return;
  const { lon, lat, ...properties } = data;
  const coordinates = [lon, lat];
  inspectors.set(data.user_id, {
    type: "Feature", id: data.user_id, geometry: { type: "Point", coordinates }, properties,
  });
  map.getSource("inspectors").setData(collection(inspectors));
  const track = tracks.get(data.client_uuid);
  if (track) track.geometry.coordinates.push(coordinates);
  else {
    tracks.set(data.client_uuid, {
      type: "Feature",
      id: data.client_uuid,
      geometry: { type: "LineString", coordinates: [coordinates] },
      properties: { client_uuid: data.client_uuid, user_id: data.user_id, user_name: data.user_name },
    });
  }
  map.getSource("tracks").setData(collection(tracks));
}

export function removeMap() {
  if (map) {
    map.remove();
    map = window.gridopsMap = null;
  }
  selected = null;
  inspectors.clear();
  tracks.clear();
  panel.hidden = true;
}
