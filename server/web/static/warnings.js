// Warnings (预警): the open warnings the user sees, each with its figures, its state and the steps the
// user's roles may take: 查看 (seen), 发提醒函 (the reminder letter to the responsible department or street),
// 关闭 (with a reason); a sent letter opens as a printable page. The letter's addressee (the department's
// users, the street's grid heads) answers it here with a reply (反馈). The stream's warning events re-read
// the list and the map's warning areas (``onWarningChanged``).
import { api, apiJson, messageOf, sendJson } from "/static/api.js";
import { el } from "/static/case.js";

const COMMAND = ["acceptor", "shift_lead", "dispatcher", "leader", "admin"];
const CLOSERS = ["shift_lead", "leader", "admin"];
const watchers = new Set();

// The stream's warning event (null: the stream is live again, changes may have been missed).
export function onWarningChanged(data) {
  for (const watcher of watchers) watcher(data);
}

export function watchWarnings(watcher) {
  watchers.add(watcher);
}

function may(roles) {
  const mine = (document.body.dataset.roles ?? "").split(" ");
  return roles.some((role) => mine.includes(role));
}

// The open warnings the user sees, in the subtree of ``grid`` when given: [ok, items or error body].
export async function openWarnings(grid) {
  const [ok, body] = await apiJson(`/api/warnings${grid ? `?grid=${grid}` : ""}`);
  return [ok, ok ? body.items : body];
}

// The letter as sent, in a new window (opened at the click, so that no pop-up blocker stops it).
export async function openLetter(id) {
  const shown = window.open("", "_blank");
  const answer = await api(`/api/warnings/${id}/letter.html`);
  if (!answer.ok) {
    shown?.close();
    return messageOf(await answer.json());
  }
  const page = new Blob([await answer.text()], { type: "text/html;charset=utf-8" });
  if (shown) shown.location = URL.createObjectURL(page);
  return "";
}

function figures(w) {
  return `${w.period_start} 至 ${w.period_end}：${w.observed} 件，预期 ${w.expected.toFixed(1)} 件`;
}

// One warning with its steps; ``done`` is called after a step succeeded (the list is re-read).
function item(w, done) {
  const status = el("span", { class: "warning-status", role: "status" });
  const step = async (action, body = {}) => {
    const [ok, answer] = await sendJson(`/api/warnings/${w.id}/${action}`, body);
    if (!ok) return (status.textContent = messageOf(answer));
    done();
  };
  const actions = el("div", { class: "warning-actions" });
  if (w.state === "raised" && may(COMMAND)) {
    actions.append(el("button", { type: "button", class: "seen", onclick: () => step("seen") }, "查看"));
  }
  if (["raised", "seen"].includes(w.state) && may(COMMAND)) {
    const send = () => step("letter");
    actions.append(el("button", { type: "button", class: "letter", onclick: send }, "发提醒函"));
  }
  if (w.letter_number) {
    const open = async () => (status.textContent = await openLetter(w.id));
    actions.append(el("button", { type: "button", class: "open-letter", onclick: open }, "打开提醒函"));
  }
  if (may(CLOSERS)) {
    const reason = el("input", { name: "reason", maxlength: 500, placeholder: "关闭原因" });
    const form = el(
      "form",
      { class: "warning-close", hidden: true },
      reason,
      el("button", { type: "submit" }, "确认关闭"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      step("close", { reason: reason.value });
    });
    const toggle = () => {
      form.hidden = !form.hidden;
      if (!form.hidden) reason.focus();
    };
    actions.append(el("button", { type: "button", class: "close", onclick: toggle }, "关闭"), form);
  }
  if (w.can_acknowledge) {
    const reply = el("textarea", {
      name: "reply",
      maxlength: 2000,
      rows: 2,
      placeholder: "核查和处理情况",
    });
    const form = el("form", { class: "warning-reply" }, reply, el("button", { type: "submit" }, "反馈"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      step("acknowledge", { reply: reply.value });
    });
    actions.append(form);
  }
  const letter = w.letter_number
    ? `${w.letter_number} 发给${w.addressee_name}，请于 ${w.letter_due_on} 前反馈`
    : "";
  return el(
    "div",
    { class: `warning-item ${w.state}`, "data-id": w.id, "data-state": w.state },
    el(
      "p",
      {},
      el("span", { class: "warning-kind" }, w.kind_name),
      el("span", { class: "warning-state" }, w.state_name),
      ` ${w.message}`,
    ),
    el("p", { class: "muted" }, figures(w), letter ? `；${letter}` : ""),
    w.reply ? el("p", { class: "warning-reply-text" }, `反馈：${w.reply}`) : null,
    actions,
    status,
  );
}

// The warnings panel in ``container``: the open warnings of the subtree of ``grid``, kept up to date by
// the stream.
export function warningPanel(container, grid) {
  let shown = grid;
  const load = async () => {
    const [ok, items] = await openWarnings(shown);
    if (!ok) return container.replaceChildren(el("p", { class: "warning" }, messageOf(items)));
    container.replaceChildren(
      el("h3", {}, `预警（未关闭 ${items.length} 条）`),
      ...items.map((w) => item(w, load)),
    );
    container.dataset.loaded = items.map((w) => `${w.id}:${w.state}`).join(" ");
  };
  watchWarnings(() => container.isConnected && load());
  return {
    show(code) {
      shown = code;
      return load();
    },
  };
}
