// The tracking page: a case's stages, its public timeline, photos before and after, the deadline, and
// the reporter's rating once it is closed (with the token this browser kept when reporting). A merged case
// links to the case it joined; a mistyped code, a case not yet filed or a voided one is answered in the
// server's words.
import { fetchInCity } from "/static/api.js";
import { el, when } from "/static/case.js";
import { limitLength, loadLimits } from "/static/public/limits.js";
import { reporterToken } from "/static/public/tokens.js";

const lookup = document.querySelector("#lookup");
const error = document.querySelector("main > .error");
const section = document.querySelector("#case");
const ASPECTS = { speed: "处置速度", result: "处置结果", attitude: "服务态度", system: "平台使用" };

function photos(title, list) {
  return el(
    "figure",
    {},
    el("figcaption", {}, title),
    list.length ? list.map((p) => el("img", { src: p.url, alt: title })) : el("p", { class: "muted" }, "暂无"),
  );
}

function ratingForm(code, token) {
  const stars = {};
  const rows = Object.entries(ASPECTS).map(([name, label]) => {
    stars[name] = 5;
    const buttons = [1, 2, 3, 4, 5].map((n) =>
      el("button", { type: "button", class: "on", "data-aspect": name, "data-stars": n, "aria-label": `${label}${n}星` }, "★"),
    );
    buttons.forEach((b, i) =>
      b.addEventListener("click", () => {
        stars[name] = i + 1;
        buttons.forEach((other, j) => other.classList.toggle("on", j <= i));
      }),
    );
    return el("div", { class: "stars" }, el("span", {}, label), buttons);
  });
  const comment = el("textarea", { name: "comment", rows: 2, placeholder: "您的意见（选填）" });
  loadLimits().then((limits) => limitLength(comment, limits.comment_max_length));
  const message = el("p", { class: "error", role: "alert" });
  const form = el("form", { id: "rating" }, el("h3", {}, "评价办理结果"), rows, comment, el("button", { type: "submit" }, "提交评价"), message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await fetchInCity(`/api/public/cases/${code}/rating`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ reporter_token: token, ...stars, comment: comment.value.trim() }),
    });
    const body = await answer.json();
    if (!answer.ok) {
      message.textContent = body.detail;
      return;
    }
    form.replaceWith(el("p", { class: "rated" }, "感谢您的评价！"));
  });
  return form;
}

// A merged case's progress is the case it joined.
function mergedInto(master) {
  return el(
    "p",
    { class: "merged" },
    "这个案件已与案件 ",
    el("a", { href: master.track_url }, master.code),
    " 合并办理，不再单独处理：请点击该案件编号查看办理进度。",
  );
}

function show(item) {
  const token = reporterToken(item.code);
  const parts = [
    el("p", { class: "code" }, item.code),
    el("p", {}, `${item.category} · ${item.state_label}`),
    el("p", { class: "muted" }, item.description),
    item.merged_into ? mergedInto(item.merged_into) : null,
    item.stages.length
      ? el(
          "ol",
          { class: "stages" },
          item.stages.map((s) => el("li", { class: s.current ? "current" : s.done ? "done" : "" }, s.label)),
        )
      : null,
    item.deadline ? el("p", { class: "deadline" }, `办理时限：${when(item.deadline)}`) : null,
    item.closed_at ? el("p", {}, `结案时间：${when(item.closed_at)}`) : null,
    el("div", { class: "photos" }, photos("处置前", item.before), photos("处置后", item.after)),
    el("h3", {}, "办理过程"),
    el(
      "ul",
      { class: "timeline" },
      item.timeline.map((e) =>
        el("li", {}, el("strong", {}, e.label), ` ${when(e.at)} · ${e.state_label}`, e.note ? el("div", {}, e.note) : null),
      ),
    ),
    item.state_label === "已结案" && token && !item.rated ? ratingForm(item.code, token) : null,
    item.rated ? el("p", { class: "rated" }, "已评价，感谢您的反馈") : null,
  ];
  section.replaceChildren(...parts.filter(Boolean));
  section.hidden = false;
  section.dataset.code = item.code;
}

async function load(code) {
  error.textContent = "";
  section.hidden = true;
  const answer = await fetchInCity(`/api/public/cases/${encodeURIComponent(code)}`);
  const body = await answer.json();
  if (!answer.ok) {
    error.textContent = body.detail;
    return;
  }
  show(body);
}

lookup.addEventListener("submit", (event) => {
  event.preventDefault();
  const code = lookup.code.value.trim();
  history.pushState(null, "", `/track/${code}${location.search}`); // (?city= stays)
  load(code);
});

const fromPath = decodeURIComponent(location.pathname.replace(/^\/track\/?/, ""));
if (fromPath) {
  lookup.code.value = fromPath;
  load(fromPath);
}
