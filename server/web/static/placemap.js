// Maps without any tile server: a plain background, labels in the system's CJK font. ``placeMap`` adds what
// picking a place needs: the grids around the view (streets far out, villages, then unit grids close up),
// a marker for the place and a click that picks it. Used by the desk, the dashboard, the hotline desk and
// the citizens' report page.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";

const PLAIN_STYLE = {
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

async function loadGrids(map) {
  const zoom = map.getZoom();
  const level = zoom < 12.5 ? "street" : zoom < 14.5 ? "village" : "unit";
  const b = map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
  const answer = await fetch(`/api/grids/bbox?bbox=${bbox}&level=${level}`);
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
  });
  map.on("moveend", () => loadGrids(map));
  map.on("click", (event) => onPick(event.lngLat.lng, event.lngLat.lat));
  map.showPlace = (lon, lat) => map.getSource("place")?.setData({ type: "Point", coordinates: [lon, lat] });
  return map;
}
