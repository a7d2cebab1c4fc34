"""The app's gate, in front of every route: only this machine's own address, only with the
session's token, no path that climbs, state changes only from the app's own pages, and headers
that keep the pages from loading anything from elsewhere.

The token arrives once in the URL the command prints (`/?token=...`); the page then holds it as
a same-site, HTTP-only cookie, so images and API calls carry it without exposing it to scripts.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, unquote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "hygiene_token"
_SAFE_METHODS = {"GET", "HEAD"}
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
        b"script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]


class Guard:
    """ASGI middleware: refuses (403/404, plain text) what the app must never serve."""

    def __init__(self, app: App, token: str, port: int) -> None:
        self.app = app
        self.token = token
        self.hosts = {f"127.0.0.1:{port}".encode(), f"localhost:{port}".encode()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name: value for name, value in scope["headers"]}
        host = headers.get(b"host", b"")
        if host not in self.hosts:  # another name for this address: DNS rebinding
            await _refuse(send, 403, "unknown host")
            return
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        if ".." in unquote(unquote(raw_path)) or "\\" in unquote(raw_path):
            await _refuse(send, 404, "not found")
            return
        from_query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        offered = (from_query or [""])[0] or _cookie(headers.get(b"cookie", b""))
        offered = offered or headers.get(b"x-hygiene-token", b"").decode("latin-1")
        if not hmac.compare_digest(offered.encode(), self.token.encode()):
            await _refuse(send, 403, "this app needs the token printed by `hygiene serve`")
            return
        if scope["method"] not in _SAFE_METHODS:
            origin = headers.get(b"origin", b"")
            if origin not in {b"http://" + allowed for allowed in self.hosts}:
                await _refuse(send, 403, "refused: a change must come from the app's own page")
                return
        set_cookie = bool(from_query) and scope["path"] == "/"

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = list(_HEADERS)
                if set_cookie:
                    cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict"
                    extra.append((b"set-cookie", cookie.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, guarded_send)


def _cookie(header: bytes) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header.decode("latin-1"))
    except Exception:  # a malformed cookie header is no token
        return ""
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else ""


async def _refuse(send: Send, status: int, reason: str) -> None:
    body = (reason + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
