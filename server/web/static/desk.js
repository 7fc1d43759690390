// The case desk: the queues this user works, with their counts (and how many are overdue), and the chosen
// queue's cases, most urgent and soonest due first. A row opens the case panel. Case changes arriving on the
// live stream re-read the counts and the list (at most once a second).
import { apiJson, messageOf } from "/static/api.js";
import { el, lightDot, openCase, timeLeft, URGENCY } from "/static/case.js";
import { openHotline } from "/static/hotline.js";

const PAGE = 100;
const REFRESH_MS = 1000;

const queuesNav = document.getElementById("queues");
const title = document.getElementById("queue-title");
const rows = document.querySelector("#case-list tbody");
const empty = document.getElementById("queue-empty");
let current = null; // the queue shown
let timer = null;

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
  title.textContent = chosen ? `${chosen.label}（${chosen.count}）` : "没有可办的队列";
}

async function loadList() {
  if (!current) {
    rows.replaceChildren();
    empty.hidden = false;
    return;
  }
  const [ok, body] = await apiJson(`/api/cases?queue=${current}&limit=${PAGE}`);
  if (!ok) {
    title.textContent = messageOf(body);
    return;
  }
  rows.replaceChildren(
    ...body.items.map((item) =>
      el(
        "tr",
        { "data-code": item.code, onclick: () => openCase(item.code) },
        el("td", {}, lightDot(item.light)),
        el("td", {}, item.code),
        el("td", {}, item.category.name),
        el("td", {}, item.state_label),
        el("td", {}, URGENCY[item.urgency] ?? item.urgency),
        el("td", {}, timeLeft(item)),
        el("td", {}, item.address ?? item.grid_code),
      ),
    ),
  );
  empty.hidden = body.items.length > 0;
}

export async function refresh() {
  await loadQueues();
  await loadList();
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
