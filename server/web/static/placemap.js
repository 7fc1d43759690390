// Maps on a plain background, labels in the system's CJK font, and the city's base layers when the server
// configures some (``addBaseLayers``: nothing is fetched from elsewhere without them; a local package comes
// from our own routes). ``placeMap`` adds what picking a place needs: the first base layer and the overlays,
// the grids around the view (streets far out, villages, then unit grids close up), a marker for the place and
// a click that picks it. Used by the desk, the dashboard, the hotline desk and the citizens' report page.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { fetchInCity } from "/static/api.js";

export const PLAIN_STYLE = {
  version: 8,
  sources: {},
  layers: [{ id: "background", type: "background", paint: { "background-color": "#eef1f4" } }],
};
// MapLibre's own words (its controls' titles and labels), in Chinese.
export const MAP_LOCALE = {
  "AttributionControl.ToggleAttribution": "显示或隐藏地图来源",
  "AttributionControl.MapFeedback": "地图反馈",
  "FullscreenControl.Enter": "全屏",
  "FullscreenControl.Exit": "退出全屏",
  "GeolocateControl.FindMyLocation": "定位到我的位置",
  "GeolocateControl.LocationNotAvailable": "无法获取位置",
  "LogoControl.Title": "MapLibre 标志",
  "Map.Title": "地图",
  "Marker.Title": "地图标记",
  "NavigationControl.ResetBearing": "拖动旋转地图，点击恢复正北",
  "NavigationControl.ZoomIn": "放大",
  "NavigationControl.ZoomOut": "缩小",
  "Popup.Close": "关闭",
  "ScaleControl.Meters": "米",
  "ScaleControl.Kilometers": "千米",
  "CooperativeGesturesHandler.WindowsHelpText": "按住 Ctrl 并滚动鼠标滚轮缩放地图",
  "CooperativeGesturesHandler.MacHelpText": "按住 ⌘ 并滚动鼠标滚轮缩放地图",
  "CooperativeGesturesHandler.MobileHelpText": "用两根手指移动地图",
};
const CITY = [116.8, 36.5, 117.3, 36.8]; // the start view when the server names none
const NO_FEATURES = { type: "FeatureCollection", features: [] };

export function plainMap(options) {
  return new maplibregl.Map({
    style: PLAIN_STYLE,
    localIdeographFontFamily: "Noto Sans CJK SC, sans-serif",
    attributionControl: false,
    locale: MAP_LOCALE,
    ...options,
  });
}

// -- base layers ---------------------------------------------------------------------------------------

// Our own routes come as paths; MapLibre asks for tiles from its worker, which needs whole URLs (written by
// hand: the URL class would escape the {z}/{x}/{y} of a template).
const whole = (url) => (url.startsWith("/") ? `${location.origin}${url}` : url);

// A raster layer: its one source and layer.
function rasterParts(basemap) {
  const id = `basemap-${basemap.id}`;
  const source = { type: "raster", tiles: basemap.tiles.map(whole), tileSize: basemap.tile_size };
  for (const key of ["minzoom", "maxzoom", "bounds", "attribution"]) {
    if (basemap[key] !== null && basemap[key] !== undefined) source[key] = basemap[key];
  }
  return { sources: { [id]: source }, layers: [{ id, type: "raster", source: id }] };
}

// A MapLibre style (a city's, or our vector package's): its sources and layers renamed to be this layer's.
// Its glyphs and sprite are not taken (labels use the local font); an overlay's background would hide the
// base, so it is left out.
async function styleParts(basemap) {
  const style = await (await fetch(whole(basemap.style))).json();
  const prefix = `basemap-${basemap.id}-`;
  const sources = {};
  for (const [name, source] of Object.entries(style.sources ?? {})) {
    sources[prefix + name] = { ...source, ...(source.tiles ? { tiles: source.tiles.map(whole) } : {}) };
    if (basemap.attribution) sources[prefix + name].attribution = basemap.attribution;
  }
  const layers = (style.layers ?? [])
    .filter((layer) => !(basemap.group === "overlay" && layer.type === "background"))
    .map((layer) => ({ ...layer, id: prefix + layer.id, ...(layer.source ? { source: prefix + layer.source } : {}) }));
  return { sources, layers };
}

// Show one base layer (none: the plain background) and hide the others.
export function showBase(map, added, id) {
  for (const { basemap, ids } of added) {
    if (basemap.group === "base") setVisible(map, ids, basemap.id === id);
  }
}

export function setVisible(map, ids, visible) {
  for (const id of ids) map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
}

// Add the base layers under the layer ``beforeId``, the base ones first and the overlays over them; the first
// base layer and the overlays shown. A layer whose style cannot be read is left out (the map works without
// it). Returns what was added, ``[{ basemap, ids }]``, for a switcher.
export async function addBaseLayers(map, basemaps, beforeId) {
  const ordered = [...basemaps.filter((b) => b.group === "base"), ...basemaps.filter((b) => b.group !== "base")];
  const first = ordered.find((b) => b.group === "base");
  const added = [];
  for (const basemap of ordered) {
    let parts;
    try {
      parts = basemap.kind === "raster" ? rasterParts(basemap) : await styleParts(basemap);
    } catch (error) {
      console.warn(`底图 ${basemap.name} 的样式读不到，不显示`, error);
      continue;
    }
    if (!map.getLayer(beforeId)) return added; // the map was closed meanwhile
    if (!parts.layers.length) continue;
    for (const [id, source] of Object.entries(parts.sources)) map.addSource(id, source);
    const visibility = basemap.group === "overlay" || basemap === first ? "visible" : "none";
    for (const layer of parts.layers) map.addLayer({ ...layer, layout: { ...layer.layout, visibility } }, beforeId);
    added.push({ basemap, ids: parts.layers.map((layer) => layer.id) });
  }
  return added;
}

// The configuration (base layers, start view), read once per page: the route is open, so the citizens'
// page reads it too.
let config = null;
function webConfig() {
  config ??= fetchInCity("/api/web/config").then((answer) => (answer.ok ? answer.json() : { basemaps: [] }));
  return config;
}

// -- picking a place -------------------------------------------------------------------------------------

async function loadGrids(map) {
  const zoom = map.getZoom();
  const level = zoom < 12.5 ? "street" : zoom < 14.5 ? "village" : "unit";
  const b = map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  const answer = await fetchInCity(`/api/grids/bbox?bbox=${bbox}&level=${level}`);
  if (answer.ok) map.getSource("grids")?.setData(await answer.json());
}

// A map to pick a place on; ``onPick(lon, lat)`` on a click, ``onReady()`` once drawn. ``map.showPlace(lon,
// lat)`` moves the marker.
export function placeMap(container, { bounds, onPick, onReady }) {
  const map = plainMap({ container, bounds: bounds ?? CITY });
  map.on("load", () => {
    map.addSource("grids", { type: "geojson", data: NO_FEATURES });
    map.addLayer({ id: "grids", type: "line", source: "grids", paint: { "line-color": "#9333ea" } });
    map.addLayer({
      id: "grid-names",
      type: "symbol",
      source: "grids",
      layout: { "text-field": ["get", "name"], "text-size": 11 },
      paint: { "text-color": "#57606a", "text-halo-color": "#fff", "text-halo-width": 1 },
    });
    map.addSource("place", { type: "geojson", data: NO_FEATURES });
    map.addLayer({
      id: "place",
      type: "circle",
      source: "place",
      paint: {
        "circle-radius": 8,
        "circle-color": "#d62828",
        "circle-stroke-color": "#fff",
        "circle-stroke-width": 2,
      },
    });
    loadGrids(map);
    onReady?.();
    // The first base layer and the overlays, under the grids.
    webConfig().then(({ basemaps }) => {
      const first = basemaps.find((b) => b.group === "base");
      return addBaseLayers(map, basemaps.filter((b) => b === first || b.group === "overlay"), "grids");
    });
  });
  map.on("moveend", () => loadGrids(map));
  map.on("click", (event) => onPick(event.lngLat.lng, event.lngLat.lat));
  map.showPlace = (lon, lat) => map.getSource("place")?.setData({ type: "Point", coordinates: [lon, lat] });
  return map;
}
