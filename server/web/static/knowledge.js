// The knowledge base (知识库): the answer templates the hotline desk answers 咨询 with. Everyone of the
// command center searches them (the caller's words, best match first, else the most used) and sees how
// often each was used; shift leads and administrators add, edit and deactivate them.
import { apiJson, messageOf, sendJson } from "/static/api.js";
import { counted, el } from "/static/case.js";

const view = document.getElementById("knowledge-view");
let categories = null;
let requestTypes = null;

const keeps = () => /\b(shift_lead|admin)\b/.test(document.body.dataset.roles ?? "");

function say(message, kind = "error") {
  const box = view.querySelector(".message");
  box.textContent = message;
  box.className = `message ${kind}`;
  box.hidden = !message;
}

async function reference() {
  if (!categories) {
    const [[, list], [, types]] = await Promise.all([apiJson("/api/categories"), apiJson("/api/request-types")]);
    categories = list;
    requestTypes = types;
  }
}

async function search() {
  const form = view.querySelector(".knowledge-search");
  const params = new URLSearchParams({ limit: "200" });
  if (form.q.value.trim()) params.set("q", form.q.value.trim());
  if (form.include_inactive.checked) params.set("include_inactive", "true");
  const [ok, found] = await apiJson(`/api/answers?${params}`);
  if (!ok) return say(messageOf(found));
  say("");
  view.querySelector(".placeholders").textContent = `答复内容可用的占位符：${found.placeholders.join(" ")}`;
  const rows = found.items.map((t) =>
    el(
      "tr",
      { "data-template": t.id, class: t.active ? "" : "muted" },
      el("td", {}, el("strong", {}, t.title), el("p", { class: "muted preview" }, t.body)),
      el("td", {}, t.category_name ? `${t.category_name}（${t.category}）` : "—"),
      el("td", {}, t.request_type_name ?? "—"),
      el("td", { class: "use-count" }, String(t.use_count)),
      el("td", {}, t.active ? "在用" : "已停用"),
      el(
        "td",
        {},
        keeps() ? el("button", { type: "button", onclick: () => edit(t) }, "编辑") : null,
        keeps() && t.active ? el("button", { type: "button", onclick: () => deactivate(t) }, "停用") : null,
      ),
    ),
  );
  view.querySelector("tbody").replaceChildren(...rows);
  view.querySelector(".knowledge-empty").hidden = rows.length > 0;
  view.dataset.loaded = "true";
}

async function deactivate(template) {
  const [ok, answer] = await sendJson(`/api/answers/${template.id}/deactivate`, {});
  if (!ok) return say(messageOf(answer));
  say(`已停用“${template.title}”`, "ok");
  await search();
}

// The form adding a template (none given) or editing one.
async function edit(template = null) {
  await reference();
  const category = template?.category ? categories.find((c) => c.code === template.category) : null;
  const form = el(
    "form",
    { class: "knowledge-form" },
    el("h3", {}, template ? `编辑答复模板：${template.title}` : "新增答复模板"),
    el("label", {}, "标题", el("input", { name: "title", required: true, maxlength: 100, value: template?.title ?? "" })),
    el(
      "label",
      {},
      "常见问法（来电人怎么问）",
      counted(el("textarea", { name: "question", rows: 2, maxlength: 500 }, template?.question ?? "")),
    ),
    el(
      "label",
      {},
      "答复内容",
      counted(el("textarea", { name: "body", rows: 5, required: true, maxlength: 2000 }, template?.body ?? "")),
    ),
    el(
      "label",
      {},
      "问题类别（可不填）",
      el("input", {
        name: "category",
        list: "knowledge-categories",
        maxlength: 100,
        value: category ? `${category.name}（${category.code}）` : "",
      }),
      el("datalist", { id: "knowledge-categories" }, categories.map((c) => el("option", { value: `${c.name}（${c.code}）` }))),
    ),
    el(
      "label",
      {},
      "诉求类型",
      el(
        "select",
        { name: "request_type" },
        el("option", { value: "" }, "不限"),
        requestTypes.map((t) => el("option", { value: t.code, selected: t.code === (template ? template.request_type : "consult") }, t.name)),
      ),
    ),
    template && !template.active
      ? el("label", { class: "toggle" }, el("input", { name: "active", type: "checkbox" }), " 重新启用")
      : null,
    el(
      "div",
      { class: "buttons" },
      el("button", { type: "submit" }, "保存"),
      el("button", { type: "button", onclick: () => view.querySelector(".knowledge-form-slot").replaceChildren() }, "取消"),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const typed = form.category.value.trim();
    const picked = categories.find((c) => `${c.name}（${c.code}）` === typed || c.code === typed);
    if (typed && !picked) return say("请从列表中选择问题类别，或不填");
    const body = {
      title: form.title.value.trim(),
      question: form.question.value.trim(),
      body: form.body.value,
      category: picked?.code ?? null,
      request_type: form.request_type.value || null,
    };
    if (form.active?.checked) body.active = true;
    const [ok, saved] = template
      ? await apiJson(`/api/answers/${template.id}`, {
          method: "PATCH",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        })
      : await sendJson("/api/answers", body);
    if (!ok) return say(messageOf(saved));
    view.querySelector(".knowledge-form-slot").replaceChildren();
    say(`已保存“${saved.title}”`, "ok");
    await search();
  });
  view.querySelector(".knowledge-form-slot").replaceChildren(form);
  form.title.focus();
}

function render() {
  const form = el(
    "form",
    { class: "knowledge-search", role: "search" },
    el("input", { name: "q", type: "search", maxlength: 200, placeholder: "来电人的话，如：井盖坏了归谁管", "aria-label": "搜索答复模板" }),
    el("label", { class: "toggle" }, el("input", { name: "include_inactive", type: "checkbox" }), " 含已停用"),
    el("button", { type: "submit" }, "搜索"),
    keeps() ? el("button", { type: "button", class: "knowledge-add", onclick: () => edit() }, "新增模板") : null,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  view.replaceChildren(
    el("h2", {}, "知识库（答复模板）"),
    form,
    el("p", { class: "placeholders muted" }),
    el("p", { class: "message", role: "alert", hidden: true }),
    el("div", { class: "knowledge-form-slot" }),
    el(
      "table",
      { class: "case-table knowledge-list" },
      el("thead", {}, el("tr", {}, ["标题与答复内容", "问题类别", "诉求类型", "使用次数", "状态", ""].map((h) => el("th", {}, h)))),
      el("tbody"),
    ),
    el("p", { class: "knowledge-empty muted", hidden: true }, "没有找到相符的答复模板：换几个字再搜索"),
  );
}

document.addEventListener("logged-out", () => {
  view.replaceChildren();
  delete view.dataset.loaded;
  categories = null;
});

view.addEventListener("view-shown", async () => {
  if (!view.querySelector(".knowledge-search")) render();
  await search();
});
