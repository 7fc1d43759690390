"""The phone names every step a case's timeline may show, in the words the desk uses."""

from mobile.screens.widgets import ACTION_LABELS
from server.case.flows import ACTIONS


def test_the_phone_names_every_action_as_the_desk_does():
    assert {name: ACTION_LABELS.get(name) for name in ACTIONS} == {n: a.label for n, a in ACTIONS.items()}
