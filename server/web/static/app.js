// The command center: a login form until logged in, then the map, the case desk, the dashboard and the
// grid heads' review, each in its tab.
import {
  api,
  deviceId,
  dropTokens,
  keepTokens,
  LiveStream,
  LoggedOut,
  onLoggedOut,
  postJson,
  tokens,
  workInCity,
} from "/static/api.js";
import "/static/admin.js";
import * as casePanel from "/static/case.js";
import { showCities } from "/static/cities.js";
import "/static/dashboard.js";
import * as desk from "/static/desk.js";
import "/static/knowledge.js";
import * as map from "/static/map.js";
import "/static/review.js";
import { onWarningChanged } from "/static/warnings.js";

const loginForm = document.getElementById("login");
const appView = document.getElementById("app");

let stream = null;

function showLogin(message = "") {
  dropTokens();
  stream?.close();
  stream = null;
  casePanel.closeCase();
  map.removeMap();
  document.dispatchEvent(new CustomEvent("logged-out")); // the views forget what they showed
  appView.hidden = true;
  loginForm.hidden = false;
  loginForm.querySelector(".error").textContent = message;
}

onLoggedOut(showLogin);

loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(loginForm);
  const answer = await postJson("/api/auth/login", {
    login: form.get("login"),
    password: form.get("password"),
    device_id: deviceId(),
    device_name: "指挥中心网页",
  });
  const body = await answer.json();
  if (!answer.ok) {
    loginForm.querySelector(".error").textContent = body.detail;
    return;
  }
  keepTokens(body);
  workInCity(null); // each login starts in its user's own city
  loginForm.reset();
  await start();
});

document.getElementById("logout").addEventListener("click", async () => {
  await api("/api/auth/logout", { method: "POST" });
  workInCity(null);
  showLogin();
});

// The tabs: the map and the case desk.
document.getElementById("tabs").addEventListener("click", (event) => {
  const view = event.target.dataset?.view;
  if (!view) return;
  for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== view;
  window.gridopsMap?.resize();
  // The module of the view shown reads its data now (see each module's "view-shown" listener).
  document.getElementById(view).dispatchEvent(new CustomEvent("view-shown"));
});

// The live stream: each case change goes to the map, the desk and the case panel, each warning change to
// the warnings' views (warnings.js); a (re)connection re-reads them all, since changes may have been
// missed meanwhile.
function startStream() {
  const live = document.getElementById("live");
  const changed = (data) => {
    map.onCaseChanged(data);
    desk.onCaseChanged(data);
    casePanel.onCaseChanged(data);
  };
  stream = new LiveStream({
    ready: () => {
      live.classList.add("on");
      changed(null);
      onWarningChanged(null);
    },
    case: changed,
    position: map.onPosition,
    warning: onWarningChanged,
  });
}

async function start() {
  try {
    const me = await (await api("/api/auth/me")).json();
    const config = await (await api("/api/web/config")).json(); // (the start view of the city worked in)
    document.getElementById("user").textContent = me.name;
    document.body.dataset.roles = me.roles.join(" "); // what the pages offer (the server decides anyway)
    // The tabs a user's roles can use (a tab's data-roles); the server refuses the others anyway.
    for (const tab of document.querySelectorAll("#tabs [data-roles]")) {
      tab.hidden = !tab.dataset.roles.split(" ").some((role) => me.roles.includes(role));
    }
    await showCities(me); // the city switcher, for those who work in several
    loginForm.hidden = true;
    appView.hidden = false;
    map.showMap(config);
    desk.refresh();
    startStream();
  } catch (error) {
    if (!(error instanceof LoggedOut)) throw error;
  }
}

if (tokens()) start();
else showLogin();
