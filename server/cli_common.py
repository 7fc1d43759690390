"""What every ``gridops`` sub-command shares: the error console, a database session, and Typer's own words
in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
import typer.core
import typer.main
import typer.rich_utils
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.config import get_settings
from server.database import new_session, owner_database_url
from server.http_errors import validation_items
from server.tenant import City, current_cities, use_city

console = Console(stderr=True)
working_city: str | None = None  # the city the command works in (``gridops --city``); None: the own city


def print_error(message: str) -> None:
    console.print(f"[red]出错：[/red]{escape(message)}", highlight=False)


def fail(message: str) -> None:
    print_error(message)
    raise typer.Exit(1)


def fail_invalid(exc: ValidationError) -> None:
    """Refuse what a command was given, each problem as the API says it (the field in words)."""
    # The API's errors start with where the field came from (body, query); a command's come from its options.
    items = validation_items([{**e, "loc": ("options", *e["loc"])} for e in exc.errors()])
    fail("；".join(dict.fromkeys(item.msg for item in items)))


def level_label(level: str) -> str:
    """A grid level in words (区县, 街道...), as the city's level scheme names it."""
    return get_settings().scheme.get(level).label


@contextmanager
def session(*, owner: bool = False, in_city: bool = True) -> Iterator[Session]:
    """A session as the application, or with ``owner`` as the role that owns the schema (maintenance that
    alters or locks what only the owner may), working in the city ``--city`` names, else the deployment's
    own; with ``in_city``, a command that could not tell which city that is stops here."""
    try:
        db = new_session(owner_database_url()) if owner else new_session()
    except RuntimeError as exc:
        fail(str(exc))
    with db:
        if working_city is not None:
            city = db.scalar(select(City.id).where(City.code == working_city))
            if city is None:
                fail(f"没有代码为 {working_city} 的城市：运行 gridops cities list 查看已登记的城市")
            use_city(db, city)
        elif in_city and not current_cities(db)[0]:
            fail(
                "不知道在哪个城市里工作：还没有登记城市，请先运行 gridops cities add 城市代码 城市名称，"
                "或 GRIDOPS_CITY 所指的城市还没有登记"
            )
        yield db


# -- Typer's own words -------------------------------------------------------------------------------------
# Typer writes the help screens' headings and hints from constants of its module ``rich_utils``, and every
# command's usage line and help option in its command classes: they are given Chinese words here, once,
# before any command line is read. (Typer's own parsing errors, such as a missing option, stay English.)
TYPER_WORDS = {
    "DEPRECATED_STRING": "（已弃用）",
    "DEFAULT_STRING": "[默认：{}]",
    "ENVVAR_STRING": "[环境变量：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "ERRORS_PANEL_TITLE": "出错",
    "ABORTED_TEXT": "已取消。",
    "RICH_HELP": "请运行 [blue]'{command_path} {help_option}'[/] 查看用法，改正后重试。",
}
USAGE_PREFIX = "用法："
OPTION_HELP = {
    "--help": "显示本帮助后退出。",
    "--install-completion": "为当前的命令行外壳安装命令补全。",
    "--show-completion": "显示当前命令行外壳的命令补全脚本，可复制后自行安装。",
}


def _speak_chinese() -> None:
    """Put the words above in Typer's help screens (its constants, command classes and completion options)."""
    for name, words in TYPER_WORDS.items():
        setattr(typer.rich_utils, name, words)

    def format_usage(self, ctx, formatter) -> None:
        formatter.write_usage(ctx.command_path, " ".join(self.collect_usage_pieces(ctx)), prefix=USAGE_PREFIX)

    def worded(get_help_option):
        def get_chinese_help_option(self, ctx):
            option = get_help_option(self, ctx)
            if option is not None:
                option.help = OPTION_HELP["--help"]
            return option

        return get_chinese_help_option

    for command_class in (typer.core.TyperCommand, typer.core.TyperGroup):
        command_class.format_usage = format_usage
        command_class.get_help_option = worded(command_class.get_help_option)
    completion_arguments = typer.main.get_install_completion_arguments

    def chinese_completion_arguments():
        params = completion_arguments()
        for param in params:
            param.help = OPTION_HELP.get(param.opts[0], param.help)
        return params

    typer.main.get_install_completion_arguments = chinese_completion_arguments


_speak_chinese()  # every command module imports this one before any command line is read
