"""A moorage server whose every answer names the route that produced it, for routing tests only.

``python -m tests.support.route_probe --port P --data-dir D`` migrates like ``moorage serve`` and
serves the real application (settings from the environment, as the other test servers) wrapped in
``RouteProbe``, which adds ``X-Moorage-Route: <methods> <path template>`` to every response: the
FastAPI route the router selected (``GET /v5/{project_id}/image/cicd/images``), ``OCI <kind>`` for
the registry's own dispatcher, ``none`` when no route matched. The header is computed from the
ASGI scope the routers fill in, so it cannot name a route that did not answer.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.support.servers import ServerProcess, _spawn, free_port

ROUTE_HEADER = "x-moorage-route"


def route_label(scope: Scope) -> str:
    """What answered the request whose scope this is."""
    route: Any = scope.get("route")
    if route is not None and getattr(route, "path", None):
        methods = ",".join(sorted(getattr(route, "methods", None) or ()))
        return f"{methods} {route.path}"
    if "oci" in scope:
        return f"OCI {scope['oci'][0]}"
    return "none"


class RouteProbe:
    """ASGI middleware: the selected route as a response header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((ROUTE_HEADER.encode(), route_label(scope).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, labelled)


def start_route_probe(data_dir: Path, env: dict[str, str]) -> ServerProcess:
    """Start the probe server as a child process, ready to serve."""
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "tests.support.route_probe", "--port", str(port), "--data-dir", str(data_dir)]
    server = _spawn(argv, data_dir=data_dir, port=port, env={"PYTHONPATH": str(root), **env}, name="route-probe")
    server.wait_ready()
    return server


def main() -> None:
    """Migrate, then serve the probed application on loopback until terminated."""
    import uvicorn

    from moorage.app import create_app
    from moorage.bootstrap import bootstrap
    from moorage.settings import Settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    settings = Settings(host="127.0.0.1", port=args.port, data_dir=args.data_dir)  # type: ignore[arg-type]
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    bootstrap(settings)
    uvicorn.run(RouteProbe(create_app(settings)), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
