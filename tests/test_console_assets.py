"""The console's files as the gateway serves them: the page, its modules and Plotly from the installed package, each
answer under the console's Content-Security-Policy; the stylesheet and style guards that let Plotly run under it;
and the console's own code keeping its rules (no innerHTML, no inline handlers or styles, no other host)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from gateway import create_app
from gateway.console import CONSOLE_DIR, CONTENT_SECURITY_POLICY
from gateway.plotly_assets import BUNDLE, GLOBAL_STYLE_ID, plotly_assets, stylesheet

CONSOLE_FILES = sorted(path for path in CONSOLE_DIR.rglob("*") if path.is_file())


@pytest.fixture
def client(app_config):
    return create_app(app_config).test_client()


def test_the_page_links_plotly_styles_and_guards_so_plotly_adds_no_inline_style(client):
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert f'<link id="{GLOBAL_STYLE_ID}" class="no-inline-styles" rel="stylesheet"' in text
    guards = plotly_assets().style_guard_ids
    assert guards  # the bundle adds maplibre's <style> unless an element with this id exists
    for guard in guards:
        assert f'<template id="{guard}"></template>' in text
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["Cache-Control"] == "no-cache"


def test_plotly_is_served_from_the_installed_package(client):
    script = client.get("/console/vendor/plotly.min.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert hashlib.sha256(script.get_data()).digest() == hashlib.sha256(BUNDLE.read_bytes()).digest()
    assert script.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert (
        client.get("/console/vendor/plotly.min.js", headers={"If-None-Match": script.headers["ETag"]}).status_code
        == 304
    )
    css = client.get("/console/vendor/plotly.css").get_data(as_text=True)
    assert ".js-plotly-plot .plotly .modebar {position:absolute;" in css
    assert ".plotly-notifier {" in css


def test_the_stylesheet_is_the_rules_plotly_would_insert():
    source = 'x;var r={"X,X div":\'direction:ltr;\',"X .a:hover":"color:#444;",Y:\'position:fixed;\'};for(k in r)'
    assert stylesheet(source) == (
        ".js-plotly-plot .plotly,.js-plotly-plot .plotly div {direction:ltr;}\n"
        ".js-plotly-plot .plotly .a:hover {color:#444;}\n"
        ".plotly-notifier {position:fixed;}\n"
    )
    with pytest.raises(ValueError):
        stylesheet('{"X,X div":"a";}')


@pytest.mark.parametrize("path", ["/console/js/app.js", "/console/console.css", "/console/favicon.svg"])
def test_console_files_have_their_type_and_policy(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.mimetype == {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}[Path(path).suffix]
    assert answer.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    ["/console/js/missing.js", "/console/index.html", "/console/../console.py", "/console/%2e%2e/console.py", "/x.js"],
)
def test_anything_else_is_a_json_404(client, path):
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.json["code"] == 404


def test_the_policy_allows_nothing_inline_and_no_other_origin():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == directives["style-src"] == directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("path", CONSOLE_FILES, ids=lambda path: str(path.relative_to(CONSOLE_DIR)))
def test_console_code_keeps_its_rules(path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"https?://", text.replace("http://www.w3.org/2000/svg", "")), "no other host"
    assert not re.search(r"\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function", text)
    assert not re.search(r"<[a-z][^>]*\s(on[a-z]+|style)=", text), "no inline handlers or styles in markup"
    assert "localStorage" not in text and "document.cookie" not in text, "tokens stay in sessionStorage"
