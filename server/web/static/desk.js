// The case desk: the queues this user works, with their counts (and how many are overdue), and the chosen
// queue's cases, most urgent and soonest due first, narrowed by the filter bar. Above them the search box
// finds any case in the user's scope (by code, caller's phone, words; server/case/search.py). A row opens
// the case panel. Case changes arriving on the live stream re-read the counts, the list and the search's
// results (at most once a second).
import { apiJson, messageOf } from "/static/api.js";
import { el, lightDot, openCase, supervisionBadge, timeLeft, URGENCY } from "/static/case.js";
import { openHotline } from "/static/hotline.js";

const PAGE = 100;
const REFRESH_MS = 1000;

const queuesNav = document.getElementById("queues");
const title = document.getElementById("queue-title");
const rows = document.querySelector("#case-list tbody");
const empty = document.getElementById("queue-empty");
const filters = document.getElementById("desk-filters");
const searchForm = document.getElementById("desk-search");
const results = document.getElementById("search-results");
const searchTitle = document.getElementById("search-title");
const found = document.querySelector("#search-list tbody");
let current = null; // the queue shown
let heading = ""; // the queue's name and count
let timer = null;
let optionsLoaded = false; // the filter bar's choices, read once per login
let searched = null; // the query whose results are shown

function choose(name) {
  current = name;
  refresh();
}

async function loadQueues() {
  const [ok, queues] = await apiJson("/api/cases/queues");
  if (!ok) return;
  if (!current || !queues.some((q) => q.name === current)) current = queues[0]?.name ?? null;
  queuesNav.replaceChildren(
    ...queues.map((queue) =>
      el(
        "button",
        {
          type: "button",
          "data-queue": queue.name,
          "aria-pressed": String(queue.name === current),
          onclick: () => choose(queue.name),
        },
        queue.label,
        el("span", { class: "count" }, queue.count),
        queue.overdue ? el("span", { class: "overdue", title: "已超时" }, queue.overdue) : null,
      ),
    ),
  );
  const chosen = queues.find((q) => q.name === current);
  heading = chosen ? `${chosen.label}（${chosen.count}）` : "没有可办的队列";
  title.textContent = heading;
}

async function loadList() {
  if (!current) {
    rows.replaceChildren();
    empty.hidden = false;
    return;
  }
  const [ok, body] = await apiJson(`/api/cases?queue=${current}&limit=${PAGE}${filterQuery()}`);
  if (!ok) {
    title.textContent = messageOf(body);
    return;
  }
  title.textContent = filterQuery() ? `${heading}，筛选出 ${body.total} 个` : heading;
  rows.replaceChildren(
    ...body.items.map((item) =>
      el(
        "tr",
        { "data-code": item.code, onclick: () => openCase(item.code) },
        el("td", {}, lightDot(item.light)),
        el("td", {}, item.code, " ", supervisionBadge(item.supervision_level)),
        el("td", {}, item.category.name),
        // the state, and the department holding the case (which department an overdue case sits with)
        el(
          "td",
          {},
          item.state_label,
          item.department ? el("span", { class: "muted" }, ` · ${item.department.name}`) : null,
        ),
        el("td", {}, URGENCY[item.urgency] ?? item.urgency),
        el("td", {}, timeLeft(item)),
        el("td", {}, item.address ?? item.near_address ?? item.grid_code),
      ),
    ),
  );
  empty.hidden = body.items.length > 0;
}

// The filter bar's choices as query parameters ("" when nothing is chosen); a street narrows its district.
function filterQuery() {
  const form = new FormData(filters);
  const query = new URLSearchParams();
  for (const name of ["since", "until", "category", "department", "channel", "request_type", "tag", "light"]) {
    if (form.get(name)) query.set(name, form.get(name));
  }
  const grid = form.get("street") || form.get("district");
  if (grid) query.set("grid", grid);
  if (form.get("supervised")) query.set("supervised", "true");
  return query.size ? `&${query}` : "";
}

function fill(select, items) {
  select.replaceChildren(select.options[0], ...items.map((item) => new Option(item.name, item.code)));
}

async function loadFilterOptions() {
  optionsLoaded = true;
  const [[, categories], [, departments], [, tags], [, roots], [, requestTypes]] = await Promise.all(
    ["/api/categories", "/api/departments", "/api/tags", "/api/grids", "/api/request-types"].map((path) =>
      apiJson(path),
    ),
  );
  fill(filters.elements.category, (categories ?? []).filter((c) => c.leaf)); // cases are under leaves
  fill(filters.elements.request_type, requestTypes ?? []); // the city's own, as its taxonomy loads them
  fill(filters.elements.department, departments ?? []);
  fill(filters.elements.tag, tags ?? []);
  const districts = roots?.length ? (await apiJson(`/api/grids?parent=${roots[0].code}`))[1] : [];
  fill(filters.elements.district, districts ?? []);
}

// A district chosen: its streets to choose from.
async function loadStreets() {
  const district = filters.elements.district.value;
  const street = filters.elements.street;
  fill(street, []);
  street.disabled = !district;
  if (district) fill(street, (await apiJson(`/api/grids?parent=${district}`))[1] ?? []);
}

filters.addEventListener("change", async (event) => {
  if (event.target.name === "district") await loadStreets();
  loadList();
});
filters.addEventListener("reset", () => {
  setTimeout(async () => {
    await loadStreets();
    loadList();
  }); // after the form has cleared its fields
});

// -- the search box ----------------------------------------------------------------------------------

async function runSearch() {
  const query = searched;
  const [ok, body] = await apiJson(`/api/cases/search?q=${encodeURIComponent(query)}`);
  if (searched !== query) return; // closed or searched again meanwhile: this answer is stale
  results.hidden = false;
  searchTitle.classList.toggle("error", !ok);
  if (!ok) {
    searchTitle.textContent = messageOf(body);
    found.replaceChildren();
    return;
  }
  searchTitle.textContent = body.length
    ? `搜索“${query}”：${body.length} 个案件，最相符的在前`
    : `没有找到与“${query}”相符的案件：请换个词，或输入案件编号、来电号码的后四位`;
  found.replaceChildren(
    ...body.map((item) =>
      el(
        "tr",
        { "data-code": item.code, onclick: () => openCase(item.code) },
        el("td", {}, lightDot(item.light)),
        el("td", {}, item.code),
        el("td", {}, item.category.name),
        el("td", {}, item.state_label),
        el("td", {}, item.department?.name ?? "—"),
        el("td", {}, item.address ?? item.near_address ?? item.grid_name ?? item.grid_code),
        el("td", { class: "description", title: item.description }, item.description),
      ),
    ),
  );
}

searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  searched = searchForm.elements.q.value;
  runSearch();
});

function closeSearch() {
  searched = null;
  results.hidden = true;
  found.replaceChildren();
  searchForm.reset();
}

document.getElementById("search-close").addEventListener("click", closeSearch);

document.addEventListener("logged-out", () => {
  closeSearch();
  filters.reset();
  optionsLoaded = false; // another user may log in
});

export async function refresh() {
  if (!optionsLoaded) loadFilterOptions();
  await loadQueues();
  await loadList();
  if (searched !== null) await runSearch();
}

// A case changed (or changes may have been missed): re-read, at most once every REFRESH_MS.
export function onCaseChanged() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    refresh();
  }, REFRESH_MS);
}

document.getElementById("hotline-open").addEventListener("click", () => openHotline());

// After this user acted from the panel, the queues change at once.
document.getElementById("case-panel").addEventListener("acted", () => refresh());
