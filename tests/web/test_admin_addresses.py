"""The administrator's 地址库 page in Debian's Chromium on a clone of the demo city: a register file with
errors is checked and every error listed with its row, nothing imported; a good one is checked, then
imported, its report shown (the address outside every grid listed), and the addresses are then found."""

from __future__ import annotations

import httpx

from tests.web.test_admin import admin_page, browsers, chinese, holiday_file, server, status  # noqa: F401
from tests.web.test_map import SCREENSHOTS

HEADER = "编码,名称,地址,类型,别名,经度,纬度,位置近似\n"
BAD = (HEADER + "1001,,济南市历下区泉城路1号,门牌,,117.02,36.66,否\n1001,,,道路,,东经,36.66,否\n").encode()
GOOD = (
    HEADER
    + "1001,,济南市历下区泉城路1号,门牌,,117.0195,36.6634,否\n"
    + "1002,恒隆广场,济南市历下区泉城路188号,兴趣点,恒隆,117.0200,36.6635,是\n"
    + "1003,,杭州市某路1号,门牌,,120.15,30.28,否\n"
).encode()


def test_an_administrator_checks_and_imports_an_address_register(server, browsers):  # noqa: F811
    admin = browsers(server.url, "admin")
    admin_page(admin, "addresses")
    chinese(admin, server.url)
    form = "#admin-address-form"
    admin.set_input_files(
        f"{form} [name=file]", {"name": "地址库.csv", "mimeType": "text/csv", "buffer": BAD}
    )
    admin.click(f"{form} button[type=submit]")
    status(admin, "地址库文件有 4 处错误")
    errors = admin.locator(".admin-problems li").all_text_contents()
    assert errors[0].startswith("第 3 行：编码 1001 与第 2 行重复") and len(errors) == 4, errors
    assert admin.is_disabled(f"{form} [name=import]")

    admin.set_input_files(
        f"{form} [name=file]", {"name": "地址库.csv", "mimeType": "text/csv", "buffer": GOOD}
    )
    admin.click(f"{form} button[type=submit]")
    status(admin, "检查完成，可以导入")
    report = admin.text_content("#admin-address-report")
    assert "检查通过，尚未导入（3 个地址：新增 3 个，更新 0 个，未变 0 个）" in report
    assert admin.locator("#admin-address-outside tbody tr").all_text_contents() == ["1003杭州市某路1号"]
    admin.click(f"{form} [name=import]")
    status(admin, "地址库已导入")
    assert "已导入 3 个地址：新增 3 个" in admin.text_content("#admin-address-report")
    chinese(admin, server.url)
    admin.screenshot(path=SCREENSHOTS / "admin-addresses.png")
    found = httpx.get(f"{server.url}/api/addresses/search", params={"q": "恒隆"}).json()
    assert found[0]["label"] == "恒隆广场"
