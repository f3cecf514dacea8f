"""Plotly.js as the console serves it: the bundle inside the installed ``plotly`` Python package (never a copy in the
repository), and what a page needs to run it under a Content-Security-Policy without ``'unsafe-inline'``.

On load, plotly.js writes its own CSS rules into ``<style>`` elements, which such a policy blocks. It skips that when
the page already has an element with the id it would use: ``plotly.js-style-global`` (its own rules: hover labels,
mode bar, notifier) and a hashed id (the CSS of maplibre, for map traces, which the console does not draw). So the
page links a stylesheet with the global id (made here from the rules written in the bundle) and holds an empty
element with the other id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path

import plotly

BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
GLOBAL_STYLE_ID = "plotly.js-style-global"
# How plotly.js writes its rules: an object literal of selector → declarations, X standing for the plot's scope.
_RULES_START = '{"X,X div":'
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|([A-Za-z_$][\w$]*)')
_STYLE_ELEMENT_GUARD = re.compile(
    r'if\(!document\.getElementById\("([0-9a-f]{64})"\)\)\{var \w+=document\.createElement'
)
_SCOPES = {"X": ".js-plotly-plot .plotly", "Y": ".plotly-notifier"}


@dataclass(frozen=True)
class PlotlyAssets:
    version: str
    css: str
    # Ids of elements whose presence stops plotly.js from adding a <style> element of its own.
    style_guard_ids: tuple[str, ...]


@cache
def plotly_assets() -> PlotlyAssets:
    """Read once per process from the installed bundle."""
    source = BUNDLE.read_text(encoding="utf-8")
    return PlotlyAssets(
        version=version("plotly"),
        css=stylesheet(source),
        style_guard_ids=tuple(dict.fromkeys(_STYLE_ELEMENT_GUARD.findall(source))),
    )


def stylesheet(source: str) -> str:
    """The CSS plotly.js would insert itself, from the rules object literal in its bundle ``source``."""
    start = source.index(_RULES_START)
    position = start + 1
    rules: list[str] = []
    while True:
        selector, position = _literal(source, position)
        if source[position] != ":":
            raise ValueError(f"unexpected {source[position]!r} in plotly.js's style rules")
        declarations, position = _literal(source, position + 1)
        scoped = re.sub(r"^,", " ,", selector)
        for letter, scope in _SCOPES.items():
            scoped = scoped.replace(letter, scope)
        rules.append(f"{scoped} {{{declarations}}}")
        if source[position] == "}":
            return "\n".join(rules) + "\n"
        if source[position] != ",":
            raise ValueError(f"unexpected {source[position]!r} in plotly.js's style rules")
        position += 1


def _literal(source: str, position: int) -> tuple[str, int]:
    """A quoted string or a bare identifier (minified object keys) at ``position``, and where it ends."""
    match = _STRING.match(source, position)
    if match is None:
        raise ValueError(f"no string at offset {position} of plotly.js's style rules")
    text = next(group for group in match.groups() if group is not None)
    return text.replace('\\"', '"').replace("\\'", "'"), match.end()
