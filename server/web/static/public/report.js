// The citizens' report page: photos, the place (an address or a place name from the city's address register,
// my location, a tap on the map, which proposes the nearest register address, or a pasted coordinate),
// a category (suggested from the description as it is typed), a description and an optional phone, sent as
// one multipart POST. The report's client UUID
// is made once and reused on every retry until an answer arrives, so a retry never makes a second case.
// A refusal is shown as the server words it.
import { placeSearch, proposeNearest } from "/static/addresses.js";
import { fetchInCity } from "/static/api.js";
import { el } from "/static/case.js";
import { placeMap } from "/static/placemap.js";
import { limitLength, loadLimits } from "/static/public/limits.js";
import { fitForUpload } from "/static/public/photos.js";
import { keepReporterToken } from "/static/public/tokens.js";

const form = document.querySelector("#report");
const error = form.querySelector(".error");
const where = document.querySelector("#where");
const near = document.querySelector("#near");
const hints = document.querySelector("#category-hints");
let place = null; // { lon, lat, crs }
let map = null;

function showPlace(lon, lat, crs, how) {
  place = { lon, lat, crs };
  where.textContent = `${how}：${lon.toFixed(6)}, ${lat.toFixed(6)}${crs === "gcj02" ? "（GCJ-02）" : ""}`;
  where.dataset.lon = lon;
  where.dataset.lat = lat;
  // A place no map has (latitude and longitude swapped) is not drawn: the server says what is wrong.
  if (crs === "wgs84" && Math.abs(lat) <= 90 && Math.abs(lon) <= 180) {
    map?.showPlace(lon, lat);
    if (how !== "所选地址") proposeNearest(near, lon, lat, (text) => (form.address.value = text));
  }
}

placeSearch(form.address, document.querySelector("#address-results"), ({ lon, lat, zoom, text }) => {
  if (text) form.address.value = text;
  near.replaceChildren();
  showPlace(lon, lat, "wgs84", "所选地址");
  map?.jumpTo({ center: [lon, lat], zoom });
});

async function loadCategories() {
  const [list, types] = await Promise.all(
    ["/api/public/categories", "/api/request-types"].map(async (url) => (await fetchInCity(url)).json()),
  );
  form.category.replaceChildren(
    el("option", { value: "" }, "请选择"),
    ...list.map((c) => el("option", { value: c.code }, c.label)),
  );
  form.request_type.replaceChildren(
    ...types.map((t) => el("option", { value: t.code, selected: t.code === "complaint" || null }, t.name)),
  );
}

// The categories the description suggests (POST /api/public/triage), once typing pauses, among those the form
// offers: "可能是：" and a button each that picks it. A newer text aborts the request of an older one; an
// error or no answer shows nothing (the citizen picks the category as before).
let pause = 0;
let asking = null;

async function suggestCategories() {
  asking?.abort();
  const text = form.description.value.trim();
  if (text.length < 4) return hints.replaceChildren();
  const request = (asking = new AbortController());
  const at = place?.crs === "wgs84" ? { lon: place.lon, lat: place.lat } : {};
  let found = [];
  try {
    const answer = await fetchInCity("/api/public/triage", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, ...at }),
      signal: request.signal,
    });
    if (answer.ok) found = (await answer.json()).categories;
  } catch {
    // aborted by a newer text, or no answer: nothing to suggest
  }
  if (request.signal.aborted) return;
  const offered = new Map([...form.category.options].map((o) => [o.value, o.textContent]));
  offered.delete(""); // 请选择
  const button = (code) =>
    el("button", { type: "button", "data-code": code, onclick: () => (form.category.value = code) }, offered.get(code));
  const buttons = found
    .map((c) => c.code)
    .filter((code) => offered.has(code))
    .slice(0, 3)
    .map(button);
  hints.replaceChildren(...(buttons.length ? ["可能是：", ...buttons, "（点一下即可选为问题类别）"] : []));
}

form.description.addEventListener("input", () => {
  clearTimeout(pause);
  pause = setTimeout(suggestCategories, 400);
});

async function showLimits() {
  const limits = await loadLimits();
  limitLength(form.description, limits.description_max_length);
  document.querySelector("#max-photos").textContent = `，最多 ${limits.max_photos} 张`;
}

async function showMap() {
  const config = await (await fetchInCity("/api/web/config")).json();
  map = placeMap("map", {
    bounds: config.bounds,
    onPick: (lon, lat) => showPlace(lon, lat, "wgs84", "地图选点"),
    onReady: () => (form.dataset.ready = "true"),
  });
  window.gridopsPublicMap = map;
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
  body.append("request_type", form.request_type.value);
  if (form.address.value.trim()) body.append("address", form.address.value.trim());
  if (form.phone.value.trim()) body.append("phone", form.phone.value.trim());
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    for (const file of form.photos.files) body.append("photos", await fitForUpload(file));
    const answer = await fetchInCity("/api/public/reports", { method: "POST", body });
    const result = await answer.json();
    if (!answer.ok) {
      error.textContent = result.detail;
      // Sent before with other content: the next try is a report of its own.
      if (result.code === "public.report_changed") sessionStorage.removeItem("gridops.public.pending");
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
showLimits();
showMap();
