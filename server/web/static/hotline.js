// The hotline desk (登记来电): an operator registers a citizen's phone call (12345). The caller's name and
// number are kept with the case and shown only to the command center; the place is found in the city's
// address register (a house number, a building, a named place) or by grid and street names, or set by a
// click on the map, which proposes the nearest register address; the category is picked by name. The call becomes a case
// through the same intake with channel "hotline" (its client UUID kept until the case is acknowledged, so
// a retried submit never makes a second case) and is sent for verification to the grid's inspector.
// As the operator types the description, the triage suggests categories (a click accepts one), the urgency,
// similar cases nearby and the knowledge base's answers; a 咨询 is answered from one of them and closed in
// the same step (答复办结) instead of being sent for verification.
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
let asking = null; // the triage request under way (aborted when the text changes again)
let typing = null; // the debounce timer of the description
const TRIAGE_DELAY_MS = 300;
const TRIAGE_MIN_CHARS = 4;

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
  suggest(); // the place changes the department, the urgency and the cases nearby
}

function consulting() {
  return dialog.querySelector("form")?.request_type.value === "consult";
}

// Ask the triage about the description as typed (and the place, when chosen); a newer question aborts this
// one. Short texts are not asked about.
async function suggest() {
  const form = dialog.querySelector("form");
  const box = dialog.querySelector(".triage");
  const text = form?.description.value.trim() ?? "";
  asking?.abort();
  if (text.length < TRIAGE_MIN_CHARS) {
    box?.replaceChildren();
    return;
  }
  asking = new AbortController();
  const body = { text, channel: "hotline" };
  if (point) [body.lon, body.lat] = point;
  let answer;
  try {
    answer = await apiJson("/api/triage/suggest", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: asking.signal,
    });
  } catch (error) {
    if (error.name === "AbortError") return; // a newer text is being asked about
    throw error;
  }
  const [ok, found] = answer;
  if (!ok) return box.replaceChildren(el("p", { class: "muted" }, `暂时没有智能建议：${messageOf(found)}`));
  await showSuggestions(found);
}

function percent(score) {
  return `${Math.round(score * 100)}%`;
}

// Accept a suggested category: the category input takes it, and the suggestion shows it was taken.
function accept(code) {
  const form = dialog.querySelector("form");
  const category = categories.find((c) => c.code === code);
  if (!category) return;
  form.category.value = categoryLabel(category);
  for (const button of dialog.querySelectorAll(".triage .suggested-category")) {
    button.classList.toggle("accepted", button.dataset.code === code);
    button.setAttribute("aria-pressed", String(button.dataset.code === code));
  }
}

async function showSuggestions(found) {
  const box = dialog.querySelector(".triage");
  const chosen = dialog.querySelector("form").category.value;
  const sections = [];
  if (found.categories.length) {
    sections.push(
      el("h4", {}, found.model_version ? "建议类别（点选采用）" : "建议类别（按类别名称和别名，点选采用）"),
      el(
        "div",
        { class: "suggested-categories" },
        found.categories.map((c) => {
          const taken = categories.some((k) => k.code === c.code && categoryLabel(k) === chosen);
          return el(
            "button",
            {
              type: "button",
              class: `suggested-category${taken ? " accepted" : ""}`,
              "data-code": c.code,
              "aria-pressed": String(taken),
              title: c.department ? `处置部门：${c.department.name}` : "处置部门由派遣员确定",
              onclick: () => accept(c.code),
            },
            el("strong", {}, c.name),
            ` ${percent(c.score)}`,
            el("small", { class: "muted" }, c.trail.join(" › ")),
            c.words.length ? el("small", { class: "why" }, `依据：${c.words.join("、")}`) : null,
          );
        }),
      ),
    );
  }
  if (found.urgency) sections.push(el("p", { class: "suggested-urgency" }, `建议紧急程度：${found.urgency.label}`));
  if (found.duplicates.length) {
    sections.push(
      el("h4", {}, "附近相似案件"),
      el(
        "ul",
        { class: "suggested-duplicates" },
        found.duplicates.map((d) =>
          el(
            "li",
            {},
            el(
              "button",
              {
                type: "button",
                class: "link",
                "data-code": d.code,
                onclick: () => {
                  dialog.close();
                  openCase(d.code);
                },
              },
              d.code,
            ),
            ` ${d.state_label}${d.distance_m == null ? "" : `，相距 ${Math.round(d.distance_m)} 米`}：${d.description}`,
          ),
        ),
      ),
    );
  }
  if (found.answers.length) {
    const templates = await Promise.all(found.answers.map((a) => apiJson(`/api/answers/${a.id}`)));
    sections.push(
      el("h4", {}, consulting() ? "答复模板（点选填入答复内容）" : "知识库答复"),
      el(
        "ul",
        { class: "suggested-answers" },
        templates
          .filter(([ok]) => ok)
          .map(([, t]) =>
            el(
              "li",
              {},
              el(
                "button",
                { type: "button", class: "link", "data-template": t.id, onclick: () => useTemplate(t) },
                t.title,
              ),
              el("small", { class: "muted" }, ` 已用 ${t.use_count} 次`),
              el("p", { class: "preview muted" }, t.body),
            ),
          ),
      ),
    );
  }
  box.replaceChildren(...sections);
}

// A template chosen for a 咨询's reply: its text in the reply box, to edit before answering.
function useTemplate(template) {
  const form = dialog.querySelector("form");
  if (!consulting()) {
    form.request_type.value = "consult";
    consultChanged();
  }
  form.reply.value = template.body;
  form.reply.dispatchEvent(new Event("input"));
  form.dataset.template = template.id;
}

// A 咨询 is answered at once: the reply box shows and the button says so.
function consultChanged() {
  const form = dialog.querySelector("form");
  const consult = consulting();
  form.querySelector(".reply").hidden = !consult;
  form.reply.required = consult;
  form.querySelector("button[type=submit]").textContent = consult ? "登记并答复办结" : "登记并派核实";
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
  const result = dialog.querySelector(".result");
  let outcome;
  if (body.request_type === "consult") {
    const reply = { version: made.version, reply: data.get("reply") };
    if (form.dataset.template) reply.template_id = Number(form.dataset.template);
    const [answered, closed] = await sendJson(`/api/cases/${made.code}/actions/answer`, reply);
    outcome = answered
      ? el("p", { class: "muted answered" }, "已答复来电人，案件已办结（答复内容在市民查询页可见）")
      : el("p", { class: "message error" }, `未能答复办结：${messageOf(closed)}`);
  } else {
    const [sent, verifying] = await sendJson(`/api/cases/${made.code}/actions/request_verification`, {
      version: made.version,
      note: "热线来电，请现场核实",
    });
    outcome = el(
      "p",
      { class: sent ? "muted" : "message error" },
      sent ? `已派网格员 ${verifying.task_assignee} 现场核实` : `未能派核实：${messageOf(verifying)}`,
    );
  }
  result.replaceChildren(
    el("p", {}, "已登记，案件编号"),
    el("strong", { class: "case-code" }, made.code),
    outcome,
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
          { name: "request_type", onchange: () => consultChanged() },
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
    el("div", { class: "triage", "aria-live": "polite" }),
    el(
      "label",
      { class: "reply", hidden: true },
      "答复内容（市民查询可见；{案件编号}等占位符按案件填写）",
      counted(el("textarea", { name: "reply", rows: 4, maxlength: 2000 })),
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
  form.description.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(suggest, TRIAGE_DELAY_MS);
  });
  dialog.replaceChildren(form, el("div", { class: "result", hidden: true }));
  dialog.showModal();
  showMiniMap(config);
}

dialog.addEventListener("close", () => {
  clearTimeout(typing);
  asking?.abort();
  miniMap?.remove();
  miniMap = null;
});
