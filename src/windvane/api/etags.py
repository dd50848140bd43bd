"""ETags on GET responses: a client (the UI polling for live states) sends ``If-None-Match`` and
gets ``304 Not Modified`` without a body while nothing changed.

The tag is a hash of the JSON body: the response is still computed (the database read is the
cost), but nothing is sent or re-rendered; clients poll cheaply without server-side versioning.
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        wanted = dict(scope["headers"]).get(b"if-none-match")
        start: Message | None = None
        body = bytearray()

        async def buffering(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if start is None or start["status"] != 200:
                if start is not None:
                    await send(start)
                    start = None
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            tag = b'W/"' + hashlib.sha1(bytes(body), usedforsecurity=False).hexdigest().encode() + b'"'
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            headers.append((b"etag", tag))
            if wanted is not None and tag in [t.strip() for t in wanted.split(b",")]:
                kept = [(k, v) for k, v in headers if k != b"content-type"]
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": bytes(body)})

        await self.app(scope, receive, buffering)
