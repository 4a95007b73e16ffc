"""report.html: the human-readable page of a bundle, built with html.escape rather than a template engine
because it is rendered once per bundle for thousands of rows, and must open anywhere without assets."""
from __future__ import annotations

import json
from html import escape

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #bbb;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#eee}code{font-size:.85em;word-break:break-all}.note{color:#555}"""


def _e(value) -> str:
    return escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f"<p>{_e(empty)}</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>\n{body}</table>"


def render(manifest: dict, lineage: dict, governance: dict, audit: dict) -> bytes:
    subject = manifest["subject"]
    counts = manifest["counts"]
    nodes = sorted(lineage["nodes"], key=lambda d: (d["distance"], d["ref"]))
    upstream = [n for n in nodes if n["direction"] == "upstream"]
    downstream = [n for n in nodes if n["direction"] == "downstream"]

    def node_row(n, with_raw=True):
        row = [_e(n["distance"]), _e(n["kind"]), _e(n["display_name"] or n["name"]), _e(n["source"]),
               f"<code>{_e(n['source_id'])}</code>", _e(n["first_seen"])]
        if with_raw:
            row.append(f"<code>{_e(n['raw'])}</code>" if n["raw"] else "")
        return row

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Evidence bundle: {_e(subject['kind'])} {_e(subject['name'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Evidence bundle</h1>",
        '<p class="note">This page is a readable view of the files beside it. The files, not this page, are the '
        "evidence: check them with <code>python -m governance.archive.verify BUNDLE.zip</code> and compare the "
        "printed SHA-256 with the audit trail's <code>bundle.create</code> entry.</p>",
        "<h2>Summary</h2>",
        _table(["", ""], [
            ["Subject", f"{_e(subject['kind'])} <strong>{_e(subject['name'])}</strong> ({_e(subject['source'])} id "
                        f"<code>{_e(subject['source_id'])}</code>)"],
            ["Created", f"{_e(manifest['created_at'])} by {_e(manifest['created_by'].get('username'))}"],
            ["Lineage as of", f"{_e(manifest['as_of'])}, depth {_e(manifest['depth'])}"],
            ["Service", f"{_e(manifest['service']['name'])} {_e(manifest['service']['version'])}, "
                        f"bundle format {_e(manifest['format_version'])}"],
            ["Contents", f"{counts['nodes']} nodes, {counts['edges']} edges, {counts['raw_records']} source payloads, "
                         f"{counts['governance_records']} governance records, {counts['audit_entries']} audit entries"],
        ], ""),
        "<h2>Deployments and outputs (downstream)</h2>",
        _table(["Hops", "Kind", "Name", "Source", "Source id", "First seen"], [node_row(n, False) for n in downstream],
               "None recorded."),
        f"<h2>Upstream lineage ({len(upstream)} nodes)</h2>",
        _table(["Hops", "Kind", "Name", "Source", "Source id", "First seen", "Source payload"],
               [node_row(n) for n in upstream], "None recorded."),
        f"<h2>Edges ({len(lineage['edges'])})</h2>",
        _table(["From", "Edge", "To", "Valid from"],
               [[f"<code>{_e(e['src'])}</code>", _e(e["kind"]), f"<code>{_e(e['dst'])}</code>", _e(e["valid_from"])]
                for e in lineage["edges"]], "None."),
        "<h2>Promotion requests, decisions and gate results</h2>",
        _table(["Record", "Id", "Fields"],
               [[_e(r["model"]), _e(r["pk"]), f"<code>{_e(json.dumps(r['fields'], sort_keys=True))}</code>"]
                for r in governance["records"]],
               "None recorded for this subject." if governance["available"]
               else "The approvals app was not installed when this bundle was built."),
        "<h2>Audit trail excerpt</h2>",
        _table(["Seq", "At", "Actor", "Action", "Object", "Reason", "Hash"],
               [[_e(a["seq"]), _e(a["at"]), _e(a["actor_username"]), _e(a["action"]),
                 f"{_e(a['object_type'])} {_e(a['object_id'])}", _e(a["reason"]), f"<code>{_e(a['hash'])}</code>"]
                for a in audit["entries"]], "No entries."),
    ]
    checkpoint = audit.get("checkpoint")
    if checkpoint:
        parts.append(f"<p>Signed audit checkpoint: entry {_e(checkpoint.get('seq'))} has hash "
                     f"<code>{_e(checkpoint.get('entry_hash'))}</code> ({_e(checkpoint.get('algorithm'))}, key "
                     f"{_e(checkpoint.get('key_id'))}, {_e(checkpoint.get('created_at'))}).</p>")
    if audit.get("chain_head"):
        parts.append(f"<p>Audit chain head when built: entry {_e(audit['chain_head']['seq'])}, "
                     f"<code>{_e(audit['chain_head']['hash'])}</code>.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts).encode("utf-8")
