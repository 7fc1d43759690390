"""``gridops forecast daily``: the day's run of 未诉先办 by hand (the server does it once a day)."""

from __future__ import annotations

import typer

from server.anticipate.cli import HORIZON_NAMES
from server.cli_common import console, session
from server.proactive import daily as daily_mod


def daily(
    force: bool = typer.Option(False, "--force", help="今天已经做过也重做一遍"),
) -> None:
    """每天的未诉先办：扫描本周（周一：上一周）的突增和长期高频并产生预警，用截至昨天的数据更新预测，再按规则
    布置主动巡查任务。服务运行时每天零点后自动做一次；这条命令用于手动补做。"""
    with session() as db:
        day = daily_mod.run(db, force=force)
    if day is None:
        console.print("今天的预测和预警扫描已经做过（或正在由服务进行）：要重做请加 --force", highlight=False)
        return
    rows = "，".join(f"{HORIZON_NAMES[r.horizon]} {r.rows} 行" for r in day.forecasts)
    console.print(
        f"截至 {day.through}：预测已更新（{rows}）；发现 {day.signals} 个异常，"
        f"新产生 {day.warnings_new} 条预警，{day.warnings_updated} 条未关闭的预警更新了数字；"
        f"按规则布置了 {day.tasks} 个主动巡查任务",
        highlight=False,
    )
