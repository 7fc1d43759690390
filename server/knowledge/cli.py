"""``gridops answers ...``: the knowledge base's answer templates: list them, load a file, export one."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from sqlalchemy import select

from server import messages
from server.category.models import Category
from server.cli_common import console, fail, session
from server.knowledge import service

answers_app = typer.Typer(help="知识库：列出、导入、导出答复模板。", no_args_is_help=True)
STARTER_ANSWERS = Path(__file__).resolve().parent / "data" / "answers.yaml"
MAX_BYTES = 2 * 2**20


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)


def read_file(path: Path) -> list[dict]:
    """The templates of a YAML file (a mapping with ``templates``: a list of entries)."""
    if path.stat().st_size > MAX_BYTES:
        fail(messages.text("knowledge.file_unreadable", problem=f"文件超过 {MAX_BYTES // 2**20} MB"))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        fail(messages.text("knowledge.file_unreadable", problem="不是合乎格式的 YAML 文件"))
    except UnicodeDecodeError:
        fail(messages.text("knowledge.file_unreadable", problem="不是 UTF-8 编码的文字"))
    entries = data.get("templates") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        fail(messages.text("knowledge.file_unreadable", problem="没有找到模板列表"))
    return entries


def summary(result: service.LoadResult) -> str:
    """What a load did, in words."""
    text = f"答复模板：新增 {len(result.added)} 个，更新 {len(result.changed)} 个，未变 {result.unchanged} 个"
    if result.not_in_file:
        text += (
            f"；文件中没有的 {len(result.not_in_file)} 个保持不变（未停用）：{'、'.join(result.not_in_file)}"
        )
    return text


def load_file(db, path: Path) -> service.LoadResult:
    return service.load(db=db, entries=read_file(path))


@answers_app.command("list")
def list_answers(
    text: str = typer.Option(None, "--text", help="来电人的话，按相关程度排列。"),
    category: str = typer.Option(None, help="只列出这一问题类别的模板（类别编码）。"),
    include_inactive: bool = typer.Option(False, "--all", help="也列出已停用的模板。"),
    limit: int = typer.Option(50, min=1, max=service.MAX_LIMIT, help="最多列出几个。"),
) -> None:
    """列出答复模板；每行：编号、标题、问题类别、诉求类型、使用次数、是否在用。"""
    with session() as db:
        found, total = service.search(
            db=db, text=text, category=category, include_inactive=include_inactive, limit=limit
        )
        rows = [(f.template, f.template.category_id) for f in found]
        ids = [c for _, c in rows if c]
        codes = dict(db.execute(select(Category.id, Category.code).where(Category.id.in_(ids))).all())
    for t, category_id in rows:
        state = "在用" if t.active else "停用"
        where = codes.get(category_id, "-")
        print(f"{t.id}\t{t.title}\t{where}\t{t.request_type or '-'}\t{t.use_count}\t{state}")
    if not rows:
        fail("没有找到相符的答复模板：请换一个条件，或先用 gridops answers load 导入知识库文件")
    if total > len(rows):
        more = "用 --limit 多列一些，或加上 --text、--category 缩小范围"
        _say(f"共 {total} 个，只列出了前 {len(rows)} 个：{more}")


@answers_app.command("load")
def load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="YAML 知识库文件（templates 列表）。"),
) -> None:
    """导入答复模板：先逐条检查，有任何错误都不导入；按标题新增或更新，文件中没有的模板不停用。"""
    with session() as db:
        _say(summary(load_file(db, file)))


@answers_app.command("export")
def export(file: Path = typer.Argument(..., dir_okay=False, help="写入的 YAML 文件。")) -> None:
    """把全部答复模板（含已停用的）写入 YAML 文件，可再用 gridops answers load 导入。"""
    with session() as db:
        entries = service.export(db=db)
    text = yaml.safe_dump({"templates": entries}, allow_unicode=True, sort_keys=False, width=120)
    file.write_text(text, encoding="utf-8")
    _say(f"已把 {len(entries)} 个答复模板写入 {file}")
