"""What every response of `digest serve` carries, and a cap on what a request may send.

Tokens are in URLs, so no page may leak its URL in a Referer; nothing is sniffed into another
type. A request body larger than the cap ends in a 413 (raised from inside the endpoint that reads
it, so the app's error page answers).
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 64 * 1024  # bytes: the largest form (a reader's settings, 150 lines) is well under
ALWAYS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class Guard:
    """ASGI middleware: the headers in ALWAYS on every response; bodies capped at `limit`."""

    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, _capped(scope, receive, self.limit), send_guarded)


def _capped(scope: Scope, receive: Receive, limit: int) -> Receive:
    """`receive`, raising a 413 once the body (declared or sent) is longer than `limit`, and a 400
    for a Content-Length that is not a number."""
    declared = Headers(scope=scope).get("content-length", "")
    refused = 0
    if declared and not declared.isdigit():
        refused = 400
    elif declared and int(declared) > limit:
        refused = 413
    received = 0

    async def receive_capped() -> Message:
        nonlocal received
        if refused:
            raise HTTPException(refused)
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise HTTPException(413)
        return message

    return receive_capped
