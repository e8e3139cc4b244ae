"""Rewrite the options table in docs/connection-string.md from d365conn.options.OPTIONS.

Run after adding or changing an option: ``python tools/gen_options_table.py``.
The table sits between the ``| Option | Aliases`` header and the first blank line after it.
"""

from __future__ import annotations

from pathlib import Path

from d365conn.options import OPTIONS, OptionSpec

DOC = Path(__file__).resolve().parent.parent / "docs" / "connection-string.md"
HEADER = "| Option | Aliases | Type | Default | Meaning |\n|---|---|---|---|---|\n"


def row(spec: OptionSpec) -> str:
    aliases = ", ".join(f"`{a}`" for a in spec.aliases) or "—"
    if spec.default is None:
        default = "—"
    elif isinstance(spec.default, bool):
        default = "`true`" if spec.default else "`false`"
    else:
        default = f"`{spec.default}`"
    if spec.kind == "secret":
        kind = "secret (hidden from logs and reprs)"
    elif spec.kind == "choice":
        kind = "one of " + ", ".join(f"`{c}`" for c in spec.choices)
    else:
        kind = spec.kind
    return f"| `{spec.name}` | {aliases} | {kind} | {default} | {spec.doc} |"


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(HEADER) + len(HEADER)
    end = text.index("\n\n", start)
    DOC.write_text(text[:start] + "\n".join(row(s) for s in OPTIONS) + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
