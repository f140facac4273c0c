"""The OpenAPI document: FastAPI's, with the API's tags described.

Every model describes itself: the API's own models and the contract's in `schemas/` carry
docstrings, which become the schemas' descriptions.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import DESCRIPTIONS

TAGS = [
    {"name": "cases", "description": "Open, list and read cases; messages to a case."},
    {"name": "tasks", "description": "The inbox; completing and reassigning tasks."},
    {
        "name": "records",
        "description": "Participants' names, the notes as documents and the access log.",
    },
    {"name": "service", "description": "Health, readiness and the caller."},
]


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=TAGS,
            )
            _document_body_limit(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_body_limit(document: dict[str, Any]) -> None:
    """Every operation that takes a body may answer 413 (the body cap, api.limits.BodyLimit)."""
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            operation.setdefault("responses", {}).setdefault(
                "413",
                {
                    "description": DESCRIPTIONS[413],
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                        }
                    },
                },
            )
