// The citizens' report page: photos, the place (my location, a tap on the map or a pasted coordinate),
// a category, a description and an optional phone, sent as one multipart POST. The report's client UUID
// is made once and reused on every retry until an answer arrives, so a retry never makes a second case.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { el } from "/static/case.js";
import { keepReporterToken } from "/static/public/tokens.js";

const form = document.querySelector("#report");
const error = form.querySelector(".error");
const where = document.querySelector("#where");
let place = null; // { lon, lat, crs }
let map = null;

function showPlace(lon, lat, crs, how) {
  place = { lon, lat, crs };
  where.textContent = `${how}：${lon.toFixed(6)}, ${lat.toFixed(6)}${crs === "gcj02" ? "（GCJ-02）" : ""}`;
  where.dataset.lon = lon;
  where.dataset.lat = lat;
  if (crs === "wgs84" && map?.getSource("place")) {
    map.getSource("place").setData({ type: "Point", coordinates: [lon, lat] });
  }
}

async function loadCategories() {
  const list = await (await fetch("/api/public/categories")).json();
  form.category.replaceChildren(
    el("option", { value: "" }, "请选择"),
    ...list.map((c) => el("option", { value: c.code }, c.label)),
  );
}

// The grids on a plain background: streets when far, villages, then unit grids when close.
async function loadGrids() {
  const zoom = map.getZoom();
  const level = zoom < 12.5 ? "street" : zoom < 14.5 ? "village" : "unit";
  const b = map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  const answer = await fetch(`/api/grids/bbox?bbox=${bbox}&level=${level}`);
  if (answer.ok) map.getSource("grids").setData(await answer.json());
}

async function showMap() {
  const config = await (await fetch("/api/web/config")).json();
  map = new maplibregl.Map({
    container: "map",
    style: {
      version: 8,
      sources: {},
      layers: [{ id: "bg", type: "background", paint: { "background-color": "#eef1f4" } }],
    },
    bounds: config.bounds ?? [116.8, 36.5, 117.3, 36.8],
    localIdeographFontFamily: "Noto Sans CJK SC, sans-serif",
    attributionControl: false,
  });
  window.gridopsPublicMap = map;
  map.on("load", () => {
    map.addSource("grids", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({ id: "grids", type: "line", source: "grids", paint: { "line-color": "#9333ea" } });
    map.addSource("place", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
    map.addLayer({
      id: "place",
      type: "circle",
      source: "place",
      paint: { "circle-radius": 8, "circle-color": "#d62828", "circle-stroke-color": "#fff", "circle-stroke-width": 2 },
    });
    loadGrids();
    form.dataset.ready = "true";
  });
  map.on("moveend", loadGrids);
  map.on("click", (event) => showPlace(event.lngLat.lng, event.lngLat.lat, "wgs84", "地图选点"));
}

document.querySelector("#locate").addEventListener("click", () => {
  if (!navigator.geolocation) {
    error.textContent = "这个浏览器不能定位，请在地图上点选位置";
    return;
  }
  navigator.geolocation.getCurrentPosition(
    (position) => {
      const { longitude, latitude } = position.coords;
      showPlace(longitude, latitude, "wgs84", "我的位置");
      map?.flyTo({ center: [longitude, latitude], zoom: 16 });
    },
    () => (error.textContent = "无法获取位置，请允许定位或在地图上点选位置"),
  );
});

function pasted() {
  const parts = form.coords.value.split(/[,，\s]+/).filter(Boolean).map(Number);
  if (parts.length !== 2 || parts.some((v) => !Number.isFinite(v))) return false;
  showPlace(parts[0], parts[1], form.crs.value, "粘贴坐标");
  return true;
}
form.coords.addEventListener("change", pasted);
form.crs.addEventListener("change", () => form.coords.value && pasted());

// The client UUID of the report being sent: kept until an answer names its case.
function clientUuid() {
  let id = sessionStorage.getItem("gridops.public.pending");
  if (!id) {
    id = crypto.randomUUID();
    sessionStorage.setItem("gridops.public.pending", id);
  }
  return id;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  if (!place) {
    error.textContent = "请先选择问题的位置";
    return;
  }
  const body = new FormData();
  body.append("client_uuid", clientUuid());
  body.append("category", form.category.value);
  body.append("lon", place.lon);
  body.append("lat", place.lat);
  body.append("crs", place.crs);
  body.append("description", form.description.value.trim());
  if (form.phone.value.trim()) body.append("phone", form.phone.value.trim());
  for (const file of form.photos.files) body.append("photos", file);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await fetch("/api/public/reports", { method: "POST", body });
    const result = await answer.json();
    if (!answer.ok) {
      error.textContent = typeof result.detail === "string" ? result.detail : "提交失败，请检查填写内容";
      return;
    }
    sessionStorage.removeItem("gridops.public.pending");
    keepReporterToken(result.code, result.reporter_token);
    const done = document.querySelector("#done");
    done.querySelector(".code").textContent = result.code;
    done.querySelector("a.track").href = result.track_url;
    done.dataset.code = result.code;
    form.hidden = true;
    done.hidden = false;
  } catch {
    error.textContent = "网络不通，请稍后再点提交（不会重复上报）";
  } finally {
    button.disabled = false;
  }
});

loadCategories();
showMap();
