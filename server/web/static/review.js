// The grid heads' review (网格巡查): for a grid of the reviewer's subtree and its children, who looks after
// them (grids of the inspected levels with nobody highlighted), the share of each patrolled today and this
// week, open and overdue cases; each inspector's distance, time on shift, reports, verifications and checks;
// a form that moves an inspector to another grid; the assignment history of a grid; and proactive patrol
// tasks (主动巡查任务): a form assigning one, and the tasks with their coverage.
import { apiJson, messageOf, sendJson } from "/static/api.js";
import { el } from "/static/case.js";

const view = document.getElementById("review-view");
const LEVELS = { city: "市", district: "区县", street: "街道", village: "社区/村", unit: "单元网格" };
const ROLES = { head: "网格长", inspector: "网格员" };

let state = { grid: null, historyOf: null, review: null };

const percent = (share) => `${(share * 100).toFixed(1)}%`;
const km = (metres) => (metres / 1000).toFixed(2);
const hours = (seconds) => (seconds / 3600).toFixed(1);
const gridName = (grid) => `${grid.name}（${grid.code}）`;

function showError(message) {
  view.querySelector(".review-status").textContent = message;
}

function table(id, headings, rows) {
  return el(
    "table",
    { id, class: "review-table" },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows),
  );
}

// A link that reviews ``grid`` (its children listed below it).
function drill(grid) {
  return el("a", { href: "#", onclick: (e) => (e.preventDefault(), load(grid.code)) }, grid.name);
}

function trail(review) {
  const steps = review.trail.flatMap((grid) => [drill(grid), " › "]);
  return el("span", { class: "review-trail" }, steps, el("strong", {}, review.grid.name));
}

function gridTable(review) {
  const rows = review.grids.map((row, i) =>
    el(
      "tr",
      { class: row.nobody ? "nobody" : null, "data-code": row.code },
      el("td", {}, LEVELS[row.level] ?? row.level),
      el(
        "td",
        {},
        i === 0
          ? el("strong", {}, row.name)
          : drill(row),
        row.nobody ? el("span", { class: "badge" }, "无人负责") : null,
      ),
      el("td", {}, row.head ?? "—"),
      el("td", { class: "inspectors" }, row.inspectors.join("、") || "—"),
      el("td", { class: "num today" }, percent(row.coverage_today)),
      el("td", { class: "num week" }, percent(row.coverage_week)),
      el("td", { class: "num" }, row.open),
      el("td", { class: row.overdue ? "num late" : "num" }, row.overdue),
      el("td", {}, el("button", { type: "button", onclick: () => showHistory(row) }, "履历")),
    ),
  );
  const headings = ["层级", "网格", "网格长", "网格员", "今日覆盖", "本周覆盖", "在办", "超期", ""];
  return table("review-grids", headings, rows);
}

function inspectorTable(review) {
  const rows = review.inspectors.map((person) =>
    el(
      "tr",
      { "data-user": person.user_id },
      el("td", {}, person.name),
      el("td", {}, person.grids.map((g) => g.name).join("、")),
      ...[person.today, person.week].flatMap((effort) => [
        el("td", { class: "num" }, km(effort.distance_m)),
        el("td", { class: "num" }, hours(effort.duration_s)),
      ]),
      ...["reports", "verifications", "checks"].map((figure) =>
        el("td", { class: "num" }, `${person.today[figure]} / ${person.week[figure]}`),
      ),
    ),
  );
  const headings = [
    "网格员", "负责网格", "今日里程(km)", "今日在岗(h)", "本周里程(km)", "本周在岗(h)",
    "上报(今日/本周)", "核实(今日/本周)", "核查(今日/本周)",
  ];
  return table("review-inspectors", headings, rows);
}

function unstaffed(review) {
  if (!review.unstaffed_total) return el("p", { class: "review-note" }, "所有网格均有网格员负责");
  const more = review.unstaffed_total - review.unstaffed.length;
  return el(
    "details",
    { class: "review-unstaffed" },
    el("summary", {}, `无人负责的网格：${review.unstaffed_total} 个`),
    el("p", {}, review.unstaffed.map((g) => `${g.name}（${LEVELS[g.level] ?? g.level}）`).join("、")),
    more > 0 ? el("p", {}, `另有 ${more} 个未列出`) : null,
  );
}

function option(value, label) {
  return el("option", { value }, label);
}

// The move form: an inspector of the review, one of their grids, a grid of the review to move to, a day.
function reassignForm(review) {
  const targets = [...review.grids, ...review.unstaffed].filter((g) => review.levels.includes(g.level));
  const unique = [...new Map(targets.map((g) => [g.code, g])).values()];
  const to = unique.map((g) => option(g.code, gridName(g)));
  const people = review.inspectors.map((p) => option(p.user_id, p.name));
  const who = el("select", { name: "user_id", required: true }, people);
  const from = el("select", { name: "from_grid", required: true });
  const fillFrom = () => {
    const person = review.inspectors.find((p) => String(p.user_id) === who.value);
    from.replaceChildren(...(person?.grids ?? []).map((g) => option(g.code, gridName(g))));
  };
  who.addEventListener("change", fillFrom);
  fillFrom();
  const today = review.day;
  const form = el(
    "form",
    { id: "review-reassign" },
    el("h3", {}, "调整网格员"),
    el("label", {}, "网格员 ", who),
    el("label", {}, "原网格 ", from),
    el("label", {}, "新网格 ", el("select", { name: "to_grid", required: true }, to)),
    el("label", {}, "生效日期 ", el("input", { name: "on", type: "date", value: today, max: today })),
    el("button", { type: "submit", disabled: review.inspectors.length === 0 }, "调整"),
    el("span", { class: "review-form-status", role: "status" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      user_id: Number(data.get("user_id")),
      from_grid: data.get("from_grid"),
      to_grid: data.get("to_grid"),
      on: data.get("on") || null,
    };
    const [ok, answer] = await sendJson("/api/review/reassign", body);
    if (!ok) {
      const status = form.querySelector(".review-form-status");
      status.classList.add("error");
      status.textContent = messageOf(answer);
      return;
    }
    state.historyOf = { code: answer.started.grid_code };
    await load(state.grid);
    const { ended, started } = answer;
    view.querySelector(".review-form-status").textContent =
      `${started.name}：${ended.grid_code} 至 ${ended.ends_on}，${started.grid_code} 自 ${started.starts_on}`;
  });
  return form;
}

// Proactive patrol tasks (主动巡查任务) in the grid reviewed: the form sending an inspector of the review to a
// grid of it for some days (with the kind of problem to look for and why), and the tasks not yet ended
// with how far the inspector's track in the grid has covered them.
function taskForm(review) {
  const grids = review.grids.filter((g) => review.levels.includes(g.level));
  const people = review.inspectors.map((p) => option(p.user_id, p.name));
  const day = { value: review.day, min: review.day, required: true };
  const gridOption = (g) => option(g.code, gridName(g));
  const form = el(
    "form",
    { id: "review-task" },
    el("h3", {}, "布置主动巡查"),
    el("label", {}, "网格 ", el("select", { name: "grid", required: true }, grids.map(gridOption))),
    el("label", {}, "网格员 ", el("select", { name: "assignee_id", required: true }, people)),
    el("label", {}, "问题类别编码 ", el("input", { name: "category", placeholder: "可不填，如 E06010", size: 10 })),
    el("label", {}, "开始 ", el("input", { name: "starts_on", type: "date", ...day })),
    el("label", {}, "结束 ", el("input", { name: "ends_on", type: "date", ...day })),
    el("label", {}, "原因 ", el("input", { name: "reason", required: true, maxlength: 500, size: 30 })),
    el("button", { type: "submit", disabled: !grids.length || !people.length }, "布置"),
    el("span", { class: "review-form-status", role: "status" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form));
    const body = { ...data, assignee_id: Number(data.assignee_id), category: data.category.trim() || null };
    const [ok, answer] = await sendJson("/api/patrol/tasks", body);
    const status = form.querySelector(".review-form-status");
    status.classList.toggle("error", !ok);
    status.textContent = ok ? `已布置：${answer.assignee} 巡查 ${answer.grid_name}` : messageOf(answer);
    if (ok) await renderTasks();
  });
  return form;
}

async function renderTasks() {
  const box = view.querySelector(".review-tasks");
  const [ok, tasks] = await apiJson(`/api/patrol/tasks?grid=${encodeURIComponent(state.grid)}`);
  if (!ok) {
    box.replaceChildren(el("p", { class: "review-status" }, messageOf(tasks)));
    return;
  }
  const cancel = async (task) => {
    const [done, answer] = await sendJson(`/api/patrol/tasks/${task.id}/cancel`, {});
    if (!done) return showError(messageOf(answer));
    await renderTasks();
  };
  const rows = tasks.map((t) =>
    el(
      "tr",
      { "data-task": t.id, class: t.state },
      el("td", {}, t.grid_name),
      el("td", {}, t.assignee),
      el("td", {}, t.category?.name ?? "—"),
      el("td", {}, t.starts_on === t.ends_on ? t.starts_on : `${t.starts_on} 至 ${t.ends_on}`),
      el("td", {}, t.reason),
      el("td", {}, t.source_label),
      el("td", { class: "state" }, t.state_label),
      el("td", { class: "num covered" }, `${Math.floor(t.covered_minutes)} / ${t.needed_minutes}`),
      el("td", { class: "num" }, t.found),
      el("td", {}, t.state === "open" ? el("button", { type: "button", onclick: () => cancel(t) }, "取消") : ""),
    ),
  );
  const headings = ["网格", "网格员", "类别", "日期", "原因", "来源", "状态", "巡查(分钟)", "主动发现", ""];
  box.replaceChildren(
    el("h3", {}, "主动巡查任务"),
    rows.length ? table("review-tasks", headings, rows) : el("p", {}, "没有进行中或将要开始的巡查任务"),
  );
}

async function showHistory(grid) {
  state.historyOf = { code: grid.code };
  await renderHistory();
}

async function renderHistory() {
  const box = view.querySelector(".review-history");
  const code = state.historyOf?.code ?? state.grid;
  const [ok, body] = await apiJson(`/api/review/assignments?grid=${encodeURIComponent(code)}`);
  if (!ok) {
    box.replaceChildren(el("p", { class: "review-status" }, messageOf(body)));
    return;
  }
  const known = [...state.review.grids, ...state.review.unstaffed].find((g) => g.code === code);
  const rows = body.map((a) =>
    el(
      "tr",
      { "data-user": a.user_id },
      el("td", {}, ROLES[a.role] ?? a.role),
      el("td", {}, a.name),
      el("td", {}, a.starts_on),
      el("td", {}, a.ends_on ?? "至今"),
    ),
  );
  box.replaceChildren(
    el("h3", {}, `任职履历：${known ? gridName(known) : code}`),
    rows.length ? table("review-history", ["角色", "姓名", "起", "止"], rows) : el("p", {}, "暂无记录"),
  );
}

async function load(code) {
  const query = new URLSearchParams(code ? { grid: code } : {});
  const layer = view.querySelector("#review-layer")?.value;
  if (layer) query.set("layer", layer);
  const [ok, review] = await apiJson(`/api/review?${query}`);
  if (!ok) {
    showError(messageOf(review));
    return;
  }
  if (state.grid !== review.grid.code && state.historyOf?.code !== review.grid.code) state.historyOf = null;
  state = { ...state, grid: review.grid.code, review };
  view.dataset.loaded = review.grid.code;
  view.querySelector(".review-head").replaceChildren(
    trail(review),
    el("span", { class: "review-day" }, `${review.day}（本周自 ${review.week_from}）`),
    el("span", { class: "review-day" }, `覆盖：巡查轨迹 ${review.coverage_m} 米以内`),
  );
  view.querySelector(".review-body").replaceChildren(
    el("section", {}, el("h3", {}, "网格"), gridTable(review), unstaffed(review)),
    el("section", {}, el("h3", {}, "网格员"), inspectorTable(review)),
    el("div", { class: "review-bottom" }, reassignForm(review), el("section", { class: "review-history" })),
    el("div", { class: "review-bottom" }, taskForm(review), el("section", { class: "review-tasks" })),
  );
  showError("");
  await Promise.all([renderHistory(), renderTasks()]);
}

async function build() {
  const [[ok, grids], [layersOk, layers]] = await Promise.all([
    apiJson("/api/review/grids"),
    apiJson("/api/grids/layers"),
  ]);
  const picker = el(
    "select",
    { id: "review-top", onchange: (e) => load(e.target.value) },
    ok ? grids.map((g) => option(g.code, gridName(g))) : [],
  );
  // the grid layer reviewed (城市管理网格, 生态环境网格 ...): its grids, heads and inspectors
  const layerPicker = el(
    "select",
    { id: "review-layer", onchange: () => load(state.grid) },
    layersOk ? layers.map((l) => Object.assign(option(l.code, l.name), { selected: l.is_default })) : [],
  );
  view.replaceChildren(
    el(
      "div",
      { class: "review-bar" },
      el("label", {}, "我的网格 ", picker),
      el("label", {}, "网格图层 ", layerPicker),
      el("span", { class: "review-head" }),
      el("span", { class: "review-status", role: "alert" }),
    ),
    el("div", { class: "review-body" }),
  );
  if (!ok) showError(messageOf(grids));
  else if (grids.length) await load(grids[0].code);
}

document.addEventListener("logged-out", () => {
  state = { grid: null, historyOf: null, review: null };
  view.replaceChildren();
  delete view.dataset.loaded;
});

view.addEventListener("view-shown", () => {
  if (!view.dataset.loaded) build();
});
