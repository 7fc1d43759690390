// The city's address register in the pages that place a problem (the hotline desk and the citizens' report
// page): places found as one types (register addresses and named places first, then grids and streets by
// name), and the register address nearest to a point picked on the map.
import { fetchInCity } from "/static/api.js";
import { el } from "/static/case.js";

const TYPING_MS = 250;
const NEAR_RADIUS_M = 150;
const ZOOM = { unit: 17, village: 15 };

async function getJson(url) {
  const answer = await fetchInCity(url);
  return [answer.ok, await answer.json()];
}

// What a suggestion says under its name: the kind, the full address of a named place, the community.
function addressNote(address) {
  const community = address.grids.findLast((g) => g.level === "village")?.name;
  const parts = [address.kind_label, address.name ? address.text : null, community];
  if (address.approximate) parts.push("大致位置");
  return parts.filter(Boolean).join(" · ");
}

function suggestion(label, note, data, onclick) {
  const button = el("button", { type: "button", ...data, onclick }, label, el("span", { class: "muted" }, ` ${note}`));
  return el("li", {}, button);
}

// Suggestions for ``input`` as it is typed, listed in ``list``; a choice calls ``onPick`` with {lon, lat, zoom,
// text}: ``text`` is the address to keep with the case (none for a grid, which is an area, not an address).
export function placeSearch(input, list, onPick) {
  let typing = null;
  let asked = 0; // the latest search: an older answer arriving late is dropped
  const pick = (place) => {
    list.replaceChildren();
    onPick(place);
  };
  async function suggest(text) {
    const mine = ++asked;
    if (!text) return list.replaceChildren();
    const q = encodeURIComponent(text);
    const [[okAddresses, addresses], [okGrids, grids]] = await Promise.all([
      getJson(`/api/addresses/search?q=${q}&limit=8`),
      getJson(`/api/grids/search?q=${q}&limit=8`),
    ]);
    if (mine !== asked) return;
    if (!okAddresses) return list.replaceChildren(el("li", { class: "muted" }, addresses.detail));
    const items = [
      ...addresses.map((a) =>
        suggestion(a.label, addressNote(a), { "data-address": a.register_id }, () =>
          pick({ lon: a.lon, lat: a.lat, zoom: 18, text: a.name ? `${a.name}（${a.text}）` : a.text }),
        ),
      ),
      ...(okGrids ? grids : []).map((g) =>
        suggestion(g.name, `网格 ${g.code}`, { "data-grid": g.code }, () =>
          pick({ lon: g.lon, lat: g.lat, zoom: ZOOM[g.level] ?? 13, text: null }),
        ),
      ),
    ];
    const none = el("li", { class: "muted" }, "没有找到相符的地址或网格：换个说法，或在地图上点选");
    list.replaceChildren(...(items.length ? items : [none]));
  }
  input.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => suggest(input.value.trim()), TYPING_MS);
  });
}

// The register address nearest to the point (within NEAR_RADIUS_M), or null.
export async function nearestAddress(lon, lat) {
  const query = `lon=${lon}&lat=${lat}&radius=${NEAR_RADIUS_M}&limit=1`;
  const [ok, found] = await getJson(`/api/addresses/nearest?${query}`);
  return ok && found.length ? found[0] : null;
}

// A proposal of the address nearest to a picked point, in ``box``: its words and a button that hands the
// address to ``use``; emptied when there is none.
export async function proposeNearest(box, lon, lat, use) {
  const address = await nearestAddress(lon, lat);
  if (!address) {
    box.replaceChildren("附近 150 米内没有登记的地址");
    return;
  }
  const text = address.name ? `${address.name}（${address.text}）` : address.text;
  box.replaceChildren(
    `最近的登记地址：${address.label}（约 ${Math.round(address.distance_m)} 米）`,
    el("button", { type: "button", class: "link", onclick: () => use(text) }, "用这个地址"),
  );
}
