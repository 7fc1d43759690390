"""The dashboard's tables as CSV, as the export route and the CLI give them: a header in Chinese (the
dashboard page's words), values as the API gives them but for the words a person reads (levels, kinds)."""

from __future__ import annotations

import csv
import io

from server.config import get_settings
from server.stats.schemas import Dashboard

# The header of each field of every table (a field means the same in every table it is in).
HEADERS = {
    "rank": "名次",
    "code": "编码",
    "name": "名称",
    "level": "层级",
    "received": "受理数",
    "due": "应结案数",
    "closed": "结案数",
    "closed_on_time": "按期结案数",
    "handled_on_time": "按期处置数",
    "reworked": "返工数",
    "closure_rate": "结案率",
    "on_time_closure_rate": "按期结案率",
    "on_time_handling_rate": "按期处置率",
    "rework_rate": "返工率",
    "score": "得分",
    "grade": "等级",
    "volume_band": "业务量",
    "user_id": "用户编号",
    "grid_codes": "负责网格",
    "reported": "上报数",
    "valid": "有效上报数",
    "valid_rate": "有效上报率",
    "verifications": "核实数",
    "verifications_on_time": "按时核实数",
    "verification_rate": "按时核实率",
    "checks": "核查数",
    "checks_on_time": "按时核查数",
    "check_rate": "按时核查率",
    "grid_due": "所负责网格应结案数",
    "found_by_others": "其他渠道发现数",
    "miss_rate": "漏报率",
    "date": "日期",
    "week": "周",
    "hour": "时段",
    "lon": "经度",
    "lat": "纬度",
    "message": "说明",
    "called_back": "回访数",
    "contacted": "联系上数",
    "solved": "已解决数",
    "satisfied": "满意数",
    "basically_satisfied": "基本满意数",
    "not_satisfied": "不满意数",
    "response_rate": "响应率",
    "resolution_rate": "解决率",
    "satisfaction_rate": "满意率",
    "complaints": "投诉数",
    "population": "常住人口",
    "complaint_rate": "投诉率（每万人）",
    "complaint_rate_note": "投诉率说明",
    "completion_rate": "办结率",
    "form": "考核口径",
    "ratings": "评价数",
    "mean_stars": "平均星级",
    "low": "差评数（2星及以下）",
    "low_share": "差评占比",
    "mean_working_days": "平均办结用时（工作日）",
    "fastest_code": "最快办结案件",
    "fastest_category": "最快案件类别",
    "fastest_working_days": "最快案件用时（工作日）",
    "dispatched": "主办派遣数",
    "returned": "回退数",
    "return_rate": "回退率",
    "found": "网格员发现数",
    "proactive": "主动巡查发现数",
    "citizens": "市民反映数",
    "found_share": "主动发现占比",
}
FORMS = {"beijing": "响应率、解决率、满意率", "pingshan": "投诉率、办结率、满意率"}  # the three rates' forms
# Each table's name, as the dashboard page titles it: the exported file is named after it.
TITLES = {
    "districts": "区县排名",
    "streets": "街道排名",
    "departments": "部门排名",
    "inspectors": "网格员排名",
    "categories": "高发类别",
    "grids": "高发网格",
    "hours": "时段分布",
    "trend_day": "按日趋势",
    "trend_week": "按周趋势",
    "three_rates_districts": "区县三率排名",
    "three_rates_streets": "街道三率排名",
    "rates_streets": "街道三率考核排名",
    "rates_departments": "部门三率考核排名",
    "ratings_departments": "部门市民评价",
    "ratings_categories": "类别市民评价",
    "ratings_streets": "街道市民评价",
    "working_days_streets": "街道办结用时",
    "working_days_departments": "部门办结用时",
    "returns": "部门回退",
    "proactive_streets": "街道未诉先办",
}


def cell(name: str, value) -> str:
    """A value as the CSV shows it: floats with 4 decimals (coordinates with 6), lists joined by spaces,
    levels and forms in words, an unranked row (no case) 无案件, other nulls empty."""
    if value is None:
        return "无案件" if name == "rank" else ""
    if name == "level":
        return get_settings().scheme.get(value).label
    if name == "form":
        return FORMS[value]
    if isinstance(value, float):
        return f"{value:.6f}" if name in ("lon", "lat") else f"{value:.4f}"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value)


def csv_text(rows: list[dict], fields: list[str]) -> str:
    """A table as CSV with a BOM (Excel then reads the Chinese right) and a header of the fields' labels."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([HEADERS[f] for f in fields])
    for row in rows:
        writer.writerow([cell(f, row.get(f)) for f in fields])
    return out.getvalue()


def table_rows(board: Dashboard, table: str) -> tuple[list[dict], list[str]]:
    rows = getattr(board, table)
    model = type(board).model_fields[table].annotation.__args__[0]
    fields = list(model.model_fields)
    return [r.model_dump(mode="json") for r in rows], fields
