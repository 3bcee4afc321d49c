"""docs/permissions.md is the permission matrix of apps/accounts/roles.py, cell for cell: it cannot drift."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from apps.accounts.roles import MSP_KEY_CAPABILITIES, ROLE_CAPABILITIES, SCOPE_CAPABILITIES, Cap, Role, Scope

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"
ALL_CAPABILITIES = {value for name, value in vars(Cap).items() if name.isupper()}
CHECK = "✓"


def section(title: str) -> list[str]:
    """The lines under `## title`, up to the next heading of the same level."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"## {title}") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("## ")), len(lines))
    return lines[start:end]


def table(title: str) -> tuple[list[str], list[list[str]]]:
    """The first Markdown table of a section: (header cells, body rows), separator checked and dropped."""
    rows = [line for line in section(title) if line.startswith("|")]
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    header, separator, body = cells[0], cells[1], cells[2:]
    assert all(re.fullmatch(r":?-{3,}:?", cell) for cell in separator), separator
    assert all(len(row) == len(header) for row in body), f"ragged table in '{title}'"
    return header, body


def code_names(cell: str) -> list[str]:
    names = re.findall(r"`([^`]+)`", cell)
    assert cell.replace(",", "").replace("`", "").split() == names, f"not a list of `names`: {cell!r}"
    return names


def test_role_table_equals_role_capabilities():
    header, body = table("Roles")
    assert header[0] == "Role"
    columns = [code_names(cell)[0] for cell in header[1:]]
    assert sorted(columns) == sorted(ALL_CAPABILITIES) and len(columns) == len(set(columns))
    labels = {Role(role).label: role for role in ROLE_CAPABILITIES}
    documented = {}
    for row in body:
        assert row[0] in labels, f"unknown role {row[0]!r}"
        assert set(row[1:]) <= {CHECK, ""}, row
        documented[labels[row[0]]] = frozenset(cap for cap, cell in zip(columns, row[1:], strict=True) if cell)
    assert len(body) == len(documented) == len(Role)
    assert documented == ROLE_CAPABILITIES


def test_scope_table_equals_scope_capabilities():
    header, body = table("API key scopes")
    assert header == ["Scope", "Grants", "Meaning"]
    documented = {}
    for scope_cell, grants_cell, meaning in body:
        (scope,) = code_names(scope_cell)
        assert scope in Scope.values, f"unknown scope {scope!r}"
        assert meaning == Scope(scope).label, scope
        documented[scope] = frozenset(code_names(grants_cell))
    assert len(body) == len(documented) == len(Scope)
    assert documented == SCOPE_CAPABILITIES


def test_msp_level_keys_are_documented():
    line = next(line for line in section("API key scopes") if line.startswith("MSP-level keys (no client) grant"))
    granted = set(re.findall(r"`([a-z_]+)`", line.split(" on ")[0]))
    assert granted == MSP_KEY_CAPABILITIES


def test_every_capability_is_explained_once():
    explained = [
        re.match(r"- `([a-z_]+)`", line).group(1) for line in section("Capabilities") if line.startswith("- `")
    ]
    assert sorted(explained) == sorted(ALL_CAPABILITIES)


@pytest.mark.parametrize(
    "rule",
    [
        "answers **404**",  # other clients
        "a missing capability answers 403",
        "MSP staff must set up MFA",
        "Auditors always have an end date",
    ],
)
def test_the_rules_of_access_are_stated(rule):
    assert rule in "\n".join(section("Rules of access"))


def test_the_parser_would_notice_a_drifted_cell(tmp_path, monkeypatch):
    """A tampered copy of the doc must fail the comparison (the check is not vacuous)."""
    tampered = DOC.read_text(encoding="utf-8").replace("| Client viewer | ✓ |  |", "| Client viewer | ✓ | ✓ |", 1)
    assert tampered != DOC.read_text(encoding="utf-8")
    copy = tmp_path / "permissions.md"
    copy.write_text(tampered, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "DOC", copy)
    with pytest.raises(AssertionError):
        test_role_table_equals_role_capabilities()
