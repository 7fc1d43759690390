// The hotline desk (登记来电): an operator registers a citizen's phone call (12345). The caller's name and
// number are kept with the case and shown only to the command center; the place is found in the city's
// address register (a house number, a building, a named place) or by grid and street names, or set by a
// click on the map, which proposes the nearest register address; the category is picked by name. The call becomes a case
// through the same intake with channel "hotline" (its client UUID kept until the case is acknowledged, so
// a retried submit never makes a second case) and is sent for verification to the grid's inspector.
import { proposeNearest, placeSearch } from "/static/addresses.js";
import { apiJson, messageOf, sendJson } from "/static/api.js";
import { counted, el, openCase, URGENCY } from "/static/case.js";
import { placeMap } from "/static/placemap.js";

const dialog = el("dialog", { id: "hotline", "aria-label": "登记来电" });
document.body.append(dialog);
let categories = null;
let requestTypes = null;
let miniMap = null;
let point = null; // [lon, lat] of the place
let clientUuid = null; // this call's, until the server acknowledged its case

async function loadCategories() {
  if (!categories) {
    const [[, list], [, types]] = await Promise.all([apiJson("/api/categories"), apiJson("/api/request-types")]);
    categories = list.filter((c) => c.leaf); // cases are filed under the leaves of the category tree
    requestTypes = types;
  }
  return categories;
}

function categoryLabel(category) {
  return `${category.name}（${category.code}）`;
}

function say(message, kind = "error") {
  const box = dialog.querySelector(".message");
  box.textContent = message;
  box.className = `message ${kind}`;
  box.hidden = !message;
}

// The place: a marker on the map, the grid holding it and the nearest register address.
async function place(lonLat, zoom) {
  point = lonLat;
  miniMap.showPlace(...lonLat);
  if (zoom) miniMap.jumpTo({ center: lonLat, zoom });
  const near = dialog.querySelector(".near");
  const [[ok, found]] = await Promise.all([
    apiJson(`/api/grids/locate?lon=${lonLat[0]}&lat=${lonLat[1]}`),
    proposeNearest(near, ...lonLat, (text) => (dialog.querySelector("form").address.value = text)),
  ]);
  const where = dialog.querySelector(".where");
  where.textContent = ok ? found.chain.map((g) => g.name).join(" › ") : messageOf(found);
  where.dataset.grid = ok ? found.chain.at(-1).code : "";
}

function showMiniMap(config) {
  miniMap?.remove();
  miniMap = placeMap(dialog.querySelector(".hotline-map"), {
    bounds: config.bounds,
    onPick: (lon, lat) => place([lon, lat]),
    onReady: () => (dialog.dataset.ready = "true"),
  });
  window.gridopsHotlineMap = miniMap;
}

async function submit(form) {
  const data = new FormData(form);
  const category = categories.find((c) => categoryLabel(c) === data.get("category"));
  if (!category) return say("请从列表中选择问题类别");
  if (!point) return say("请先确定地点：搜索地址、地名或网格名称，或在地图上点选");
  clientUuid ??= crypto.randomUUID();
  const body = {
    client_uuid: clientUuid,
    channel: "hotline",
    category: category.code,
    lon: point[0],
    lat: point[1],
    description: data.get("description"),
    address: data.get("address") || null,
    reporter_name: data.get("caller") || null,
    reporter_phone: data.get("phone") || null,
  };
  if (data.get("urgency")) body.urgency = data.get("urgency");
  body.request_type = data.get("request_type");
  const [ok, made] = await sendJson("/api/cases", body);
  if (!ok) return say(messageOf(made));
  clientUuid = null; // acknowledged: the next call is a new case
  const [sent, verifying] = await sendJson(`/api/cases/${made.code}/actions/request_verification`, {
    version: made.version,
    note: "热线来电，请现场核实",
  });
  const result = dialog.querySelector(".result");
  result.replaceChildren(
    el("p", {}, "已登记，案件编号"),
    el("strong", { class: "case-code" }, made.code),
    el(
      "p",
      { class: sent ? "muted" : "message error" },
      sent ? `已派网格员 ${verifying.task_assignee} 现场核实` : `未能派核实：${messageOf(verifying)}`,
    ),
    el(
      "button",
      {
        type: "button",
        onclick: () => {
          dialog.close();
          openCase(made.code);
        },
      },
      "查看案件",
    ),
    el("button", { type: "button", onclick: () => openHotline() }, "登记下一个来电"),
  );
  form.hidden = true;
  result.hidden = false;
  dialog.dataset.code = made.code;
  document.getElementById("case-panel").dispatchEvent(new CustomEvent("acted", { bubbles: true }));
}

// Open the form for a new call.
export async function openHotline() {
  const [list, [, config]] = await Promise.all([loadCategories(), apiJson("/api/web/config")]);
  point = null;
  clientUuid = null;
  delete dialog.dataset.code;
  delete dialog.dataset.ready;
  const form = el(
    "form",
    { method: "dialog" },
    el("h2", {}, "登记来电"),
    el(
      "div",
      { class: "row" },
      el("label", {}, "来电人", el("input", { name: "caller", maxlength: 100 })),
      el("label", {}, "来电号码", el("input", { name: "phone", pattern: "\\+?[0-9]{5,20}", inputmode: "tel" })),
      el(
        "label",
        {},
        "诉求类型",
        el(
          "select",
          { name: "request_type" },
          requestTypes.map((t) => el("option", { value: t.code, selected: t.code === "complaint" }, t.name)),
        ),
      ),
    ),
    el(
      "label",
      {},
      "地点（地址、地名或网格名称）",
      el("input", {
        name: "place",
        type: "search",
        maxlength: 50,
        placeholder: "如：山大南路27号、恒隆广场、解放桥社区",
      }),
    ),
    el("ul", { class: "results" }),
    el("div", { class: "hotline-map" }),
    el("p", { class: "where muted" }, "在地图上点选地点"),
    el("p", { class: "near muted" }),
    el("label", {}, "地址说明", el("input", { name: "address", maxlength: 200 })),
    el(
      "div",
      { class: "row" },
      el(
        "label",
        {},
        "问题类别",
        el("input", { name: "category", list: "hotline-categories", required: true, maxlength: 100 }),
        el("datalist", { id: "hotline-categories" }, list.map((c) => el("option", { value: categoryLabel(c) }))),
      ),
      el(
        "label",
        {},
        "紧急程度",
        el(
          "select",
          { name: "urgency" },
          el("option", { value: "" }, "按类别默认"),
          Object.entries(URGENCY).map(([v, t]) => el("option", { value: v }, t)),
        ),
      ),
    ),
    el(
      "label",
      {},
      "问题描述",
      counted(el("textarea", { name: "description", rows: 3, required: true, maxlength: 2000 })),
    ),
    el("p", { class: "message", role: "alert", hidden: true }),
    el(
      "div",
      { class: "buttons" },
      el("button", { type: "submit" }, "登记并派核实"),
      el("button", { type: "button", onclick: () => dialog.close() }, "取消"),
    ),
  );
  placeSearch(form.place, form.querySelector(".results"), ({ lon, lat, zoom, text }) => {
    if (text) form.address.value = text;
    place([lon, lat], zoom);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form);
  });
  dialog.replaceChildren(form, el("div", { class: "result", hidden: true }));
  dialog.showModal();
  showMiniMap(config);
}

dialog.addEventListener("close", () => {
  miniMap?.remove();
  miniMap = null;
});
