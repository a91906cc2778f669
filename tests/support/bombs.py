"""Small inputs that once made flowhost compute without bound (issue 13, "one request freezes everything")."""

from __future__ import annotations


def alias_bomb(levels: int = 9) -> str:
    """``a1: &a1 [*a0, *a0, ...]`` nine levels deep: 9**9 items from about 570 bytes."""
    lines = ["flowhost: 1", "id: bomb", 'a0: &a0 ["lol"]']
    lines += [f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]" for level in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def merge_key_bomb(levels: int = 9) -> str:
    """Each mapping merges the one before and holds it eight times more: the same growth through ``<<``."""
    lines = ["flowhost: 1", "id: bomb", "m0: &m0 {k: v}"]
    for level in range(1, levels + 1):
        previous = f"*m{level - 1}"
        values = ", ".join(f"v{index}: {previous}" for index in range(8))
        lines.append(f"m{level}: &m{level} {{<<: {previous}, {values}}}")
    return "\n".join(lines) + "\n"


ISSUE_TEMPLATE_BOMBS = {
    "center": ("t/{{ 'a'|center(10**9) }}", "center: width 1000000000 is larger than 65536"),
    "format filter": ("t/{{ '%1000000000s'|format('a') }}", "format widths add up to 1000000000"),
    "nested range loops": (
        "t/{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x",
        "range of 100000 items; the limit is 10000",
    ),
    "ljust": ("t/{{ 'a'.ljust(10**8) }}", "ljust: width 100000000 is larger than 65536"),
    "huge range": ("t/{{ range(10**9)|length }}", "range of 1000000000 items"),
    "recursive macro": (
        "t/{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
        "calls nested deeper than 32 (a recursive macro?)",
    ),
}
"""The templates the issue names, with what the refusal says."""
