// The session and the server: tokens in sessionStorage (one login per tab), the device id in localStorage
// (one session per browser), the city worked in by those who work in several (localStorage), API calls that
// refresh an expired access token once, and the live stream of case changes.

const TOKENS = "gridops.tokens";
const DEVICE = "gridops.device";
const CITY = "gridops.city";
const CITY_REFUSED = new Set(["auth.city_not_yours", "city.no_city"]); // the city kept is not (or no more) theirs
const RECONNECT_MS = 3000;

export class LoggedOut extends Error {}

// A call the end of the login cut short is abandoned on purpose (the login form is shown, or the page
// reloads in the user's own city): whichever part of the page made it and did not wait for it, that is not
// an error of the page.
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof LoggedOut) event.preventDefault();
});

let loggedOut = () => {};

// What to do when the login has ended (the app shows its login form).
export function onLoggedOut(handler) {
  loggedOut = handler;
}

export function tokens() {
  return JSON.parse(sessionStorage.getItem(TOKENS) || "null");
}

export function keepTokens(answer) {
  sessionStorage.setItem(TOKENS, JSON.stringify(answer));
}

export function dropTokens() {
  sessionStorage.removeItem(TOKENS);
}

export function deviceId() {
  let id = localStorage.getItem(DEVICE);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    localStorage.setItem(DEVICE, id);
  }
  return id;
}

// The city worked in (its code), for users who work in several; none: the user's own city. Logging in or
// out forgets it, so that each login starts in the user's own city.
export function workingCity() {
  return localStorage.getItem(CITY);
}

export function workInCity(code) {
  if (code) localStorage.setItem(CITY, code);
  else localStorage.removeItem(CITY);
}

// The headers that name the city the page works in: the one its address names (?city=, the public pages'
// links), else the one kept (none: the user's own city, or the deployment's for the public).
export function cityHeaders() {
  const city = new URLSearchParams(location.search).get("city") ?? workingCity();
  return city ? { "X-GridOps-City": city } : {};
}

// A call that needs no login, in the city the page works in.
export function fetchInCity(url, options = {}) {
  return fetch(url, { ...options, headers: { ...options.headers, ...cityHeaders() } });
}

export function postJson(path, body) {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// One refresh at a time for the whole page: calls that find the access token expired together wait for the
// same refresh, since presenting a rotated-away refresh token again ends the session (reuse detection).
let refreshing = null;

export function refreshTokens() {
  refreshing ??= (async () => {
    try {
      const current = tokens();
      if (!current) return false;
      const answer = await postJson("/api/auth/refresh", { refresh_token: current.refresh_token });
      if (!answer.ok) return false;
      keepTokens(await answer.json());
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// An API call with the access token (in the city worked in), refreshed once when it has expired; the app
// goes back to its login form when the login itself has ended, and to the user's own city when the city
// kept is not theirs.
export async function api(path, options = {}) {
  if (!tokens()) throw new LoggedOut(); // (the login form is shown already: a view reading after the logout)
  const call = () =>
    fetch(path, {
      ...options,
      headers: { ...options.headers, ...cityHeaders(), Authorization: `Bearer ${tokens()?.access_token}` },
    });
  let answer = await call();
  if (answer.status === 401 && (await refreshTokens())) answer = await call();
  if (answer.status === 401) {
    loggedOut("登录已过期，请重新登录");
    throw new LoggedOut();
  }
  if ((answer.status === 403 || answer.status === 404) && workingCity() && (await cityRefused(answer))) {
    workInCity(null);
    location.reload();
    throw new LoggedOut();
  }
  return answer;
}

async function cityRefused(answer) {
  try {
    return CITY_REFUSED.has((await answer.clone().json()).code);
  } catch {
    return false;
  }
}

// An API call whose answer is JSON: [ok, body]. An answer that is not (a proxy's error page while the
// server restarts) is an error the person is told about in words.
export async function apiJson(path, options = {}) {
  const answer = await api(path, options);
  try {
    return [answer.ok, await answer.json(), answer.status];
  } catch {
    return [false, { detail: "服务器暂时无法应答，请稍后重试" }, answer.status];
  }
}

export function sendJson(path, body) {
  return apiJson(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

// The server's message in an error answer, written for the person reading it (server/messages).
export function messageOf(body) {
  return body?.detail ?? "出错了，请稍后重试；一再出现请联系管理员";
}

// The live stream of case changes (server-sent events). ``handlers.case(data)`` gets each change;
// ``handlers.ready()`` is called when the stream is (again) live, after which lists must be re-read since
// changes may have been missed. A broken stream is reopened with a fresh token.
export class LiveStream {
  constructor(handlers) {
    this.handlers = handlers;
    this.source = null;
    this.timer = null;
    this.closed = false;
    this.open();
  }

  open() {
    if (this.closed) return;
    const token = encodeURIComponent(tokens()?.access_token ?? "");
    const city = workingCity() ? `&city=${encodeURIComponent(workingCity())}` : "";
    const source = new EventSource(`/api/events/stream?access_token=${token}${city}`);
    this.source = source;
    source.addEventListener("ready", () => this.handlers.ready?.());
    source.addEventListener("case", (event) => this.handlers.case?.(JSON.parse(event.data)));
    for (const [name, handler] of Object.entries(this.handlers)) {
      if (name !== "ready" && name !== "case") {
        source.addEventListener(name, (event) => handler(JSON.parse(event.data)));
      }
    }
    source.addEventListener("overflow", () => this.reopen());
    source.onerror = () => this.reopen();
  }

  // Close the broken stream; after a pause, refresh the token (it may have expired) and open again.
  reopen() {
    this.source?.close();
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      await refreshTokens();
      this.open();
    }, RECONNECT_MS);
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.source?.close();
  }
}
