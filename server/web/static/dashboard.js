// The dashboard (统计评价): for a period, a grid's subtree and optionally a department, the evaluation rates
// with scores and grades, the rankings of districts, streets, departments and inspectors, trends by day and
// week, hot spots (categories, grids on a small map, hours of the day) and the open warnings (warnings.js,
// with their steps and reminder letters, live from the stream); the three rates of
// streets and departments in the form the city is assessed by (settings), the citizens' ratings, working days
// per closed case with the fastest case, and returns per department. Every table can be downloaded as CSV,
// as the server computes it. A click on a district or street drills down into it. The latest reports
// (日报/周报/月报) are listed with their printable page and PDF.
import * as maplibregl from "/vendor/maplibre-gl/maplibre-gl.mjs";
import { api, apiJson, messageOf } from "/static/api.js";
import { el } from "/static/case.js";
import { plainMap } from "/static/placemap.js";
import { warningPanel } from "/static/warnings.js";

const view = document.getElementById("dashboard-view");
const Chart = window.Chart; // Chart.js's UMD build, from npm (index.html)
const GRADE_COLORS = { A: "#2e9d48", B: "#6aa84f", C: "#e0a800", D: "#e67e22", E: "#d62828" };
const RATE_FIELDS = [
  ["closure_rate", "结案率"],
  ["on_time_closure_rate", "按期结案率"],
  ["on_time_handling_rate", "按期处置率"],
  ["rework_rate", "返工率"],
];
// The tables: their name in the API, title, and columns [field, heading, kind].
const TABLES = {
  districts: ["区县排名", [["rank", "名次"], ["name", "区县"], ...areaColumns()]],
  streets: ["街道排名", [["rank", "名次"], ["name", "街道"], ...areaColumns()]],
  departments: [
    "部门排名",
    [
      ["rank", "名次"],
      ["name", "部门"],
      ["due", "应结案"],
      ["closed", "结案"],
      ["volume_band", "业务量", "rate"],
      ["closure_rate", "结案率", "rate"],
      ["on_time_handling_rate", "按期处置率", "rate"],
      ["rework_rate", "返工率", "rate"],
      ["score", "得分", "score"],
      ["grade", "等级", "grade"],
    ],
  ],
  inspectors: [
    "网格员排名",
    [
      ["rank", "名次"],
      ["name", "网格员"],
      ["reported", "上报"],
      ["valid", "有效"],
      ["valid_rate", "有效上报率", "rate"],
      ["verification_rate", "按时核实率", "rate"],
      ["check_rate", "按时核查率", "rate"],
      ["miss_rate", "漏报率", "rate"],
      ["score", "得分", "score"],
      ["grade", "等级", "grade"],
    ],
  ],
  categories: [
    "高发类别",
    [
      ["code", "编码"],
      ["name", "类别"],
      ["received", "受理"],
    ],
  ],
  grids: [
    "高发网格",
    [
      ["code", "编码"],
      ["name", "网格"],
      ["received", "受理"],
    ],
  ],
  hours: [
    "时段分布",
    [
      ["hour", "时"],
      ["received", "受理"],
    ],
  ],
  trend_day: [
    "按日趋势",
    [
      ["date", "日期"],
      ["received", "受理"],
      ["due", "应结案"],
      ["closed", "结案"],
    ],
  ],
  trend_week: [
    "按周趋势",
    [
      ["week", "周"],
      ["received", "受理"],
      ["due", "应结案"],
      ["closed", "结案"],
    ],
  ],
  three_rates_districts: ["区县三率排名", threeRateColumns("区县")],
  three_rates_streets: ["街道三率排名", threeRateColumns("街道")],
  // the rankings by the three rates of the settings' form: their columns are set by render()
  rates_streets: ["街道三率考核排名", []],
  rates_departments: ["部门三率考核排名", []],
  returns: [
    "部门回退（推诿）",
    [
      ["name", "部门"],
      ["dispatched", "主办派遣"],
      ["returned", "回退"],
      ["return_rate", "回退率", "rate"],
    ],
  ],
  ratings_departments: ["部门市民评价", ratingColumns("部门")],
  ratings_categories: ["类别市民评价", ratingColumns("类别")],
  ratings_streets: ["街道市民评价", ratingColumns("街道")],
  working_days_streets: ["街道办结用时", workingDaysColumns("街道")],
  working_days_departments: ["部门办结用时", workingDaysColumns("部门")],
  proactive_streets: [
    "街道未诉先办（网格员发现与市民反映）",
    [
      ["name", "街道"],
      ["found", "网格员发现"],
      ["proactive", "其中主动巡查发现"],
      ["citizens", "市民反映"],
      ["found_share", "主动发现占比", "rate"],
    ],
  ],
};

function threeRateColumns(level) {
  return [
    ["rank", "名次"],
    ["name", level],
    ["called_back", "回访"],
    ["contacted", "联系上"],
    ["response_rate", "响应率", "rate"],
    ["resolution_rate", "解决率", "rate"],
    ["satisfaction_rate", "满意率", "rate"],
    ["score", "得分", "score"],
    ["grade", "等级", "grade"],
  ];
}

// The three rates of each form: Beijing's from the call-backs, Pingshan's with complaints per 10,000 residents.
const FORMS = { beijing: "响应率、解决率、满意率", pingshan: "投诉率、办结率、满意率" };

function rateColumns(form, level) {
  if (form === "beijing") {
    const [rank, name, ...rest] = threeRateColumns(level);
    return [rank, name, ["received", "受理"], ...rest];
  }
  return [
    ["rank", "名次"],
    ["name", level],
    ["received", "受理"],
    ["complaints", "投诉"],
    ["population", "常住人口"],
    ["complaint_rate", "投诉率（每万人）", "per10k"],
    ["completion_rate", "办结率", "rate"],
    ["satisfaction_rate", "满意率", "rate"],
    ["score", "得分", "score"],
    ["grade", "等级", "grade"],
  ];
}

function ratingColumns(level) {
  return [
    ["name", level],
    ["ratings", "评价数"],
    ["mean_stars", "平均星级", "stars"],
    ["low_share", "差评占比（2星及以下）", "rate"],
  ];
}

function workingDaysColumns(level) {
  return [
    ["name", level],
    ["closed", "办结"],
    ["mean_working_days", "平均用时（工作日）", "days"],
    ["fastest_code", "最快案件"],
    ["fastest_category", "类别"],
    ["fastest_working_days", "其用时（工作日）", "days"],
  ];
}

function areaColumns() {
  return [
    ["received", "受理"],
    ["due", "应结案"],
    ["closed", "结案"],
    ...RATE_FIELDS.map(([field, label]) => [field, label, "rate"]),
    ["score", "得分", "score"],
    ["grade", "等级", "grade"],
  ];
}

let built = false;
let charts = [];
let hotMap = null;
let warnings = null; // the open warnings panel (warnings.js)
let current = { grid: null, department: "", from: "", to: "" };
let trendBy = "day";

function percent(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

function cellOf(row, [field, , kind]) {
  const value = row[field];
  if (kind === "rate") return percent(value);
  if (kind === "score") return value === null || value === undefined ? "—" : value.toFixed(1);
  if (kind === "grade") {
    return value ? el("span", { class: "grade", style: `background:${GRADE_COLORS[value]}` }, value) : "—";
  }
  if (kind === "per10k") {
    if (value === null) return el("span", { class: "muted", title: row.complaint_rate_note }, "—");
    return value.toFixed(2);
  }
  if (kind === "stars") return `${value.toFixed(2)} ★`;
  if (kind === "days") return value.toFixed(1);
  if (field === "kind") return value === "category" ? "类别" : "网格";
  if (field === "rank" && value === null) return el("span", { class: "no-cases" }, "无案件");
  return value ?? "—";
}

function query(extra = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...current, ...extra })) if (value) params.set(key, value);
  return params.toString();
}

// A CSV table as the server exports it; the download needs the token, so it goes through a blob URL.
async function download(table) {
  const answer = await api(`/api/stats/export/${table}.csv?${query()}`);
  if (!answer.ok) return status(messageOf(await answer.json()));
  await save(answer, `${table}.csv`);
}

// Saves an answer under the name the server gives it (in Chinese, RFC 5987), else ``fallback``.
async function save(answer, fallback) {
  const disposition = answer.headers.get("Content-Disposition") ?? "";
  const named = /filename\*=UTF-8''([^;]+)/.exec(disposition)?.[1];
  const name = named ? decodeURIComponent(named) : fallback;
  const link = el("a", { href: URL.createObjectURL(await answer.blob()), download: name });
  document.body.append(link);
  link.click();
  link.remove();
}

// A report: its page opens in a new tab, its PDF is saved (both need the token: through blob URLs).
async function openReport(report, format) {
  const answer = await api(`/api/reports/${report.id}/${format}`);
  if (!answer.ok) return status(messageOf(await answer.json()));
  if (format === "pdf") return save(answer, `${report.title}.pdf`);
  window.open(URL.createObjectURL(await answer.blob()), "_blank");
}

async function showReports(box) {
  const [ok, reports] = await apiJson("/api/reports?limit=8");
  const item = (r) =>
    el(
      "li",
      { "data-report": r.id },
      el("span", {}, r.title),
      el("button", { type: "button", onclick: () => openReport(r, "html") }, "网页"),
      el("button", { type: "button", onclick: () => openReport(r, "pdf") }, "PDF"),
    );
  let body;
  if (!ok) body = el("p", { class: "muted" }, messageOf(reports));
  else if (reports.length) body = el("ul", {}, reports.map(item));
  else body = el("p", { class: "muted" }, "还没有报告：系统每天自动生成昨天的日报、上周的周报和上月的月报");
  box.replaceChildren(el("h3", {}, "报告"), body);
}

// The forecast's communities x categories expecting the most reports in the area shown: next week or next
// month, with the interval and the same length of time just past.
const HORIZONS = { week: "下周", month: "下月" };
let forecastHorizon = "week";

async function showForecast(box, grid) {
  const params = new URLSearchParams({ horizon: forecastHorizon, level: "village", grid, limit: "10" });
  const [ok, data] = await apiJson(`/api/forecasts?${params}`);
  const pick = el(
    "select",
    { name: "horizon", onchange: (e) => ((forecastHorizon = e.target.value), showForecast(box, grid)) },
    Object.entries(HORIZONS).map(([value, label]) =>
      el("option", { value, selected: value === forecastHorizon }, label),
    ),
  );
  let body;
  if (!ok) body = el("p", { class: "muted" }, messageOf(data));
  else if (!data.made_at) body = el("p", { class: "muted" }, "还没有预测：系统每天零点后用截至昨天的数据自动预测");
  else if (!data.items.length) body = el("p", { class: "muted" }, "这一区域没有预测到案件");
  else
    body = el(
      "table",
      { class: "dash-forecast-table" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ["社区", "类别", "预测", `${Math.round(data.interval * 100)}%区间`, "上一周期"].map((h) =>
            el("th", {}, h),
          ),
        ),
      ),
      el(
        "tbody",
        {},
        data.items.map((f) =>
          el(
            "tr",
            { "data-area": f.area_code },
            el("td", {}, f.area_name),
            el("td", {}, f.category_name),
            el("td", { class: "num" }, f.expected.toFixed(1)),
            el("td", { class: "num" }, `${f.low}–${f.high}`),
            el("td", { class: "num" }, f.last_observed),
          ),
        ),
      ),
    );
  const span = data && data.made_at ? `（${data.period_start} 至 ${data.period_end}）` : "";
  box.replaceChildren(el("h3", {}, "预测", span, pick), body);
}

function status(message) {
  view.querySelector(".dash-status").textContent = message;
}

function table(name, rows) {
  const [title, columns] = TABLES[name];
  const drill = [
    "districts",
    "streets",
    "grids",
    "three_rates_districts",
    "three_rates_streets",
    "rates_streets",
  ].includes(name);
  // why a complaint rate is missing ("—"): said under the table, never shown as 0
  const notes = columns.some(([field]) => field === "complaint_rate")
    ? [...new Set(rows.map((row) => row.complaint_rate_note).filter(Boolean))]
    : [];
  return el(
    "section",
    { class: "dash-table", "data-table": name },
    el(
      "div",
      { class: "dash-table-head" },
      el("h3", {}, title),
      el(
        "button",
        { type: "button", class: "csv", "data-csv": name, onclick: () => download(name) },
        "导出 CSV",
      ),
    ),
    el(
      "table",
      {},
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          columns.map(([, heading]) => el("th", {}, heading)),
        ),
      ),
      el(
        "tbody",
        {},
        rows.map((row) =>
          el(
            "tr",
            {
              "data-code": row.code ?? row.user_id ?? row.date ?? row.week ?? row.hour,
              class: drill && row.code ? "drill" : null,
              onclick: drill && row.code ? () => drillTo(row.code) : null,
            },
            columns.map((column) => el("td", {}, cellOf(row, column))),
          ),
        ),
      ),
    ),
    notes.map((note) => el("p", { class: "dash-note muted" }, `投诉率为“—”：${note}`)),
  );
}

function card(label, value, extra) {
  return el(
    "div",
    { class: "card" },
    el("span", { class: "label" }, label),
    el("strong", {}, value),
    extra ?? null,
  );
}

function lineChart(canvas, rows, key) {
  return new Chart(canvas, {
    type: "line",
    data: {
      labels: rows.map((r) => r[key]),
      datasets: [
        { label: "受理", data: rows.map((r) => r.received), borderColor: "#1f6feb", tension: 0.2 },
        { label: "应结案", data: rows.map((r) => r.due), borderColor: "#e0a800", tension: 0.2 },
        { label: "结案", data: rows.map((r) => r.closed), borderColor: "#2e9d48", tension: 0.2 },
      ],
    },
    options: { animation: false, responsive: true, maintainAspectRatio: false },
  });
}

function barChart(canvas, labels, values, label, horizontal = false) {
  return new Chart(canvas, {
    type: "bar",
    data: { labels, datasets: [{ label, data: values, backgroundColor: "#1f6feb" }] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? "y" : "x",
    },
  });
}

function drawCharts(data) {
  for (const chart of charts) chart.destroy();
  const trend = trendBy === "day" ? data.trend_day : data.trend_week;
  charts = [
    lineChart(view.querySelector("#chart-trend"), trend, trendBy === "day" ? "date" : "week"),
    barChart(
      view.querySelector("#chart-hours"),
      data.hours.map((h) => `${h.hour}时`),
      data.hours.map((h) => h.received),
      "受理",
    ),
    barChart(
      view.querySelector("#chart-categories"),
      data.categories.map((c) => c.name),
      data.categories.map((c) => c.received),
      "受理",
      true,
    ),
  ];
  window.gridopsCharts = charts;
}

function drawHotMap(data, grid) {
  const features = data.grids
    .filter((g) => g.lon !== null && g.lat !== null)
    .map((g) => ({
      type: "Feature",
      geometry: { type: "Point", coordinates: [g.lon, g.lat] },
      properties: { code: g.code, name: g.name, received: g.received },
    }));
  const collection = { type: "FeatureCollection", features };
  hotMap?.remove();
  const container = view.querySelector("#hot-map");
  hotMap = plainMap({ container, center: features[0]?.geometry.coordinates ?? [117.02, 36.67], zoom: 10 });
  window.gridopsHotMap = hotMap;
  hotMap.on("load", () => {
    if (grid.geometry) {
      hotMap.addSource("area", { type: "geojson", data: grid.geometry });
      hotMap.addLayer({
        id: "area",
        type: "line",
        source: "area",
        paint: { "line-color": "#17324d", "line-width": 2 },
      });
      const points = grid.geometry.coordinates.flat(grid.geometry.type === "Polygon" ? 1 : 2);
      const bounds = points.reduce((b, p) => b.extend(p), new maplibregl.LngLatBounds(points[0], points[0]));
      hotMap.fitBounds(bounds, { padding: 20, animate: false });
    }
    const most = Math.max(1, ...features.map((f) => f.properties.received));
    hotMap.addSource("hot", { type: "geojson", data: collection });
    hotMap.addLayer({
      id: "hot",
      type: "circle",
      source: "hot",
      paint: {
        "circle-radius": ["+", 6, ["*", 24, ["/", ["get", "received"], most]]],
        "circle-color": "#d62828",
        "circle-opacity": 0.6,
        "circle-stroke-color": "#fff",
        "circle-stroke-width": 1,
      },
    });
    hotMap.addLayer({
      id: "hot-label",
      type: "symbol",
      source: "hot",
      layout: {
        "text-field": ["concat", ["get", "name"], " ", ["to-string", ["get", "received"]]],
        "text-size": 12,
      },
      paint: { "text-halo-color": "#fff", "text-halo-width": 1.5 },
    });
  });
}

const names = {}; // grid code -> name, for the trail

async function nameOf(code) {
  if (!(code in names)) {
    const [ok, grid] = await apiJson(`/api/grids/${code}`);
    names[code] = ok ? grid.name : code;
  }
  return names[code];
}

// The trail from the root to the grid shown (its path), each ancestor a link up.
async function breadcrumbs(grid) {
  const codes = grid.path.split(".");
  const labels = await Promise.all(codes.map(nameOf));
  const nodes = codes.map((code, i) =>
    i === codes.length - 1
      ? el("strong", {}, labels[i])
      : el(
          "a",
          {
            href: "#",
            onclick: (e) => {
              e.preventDefault();
              drillTo(code);
            },
          },
          labels[i],
        ),
  );
  view
    .querySelector(".dash-trail")
    .replaceChildren(...nodes.flatMap((node, i) => (i ? [" › ", node] : [node])));
}

function render(data, grid) {
  const t = data.totals;
  view
    .querySelector(".dash-cards")
    .replaceChildren(
      card("受理", t.received),
      card("应结案", t.due),
      ...RATE_FIELDS.map(([field, label]) => card(label, percent(t[field]))),
      card(
        "综合得分",
        t.score === null ? "—" : t.score.toFixed(1),
        t.grade
          ? el("span", { class: "grade", style: `background:${GRADE_COLORS[t.grade]}` }, t.grade)
          : null,
      ),
    );
  warnings.show(data.grid.code);
  showForecast(view.querySelector(".dash-forecast"), data.grid.code);
  view.querySelector(".dash-source").textContent =
    `${data.period.from} 至 ${data.period.to}，${data.source === "summary" ? "汇总表" : "案件表"}计算`;
  breadcrumbs(grid);
  drawCharts(data);
  drawHotMap(data, grid);
  for (const [name, level] of [
    ["rates_streets", "街道"],
    ["rates_departments", "部门"],
  ]) {
    TABLES[name][1] = rateColumns(data.rates_form, level);
  }
  view.querySelector(".dash-form").textContent = `三率考核口径：${FORMS[data.rates_form]}`;
  const tables = view.querySelector(".dash-tables");
  tables.replaceChildren(
    ...[
      "districts",
      "streets",
      "rates_streets",
      "departments",
      "rates_departments",
      "returns",
      "inspectors",
      "categories",
      "grids",
      "hours",
      "trend_week",
      "trend_day",
      "three_rates_districts",
      "three_rates_streets",
      "ratings_departments",
      "ratings_categories",
      "ratings_streets",
      "working_days_streets",
      "working_days_departments",
      "proactive_streets",
    ]
      .filter((name) => data[name].length || name === "returns")
      .map((name) => table(name, data[name])),
  );
  view.dataset.grid = data.grid.code;
  view.dataset.loaded = [data.grid.code, data.period.from, data.period.to, current.department]
    .concat(current.category_level ? [`level${current.category_level}`] : [])
    .join("|");
}

async function load() {
  delete view.dataset.loaded;
  status("加载中…");
  const [ok, data] = await apiJson(`/api/stats/dashboard?${query()}`);
  if (!ok) return status(messageOf(data));
  status("");
  current.grid = data.grid.code;
  current.from = data.period.from;
  current.to = data.period.to;
  const form = view.querySelector("form");
  form.from.value = data.period.from;
  form.to.value = data.period.to;
  const [, grid] = await apiJson(`/api/grids/${data.grid.code}`);
  render(data, grid);
}

// The month so far: the period of the monthly rankings (the three rates of streets above all).
function thisMonth() {
  const today = new Date();
  const day = (d) =>
    `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
  current = { ...current, from: day(new Date(today.getFullYear(), today.getMonth(), 1)), to: day(today) };
  load();
}

function drillTo(code) {
  current.grid = code;
  load();
}

async function build() {
  const [, departments] = await apiJson("/api/departments");
  const warningsBox = el("div", { class: "dash-warnings" });
  const reportsBox = el("section", { class: "dash-reports" });
  warnings = warningPanel(warningsBox);
  const form = el(
    "form",
    { class: "dash-filters" },
    el("span", { class: "dash-trail" }),
    el("label", {}, "自", el("input", { name: "from", type: "date" })),
    el("label", {}, "至", el("input", { name: "to", type: "date" })),
    el(
      "label",
      {},
      "部门",
      el(
        "select",
        { name: "department" },
        el("option", { value: "" }, "全部"),
        departments.map((d) => el("option", { value: d.code }, d.name)),
      ),
    ),
    el(
      "label",
      {},
      "类别按",
      el(
        "select",
        { name: "category_level" },
        el("option", { value: "" }, "最细一级"),
        el("option", { value: "1" }, "大类"),
        el("option", { value: "2" }, "中类"),
      ),
    ),
    el(
      "label",
      {},
      "趋势",
      el(
        "select",
        { name: "trend" },
        el("option", { value: "day" }, "按日"),
        el("option", { value: "week" }, "按周"),
      ),
    ),
    el("button", { type: "button", class: "month", onclick: () => thisMonth() }, "本月"),
    el("span", { class: "dash-source muted" }),
    el("span", { class: "dash-form muted" }),
    el("span", { class: "dash-status", role: "status" }),
  );
  form.addEventListener("change", (event) => {
    if (event.target.name === "trend") {
      trendBy = event.target.value;
      return view.dataset.loaded && load();
    }
    current = {
      ...current,
      from: form.from.value,
      to: form.to.value,
      department: form.department.value,
      category_level: form.category_level.value,
    };
    load();
  });
  view.replaceChildren(
    form,
    el(
      "div",
      { class: "dash-body" },
      el("div", { class: "dash-cards" }),
      warningsBox,
      el("section", { class: "dash-forecast" }),
      reportsBox,
      el(
        "div",
        { class: "dash-charts" },
        el(
          "figure",
          {},
          el("figcaption", {}, "趋势"),
          el("div", { class: "chart" }, el("canvas", { id: "chart-trend" })),
        ),
        el(
          "figure",
          {},
          el("figcaption", {}, "时段分布"),
          el("div", { class: "chart" }, el("canvas", { id: "chart-hours" })),
        ),
        el(
          "figure",
          {},
          el("figcaption", {}, "高发类别"),
          el("div", { class: "chart" }, el("canvas", { id: "chart-categories" })),
        ),
        el("figure", {}, el("figcaption", {}, "高发网格"), el("div", { id: "hot-map" })),
      ),
      el("div", { class: "dash-tables" }),
    ),
  );
  built = true;
  showReports(reportsBox);
}

document.addEventListener("logged-out", () => {
  built = false;
  current = { grid: null, department: "", from: "", to: "" };
  hotMap?.remove();
  hotMap = null;
  view.replaceChildren();
  delete view.dataset.loaded;
});

view.addEventListener("view-shown", async () => {
  if (!built) await build();
  if (!view.dataset.loaded) load();
});
