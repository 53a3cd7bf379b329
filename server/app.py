"""The HTTP face of the server (Starlette): the routes of docs/protocol.md over an :class:`Engine`.

Every failure becomes ``{"error": {"code", "message"}}`` with the status of the one table in
``server.errors``; no request body is read past its endpoint's limit. The OpenAPI document is
served at ``/openapi.json`` and as a self-contained HTML reference at ``/docs``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from edge_sdk._lazy import import_optional
from server.engine import Engine
from server.errors import ApiError

HINT = "'fedlite[server]'"


def create_app(engine: Engine, *, run_ticker: bool = True, operator_token: str | None = None) -> Any:
    """The ASGI app serving ``engine`` (which must be open); ``operator_token`` guards the operator pages."""
    import_optional("starlette", HINT)
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    from server.api_page import render_api_page
    from server.app_support import ServerTimeMiddleware, error_response
    from server.operator_auth import OperatorAuthMiddleware
    from server.routes import DeviceApi, openapi_document

    endpoints = DeviceApi(engine).endpoints()
    document = openapi_document(endpoints)
    reference = render_api_page(document)

    async def openapi(_: Any) -> JSONResponse:
        return JSONResponse(document)

    async def docs(_: Any) -> HTMLResponse:
        return HTMLResponse(reference)

    async def api_error(_: Any, exc: ApiError) -> Any:
        return error_response(exc)

    async def http_error(_: Any, exc: HTTPException) -> Any:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "invalid_query")
        return error_response(ApiError(code, str(exc.detail)))

    async def internal_error(_: Any, exc: Exception) -> Any:
        return error_response(ApiError("internal_error", f"internal error: {type(exc).__name__}"))

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        ticker = asyncio.create_task(engine.run_ticker()) if run_ticker else None
        yield
        if ticker is not None:
            ticker.cancel()
        engine.close()

    routes = [Route(e.path, e.handler, methods=[e.method]) for e in endpoints]
    routes += [Route("/openapi.json", openapi, methods=["GET"]), Route("/docs", docs, methods=["GET"])]
    middleware = [Middleware(ServerTimeMiddleware, metrics=engine.metrics)]
    if operator_token is not None:
        middleware.append(Middleware(OperatorAuthMiddleware, token=operator_token))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware,
                     exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: internal_error})
