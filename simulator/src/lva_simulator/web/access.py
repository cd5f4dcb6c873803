"""Who may see the web view: whoever has the access token printed at start.

Every request (page, stream, file, unknown path) needs the token, in the
query (``?token=...``, the printed link) or in the cookie that a request with
the token in its query sets, so links inside the pages work without it. No
token: 401; a wrong one: 403; both with no content. Tokens are compared in
constant time. POSTs must come from the page itself: the cookie is
SameSite=Strict and a foreign ``Origin`` is refused.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

log = logging.getLogger(__name__)

COOKIE = "lva_simulator_token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Pages and streams are private and built from the page's own files only.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:;"
    " media-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _matches(offered: str, token: str) -> bool:
    return hmac.compare_digest(offered.encode(), token.encode())


def guard(token: str) -> Middleware:
    """The middleware that refuses requests without the token."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        in_query = request.query.get("token")
        offered = in_query or request.cookies.get(COOKIE)
        if not offered:
            return web.Response(status=401)
        if not _matches(offered, token):
            log.info("web view: wrong token for %s %s", request.method, request.path)
            return web.Response(status=403)
        if request.method not in ("GET", "HEAD") and not _same_origin(request):
            return web.Response(status=403)
        return await handler(request)

    return check


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def on_prepare(
    token: str,
) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """The hook that adds the security headers, and the cookie when the query had the token."""
    cookie = f"{COOKIE}={token}; HttpOnly; Path=/; SameSite=Strict"

    async def prepare(request: web.Request, response: web.StreamResponse) -> None:
        # Headers, not response.set_cookie: cookies are already written out at this point.
        offered = request.query.get("token")
        if offered and _matches(offered, token):
            response.headers.add("Set-Cookie", cookie)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)

    return prepare
