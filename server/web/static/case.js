// The case panel: a case's facts, its photos before and after side by side, its place on a small map, its
// timeline, its duplicate candidates and tags, and exactly the actions this user may take now (the others
// that the case's state allows are shown disabled with the server's reason). It follows the case live: a
// change made elsewhere reloads the panel, or, while an action form is open, says so and keeps the form, so
// that nobody acts on a stale case without being told (the server refuses it with 409, shown here).
import { api, apiJson, messageOf, sendJson } from "/static/api.js";
import { plainMap } from "/static/placemap.js";

const panel = document.getElementById("case-panel");
// Actions worked in their own part of the panel rather than as buttons.
const OWN_SECTION = new Set(["merge", "keep_apart", "tag", "untag"]);
// Actions taken on any open case whoever works it: they leave the line saying who works it in place.
const SUPERVISING = new Set(["supervise", "urge"]);
export const URGENCY = { urgent: "紧急", important: "重要", normal: "一般" };
const CHANNEL = {
  inspector: "网格员上报",
  citizen: "市民上报",
  hotline: "热线",
  system: "系统",
  open311: "Open311",
};
const LIGHT = { green: "绿灯", yellow: "黄灯", red: "红灯" };
// How a case's limits are counted, said after its remaining time (working time is the usual case).
const CLOCK = { work: "", natural: "（自然时间，节假日照常计时）" };
// The timeline's entries that are not actions of the workflow.
const EVENTS = { report: "上报", add_photo: "上传照片" };
const PHOTO_ROLES = { before: "处置前", verification: "核实", after: "处置后", check: "核查" };
// The levels of supervision (督办), and their colours from mild to the most serious (挂牌).
const SUPERVISION_LEVELS = { 1: "一般督办", 2: "重点督办", 3: "挂牌督办" };
const SUPERVISION_COLORS = { 1: "#b7791f", 2: "#dd6b20", 3: "#c53030" };

let workflow = null; // states and actions with their labels and form fields, from the server, read once
let lists = null; // the tags, read once (the departments a case may go to are asked for each form)
let shown = null; // the case on the panel (its detail)
let formOpen = false;
let miniMap = null;
let revealed = null; // the caller shown in full on this panel: { code, text }, asked for once
const blobs = [];

async function reference() {
  if (!workflow) {
    const [, flow] = await apiJson("/api/cases/workflow");
    workflow = {
      states: Object.fromEntries(flow.states.map((s) => [s.name, s])),
      actions: Object.fromEntries(flow.actions.map((a) => [a.name, a])),
      common: flow.common,
    };
    const [, tags] = await apiJson("/api/tags");
    lists = { tags };
  }
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// A text box with its length limit shown as it is typed (the server refuses a longer text anyway).
export function counted(input) {
  const limit = Number(input.getAttribute("maxlength"));
  const hint = el("small", { class: "count muted" }, `最多 ${limit} 字`);
  input.addEventListener("input", () => {
    hint.textContent = `已输入 ${input.value.length} / ${limit} 字`;
  });
  return [input, hint];
}

// A working-time length as the server takes it ("30m", "4h", "1.5d") in words.
const UNITS = { m: "分钟", h: "小时", d: "个工作日" };
function duration(text) {
  const [, value, unit] = /^\s*([0-9.]+)\s*([mhd])\s*$/i.exec(text) ?? [];
  return unit ? `${value} ${UNITS[unit.toLowerCase()]}` : text;
}

export function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("zh-CN", { hour12: false });
}

// The time left on a case's step, or how late it is, as the server words it on the case's own clock.
export function timeLeft(item) {
  return item.remaining_text ?? "—";
}

// The lead department's receipt (签收): when it signed, or the receipt clock while it has not.
function receiptLine(detail) {
  if (detail.received_by_department_at) return `已签收（${when(detail.received_by_department_at)}）`;
  if (!detail.receipt_light) return "—";
  return el("span", {}, lightDot(detail.receipt_light), ` 待签收，${detail.receipt_text}`);
}

// A small badge of a supervision's level (nothing when there is none).
export function supervisionBadge(level) {
  if (!level) return null;
  const style =
    "padding:0 6px;border-radius:8px;font-size:12px;white-space:nowrap;color:#fff;" +
    `background:${SUPERVISION_COLORS[level]}`;
  return el("span", { class: "supervision-level", "data-level": level, style }, SUPERVISION_LEVELS[level]);
}

// The case's open supervision: who asked what of which department, by when, and where it stands.
function supervisionBox(detail) {
  const s = detail.supervision;
  if (!s) return null;
  // by when it must be answered: below 挂牌督办 it goes a level up after that
  const due = !s.answer_due_at
    ? ""
    : s.level < 3
      ? `，${when(s.answer_due_at)} 前未答复将升级`
      : `，请于 ${when(s.answer_due_at)} 前答复`;
  const status = s.answered_at
    ? `已答复（${when(s.answered_at)}）：${s.answer}`
    : s.acknowledged_at
      ? `已签收（${when(s.acknowledged_at)}），待答复${due}`
      : `待签收${due}`;
  return el(
    "div",
    {
      class: "supervision-box",
      "data-level": s.level,
      "data-status": s.answered_at ? "answered" : s.acknowledged_at ? "acknowledged" : "issued",
      style: "margin:8px 0;padding:8px 10px;background:#fff8e6;border:1px solid #f0c36d;border-radius:4px",
    },
    el("strong", {}, s.kind === "urge" ? `催办（${s.level_label}）` : s.level_label),
    ` ${s.issuer} ${when(s.issued_at)}${s.department ? ` 致 ${s.department.name}` : ""}`,
    el("p", { style: "margin:4px 0" }, `督办意见：${s.note}`),
    s.new_due_at ? el("p", { style: "margin:4px 0" }, `限办时间：${when(s.new_due_at)}`) : null,
    el("p", { class: "supervision-status", style: "margin:4px 0" }, status),
  );
}

// How the timeline names an action: a supervision by its level (重点督办, 催办), how an earlier one went up.
function eventLabel(event) {
  const label = workflow.actions[event.action]?.label ?? EVENTS[event.action] ?? "其他记录";
  const level = SUPERVISION_LEVELS[event.data?.level];
  if (!level || !["supervise", "urge"].includes(event.action)) return label;
  const named = event.action === "urge" ? `催办（${level}）` : level;
  const from = SUPERVISION_LEVELS[event.data.escalated_from];
  return from ? `${named}（由${from}升级）` : named;
}

export function lightDot(light) {
  return el("span", { class: `light ${light ?? "none"}`, title: LIGHT[light] ?? "无计时" });
}

// A photo needs the access token: it is fetched and shown from a blob URL.
async function showPhoto(img, url) {
  const answer = await api(url);
  if (!answer.ok) return;
  const src = URL.createObjectURL(await answer.blob());
  blobs.push(src);
  img.src = src;
}

function photoColumn(detail, roles, title) {
  const photos = detail.photos.filter((p) => roles.includes(p.role));
  const column = el(
    "figure",
    { class: "photos", "data-roles": roles.join(" ") },
    el("figcaption", {}, title),
  );
  if (!photos.length) column.append(el("p", { class: "muted" }, "无照片"));
  for (const photo of photos) {
    const img = el("img", { alt: `${PHOTO_ROLES[photo.role]}照片`, "data-photo": photo.id });
    const link = el("a", { href: "#", title: when(photo.uploaded_at) }, img);
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const answer = await api(photo.url);
      if (answer.ok) window.open(URL.createObjectURL(await answer.blob()), "_blank");
    });
    column.append(link);
    showPhoto(img, photo.thumbnail_url);
  }
  return column;
}

// How the reporter placed the case: a hand-placed pin is flagged, a fix shows its accuracy.
function position(detail) {
  const where = `${detail.lon.toFixed(5)}, ${detail.lat.toFixed(5)}`;
  if (detail.position_source === "manual") return `${where}（上报人在地图上手动选点，请核对位置）`;
  return detail.accuracy_m == null ? where : `${where}（定位精度 ±${Math.round(detail.accuracy_m)} 米）`;
}

// The pollution sources near the case, nearest first, with who is responsible for each.
function sourcesNear(detail) {
  if (!detail.nearby_sources?.length) return "污染源台账中附近没有登记的污染源";
  const item = (s) =>
    el("li", { "data-source": s.code }, `${s.name}（${s.kind_label}，约 ${Math.round(s.distance_m)} 米，责任网格员 ${s.responsible}）`);
  return el("ul", { class: "nearby-sources" }, detail.nearby_sources.map(item));
}

function facts(detail) {
  const rows = [
    ["类别", `${detail.category.name}（${detail.category.code}）`],
    ["紧急程度", URGENCY[detail.urgency] ?? detail.urgency],
    ["诉求类型", detail.request_type.name],
    ["来源", CHANNEL[detail.channel] ?? detail.channel],
    ["网格", detail.grid_name ? `${detail.grid_name}（${detail.grid_code}）` : detail.grid_code],
    // the grids of the other grid layers holding the case (生态环境网格, 责任网格 ...)
    ...(detail.layer_grids ?? []).map((g) => [g.layer_name, `${g.name}（${g.code}）`]),
    ["地址", detail.address ?? "—"],
    ["附近", detail.near_address ?? "地址库中附近没有登记的地址"],
    ["附近污染源", sourcesNear(detail)],
    ["位置", position(detail)],
    ["描述", detail.description || "—"],
    ["受理时间", when(detail.received_at)],
    ["当前时限", detail.due_at ? `${when(detail.due_at)}，${timeLeft(detail)}${CLOCK[detail.clock]}` : "—"],
    ["处置部门", detail.department?.name ?? "—"],
    ["首办部门", detail.first_department?.name ?? "—"],
    ["签收", receiptLine(detail)],
    ["现场任务", detail.task_assignee ?? "—"],
  ];
  if (detail.extension_request) {
    const ask = detail.extension_request;
    rows.push(["延期申请", `${duration(ask.extension ?? "")} ${ask.reason ?? ""}`.trim()]);
  }
  if (detail.merged_into) rows.push(["合并到", detail.merged_into]);
  if (detail.repeat_of) rows.push(["重复投诉", caseLink(detail.repeat_of, `见 ${detail.repeat_of}`)]);
  if (detail.patrol_task_id) rows.push(["主动发现", `网格员在主动巡查任务 ${detail.patrol_task_id} 中发现`]);
  if (detail.channel !== "inspector") rows.push(["来电人", callerLine(detail)]);
  return el(
    "dl",
    { class: "facts" },
    rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]),
  );
}

function timeline(detail) {
  const list = el("ol", { class: "timeline" });
  for (const event of detail.timeline) {
    const action = eventLabel(event);
    const state = workflow.states[event.state_after]?.label ?? event.state_after;
    list.append(
      el(
        "li",
        { "data-action": event.action },
        el("time", {}, when(event.at)),
        el("strong", {}, ` ${action} `),
        el("span", { class: "muted" }, `${event.actor} → ${state}`),
        event.note ? el("p", {}, event.note) : null,
        // Why a case was returned, refused, voided or suspended: the people who see the case read it.
        event.data?.reason ? el("p", { class: "reason" }, `原因：${event.data.reason}`) : null,
        // a dispatch center sending the case up (上报上级), and a problem fixed on the spot (即报即处)
        event.action === "escalate" ? el("p", { class: "escalated" }, `${event.data.from_name} → ${event.data.to_name}`) : null,
        event.action === "reclassify" ? el("p", { class: "reclassified" }, `改类：${event.data.from_name ?? event.data.from} → ${event.data.to_name ?? event.data.to}`) : null,
        event.data?.simple_flow ? el("p", { class: "simple-flow" }, "即报即处：网格员已现场处置") : null,
        event.data?.new_due ? el("p", {}, `限办时间：${when(event.data.new_due)}`) : null,
        event.data?.answer ? el("p", { class: "answer" }, `答复：${event.data.answer}`) : null,
      ),
    );
  }
  return list;
}

// A link opening another case on the panel.
function caseLink(code, text = code) {
  return el(
    "a",
    {
      href: "#",
      "data-case": code,
      onclick: (e) => {
        e.preventDefault();
        openCase(code);
      },
    },
    text,
  );
}

// The caller as everyone sees them, masked (张* 138****0000); the people who must contact them (the server says
// who) show the full name and phone with one click, each showing recorded by the server.
function callerLine(detail) {
  if (revealed?.code === detail.code) return el("span", { class: "caller", "data-revealed": true }, revealed.text);
  const masked = [detail.reporter_name, detail.reporter_phone].filter(Boolean).join(" ");
  const line = el("span", { class: "caller" }, masked || "未留姓名和电话");
  if (!masked || !detail.may_reveal_caller) return line;
  const reveal = el("button", { type: "button", class: "reveal", onclick: revealCaller }, "显示号码");
  return el("span", {}, line, " ", reveal);
}

async function revealCaller() {
  const [ok, caller] = await apiJson(`/api/cases/${shown.code}/caller`, { method: "POST" });
  if (!ok) return say(messageOf(caller));
  revealed = { code: shown.code, text: [caller.name, caller.phone].filter(Boolean).join(" ") };
  for (const line of panel.querySelectorAll(".caller")) {
    line.textContent = revealed.text;
    line.dataset.revealed = "true";
  }
  for (const button of panel.querySelectorAll("button.reveal")) button.remove();
}

// What the call-back (回访) needs before its questions: the caller, the case's history and the caller's other
// cases (the same phone).
function callbackContext(detail) {
  const others = el("div", { class: "caller-cases" }, el("p", { class: "muted" }, "查找中…"));
  callerCases(detail, others);
  return el(
    "div",
    { class: "callback-context" },
    el("p", {}, "来电人：", callerLine(detail)),
    el("h4", {}, "办理经过"),
    timeline(detail),
    el("h4", {}, "来电人的其他案件"),
    others,
  );
}

async function callerCases(detail, box) {
  const [ok, found] = await apiJson(`/api/cases/${detail.code}/caller/cases`);
  if (shown?.code !== detail.code) return;
  if (!ok) return box.replaceChildren(el("p", { class: "muted" }, messageOf(found)));
  const list = el(
    "ul",
    {},
    found.map((other) =>
      el(
        "li",
        { "data-code": other.code },
        lightDot(other.light),
        caseLink(other.code),
        ` ${when(other.received_at)} ${other.category.name}，${other.state_label}`,
      ),
    ),
  );
  box.replaceChildren(found.length ? list : el("p", { class: "muted" }, "没有这位来电人的其他案件"));
}

// The actions of the case's state that this user's roles take: enabled when the user may take them now, else
// disabled with one short line why; when none is open to the user, who works the case now.
function actionButtons(detail) {
  const box = el("div", { class: "actions" });
  for (const [name, why] of Object.entries(detail.actions)) {
    const action = workflow.actions[name];
    if (OWN_SECTION.has(name)) continue;
    box.append(
      el(
        "button",
        {
          type: "button",
          "data-action": name,
          disabled: why !== null,
          title: why ?? action.label,
          onclick: () => openForm(name),
        },
        action.label,
      ),
    );
    if (why !== null) box.append(el("small", { class: "why", "data-why": name }, why));
  }
  const enabled = [...box.querySelectorAll("button:not([disabled])")].map((b) => b.dataset.action);
  if (!enabled.some((name) => !SUPERVISING.has(name))) {
    box.append(el("p", { class: "muted held-by" }, detail.held_by ?? "此案件已办结，没有可办的操作"));
  }
  return box;
}

// A department as the dispatch form offers it: a street's own team (街道队伍) with its street's name.
function departmentLabel(d) {
  return d.street ? `${d.name}（街道队伍·${d.street}）` : d.name;
}

const percent = (share) => `${Math.round(share * 100)}%`;

// The dispatch advice under the lead department's list (GET /api/cases/{code}/dispatch-advice): the
// departments suggested, and a warning while the chosen one (none: the category's own) often returns such cases.
function advised(select, advice) {
  const named = advice.suggested.map((d) =>
    d.share === null ? d.name : `${d.name}（同类案件${percent(d.share)}）`,
  );
  const warning = el("small", { class: "advice-warning", style: "color:#8a1c1c", hidden: true });
  const check = () => {
    const chosen = select.value || advice.suggested.find((d) => d.configured)?.code;
    const record = advice.records.find((r) => r.code === chosen && r.warn);
    warning.hidden = !record;
    warning.textContent = record
      ? `该部门近${advice.days}天回退此类案件 ${record.returned} 次（${percent(record.return_rate)}），` +
        "请确认后再派遣，或改选建议的部门"
      : "";
  };
  select.addEventListener("change", check);
  check();
  const suggested = named.length ? [el("small", { class: "advice muted" }, `建议：${named.join("、")}`)] : [];
  select.after(...suggested, warning);
}

// A leaf category as the category field offers it (and reads it back): its name and its code.
function categoryLabel(c) {
  return `${c.name}（${c.code}）`;
}

// One field of an action's form, as the server describes it (see GET /api/cases/workflow); `departments` are
// those the case may go to, for the department fields; `categories` the leaf categories, for a category field.
function field(spec, departments = [], categories = []) {
  let input;
  if (spec.kind === "category") {
    // typed to filter, picked from the list; sent as the code (submit reads it back)
    const id = `action-categories-${spec.name}`;
    return el(
      "label",
      {},
      spec.label,
      el("input", { name: spec.name, list: id, required: spec.required, maxlength: 100, "data-kind": "category" }),
      el("datalist", { id }, categories.map((c) => el("option", { value: categoryLabel(c) }))),
    );
  }
  if (spec.kind === "choice") {
    input = el(
      "select",
      { name: spec.name },
      spec.empty ? el("option", { value: "" }, spec.empty) : null,
      spec.choices.map((c) => el("option", { value: c.value }, c.label)),
    );
  } else if (spec.kind === "department") {
    input = el(
      "select",
      { name: spec.name },
      el("option", { value: "" }, spec.empty),
      departments.map((d) => el("option", { value: d.code }, departmentLabel(d))),
    );
  } else if (spec.kind === "departments") {
    // any number of them (协办): a box each, sent as a list
    const row = "flex-direction:row;align-items:center;gap:6px";
    return el(
      "fieldset",
      { class: "departments", "data-list": spec.name, style: "max-height:160px;overflow:auto;margin:0" },
      el("legend", {}, spec.label),
      departments.map((d) =>
        el("label", { style: row }, el("input", { type: "checkbox", name: spec.name, value: d.code }), departmentLabel(d)),
      ),
    );
  } else if (spec.kind === "datetime") {
    input = el("input", { name: spec.name, type: "datetime-local", required: spec.required });
  } else if (spec.kind === "photos") {
    input = el("input", {
      name: "photos",
      type: "file",
      accept: "image/jpeg,image/png,image/webp",
      multiple: true,
      "data-role": spec.role,
      "data-label": spec.label,
      "data-required": spec.required,
    });
  } else if (spec.max_length > 100) {
    input = counted(el("textarea", { name: spec.name, rows: 2, required: spec.required, maxlength: spec.max_length }));
  } else {
    input = el("input", { name: spec.name, required: spec.required, maxlength: spec.max_length });
  }
  return el("label", {}, spec.label, input);
}

// A form's photos that the action needs but neither the form nor the case (since the step began) has.
function missingPhotos(form) {
  const input = form.querySelector("[name=photos][data-required]");
  if (!input || input.files.length) return null;
  const since = Math.max(0, ...shown.dispatches.filter((d) => !d.ended_at).map((d) => Date.parse(d.dispatched_at)));
  const uploaded = shown.photos.some((p) => p.role === input.dataset.role && Date.parse(p.uploaded_at) >= since);
  return uploaded ? null : `请先选择${input.dataset.label}，再提交`;
}

async function openForm(name) {
  const action = workflow.actions[name];
  const code = shown.code;
  // the departments this case may go to: a street's own teams only for the cases inside their street
  const asks = action.fields.some((f) => f.kind.startsWith("department"));
  // and, for the lead department, the dispatch advice (left out when it cannot be had)
  const advises = action.fields.some((f) => f.kind === "department");
  const [[ok, departments], [adviceOk, advice]] = await Promise.all([
    asks ? apiJson(`/api/cases/${code}/departments`) : [true, []],
    advises ? apiJson(`/api/cases/${code}/dispatch-advice`) : [false, null],
  ]);
  if (shown?.code !== code) return;
  if (!ok) return say(messageOf(departments));
  // the leaf categories a case may be filed under, for a category field (改类): read once
  if (action.fields.some((f) => f.kind === "category") && !lists.categories) {
    const [fine, all] = await apiJson("/api/categories");
    if (!fine) return say(messageOf(all));
    lists.categories = all.filter((c) => c.leaf);
    if (shown?.code !== code) return;
  }
  const form = el(
    "form",
    { class: "action-form", "data-action": name },
    el("h3", {}, action.label),
    name === "callback" ? callbackContext(shown) : null,
    action.fields.map((spec) => field(spec, departments, lists.categories)),
    // the common fields, but those the action asks for in its own words (督办意见 for the note)
    workflow.common.filter((c) => !action.fields.some((f) => f.name === c.name)).map((spec) => field(spec)),
    el(
      "div",
      { class: "buttons" },
      el("button", { type: "submit" }, "确定"),
      el("button", { type: "button", onclick: () => closeForm() }, "取消"),
    ),
  );
  if (adviceOk) {
    for (const spec of action.fields.filter((f) => f.kind === "department")) {
      advised(form.querySelector(`[name=${spec.name}]`), advice);
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(name, form);
  });
  say("");
  const slot = panel.querySelector(".form-slot");
  slot.replaceChildren(form);
  formOpen = true;
  form.querySelector("input, select, textarea")?.focus();
}

function closeForm() {
  formOpen = false;
  panel.querySelector(".form-slot")?.replaceChildren();
  panel.querySelector(".stale")?.remove();
}

function say(message, kind = "error") {
  const box = panel.querySelector(".message");
  box.textContent = message;
  box.className = `message ${kind}`;
  box.hidden = !message;
}

// Upload the chosen photos of a form first (each acknowledged by its id), then take the action with them.
async function submit(name, form) {
  const missing = missingPhotos(form);
  if (missing) return say(missing);
  const data = new FormData(form);
  const body = { version: shown.version };
  for (const [key, value] of data.entries()) {
    if (key !== "photos" && value !== "") body[key] = value;
  }
  for (const list of form.querySelectorAll("[data-list]")) body[list.dataset.list] = data.getAll(list.dataset.list);
  for (const input of form.querySelectorAll("[data-kind=category]")) {
    const category = lists.categories.find((c) => categoryLabel(c) === input.value);
    if (!category) return say("请从列表中选择类别");
    body[input.name] = category.code;
  }
  const files = data.getAll("photos").filter((file) => file.size);
  if (files.length) {
    const role = form.querySelector("[name=photos]").dataset.role;
    body.photo_ids = [];
    for (const file of files) {
      const upload = new FormData();
      upload.append("file", file);
      const [ok, photo] = await apiJson(`/api/cases/${shown.code}/photos?role=${role}`, {
        method: "POST",
        body: upload,
      });
      if (!ok) return say(messageOf(photo));
      body.photo_ids.push(photo.id);
    }
  }
  await act(name, body);
}

async function act(name, body) {
  const [ok, answer, status] = await sendJson(`/api/cases/${shown.code}/actions/${name}`, body);
  if (!ok) {
    // A conflict: the case moved on. Show why, and the case as it is now.
    say(status === 409 ? `操作未执行：${messageOf(answer)}` : messageOf(answer));
    if (status === 409) {
      formOpen = false;
      await render(shown.code, { keepMessage: true });
    }
    return;
  }
  formOpen = false;
  show(answer);
  say(`已${workflow.actions[name].label}`, "ok");
  panel.dispatchEvent(new CustomEvent("acted", { detail: answer, bubbles: true }));
}

function tagsSection(detail) {
  const box = el("div", { class: "tags" });
  const names = Object.fromEntries(lists.tags.map((t) => [t.code, t.name]));
  for (const code of detail.tags) {
    const chip = el("span", { class: "tag", "data-tag": code }, names[code] ?? code);
    if (detail.actions.untag === null) {
      chip.append(
        el(
          "button",
          {
            type: "button",
            title: "去标签",
            onclick: () => act("untag", { version: shown.version, tag: code }),
          },
          "×",
        ),
      );
    }
    box.append(chip);
  }
  if (detail.actions.tag === null) {
    const free = lists.tags.filter((t) => !detail.tags.includes(t.code));
    const select = el(
      "select",
      { name: "tag" },
      el("option", { value: "" }, "加标签…"),
      free.map((t) => el("option", { value: t.code }, t.name)),
    );
    select.addEventListener("change", () => {
      if (select.value) act("tag", { version: shown.version, tag: select.value });
    });
    box.append(select);
  }
  if (!box.childNodes.length) box.append(el("span", { class: "muted" }, "无"));
  return box;
}

async function duplicatesSection(detail, box) {
  const [ok, found] = await apiJson(`/api/cases/${detail.code}/duplicates`);
  if (!ok || shown?.code !== detail.code) return;
  const list = el("ul", { class: "duplicates" });
  for (const other of found) {
    const flagged = detail.duplicate_of === other.code;
    const item = el(
      "li",
      { "data-code": other.code },
      lightDot(other.light),
      caseLink(other.code),
      ` ${other.state_label}，相距 ${Math.round(other.distance_m)} 米${flagged ? "（系统提示重复）" : ""} `,
    );
    if (detail.actions.merge === null) {
      item.append(
        el(
          "button",
          {
            type: "button",
            "data-merge": other.code,
            onclick: () => act("merge", { version: shown.version, master: other.code }),
          },
          "合并到此案",
        ),
      );
    }
    list.append(item);
  }
  box.replaceChildren(found.length ? list : el("p", { class: "muted" }, "附近没有疑似重复的案件"));
  if (detail.actions.keep_apart === null) {
    box.append(
      el(
        "button",
        {
          type: "button",
          "data-action": "keep_apart",
          onclick: () => act("keep_apart", { version: shown.version }),
        },
        "不是重复，不合并",
      ),
    );
  }
}

function placeMap(detail, container) {
  miniMap?.remove();
  miniMap = plainMap({ container, center: [detail.lon, detail.lat], zoom: 16, interactive: false });
  miniMap.on("load", async () => {
    const [ok, grid] = await apiJson(`/api/grids/${detail.grid_code}`);
    if (!ok || !miniMap) return;
    miniMap.addSource("grid", { type: "geojson", data: grid.geometry });
    miniMap.addLayer({
      id: "grid",
      type: "line",
      source: "grid",
      paint: { "line-color": "#9333ea", "line-width": 2 },
    });
    miniMap.addSource("case", {
      type: "geojson",
      data: { type: "Point", coordinates: [detail.lon, detail.lat] },
    });
    miniMap.addLayer({
      id: "case",
      type: "circle",
      source: "case",
      paint: {
        "circle-radius": 7,
        "circle-color": "#d62828",
        "circle-stroke-color": "#fff",
        "circle-stroke-width": 2,
      },
    });
  });
}

function show(detail) {
  shown = detail;
  formOpen = false;
  while (blobs.length) URL.revokeObjectURL(blobs.pop());
  const state = workflow.states[detail.state];
  const duplicates = el("div", { class: "duplicates-box" }, el("p", { class: "muted" }, "查找中…"));
  const place = el("div", { class: "place-map" });
  panel.replaceChildren(
    el("button", { type: "button", class: "close", "aria-label": "关闭", onclick: () => closeCase() }, "×"),
    el(
      "h2",
      {},
      lightDot(detail.light),
      el("span", { class: "code" }, detail.code),
      supervisionBadge(detail.supervision_level),
    ),
    el(
      "p",
      { class: "state", "data-state": detail.state },
      state?.label ?? detail.state,
      el("span", { class: "muted" }, ` · 第 ${detail.version} 版`),
    ),
    supervisionBox(detail) ?? "",
    el("p", { class: "message", role: "alert", hidden: true }),
    actionButtons(detail),
    el("div", { class: "form-slot" }),
    facts(detail),
    el("h3", {}, "照片"),
    el(
      "div",
      { class: "before-after" },
      photoColumn(detail, ["before", "verification"], "处置前"),
      photoColumn(detail, ["after", "check"], "处置后"),
    ),
    el("h3", {}, "位置"),
    place,
    el("h3", {}, "标签"),
    tagsSection(detail),
    el("h3", {}, "疑似重复"),
    duplicates,
    el("h3", {}, "办理过程"),
    timeline(detail),
  );
  panel.dataset.code = detail.code;
  panel.dataset.version = detail.version;
  panel.dataset.state = detail.state;
  delete panel.dataset.loading;
  panel.hidden = false;
  placeMap(detail, place);
  duplicatesSection(detail, duplicates);
}

async function render(code, { keepMessage = false } = {}) {
  const message = keepMessage ? panel.querySelector(".message")?.textContent : "";
  const [ok, detail] = await apiJson(`/api/cases/${encodeURIComponent(code)}`);
  if (!ok) {
    shown = null;
    delete panel.dataset.loading;
    panel.replaceChildren(
      el("button", { type: "button", class: "close", "aria-label": "关闭", onclick: () => closeCase() }, "×"),
      el("p", { class: "message error", role: "alert" }, messageOf(detail)),
    );
    panel.hidden = false;
    return;
  }
  show(detail);
  if (message) say(message);
}

// Open a case's panel (from the map, a queue or a duplicate's link).
export async function openCase(code) {
  panel.dataset.loading = "true";
  await reference();
  await render(code);
}

export function closeCase() {
  shown = null;
  revealed = null;
  formOpen = false;
  miniMap?.remove();
  miniMap = null;
  panel.hidden = true;
  panel.replaceChildren();
  delete panel.dataset.code;
}

// A case changed somewhere (null: changes may have been missed). The open case is reloaded, unless an action
// form is open: then the panel says the case changed and keeps the form (acting on it gets the 409).
export function onCaseChanged(data) {
  if (!shown || (data && (data.code !== shown.code || data.version <= shown.version))) return;
  if (!formOpen) {
    render(shown.code);
    return;
  }
  if (!panel.querySelector(".stale")) {
    const label = data ? (workflow.states[data.state]?.label ?? data.state) : "";
    const note = el(
      "p",
      { class: "stale", role: "status" },
      `此案件已被他人更新${label ? `（现为“${label}”）` : ""}，当前表单基于旧版本。`,
      el(
        "button",
        {
          type: "button",
          onclick: () => {
            closeForm();
            render(shown.code);
          },
        },
        "刷新",
      ),
    );
    panel.querySelector(".form-slot").before(note);
  }
}
