"""Per-request observability as one pure ASGI middleware: a request id on every answer
(``X-Request-Id``, which the Huawei SDKs read), one JSON log line per request, Prometheus metrics."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.api.client_address import client_address

access_log = logging.getLogger("moorage.access")


class Metrics:
    """The HTTP metrics, registered in one registry (per application, not per module)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "moorage_http_requests_total", "HTTP requests answered", ["route", "method", "status"], registry=registry
        )
        self.latency = Histogram(
            "moorage_http_request_duration_seconds",
            "Time to answer, headers to last byte",
            ["route", "method"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.bytes_in = Counter("moorage_http_received_bytes_total", "Request body bytes", ["route"], registry=registry)
        self.bytes_out = Counter("moorage_http_sent_bytes_total", "Response body bytes", ["route"], registry=registry)


def route_label(scope: Scope) -> str:
    """A low-cardinality name for the route a request took (never the raw path)."""
    oci = scope.get("oci")
    if oci:
        return f"oci_{oci[0]}"
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class ObservabilityMiddleware:
    """Adds ``X-Request-Id``, logs the request, counts it."""

    def __init__(self, app: ASGIApp, metrics: Metrics, *, log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        state: dict[str, Any] = {"status": 500, "sent": 0, "received": 0}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
            return message

        async def tagging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            elif message["type"] == "http.response.body":
                state["sent"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, tagging_send)
        finally:
            elapsed = time.perf_counter() - started
            route = route_label(scope)
            method = scope["method"]
            self.metrics.requests.labels(route, method, str(state["status"])).inc()
            self.metrics.latency.labels(route, method).observe(elapsed)
            self.metrics.bytes_in.labels(route).inc(state["received"])
            self.metrics.bytes_out.labels(route).inc(state["sent"])
            if self.log_requests:
                peer = scope.get("client")
                client = client_address(HTTPConnection(scope))
                access_log.info(
                    json.dumps(
                        {
                            "request_id": request_id,
                            "method": method,
                            "path": scope["path"],
                            "route": route,
                            "status": state["status"],
                            "duration_ms": round(elapsed * 1000, 2),
                            "bytes_in": state["received"],
                            "bytes_out": state["sent"],
                            "client": client,
                            **({"peer": peer[0]} if peer and peer[0] != client else {}),
                        },
                        separators=(",", ":"),
                    )
                )
