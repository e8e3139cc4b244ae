"""The grammar of DataDirect/ODBC-style connection strings: ``key=value;`` pairs.

Owns: splitting a connection string into (key, value) pairs and nothing else -- which keys
exist, their aliases and types belong to :mod:`d365conn.config`.

Rules (the ODBC grammar DataDirect, CData and the Dynamics tools write):
- pairs are separated by ``;``; whitespace around keys and pairs, and a trailing ``;``, are ignored;
- the key runs to the first ``=``; the value runs to the next ``;`` and may itself hold ``=``,
  ``/`` and ``+`` (client secrets do), so it is kept byte for byte apart from outer whitespace;
- a value in braces ``{...}`` may hold ``;`` and edge spaces; ``}}`` inside braces is one ``}``;
- keys are case-insensitive (the caller canonicalises them); a repeated key is an error,
  because silently keeping either copy could connect somewhere the user did not intend.
"""

from __future__ import annotations

from .exceptions import ConfigurationError


def split_pairs(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into (key, value) pairs in their written order.

    Raises ConfigurationError saying where the string is malformed. The error text quotes only
    keys and positions, never values, since values may be secrets.
    """
    pairs: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    pos, end = 0, len(text)
    while pos < end:
        # Skip separators and whitespace between pairs.
        while pos < end and (text[pos].isspace() or text[pos] == ";"):
            pos += 1
        if pos >= end:
            break
        eq = text.find("=", pos)
        semi = text.find(";", pos)
        if eq < 0 or (0 <= semi < eq):
            stop = semi if semi >= 0 else end
            fragment = text[pos:stop].strip()
            raise ConfigurationError(
                f"connection string: expected key=value at position {pos}, found {fragment[:40]!r} "
                "with no '='"
            )
        key = text[pos:eq].strip()
        if not key:
            raise ConfigurationError(f"connection string: empty key before '=' at position {eq}")
        if "{" in key or "}" in key:
            raise ConfigurationError(f"connection string: braces are not allowed in a key (position {pos})")
        value, pos = _read_value(text, eq + 1, key)
        folded = key.casefold()
        if folded in seen:
            raise ConfigurationError(f"connection string: option {key!r} is given twice")
        seen[folded] = pos
        pairs.append((key, value))
    return pairs


def _read_value(text: str, start: int, key: str) -> tuple[str, int]:
    """Read one value beginning at ``start``; return it and the position after its ``;``."""
    end = len(text)
    pos = start
    while pos < end and text[pos] in " \t":
        pos += 1
    if pos < end and text[pos] == "{":
        chars: list[str] = []
        pos += 1
        while True:
            if pos >= end:
                raise ConfigurationError(
                    f"connection string: the value of {key!r} opens '{{' at position {start} "
                    "but never closes it"
                )
            ch = text[pos]
            if ch == "}":
                if pos + 1 < end and text[pos + 1] == "}":
                    chars.append("}")
                    pos += 2
                    continue
                pos += 1
                break
            chars.append(ch)
            pos += 1
        # After the closing brace only whitespace may come before the separator.
        while pos < end and text[pos].isspace():
            pos += 1
        if pos < end and text[pos] != ";":
            raise ConfigurationError(
                f"connection string: unexpected text after the braced value of {key!r} at position {pos}"
            )
        return "".join(chars), pos + 1
    semi = text.find(";", pos)
    stop = semi if semi >= 0 else end
    return text[pos:stop].strip(), stop + 1


def quote_value(value: str) -> str:
    """Quote ``value`` so that :func:`split_pairs` reads it back unchanged."""
    if value == "" or ";" in value or "{" in value or "}" in value or value != value.strip():
        return "{" + value.replace("}", "}}") + "}"
    return value


def join_pairs(pairs: list[tuple[str, str]]) -> str:
    """Write pairs back as a connection string (the inverse of :func:`split_pairs`)."""
    return "".join(f"{key}={quote_value(value)};" for key, value in pairs)
