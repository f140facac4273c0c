"""The API's reference at `/api/v1/docs`, rendered by sagsflow itself from its OpenAPI document.

Swagger UI and ReDoc load their scripts from a public CDN: unreachable on a closed municipal
network, unpinned, and run with the page's rights. No Python package that ships their assets is
in the package index the municipality mirrors (README, "Stack"), so this page is plain HTML made
here: every operation with its parameters, body and answers, linked to the OpenAPI document that
tools read. No scripts, nothing fetched from anywhere but the page itself.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

DOCS_PATH = "/api/v1/docs"
METHODS = ("get", "post", "put", "patch", "delete")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem;
       color: #1b1b1b; line-height: 1.45; }
h1 { margin-bottom: 0.2rem; } h2 { border-bottom: 2px solid #ddd; margin-top: 2.5rem; }
section.op { border: 1px solid #ddd; border-radius: 6px; margin: 1rem 0; padding: 0.6rem 1rem; }
code.method { font-weight: bold; text-transform: uppercase; padding: 0.1rem 0.4rem;
              border-radius: 4px; background: #e8eef7; }
table { border-collapse: collapse; margin: 0.4rem 0; } td, th { border: 1px solid #ddd;
        padding: 0.2rem 0.5rem; text-align: left; vertical-align: top; }
p.desc { white-space: pre-wrap; }
"""


def render(document: dict[str, Any]) -> str:
    info = document.get("info", {})
    by_tag: dict[str, list[str]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                tag = (operation.get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append(_operation(method, path, operation))
    tags = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    sections = "".join(
        f"<h2>{escape(tag)}</h2><p>{escape(tags.get(tag, ''))}</p>{''.join(operations)}"
        for tag, operations in by_tag.items()
    )
    return (
        "<!doctype html><html lang='da'><head><meta charset='utf-8'>"
        f"<title>{escape(info.get('title', 'API'))} – dokumentation</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{escape(info.get('title', 'API'))} <small>{escape(str(info.get('version', '')))}"
        f"</small></h1><p>{escape(info.get('summary', ''))}</p>"
        f"<p class='desc'>{escape(info.get('description', ''))}</p>"
        "<p>OpenAPI-dokumentet / the OpenAPI document: "
        "<a href='/api/v1/openapi.json'>/api/v1/openapi.json</a></p>"
        f"{sections}</body></html>"
    )


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    parameters = "".join(
        f"<tr><td><code>{escape(p.get('name', ''))}</code></td><td>{escape(p.get('in', ''))}</td>"
        f"<td>{'ja / yes' if p.get('required') else ''}</td>"
        f"<td>{escape(p.get('description', '') or '')}</td></tr>"
        for p in operation.get("parameters", [])
    )
    body = ""
    content = operation.get("requestBody", {}).get("content", {})
    for media, spec in content.items():
        schema = spec.get("schema", {})
        name = schema.get("$ref", "").rsplit("/", 1)[-1] or schema.get("type", "")
        body += f"<p>Body ({escape(media)}): <code>{escape(name)}</code></p>"
    answers = "".join(
        f"<tr><td><code>{escape(code)}</code></td>"
        f"<td>{escape(answer.get('description', ''))}</td></tr>"
        for code, answer in operation.get("responses", {}).items()
    )
    return (
        f"<section class='op' id='{escape(operation.get('operationId', ''))}'>"
        f"<h3><code class='method'>{escape(method)}</code> <code>{escape(path)}</code></h3>"
        f"<p><strong>{escape(operation.get('summary', ''))}</strong></p>"
        f"<p class='desc'>{escape(operation.get('description', ''))}</p>"
        + (
            "<table><tr><th>Parameter</th><th>i / in</th><th>krævet / required</th>"
            f"<th></th></tr>{parameters}</table>"
            if parameters
            else ""
        )
        + body
        + f"<table><tr><th>Svar / answer</th><th></th></tr>{answers}</table></section>"
    )


def install_docs_page(app: FastAPI) -> None:
    @app.get(DOCS_PATH, include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(render(app.openapi()))
