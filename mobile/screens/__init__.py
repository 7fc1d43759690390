"""The app's screens: each a module here with its Screen class and a .kv file of the same name, imported
and loaded when the screen is first shown."""

from __future__ import annotations

import importlib

from kivy.uix.screenmanager import Screen

from mobile.screens.widgets import load_kv

# screen name -> (module, class)
SCREENS: dict[str, tuple[str, str]] = {
    "login": ("login", "LoginScreen"),
    "home": ("home", "HomeScreen"),
    "map": ("map", "MapScreen"),
    "report": ("report", "ReportScreen"),
    "outbox": ("outbox", "OutboxScreen"),
    "tasks": ("tasks", "TasksScreen"),
    "task": ("tasks", "TaskScreen"),
    "case": ("case", "CaseScreen"),
}


def make_screen(name: str) -> Screen:
    """A new screen ``name``, its module imported and its .kv loaded on first use."""
    module_name, class_name = SCREENS[name]
    module = importlib.import_module(f"mobile.screens.{module_name}")
    load_kv(module.__file__)
    return getattr(module, class_name)(name=name)
