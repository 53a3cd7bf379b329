"""The /docs page: every served operation, readable fields, nothing fetched from elsewhere."""

from __future__ import annotations

import re

from server.api_page import render_api_page, type_name
from server.routes import DeviceApi, openapi_document
from tests.support.pages import visible_text

DOCUMENT = openapi_document(DeviceApi(engine=None).endpoints())  # type: ignore[arg-type]


def test_every_operation_of_the_document_is_on_the_page() -> None:
    text = " ".join(visible_text(render_api_page(DOCUMENT)))
    operations = [(method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops]
    assert len(operations) == 8
    for method, path in operations:
        assert f"{method} {path}" in text, (method, path)
    assert "Device endpoints" in text and "Operator endpoints" in text


def test_request_and_answer_fields_are_listed_with_types() -> None:
    rows = re.findall(r"<tr><td><code>(\w+)</code></td><td>([^<]*)</td><td>(\w+)</td></tr>",
                      render_api_page(DOCUMENT))
    enroll_fields = set(DOCUMENT["paths"]["/v1/enroll"]["post"]["requestBody"]["content"]["application/json"]
                        ["schema"]["properties"])
    listed = {name for name, _, _ in rows}
    assert enroll_fields and enroll_fields <= listed
    assert ("token", "string", "required") in rows


def test_the_page_loads_nothing_from_elsewhere() -> None:
    page = render_api_page(DOCUMENT)
    assert "<script" not in page
    assert re.findall(r"(?:src|href)=['\"]?([^'\" >]+)", page) == ["/openapi.json"]


def test_type_names_read_naturally() -> None:
    assert type_name({"type": "array", "items": {"$ref": "#/$defs/Task"}}) == "array of Task"
    assert type_name({"anyOf": [{"type": "integer"}, {"type": "null"}]}) == "integer | null"
    assert type_name({"type": ["string", "null"]}) == "string | null"
    assert type_name({}) == "any"
