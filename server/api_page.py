"""The API reference at ``GET /docs``: the OpenAPI document as one self-contained HTML page.

No scripts and no assets from elsewhere, so it works on a server without internet access. Each
operation shows its method, path, summary, JSON request and answer fields (name, type, required);
the full schemas are at ``/openapi.json``.
"""

from __future__ import annotations

import html
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;max-width:980px;
 margin:1.2rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin:0}h2{font-size:1.15rem;margin:1.6rem 0 .4rem}h3{font-size:1rem;margin:1.2rem 0 .3rem}
.lead{color:#5a6270;margin:.2rem 0 1rem}code,.path{font-family:ui-monospace,Menlo,Consolas,monospace}
.method{display:inline-block;min-width:3.5em;font-weight:700;color:#1f6fb5}
table{border-collapse:collapse;margin:.3rem 0 .6rem}th,td{padding:.15rem .6rem .15rem 0;text-align:left}
th{color:#5a6270;font-weight:600}p{margin:.2rem 0}
"""


def render_api_page(document: dict[str, Any]) -> str:
    """The HTML reference of an OpenAPI 3 ``document`` (as built by ``server.routes.openapi_document``)."""
    info = document.get("info", {})
    sections: dict[str, list[str]] = {}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            sections.setdefault(tag, []).append(_operation(method, path, operation))
    body = "".join(f"<h2>{html.escape(tag.capitalize())} endpoints</h2>{''.join(items)}"
                   for tag, items in sections.items())
    title = html.escape(info.get("title", "API"))
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><style>{STYLE}</style></head>"
            f"<body><h1>{title}</h1><p class=lead>{html.escape(info.get('description', ''))} "
            f"Machine-readable: <a href='/openapi.json'>/openapi.json</a>.</p>{body}</body></html>")


def _operation(method: str, path: str, operation: dict[str, Any]) -> str:
    parts = [f"<h3><span class=method>{method.upper()}</span> <span class=path>{html.escape(path)}</span></h3>",
             f"<p>{html.escape(operation.get('summary', ''))}</p>"]
    request = operation.get("requestBody", {}).get("content", {})
    for media_type, content in request.items():
        parts.append(f"<p>Request body: <code>{html.escape(media_type)}</code></p>")
        parts.append(_fields(content.get("schema", {})))
    for status, answer in operation.get("responses", {}).items():
        for media_type, content in answer.get("content", {}).items():
            if status.startswith("2"):
                parts.append(f"<p>Answer <b>{html.escape(status)}</b>: <code>{html.escape(media_type)}</code></p>")
                parts.append(_fields(content.get("schema", {})))
    errors = [status for status in operation.get("responses", {}) if not status.startswith("2")]
    if errors:
        parts.append(f"<p>Errors ({', '.join(map(html.escape, errors))}): "
                     "<code>{\"error\": {\"code\", \"message\"}}</code></p>")
    return "".join(parts)


def _fields(schema: dict[str, Any]) -> str:
    properties = schema.get("properties")
    if not properties:
        return ""
    required = set(schema.get("required", []))
    rows = "".join(f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(type_name(spec))}</td>"
                   f"<td>{'required' if name in required else 'optional'}</td></tr>"
                   for name, spec in properties.items())
    return f"<table><tr><th>field</th><th>type</th><th></th></tr>{rows}</table>"


def type_name(schema: dict[str, Any]) -> str:
    """A short readable type of a JSON schema: ``integer``, ``array of string``, ``Task | null``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(type_name(option) for option in schema["anyOf"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_name(schema.get('items', {}))}"
    return kind if isinstance(kind, str) else " | ".join(kind)
