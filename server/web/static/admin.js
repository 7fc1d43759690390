// The administrator's pages (管理), so that a city runs GridOps without the command line: users (add, roles,
// home grid and department, disable, reset a password, end every login), the grid import with its topology
// report, the address register's import with its report, the taxonomy load with its error list, departments,
// dispatch centers (street sub-centers) and the holiday file. Each file is checked first (nothing written) and
// written only after a check without errors; every refusal is shown in the server's own words.
import { apiJson, messageOf, sendJson } from "/static/api.js";
import { el } from "/static/case.js";

const view = document.getElementById("admin-view");
const PAGES = {
  users: "用户",
  grids: "网格导入",
  addresses: "地址库",
  taxonomy: "分类导入",
  departments: "部门",
  centers: "调度分中心",
  triage: "智能分拣",
  holidays: "节假日",
};
const CRS = {
  wgs84: "WGS 84（国际通用，卫星定位）",
  cgcs2000: "CGCS2000（国家大地坐标系）",
  gcj02: "GCJ-02（国内地图）",
  bd09: "BD-09（百度地图）",
};
const TAXONOMY_FORMATS = { "": "按文件名判断", yaml: "完整分类文件", csv: "问题类别表格（CSV）" };
const COUNTS = [["departments", "部门"], ["categories", "问题类别"], ["tags", "标签"]];
const SOURCES = { package: "日历包", "holiday file": "节假日文件" };
const WEEKDAYS = "日一二三四五六";

let roles = null; // [{role, name}], the roles in words
let page = "users";

// -- helpers -----------------------------------------------------------------------------------------------

// The page's one status line: what was done, or why it was refused.
function say(message, ok = false) {
  const status = view.querySelector("#admin-status");
  status.textContent = message;
  status.className = ok ? "ok" : "error";
}

function patchJson(path, body) {
  return apiJson(path, {
    method: "PATCH",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

function upload(path, file, params) {
  const form = new FormData();
  form.append("file", file);
  return apiJson(`${path}?${new URLSearchParams(params)}`, { method: "POST", body: form });
}

// A refusal's every problem (a file's errors, a form's fields), else its one sentence.
function problems(body) {
  const list = (body?.errors ?? []).map((e) => e.msg);
  return el(
    "div",
    { class: "admin-problems" },
    el("p", { class: "error" }, messageOf(body)),
    list.length ? el("ul", {}, list.map((text) => el("li", {}, text))) : null,
  );
}

function table(id, headings, rows, empty) {
  if (!rows.length) return el("p", { id, class: "muted" }, empty);
  return el(
    "table",
    { id, class: "admin-table" },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))),
    el("tbody", {}, rows),
  );
}

function button(label, onclick, attrs = {}) {
  return el("button", { type: "button", onclick, ...attrs }, label);
}

function field(label, control, hint) {
  return el("label", {}, el("span", {}, label), control, hint ? el("small", { class: "muted" }, hint) : null);
}

function option(value, label, selected) {
  return el("option", { value, selected: selected || null }, label);
}

// A grid code box that offers the grids whose name holds what is typed (or whose code starts with it).
let pickers = 0;
function gridPicker(name, value = "", placeholder = "输入网格名称或编号查找") {
  const list = el("datalist", { id: `admin-grids-${++pickers}` });
  const input = el("input", {
    name,
    value,
    list: list.id,
    maxlength: 15,
    pattern: "[0-9]{6,15}",
    placeholder,
    autocomplete: "off",
  });
  let typing = null;
  input.addEventListener("input", () => {
    clearTimeout(typing);
    const text = input.value.trim();
    if (!text || /^[0-9]{6,15}$/.test(text)) return;
    typing = setTimeout(async () => {
      const [ok, found] = await apiJson(`/api/grids/search?q=${encodeURIComponent(text)}&limit=10`);
      if (ok) list.replaceChildren(...found.map((g) => option(g.code, `${g.name}（${g.code}）`)));
    }, 250);
  });
  return [input, list];
}

const orNull = (text) => (text.trim() === "" ? null : text.trim());

// -- users -------------------------------------------------------------------------------------------------

function roleBoxes(checked = []) {
  return el(
    "fieldset",
    { class: "admin-roles" },
    el("legend", {}, "身份"),
    roles.map(({ role, name }) =>
      el(
        "label",
        {},
        el("input", {
          type: "checkbox",
          name: "roles",
          value: role,
          checked: checked.includes(role) || null,
        }),
        name,
      ),
    ),
  );
}

function departmentSelect(departments, value = "") {
  return el(
    "select",
    { name: "department_code" },
    option("", "无（不是处置部门人员）"),
    departments.map((d) => option(d.code, d.name, d.code === value)),
  );
}

// The form that adds a user, or edits ``user``'s name, roles, department and home grid.
function userForm(departments, user = null) {
  const form = el(
    "form",
    { id: "admin-user-form", class: "admin-form" },
    el("h3", {}, user ? `编辑用户：${user.name}（${user.phone}）` : "添加用户"),
    field("姓名", el("input", { name: "name", required: true, maxlength: 100, value: user?.name ?? "" })),
    user
      ? null
      : [
          field(
            "手机号",
            el("input", { name: "phone", required: true, maxlength: 20, pattern: "\\+?[0-9]{5,20}" }),
          ),
          field(
            "用户名",
            el("input", { name: "username", maxlength: 50, autocomplete: "off" }),
            "可不填；填写时以字母开头，可用字母、数字和 . _ -",
          ),
          field(
            "初始密码",
            el("input", { name: "password", type: "password", autocomplete: "new-password", maxlength: 200 }),
            "可不填；不填时要先重置密码，用户才能登录",
          ),
        ],
    roleBoxes(user?.roles ?? []),
    field("所属部门", departmentSelect(departments, user?.department_code ?? ""), "处置部门的人员要选择所属部门"),
    field("负责网格", gridPicker("grid_code", user?.grid_code ?? ""), "指挥中心人员只看这个网格及其下级；不填为全市"),
    el(
      "div",
      { class: "admin-buttons" },
      el("button", { type: "submit" }, user ? "保存" : "添加"),
      user ? button("取消", () => showUsers()) : null,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      name: data.get("name").trim(),
      roles: data.getAll("roles"),
      department_code: orNull(data.get("department_code")),
      grid_code: orNull(data.get("grid_code")),
    };
    let answer;
    if (user) {
      answer = await patchJson(`/api/users/${user.id}`, body);
    } else {
      Object.assign(body, {
        phone: data.get("phone").trim(),
        username: orNull(data.get("username")),
        password: data.get("password") || null,
      });
      answer = await sendJson("/api/users", body);
    }
    const [ok, saved] = answer;
    if (!ok) return say(messageOf(saved));
    await showUsers();
    say(user ? `已保存用户 ${saved.name} 的资料` : `已添加用户 ${saved.name}（编号 ${saved.id}）`, true);
  });
  return form;
}

// The form that sets ``user``'s new password.
function passwordForm(user) {
  const form = el(
    "form",
    { id: "admin-password-form", class: "admin-form" },
    el("h3", {}, `重置密码：${user.name}（${user.phone}）`),
    field(
      "新密码",
      el("input", {
        name: "password",
        type: "password",
        required: true,
        autocomplete: "new-password",
        maxlength: 200,
      }),
      "请把新密码当面或电话告诉本人；已登录的设备不受影响，如需让它们重新登录，请再点“退出所有设备”",
    ),
    el(
      "div",
      { class: "admin-buttons" },
      el("button", { type: "submit" }, "设置新密码"),
      button("取消", () => showUsers()),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [ok, body] = await sendJson(`/api/users/${user.id}/password`, { password: form.password.value });
    if (!ok) return say(messageOf(body));
    await showUsers();
    say(`已为 ${user.name} 设置新密码`, true);
  });
  return form;
}

async function toggle(user) {
  const [ok, body] = await patchJson(`/api/users/${user.id}`, { active: !user.active });
  if (!ok) return say(messageOf(body));
  await showUsers();
  say(user.active ? `已停用 ${user.name}：不能再登录，所有设备的登录已结束` : `已启用 ${user.name}，可以登录`, true);
}

async function revoke(user) {
  const [ok, body] = await sendJson(`/api/users/${user.id}/revoke`, {});
  if (!ok) return say(messageOf(body));
  await showUsers();
  say(`已结束 ${user.name} 的 ${body.revoked_sessions} 个登录，各设备需重新登录`, true);
}

async function showUsers(editing = null) {
  const [[okUsers, users], [okDepartments, departments]] = await Promise.all([
    apiJson("/api/users"),
    apiJson("/api/departments"),
  ]);
  if (!okUsers || !okDepartments) return say(messageOf(okUsers ? departments : users));
  const roleName = Object.fromEntries(roles.map((r) => [r.role, r.name]));
  const departmentName = Object.fromEntries(departments.map((d) => [d.code, d.name]));
  const rows = users.map((user) =>
    el(
      "tr",
      { "data-user": user.id, class: user.active ? null : "inactive" },
      el("td", { class: "num" }, user.id),
      el("td", {}, user.name),
      el("td", {}, user.phone),
      el("td", { translate: "no" }, user.username ?? ""), // data, not words of the page
      el("td", { class: "roles" }, user.roles.map((r) => roleName[r] ?? r).join("、")),
      el("td", {}, departmentName[user.department_code] ?? user.department_code ?? ""),
      el("td", {}, user.grid_code ?? ""),
      el("td", { class: "num devices" }, user.devices),
      el("td", { class: "state" }, user.active ? (user.has_password ? "启用" : "启用（未设密码）") : "停用"),
      el(
        "td",
        { class: "actions" },
        button("编辑", () => showUsers({ user, form: "edit" }), { "data-act": "edit" }),
        button(user.active ? "停用" : "启用", () => toggle(user), { "data-act": "toggle" }),
        button("重置密码", () => showUsers({ user, form: "password" }), { "data-act": "password" }),
        button("退出所有设备", () => revoke(user), { "data-act": "revoke", disabled: !user.devices }),
      ),
    ),
  );
  const form = !editing
    ? userForm(departments)
    : editing.form === "edit"
      ? userForm(departments, editing.user)
      : passwordForm(editing.user);
  const headings = ["编号", "姓名", "手机号", "用户名", "身份", "部门", "网格", "登录设备", "状态", ""];
  show("users", form, table("admin-users", headings, rows, "还没有用户"));
  say("");
}

// -- grid import -------------------------------------------------------------------------------------------

const ISSUE = { error: "错误", warning: "警告" };

function gridReport(result, written) {
  const { report } = result;
  const counts =
    `新增 ${result.created} 个，新版本 ${result.new_versions} 个，` +
    `改名 ${result.renamed} 个，未变 ${result.unchanged} 个`;
  const summary = written
    ? `已导入：${counts}`
    : report.ok
      ? "检查通过，尚未导入：没有错误，可以导入"
      : "有错误，没有导入任何网格：请按下面的错误改正文件后重新检查";
  return el(
    "div",
    { id: "admin-grid-report", "data-ok": String(report.ok) },
    el("p", { class: report.ok ? "ok" : "error" }, summary),
    el("p", {}, `检查了 ${report.checked} 个网格：错误 ${report.errors} 个，警告 ${report.warnings} 个`),
    report.issues.length
      ? el(
          "ul",
          { class: "admin-issues" },
          report.issues.map((issue) =>
            el(
              "li",
              { class: issue.severity },
              el("strong", {}, ISSUE[issue.severity] ?? issue.severity),
              issue.code ? ` ${issue.code}：` : "：",
              issue.message,
            ),
          ),
        )
      : null,
  );
}

// An import page of a file of places with their coordinate system: checked first (先检查), then imported.
// ``render(ok, body, dryRun)`` is the report of an answer, or null when the answer holds none (its problems
// are listed); ``done`` is said once imported.
function importPage({ name, title, help, fileLabel, accept, route, render, done }) {
  const file = el("input", { name: "file", type: "file", accept, required: true });
  const crs = el(
    "select",
    { name: "crs" },
    Object.entries(CRS).map(([value, label]) => option(value, label)),
  );
  const importButton = el("button", { type: "button", name: "import", disabled: true }, "导入");
  const result = el("div", { class: "admin-result" });
  const run = async (dryRun) => {
    if (!file.files.length) return say(`请先选择${fileLabel}`);
    say(dryRun ? "正在检查……" : "正在导入……", true);
    const [ok, body] = await upload(route, file.files[0], { crs: crs.value, dry_run: dryRun });
    const report = render(ok, body, dryRun);
    if (!report) {
      result.replaceChildren(problems(body));
      importButton.disabled = true;
      return say(messageOf(body));
    }
    result.replaceChildren(report);
    importButton.disabled = !(ok && dryRun); // imported, or refused: check again first
    say(ok ? (dryRun ? "检查完成，可以导入" : done) : "文件有错误，没有导入", ok);
  };
  const reset = () => {
    importButton.disabled = true;
    result.replaceChildren();
  };
  file.addEventListener("change", reset);
  crs.addEventListener("change", reset);
  importButton.addEventListener("click", () => run(false));
  const form = el(
    "form",
    { id: `admin-${name}-form`, class: "admin-form" },
    el("h3", {}, title),
    el("p", { class: "muted" }, help),
    field(fileLabel, file),
    field("坐标系", crs),
    el("div", { class: "admin-buttons" }, el("button", { type: "submit" }, "先检查"), importButton),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(true);
  });
  return [form, result];
}

function showGrids() {
  const parts = importPage({
    name: "grid",
    title: "导入网格",
    help:
      "网格边界文件的每个网格要有编号、名称和上级网格编号。先检查：列出拓扑问题（越出上级、相互重叠、缝隙、修复），不写入任何内容；检查没有错误后才能导入。边界或上级变化的网格生成新版本，只改名的原地更新。",
    fileLabel: "网格边界文件",
    accept: ".geojson,.json",
    route: "/api/grids/import",
    render: (ok, body, dryRun) => (body?.report ? gridReport(body, ok && !dryRun) : null),
    done: "网格已导入",
  });
  show("grids", ...parts);
  say("");
}

// -- address register --------------------------------------------------------------------------------------

function addressReport(body) {
  const counts = `新增 ${body.added} 个，更新 ${body.changed} 个，未变 ${body.unchanged} 个`;
  const outside = body.outside.map((a) => el("tr", {}, el("td", {}, a.register_id), el("td", {}, a.text)));
  const more = body.outside_count - body.outside.length;
  return el(
    "div",
    { id: "admin-address-report" },
    el(
      "p",
      { class: "ok" },
      body.written
        ? `已导入 ${body.checked} 个地址：${counts}`
        : `检查通过，尚未导入（${body.checked} 个地址：${counts}）：可以导入`,
    ),
    body.cases_linked
      ? el("p", { class: "muted" }, `已为 ${body.cases_linked} 件原先没有附近地址的案件补上附近地址`)
      : null,
    body.ignored_columns.length
      ? el("p", { class: "warning" }, `没有读取这些列（不是地址库的列）：${body.ignored_columns.join("、")}`)
      : null,
    body.outside_count
      ? [
          el("p", { class: "warning" }, `有 ${body.outside_count} 个地址不在任何网格内（没有关联网格）：`),
          table("admin-address-outside", ["编码", "地址"], outside, ""),
          more > 0 ? el("p", { class: "muted" }, `……还有 ${more} 个没有列出`) : null,
        ]
      : null,
  );
}

function showAddresses() {
  const parts = importPage({
    name: "address",
    title: "导入标准地址库",
    help:
      "地址库文件（CSV 表格，或每个地址一个点的地理数据文件）每行一个门牌、楼栋或兴趣点：编码、地址、经度、纬度必填，可有名称、区县、街道、社区、道路、门牌号、楼栋、单元、类型、别名、位置近似。先检查：列出每一处错误（带行号），不写入任何内容；有任何错误都不会导入。按编码新增或更新，文件中没有的地址保持不变；每个地址关联到所在的最下级网格。",
    fileLabel: "地址库文件",
    accept: ".csv,.geojson,.json",
    route: "/api/addresses/import",
    render: (ok, body) => (ok ? addressReport(body) : null),
    done: "地址库已导入",
  });
  show("addresses", ...parts);
  say("");
}

// -- taxonomy ----------------------------------------------------------------------------------------------

function taxonomyCounts(body) {
  return COUNTS.map(([key, label]) => {
    const c = body[key];
    return `${label}：新增 ${c.created}，更新 ${c.updated}，停用 ${c.deactivated}，未变 ${c.unchanged}`;
  }).join("；");
}

function showTaxonomy() {
  const file = el("input", { name: "file", type: "file", accept: ".yaml,.yml,.csv", required: true });
  const format = el(
    "select",
    { name: "format" },
    Object.entries(TAXONOMY_FORMATS).map(([value, label]) => option(value, label)),
  );
  const loadButton = el("button", { type: "button", name: "load", disabled: true }, "导入");
  const result = el("div", { id: "admin-taxonomy-result", class: "admin-result" });
  const run = async (dryRun) => {
    if (!file.files.length) return say("请先选择分类文件");
    const params = { dry_run: dryRun, ...(format.value ? { format: format.value } : {}) };
    const [ok, body] = await upload("/api/categories/load", file.files[0], params);
    if (!ok) {
      result.replaceChildren(problems(body));
      loadButton.disabled = true;
      return say(messageOf(body));
    }
    const done = dryRun ? "检查通过，尚未导入" : "已导入";
    result.replaceChildren(el("p", { class: "ok" }, `${done}。${taxonomyCounts(body)}`));
    loadButton.disabled = !dryRun;
    say(dryRun ? "检查通过，可以导入" : "分类已导入", true);
  };
  const reset = () => {
    loadButton.disabled = true;
    result.replaceChildren();
  };
  file.addEventListener("change", reset);
  format.addEventListener("change", reset);
  loadButton.addEventListener("click", () => run(false));
  const form = el(
    "form",
    { id: "admin-taxonomy-form", class: "admin-form" },
    el("h3", {}, "导入问题分类"),
    el(
      "p",
      { class: "muted" },
      "完整分类文件替换全部部门、大类、问题类别和标签；问题类别表格只替换问题类别。文件中没有的会被停用，不会删除（旧案件仍用它们）。先检查：列出每一处错误，不写入任何内容；有任何错误都不会导入。",
    ),
    field("分类文件", file),
    field("文件格式", format),
    el("div", { class: "admin-buttons" }, el("button", { type: "submit" }, "检查"), loadButton),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(true);
  });
  show("taxonomy", form, result);
  say("");
}

// -- departments -------------------------------------------------------------------------------------------

function departmentForm(department = null) {
  const form = el(
    "form",
    { id: "admin-department-form", class: "admin-form" },
    el("h3", {}, department ? `编辑部门：${department.name}` : "添加部门"),
    field(
      "编号",
      el("input", {
        name: "code",
        required: true,
        maxlength: 40,
        pattern: "[a-z][a-z0-9_]{1,39}",
        value: department?.code ?? "",
        readonly: !!department || null,
      }),
      department ? "编号不能修改" : "小写字母开头，可用小写字母、数字和下划线，与分类文件中的部门编号相同",
    ),
    field("名称", el("input", { name: "name", required: true, maxlength: 100, value: department?.name ?? "" })),
    field("电话", el("input", { name: "phone", maxlength: 20, value: department?.phone ?? "" })),
    field(
      "街道网格",
      gridPicker("grid_code", department?.grid_code ?? "", "街道队伍：输入街道名称查找"),
      "街道自己的队伍填所在街道；市、区部门不填",
    ),
    el(
      "label",
      { class: "admin-check" },
      el("input", { type: "checkbox", name: "active", checked: department?.active ?? true }),
      "启用",
    ),
    el(
      "div",
      { class: "admin-buttons" },
      el("button", { type: "submit" }, department ? "保存" : "添加"),
      department ? button("取消", () => showDepartments()) : null,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: form.name.value.trim(),
      phone: orNull(form.phone.value),
      grid_code: orNull(form.grid_code.value),
      active: form.active.checked,
    };
    const [ok, saved] = department
      ? await patchJson(`/api/departments/${encodeURIComponent(department.code)}`, body)
      : await sendJson("/api/departments", { code: form.code.value.trim(), ...body });
    if (!ok) return say(messageOf(saved));
    await showDepartments();
    say(department ? `已保存部门 ${saved.name}` : `已添加部门 ${saved.name}（${saved.code}）`, true);
  });
  return form;
}

async function showDepartments(editing = null) {
  const [ok, departments] = await apiJson("/api/departments?include_inactive=true");
  if (!ok) return say(messageOf(departments));
  const rows = departments.map((d) =>
    el(
      "tr",
      { "data-code": d.code, class: d.active ? null : "inactive" },
      el("td", { translate: "no" }, d.code),
      el("td", {}, d.name),
      el("td", {}, d.phone ?? ""),
      el("td", {}, d.grid_code ?? ""),
      el("td", { class: "state" }, d.active ? "启用" : "停用"),
      el("td", { class: "actions" }, button("编辑", () => showDepartments(d), { "data-act": "edit" })),
    ),
  );
  show(
    "departments",
    departmentForm(editing),
    el(
      "p",
      { class: "muted" },
      "注意：导入完整分类文件时，文件中没有的部门会被停用（街道队伍除外）；在这里添加的其他部门也请写进分类文件。",
    ),
    table("admin-departments", ["编号", "名称", "电话", "街道网格", "状态", ""], rows, "还没有部门：请先导入分类"),
  );
  say("");
}

// -- dispatch centers --------------------------------------------------------------------------------------

function centerForm(center = null) {
  const form = el(
    "form",
    { id: "admin-center-form", class: "admin-form" },
    el("h3", {}, center ? `编辑调度分中心：${center.name}` : "添加调度分中心"),
    center
      ? el("p", {}, `网格：${center.grid_code}`)
      : field("网格", gridPicker("grid_code", "", "输入街道名称查找"), "分中心调度这个网格及其下级网格内的案件"),
    field("名称", el("input", { name: "name", required: true, maxlength: 100, value: center?.name ?? "" })),
    el(
      "div",
      { class: "admin-buttons" },
      el("button", { type: "submit" }, center ? "保存" : "添加"),
      center ? button("取消", () => showCenters()) : null,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.name.value.trim();
    const [ok, saved] = center
      ? await patchJson(`/api/dispatch-centers/${center.grid_code}`, { name })
      : await sendJson("/api/dispatch-centers", { grid_code: form.grid_code.value.trim(), name });
    if (!ok) return say(messageOf(saved));
    await showCenters();
    say(center ? `已保存 ${saved.name}` : `已添加 ${saved.name}`, true);
  });
  return form;
}

async function toggleCenter(center) {
  const [ok, body] = await patchJson(`/api/dispatch-centers/${center.grid_code}`, { active: !center.active });
  if (!ok) return say(messageOf(body));
  await showCenters();
  say(center.active ? `已停用 ${center.name}` : `已启用 ${center.name}`, true);
}

async function showCenters(editing = null) {
  const [ok, centers] = await apiJson("/api/dispatch-centers");
  if (!ok) return say(messageOf(centers));
  const rows = centers.map((c) =>
    el(
      "tr",
      { "data-grid": c.grid_code, class: c.active ? null : "inactive" },
      el("td", {}, c.grid_code),
      el("td", {}, c.name),
      el("td", { class: "state" }, c.active ? "启用" : "停用"),
      el(
        "td",
        { class: "actions" },
        button("编辑", () => showCenters(c), { "data-act": "edit" }),
        button(c.active ? "停用" : "启用", () => toggleCenter(c), { "data-act": "toggle" }),
      ),
    ),
  );
  show(
    "centers",
    centerForm(editing),
    el("p", { class: "muted" }, "区指挥中心之下的调度分中心（如街道分中心）：调度自己网格内的案件，超出的交给上级。"),
    table("admin-centers", ["网格", "名称", "状态", ""], rows, "还没有调度分中心"),
  );
  say("");
}

// -- triage --------------------------------------------------------------------------------------------------

async function useVersion(version) {
  const [ok, body] = await sendJson(`/api/triage/models/${version}/activate`, {});
  if (!ok) return say(messageOf(body));
  await showTriage();
  say(`已启用分拣模型第 ${body.version} 版`, true);
}

async function trainModel(form) {
  const run = form.querySelector("button[type=submit]");
  run.disabled = true;
  say("正在用已结案件训练，请稍候……", true);
  const [ok, body] = await sendJson("/api/triage/train", { note: form.note.value.trim() || null });
  run.disabled = false;
  if (!ok) return say(messageOf(body));
  await showTriage();
  say(`已训练并启用分拣模型第 ${body.version} 版（${body.cases.toLocaleString()} 件已结案件）`, true);
}

async function showTriage() {
  const [ok, versions] = await apiJson("/api/triage/models");
  if (!ok) return say(messageOf(versions));
  const form = el(
    "form",
    { id: "admin-triage-form", class: "admin-form" },
    el("h3", {}, "训练分拣模型"),
    el(
      "p",
      { class: "muted" },
      "用本市已结案件（按结案时的类别和最终处置部门）训练新版本并立即启用；旧版本保留，效果不好可随时换回。" +
        "系统每周也会自动训练一次。",
    ),
    field("说明", el("input", { name: "note", maxlength: 200, placeholder: "如：导入新分类表之后" })),
    el("div", { class: "admin-buttons" }, el("button", { type: "submit" }, "训练并启用")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    trainModel(form);
  });
  const rows = versions.map((v) =>
    el(
      "tr",
      { "data-version": v.version, class: v.active ? "current" : null },
      el("td", {}, `第 ${v.version} 版`),
      el("td", {}, new Date(v.trained_at).toLocaleString("zh-CN")),
      el("td", {}, v.trained_by),
      el("td", {}, v.cases.toLocaleString()),
      el("td", {}, String(v.categories)),
      el("td", {}, v.note ?? ""),
      el("td", { class: "state" }, v.active ? "在用" : ""),
      el(
        "td",
        { class: "actions" },
        v.active ? null : button("启用", () => useVersion(v.version), { "data-act": "use" }),
      ),
    ),
  );
  show(
    "triage",
    form,
    table(
      "admin-triage",
      ["版本", "训练时间", "训练者", "案件数", "类别数", "说明", "状态", ""],
      rows,
      "还没有训练过：现在按问题类别的名称和别名推荐。",
    ),
  );
  say("");
}

// -- holidays ----------------------------------------------------------------------------------------------

function listedYears(years) {
  return years.map((y) => {
    const known = y.package_covers ? "修正日历包" : "日历包没有这一年";
    return `${y.year} 年：放假 ${y.holidays} 天，调休上班 ${y.workdays} 天（${known}）`;
  });
}

async function showYear(year) {
  const box = view.querySelector("#admin-year-days");
  const [ok, body] = await apiJson(`/api/calendar/years/${year}`);
  if (!box?.isConnected) return; // another page was opened meanwhile
  if (!ok) return box.replaceChildren(problems(body));
  const rows = body.days.map((d) =>
    el(
      "tr",
      { "data-day": d.day, class: d.off ? "off" : "on" },
      el("td", {}, d.day),
      el("td", {}, `周${WEEKDAYS[new Date(`${d.day}T00:00:00`).getDay()]}`),
      el("td", {}, d.off ? "放假" : "上班"),
      el("td", {}, d.name ?? ""),
      el("td", {}, SOURCES[d.source] ?? d.source),
    ),
  );
  const fallback = el(
    "p",
    { class: "warning", hidden: body.package_covers },
    `日历包没有 ${year} 年的法定节假日：这一年按周一至周五上班，只按节假日文件修正。` +
      `请把国务院公布的 ${year} 年放假安排写进节假日文件后上传。`,
  );
  box.replaceChildren(
    fallback,
    table("admin-year", ["日期", "星期", "放假或上班", "节日", "来源"], rows, `${year} 年没有特殊日期`),
  );
}

async function showHolidayFile() {
  const box = view.querySelector("#admin-holiday-file");
  const [ok, body] = await apiJson("/api/calendar/holiday-file");
  if (!box?.isConnected) return; // another page was opened meanwhile
  if (!ok) return box.replaceChildren(problems(body));
  box.replaceChildren(
    body.exists
      ? el("p", {}, body.years.length ? "在用的节假日文件列出：" : "在用的节假日文件没有列出任何日期")
      : el("p", {}, "还没有节假日文件：法定节假日和调休按日历包计算，日历包没有的年份按周一至周五上班。"),
    el("ul", {}, listedYears(body.years).map((line) => el("li", {}, line))),
  );
}

function showHolidays() {
  const file = el("input", { name: "file", type: "file", accept: ".yaml,.yml", required: true });
  const saveButton = el("button", { type: "button", name: "save", disabled: true }, "上传保存");
  const result = el("div", { id: "admin-holiday-result", class: "admin-result" });
  const thisYear = new Date().getFullYear();
  const year = el("input", { name: "year", type: "number", min: 1900, max: 2100, value: thisYear });
  const run = async (dryRun) => {
    if (!file.files.length) return say("请先选择节假日文件");
    const [ok, body] = await upload("/api/calendar/holiday-file", file.files[0], { dry_run: dryRun });
    if (!ok) {
      result.replaceChildren(problems(body));
      saveButton.disabled = true;
      return say(messageOf(body));
    }
    const lines = listedYears(body.years);
    const done = dryRun ? "检查通过，尚未保存" : "已保存，新的期限从现在起按它计算";
    result.replaceChildren(
      el("p", { class: "ok" }, lines.length ? `${done}：` : `${done}（文件没有列出任何日期）`),
      el("ul", {}, lines.map((line) => el("li", {}, line))),
    );
    saveButton.disabled = !dryRun;
    say(dryRun ? "检查通过，可以上传保存" : "节假日文件已保存", true);
    if (!dryRun) {
      if (body.years.length) year.value = body.years.at(-1).year;
      await Promise.all([showHolidayFile(), showYear(year.value)]);
    }
  };
  file.addEventListener("change", () => {
    saveButton.disabled = true;
    result.replaceChildren();
  });
  saveButton.addEventListener("click", () => run(false));
  const form = el(
    "form",
    { id: "admin-holiday-form", class: "admin-form" },
    el("h3", {}, "节假日文件"),
    el(
      "p",
      { class: "muted" },
      "节假日文件列出放假日和调休上班日，优先于日历包。每年国务院公布下一年的放假安排后，按随附的示例文件写好上传。先检查：有任何错误都不会保存；保存后新的期限立即按它计算。",
    ),
    el("div", { id: "admin-holiday-file" }),
    field("节假日文件", file),
    el("div", { class: "admin-buttons" }, el("button", { type: "submit" }, "检查"), saveButton),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(true);
  });
  const yearForm = el(
    "form",
    { id: "admin-year-form", class: "admin-form" },
    el("h3", {}, "一年中的特殊日期"),
    el("div", { class: "admin-buttons" }, field("年份", year), el("button", { type: "submit" }, "查看")),
    el("div", { id: "admin-year-days" }),
  );
  yearForm.addEventListener("submit", (event) => {
    event.preventDefault();
    showYear(year.value);
  });
  show("holidays", form, result, yearForm);
  say("");
  return Promise.all([showHolidayFile(), showYear(year.value)]);
}

// -- the pages ---------------------------------------------------------------------------------------------

const SHOW = {
  users: showUsers,
  grids: showGrids,
  addresses: showAddresses,
  taxonomy: showTaxonomy,
  departments: showDepartments,
  centers: showCenters,
  triage: showTriage,
  holidays: showHolidays,
};

// Show page ``name`` (its form, first, in sight), unless another page was opened while it was being read.
function show(name, ...children) {
  if (name !== page) return;
  view.querySelector("#admin-body").replaceChildren(...children.flat());
  children[0].scrollIntoView({ block: "nearest" });
}

async function open(name) {
  page = name;
  delete view.dataset.loaded; // until the page has read what it shows
  for (const tab of view.querySelectorAll("#admin-nav button")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.page === name));
  }
  await SHOW[name]();
  if (name === page) view.dataset.loaded = name;
}

async function build() {
  const [ok, body] = await apiJson("/api/users/roles");
  view.replaceChildren(
    el(
      "nav",
      { id: "admin-nav", "aria-label": "管理" },
      Object.entries(PAGES).map(([name, label]) =>
        button(label, () => open(name), { "data-page": name, "aria-pressed": "false" }),
      ),
    ),
    el(
      "div",
      { class: "admin-main" },
      el("p", { id: "admin-status", role: "alert" }),
      el("div", { id: "admin-body" }),
    ),
  );
  if (!ok) return say(messageOf(body));
  roles = body;
  await open(page);
}

document.addEventListener("logged-out", () => {
  roles = null;
  page = "users";
  view.replaceChildren();
  delete view.dataset.loaded;
});

view.addEventListener("view-shown", () => {
  if (!view.dataset.loaded) build();
});
