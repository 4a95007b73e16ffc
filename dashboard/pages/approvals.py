"""Placeholder until the approvals service lands."""
from dashboard import components as ui

PAGE = "approvals"
TITLE = "approvals".capitalize()


def layout(user, query):
    return ui.page(TITLE, ui.notice("This page is not built yet.", "warn"))


def register(app):
    pass
