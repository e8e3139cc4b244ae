"""docs/connection-string.md lists every option of d365conn.options, with its aliases and default."""

from __future__ import annotations

from pathlib import Path

import pytest

from d365conn.options import OPTIONS, OptionSpec

DOC = (Path(__file__).resolve().parent.parent / "docs" / "connection-string.md").read_text(encoding="utf-8")
ROWS = {line.split("|")[1].strip().strip("`"): line for line in DOC.splitlines() if line.startswith("| `")}


@pytest.mark.parametrize("spec", OPTIONS, ids=lambda s: s.name)
def test_option_is_documented(spec: OptionSpec) -> None:
    assert spec.name in ROWS, f"{spec.name} is missing from docs/connection-string.md"
    row = ROWS[spec.name]
    for alias in spec.aliases:
        assert f"`{alias}`" in row, f"alias {alias} of {spec.name} is not documented"
    if spec.default not in (None, True, False):
        assert f"`{spec.default}`" in row


def test_no_documented_option_is_unknown() -> None:
    names = {s.name for s in OPTIONS}
    assert set(ROWS) - names == set()
