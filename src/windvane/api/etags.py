"""ETags on GET responses: a client (the UI polling for live states) sends ``If-None-Match`` and
gets ``304 Not Modified`` without a body while nothing changed.

The tag is a weak hash of the JSON body: the response is still computed (unless a route answers
from a cache), but nothing is sent or re-rendered; clients poll cheaply without server-side
versioning. A response that already carries its own ``ETag`` (the UI's static files: Starlette's
``StaticFiles`` tags them and answers ``If-None-Match`` itself) passes through untouched: one
``ETag`` header, never a second one or a tag of a tag.
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def weak_tag(body: bytes) -> bytes:
    """The weak ETag of a response body."""
    return b'W/"' + hashlib.sha1(body, usedforsecurity=False).hexdigest().encode() + b'"'


def matches(wanted: bytes | None, tag: bytes) -> bool:
    """Whether an ``If-None-Match`` value names ``tag`` (weak comparison, ``*`` matches)."""
    if wanted is None:
        return False
    opaque = tag.removeprefix(b"W/")
    for candidate in wanted.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == opaque:
            return True
    return False


class ETagMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        wanted = dict(scope["headers"]).get(b"if-none-match")
        start: Message | None = None
        passing = False
        body = bytearray()

        async def buffering(message: Message) -> None:
            nonlocal start, passing
            if message["type"] == "http.response.start":
                tagged = any(k.lower() == b"etag" for k, _ in message.get("headers", ()))
                if message["status"] != 200 or tagged:
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if passing or start is None:
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            tag = weak_tag(bytes(body))
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"etag", tag))
            if matches(wanted, tag):
                kept = [(k, v) for k, v in headers if k.lower() != b"content-type"]
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": bytes(body)})

        await self.app(scope, receive, buffering)
