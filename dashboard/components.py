"""Small layout pieces shared by the pages, so that every page looks and reads the same."""
from __future__ import annotations

import json

from dash import dcc, html


def page(title: str, *children, subtitle: str = "") -> html.Div:
    head = [html.H1(title, id="page-title")]
    if subtitle:
        head.append(html.P(subtitle, className="subtitle"))
    return html.Div([html.Div(head, className="page-head"), *children], className="page")


def card(title: str, *children, id=None, className: str = "") -> html.Section:
    props = {"id": id} if id else {}
    return html.Section([html.H2(title), *children], className=("card " + className).strip(), **props)


def stat(label: str, value, id=None) -> html.Div:
    props = {"id": id} if id else {}
    return html.Div([html.Div(str(value), className="stat-value"), html.Div(label, className="stat-label")],
                    className="stat", **props)


def notice(text, kind: str = "info", id=None) -> html.Div:
    """kind: info, warn, error, ok. Refusals and truncation use this so they are impossible to miss."""
    props = {"id": id} if id else {}
    return html.Div(text, className=f"notice notice-{kind}", role="status", **props)


def refused(text: str, id=None) -> html.Div:
    return notice(text, "error", id=id)


def table(headers: list[str], rows: list[list], id=None, empty: str = "Nothing yet.") -> html.Div:
    props = {"id": id} if id else {}
    if not rows:
        return html.Div(html.P(empty, className="empty"), **props)
    return html.Div(
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in headers])),
             html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows])],
            className="table",
        ),
        className="table-wrap",
        **props,
    )


def json_block(value, id=None) -> html.Pre:
    props = {"id": id} if id else {}
    return html.Pre(json.dumps(value, indent=2, sort_keys=True, default=str), className="json", **props)


def when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def link(text, href: str, **props) -> dcc.Link:
    return dcc.Link(text, href=href, **props)
