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

const loginForm = document.getElementById("login");
const appView = document.getElementById("app");
let map = null;

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

function byLevel(levels, values) {
  return ["match", ["get", "level"], ...levels.flatMap((level, i) => [level.name, values(i)]), values(0)];
}

function addGridLayers(levels) {
  map.addSource("grids", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
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
}

let asked = 0; // the latest request for grids: an older answer is dropped

async function loadGrids(levels) {
  const level = levelAt(levels, map.getZoom());
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
  });
  window.gridopsMap = map;
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-left");
  map.on("load", () => {
    addGridLayers(levels);
    loadGrids(levels);
  });
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
