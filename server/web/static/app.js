// The command center: a login form until logged in, then the grid map.
// Tokens live in sessionStorage (one login per tab); the device id in localStorage (one session per browser).
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";

const TOKENS = "gridops.tokens";
const DEVICE = "gridops.device";
// The zoom from which each level below the root is drawn; each deeper level two zooms later.
const LEVEL_ZOOMS = [0, 10, 12.5, 15];
const LEVEL_COLORS = ["#1f6feb", "#d97706", "#15803d", "#9333ea", "#dc2626", "#0e7490"];
// Labels are drawn by the browser from this local font: the style has no glyphs URL, so nothing is fetched.
const LABEL_FONT = "Noto Sans CJK SC, sans-serif";
const CHINA = [73, 18, 135, 54]; // the start view before any grid is imported
// The case layers: points by light from the server's cluster zoom on, clusters with their counts below.
const CASE_LAYERS = { cases: "cases-point", clusters: "cases-cluster", counts: "cases-count" };
const LIGHT_COLOR = [
  "match", ["get", "light"], "green", "#2e9d48", "yellow", "#e0a800", "red", "#d62828", "#8a949e",
];
const NO_FEATURES = { type: "FeatureCollection", features: [] };
window.gridopsLayers = CASE_LAYERS;

const loginForm = document.getElementById("login");
const appView = document.getElementById("app");
const filters = document.getElementById("filters");
const panel = document.getElementById("panel");
let map = null;
let selected = null; // the grid clicked on the map (its detail from the API), whose children are drawn

class LoggedOut extends Error {}

function tokens() {
  return JSON.parse(sessionStorage.getItem(TOKENS) || "null");
}

function keepTokens(answer) {
  sessionStorage.setItem(TOKENS, JSON.stringify(answer));
}

function deviceId() {
  let id = localStorage.getItem(DEVICE);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(DEVICE, id);
  }
  return id;
}

function postJson(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function refreshTokens() {
  const current = tokens();
  if (!current) return false;
  const answer = await postJson("/api/auth/refresh", { refresh_token: current.refresh_token });
  if (!answer.ok) return false;
  keepTokens(await answer.json());
  return true;
}

// An API call with the access token, refreshed once when it has expired; back to the login form when
// the login itself has ended.
async function api(path, options = {}) {
  const call = () =>
    fetch(path, {
      ...options,
      headers: { ...options.headers, Authorization: `Bearer ${tokens()?.access_token}` },
    });
  let answer = await call();
  if (answer.status === 401 && (await refreshTokens())) answer = await call();
  if (answer.status === 401) {
    showLogin("登录已过期，请重新登录");
    throw new LoggedOut();
  }
  return answer;
}

function showLogin(message = "") {
  sessionStorage.removeItem(TOKENS);
  if (map) {
    map.remove();
    map = window.gridopsMap = null;
  }
  selected = null;
  panel.hidden = true;
  appView.hidden = true;
  loginForm.hidden = false;
  loginForm.querySelector(".error").textContent = message;
}

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(loginForm);
  const answer = await postJson("/api/auth/login", {
    login: form.get("login"),
    password: form.get("password"),
    device_id: deviceId(),
    device_name: "指挥中心网页",
  });
  const body = await answer.json();
  if (!answer.ok) {
    loginForm.querySelector(".error").textContent = body.detail;
    return;
  }
  keepTokens(body);
  loginForm.reset();
  await start();
});

document.getElementById("logout").addEventListener("click", async () => {
  await api("/api/auth/logout", { method: "POST" });
  showLogin();
});

// -- the map --------------------------------------------------------------------------------------

function baseStyle(basemapUrl) {
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#eef1f4" } }],
  };
  if (basemapUrl) {
    style.sources.basemap = { type: "raster", tiles: [basemapUrl], tileSize: 256 };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  return style;
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
  const color = byLevel(levels, (i) => LEVEL_COLORS[i % LEVEL_COLORS.length]);
  map.addLayer({
    id: "grids-fill",
    type: "fill",
    source: "grids",
    paint: { "fill-color": color, "fill-opacity": 0.12 },
  });
  map.addLayer({
    id: "grids-line",
    type: "line",
    source: "grids",
    paint: { "line-color": color, "line-width": byLevel(levels, (i) => Math.max(0.8, 2.5 - 0.4 * i)) },
  });
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

let asked = 0; // the latest request for grids: an older answer is dropped

async function loadGrids(levels) {
  const level = levelShown(levels);
  const b = map.getBounds();
  const clamp = (v, limit) => Math.min(limit, Math.max(-limit, v)).toFixed(6);
  const bbox = [
    clamp(b.getWest(), 180), clamp(b.getSouth(), 85), clamp(b.getEast(), 180), clamp(b.getNorth(), 85),
  ];
  const mine = ++asked;
  const answer = await api(`/api/grids/bbox?bbox=${bbox.join(",")}&level=${encodeURIComponent(level.name)}`);
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

// The case tile URL with the filter bar's choices; a period's dates are whole local days.
function caseTiles() {
  const form = new FormData(filters);
  const query = new URLSearchParams();
  for (const name of ["state", "light"]) if (form.get(name)) query.set(name, form.get(name));
  if (form.get("since")) query.set("since", new Date(`${form.get("since")}T00:00`).toISOString());
  if (form.get("until")) {
    const end = new Date(`${form.get("until")}T00:00`);
    end.setDate(end.getDate() + 1);
    query.set("until", end.toISOString());
  }
  const filtered = query.size ? `?${query}` : "";
  return [`${location.origin}/tiles/cases/{z}/{x}/{y}.mvt${filtered}`];
}

function addCaseLayers() {
  map.addSource("cases", { type: "vector", tiles: caseTiles(), maxzoom: 16 });
  map.addLayer({
    id: CASE_LAYERS.clusters,
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
    id: CASE_LAYERS.counts,
    type: "symbol",
    source: "cases",
    "source-layer": "clusters",
    layout: { "text-field": ["to-string", ["get", "count"]], "text-size": 12, "text-allow-overlap": true },
    paint: { "text-color": "#1f2933", "text-halo-color": "#ffffff", "text-halo-width": 1.5 },
  });
  map.addLayer({
    id: CASE_LAYERS.cases,
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
}

filters.addEventListener("change", () => map?.getSource("cases")?.setTiles(caseTiles()));

// -- drill-down -----------------------------------------------------------------------------------

function boundsOf(geometry) {
  const points = geometry.coordinates.flat(geometry.type === "Polygon" ? 1 : 2);
  const start = new maplibregl.LngLatBounds(points[0], points[0]);
  return points.reduce((bounds, point) => bounds.extend(point), start);
}

function showPanel(levels, grid) {
  const names = (role) => grid.people.filter((p) => p.role === role).map((p) => p.name).join("、") || "无";
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

function showMap(config) {
  const levels = config.levels;
  const url = config.basemap_url;
  map = new maplibregl.Map({
    container: "map",
    // A tile URL goes under our plain style; any other URL is the city's own MapLibre style.
    style: url && !url.includes("{z}") ? url : baseStyle(url),
    bounds: config.bounds ?? CHINA,
    fitBoundsOptions: { padding: 20 },
    localIdeographFontFamily: LABEL_FONT,
    // The case tiles need the login; the token is read at each request, so a refreshed one is used.
    transformRequest: (url) =>
      url.startsWith(`${location.origin}/tiles/`)
        ? { url, headers: { Authorization: `Bearer ${tokens()?.access_token}` } }
        : undefined,
  });
  window.gridopsMap = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  map.on("load", () => {
    addGridLayers(levels);
    addCaseLayers();
    loadGrids(levels);
  });
  map.on("click", "grids-fill", (event) => selectGrid(levels, event.features[0].properties.code));
  document.getElementById("panel-close").onclick = () => unselectGrid(levels);
  map.on("moveend", () => {
    if (map.getSource("grids")) loadGrids(levels);
  });
}

async function start() {
  try {
    const me = await (await api("/api/auth/me")).json();
    const config = await (await fetch("/api/web/config")).json();
    document.getElementById("user").textContent = me.name;
    loginForm.hidden = true;
    appView.hidden = false;
    showMap(config);
  } catch (error) {
    if (!(error instanceof LoggedOut)) throw error;
  }
}

if (tokens()) start();
else showLogin();
