"""One middleware turns every failure into a JSON answer with a message; never a bare 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..domain.incident import TransitionError
from ..errors import ConflictError, NotFoundError, PayloadError, StoreUnavailable

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _from_http(exc: web.HTTPException) -> web.Response:
    if exc.content_type == "application/json" and exc.text:
        try:
            json.loads(exc.text)
            return web.Response(
                status=exc.status,
                text=exc.text,
                content_type="application/json",
                headers={k: v for k, v in exc.headers.items() if k != "Content-Type"},
            )
        except ValueError:
            pass
    message = {
        404: "no such endpoint",
        413: "request body too large",
    }.get(exc.status, exc.reason)
    keep = {
        k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate", "Retry-After")
    }
    return json_error(exc.status, message, keep)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _from_http(exc)
        if exc.status == 404 and exc.content_type != "application/json":
            # The router's own 404: say which request missed (e.g. a non-integer incident id).
            response = json_error(404, f"no such endpoint: {request.method} {request.path[:200]}")
        if exc.status == 405:
            response = json_error(
                405,
                f"method {request.method} not allowed on {request.path}",
                {"Allow": exc.headers.get("Allow", "")},
            )
        return response
    except PayloadError as exc:
        return json_error(400, str(exc))
    except NotFoundError as exc:
        return json_error(404, str(exc))
    except (ConflictError, TransitionError) as exc:
        return json_error(409, str(exc))
    except StoreUnavailable as exc:
        log.error("store unavailable", extra={"path": request.path, "error": str(exc)})
        return json_error(503, "store unavailable, retry later", {"Retry-After": "5"})
    except Exception:
        log.exception("unhandled error", extra={"path": request.path})
        return json_error(500, "internal error")
