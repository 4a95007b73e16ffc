"""Placeholder until the audit service lands."""
from dashboard import components as ui

PAGE = "audit"
TITLE = "audit".capitalize()


def layout(user, query):
    return ui.page(TITLE, ui.notice("This page is not built yet.", "warn"))


def register(app):
    pass
