// The cities of those who work in several (a province's administrators): the switcher in the top bar (the
// city worked in, and a choice of the others), and for leaders and administrators the 城市总览 tab, each city's
// cases side by side. Choosing a city reloads the page, so that everything shown is that city's.
import { apiJson, messageOf, workInCity } from "/static/api.js";
import { el } from "/static/case.js";

const switcher = document.getElementById("city");
const tab = document.querySelector("#tabs [data-view=cities-view]");
const view = document.getElementById("cities-view");
const COLUMNS = [
  ["open", "在办案件"],
  ["overdue", "已超期"],
  ["received_today", "今日受理"],
  ["closed_today", "今日结案"],
];

let own = null; // the user's own city (listed first): working there needs no city named

function switchTo(code) {
  workInCity(code === own ? null : code);
  location.reload();
}

// Show the switcher (and the overview tab to leaders and administrators) when the user works in several
// cities; ``me`` is the user (GET /api/auth/me).
export async function showCities(me) {
  const [ok, cities] = await apiJson("/api/cities");
  const several = ok && cities.length > 1;
  switcher.hidden = !several;
  tab.hidden = !several || !me.roles.some((role) => role === "leader" || role === "admin");
  if (!several) return;
  own = cities[0].code;
  const current = cities.find((city) => city.current);
  const choice = el(
    "select",
    { "aria-label": "切换城市", onchange: (event) => switchTo(event.target.value) },
    el("option", { value: "", selected: true, disabled: true }, "切换城市"),
    cities.filter((city) => !city.current).map((city) => el("option", { value: city.code }, city.name)),
  );
  switcher.replaceChildren(el("span", { class: "current" }, `当前城市：${current.name}`), choice);
  switcher.dataset.city = current.code;
}

async function load() {
  view.replaceChildren(el("p", { class: "muted" }, "正在读取各城市的案件……"));
  const [ok, body] = await apiJson("/api/cities/overview");
  if (!ok) return view.replaceChildren(el("p", { class: "error", role: "alert" }, messageOf(body)));
  const row = (city) =>
    el(
      "tr",
      {
        "data-city": city.code,
        "aria-current": city.current ? "true" : null,
        title: city.current ? "正在这个城市工作" : `点击切换到${city.name}`,
        onclick: () => city.current || switchTo(city.code),
      },
      el("td", {}, city.name, city.current ? el("span", { class: "muted" }, "（当前）") : null),
      COLUMNS.map(([field]) => el("td", { "data-field": field }, city[field])),
    );
  view.replaceChildren(
    el("h2", {}, "城市总览"),
    el("p", { class: "muted" }, "各城市的案件一览；点击一个城市即切换到该城市工作"),
    el(
      "table",
      { id: "city-overview", class: "case-table" },
      el("thead", {}, el("tr", {}, el("th", {}, "城市"), COLUMNS.map(([, label]) => el("th", {}, label)))),
      el("tbody", {}, body.map(row)),
    ),
  );
}

document.addEventListener("logged-out", () => {
  switcher.hidden = true;
  tab.hidden = true;
  switcher.replaceChildren();
  view.replaceChildren();
  own = null;
});

// The figures change all day: read again each time the tab is shown.
view.addEventListener("view-shown", load);
