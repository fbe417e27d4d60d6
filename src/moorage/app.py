"""``create_app(settings)``: builds the services and wires the routers, the OCI API dispatched first.
Nothing happens at import time. The routers and their access rules are listed in
``api/route_inventory.py``; what a process runs from its start to its stop, in ``lifespan.py``."""

from __future__ import annotations

import hmac
import re

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

import moorage
from moorage.api.enterprise.endpoint_guard import EndpointGuardMiddleware
from moorage.api.enterprise.virtual_hosts import VirtualHostMiddleware, current_instance
from moorage.api.error_handlers import install_error_handlers
from moorage.api.event_context import EventContextMiddleware
from moorage.api.observability import Metrics, ObservabilityMiddleware
from moorage.api.oci import oci_route
from moorage.api.oci.routing import OciRoute
from moorage.api.registry_auth import RegistryAuthorizer
from moorage.api.request_body import BodyLimits, RequestBodyMiddleware
from moorage.api.route_inventory import install_console, management_api, require_rules
from moorage.auth.keys import load_master_key
from moorage.auth.tokens import TokenSigner
from moorage.jobs.queue import JobQueue, build_huey
from moorage.lifespan import lifespan
from moorage.metadata.database import Database
from moorage.metadata.queries.enterprise_instances import anonymous_access
from moorage.services.access_keys import AccessKeyService
from moorage.services.account import AccountService
from moorage.services.blobs import BlobService
from moorage.services.console_overview import ConsoleOverview
from moorage.services.console_sessions import ConsoleSessions
from moorage.services.enterprise import build_enterprise
from moorage.services.enterprise.endpoint_policies import EndpointPolicyService
from moorage.services.enterprise.hosts import HostDirectory
from moorage.services.enterprise.replication import build_replication
from moorage.services.events.recorder import EventBuffer
from moorage.services.events.wiring import build_event_services
from moorage.services.image_views import ImageViews
from moorage.services.lifecycle.runs import GcRunService
from moorage.services.login_throttle import build_login_throttle
from moorage.services.logins import LoginService
from moorage.services.manifests import ManifestService
from moorage.services.namespaces import NamespaceService
from moorage.services.periodic import PeriodicChores
from moorage.services.permissions import PermissionService
from moorage.services.pulls import PullRecorder
from moorage.services.quotas import QuotaLimits, QuotaService
from moorage.services.replay_guard import SignatureReplayGuard
from moorage.services.replication.image_sync import ImageSyncService
from moorage.services.repositories import RepositoryService
from moorage.services.repository_management import RepositoryManagement
from moorage.services.retention import build_retention
from moorage.services.security.wiring import build_security_services
from moorage.services.sharing import SharingService
from moorage.services.tag_management import TagManagement
from moorage.services.upload_states import STATE_PURPOSE, UploadStates
from moorage.services.uploads import UploadService
from moorage.services.users import UserService
from moorage.services.wiring import Services, storage_driver
from moorage.settings import Settings
from moorage.storage.blobstore import BlobStore


def build_services(settings: Settings) -> Services:
    """Construct the services from settings (no I/O beyond the storage root and the key file)."""
    db = Database(settings.resolved_database_url, pool_size=settings.database_pool_size, max_overflow=4)
    store = BlobStore(storage_driver(settings))
    pulls = PullRecorder(
        db,
        interval=settings.events.buffer_flush_seconds,
        pull_events=settings.events.record_pulls,
        events=EventBuffer(max_events=settings.events.buffer_max_events),
    )
    master_key = load_master_key(settings)
    signer = TokenSigner(master_key, registry_service=settings.auth.registry_service)
    jobs = JobQueue(db, build_huey(settings))
    security = build_security_services(settings, db, master_key, jobs)
    enterprise = build_enterprise(settings, db, store, master_key, jobs)
    users = UserService.from_settings(db, settings.auth)
    access_keys = AccessKeyService(db, master_key=master_key, users=users)
    quotas = QuotaService(
        db,
        QuotaLimits.from_settings(settings.quota),
        reservation_seconds=settings.registry.upload_stale_after_seconds,
        note_event=pulls.note,
        refusal_repeat_seconds=settings.events.quota_refusal_repeat_seconds,
    )
    logins = LoginService(
        db,
        settings=settings.auth,
        master_key=master_key,
        signer=signer,
        throttle=build_login_throttle(
            db=db, settings=settings.auth, master_key=master_key, redis_url=settings.redis_url
        ),
        users=users,
        access_keys=access_keys,
        note_event=pulls.note,
        instance_credentials=enterprise.credentials,
    )
    tag_management = TagManagement(db, protection=enterprise.immutability)
    namespaces = NamespaceService(db, quota=settings.registry.namespace_quota)
    account = AccountService(
        db, namespace_quota=settings.registry.namespace_quota, region=settings.auth.region, quotas=quotas
    )
    return Services(
        settings=settings,
        db=db,
        store=store,
        master_key=master_key,
        signer=signer,
        users=users,
        access_keys=access_keys,
        logins=logins,
        permissions=PermissionService(
            db, allow_anonymous_pull=settings.auth.allow_anonymous_pull, instance_anonymous_pull=anonymous_access
        ),
        namespaces=namespaces,
        repositories=RepositoryService(db),
        blobs=BlobService(db, store, quotas=quotas, touch_after_ms=settings.gc.grace_seconds * 500),
        uploads=UploadService(
            db,
            store,
            quotas=quotas,
            lease_seconds=settings.registry.upload_lease_seconds,
            blob_max_bytes=settings.registry.blob_max_bytes,
            states=UploadStates(
                master_key.derive(STATE_PURPOSE), lifetime_seconds=settings.registry.upload_stale_after_seconds
            ),
        ),
        manifests=ManifestService(
            db,
            max_bytes=settings.registry.manifest_max_bytes,
            pulls=pulls,
            listeners=[security.scan_on_push, enterprise.hooks],
            max_json_depth=settings.http.max_json_depth,
            protection=enterprise.immutability,
            quotas=quotas,
        ),
        pulls=pulls,
        jobs=jobs,
        repository_management=RepositoryManagement(db, protection=enterprise.immutability, quotas=quotas),
        tag_management=tag_management,
        sharing=SharingService(db),
        account=account,
        enterprise=enterprise,
        security=security,
        periodic=PeriodicChores(db),
        replays=SignatureReplayGuard(
            db,
            max_age_seconds=settings.auth.sdk_signature_max_age_seconds,
            repeat_seconds=settings.auth.sdk_signature_repeat_seconds,
        ),
        events=build_event_services(settings, db, master_key),
        gc=GcRunService(db, store, settings.gc, jobs),
        retention=build_retention(settings, db, jobs),
        replication=build_replication(settings, db, master_key, jobs),
        image_sync=ImageSyncService(
            db,
            jobs,
            region=settings.auth.region,
            peers=settings.sync.peers,
            max_attempts=settings.sync.max_attempts,
        ),
        console_sessions=ConsoleSessions(
            logins=logins, users=users, master_key=master_key, session_seconds=settings.console.session_seconds
        ),
        image_views=ImageViews(db, store, tags=tag_management, namespaces=namespaces),
        console_overview=ConsoleOverview(account=account, images=security.images),
    )


# Where management routes live under /v2: /v2/manage/..., /v2/instances/..., /v2/{project_id}/...
_MANAGEMENT_PREFIX = re.compile(r"^/v2/(?:manage|instances|[0-9a-f]{32})/")
_REGISTRY_CREDENTIALS = (b"basic", b"bearer")


def _version_document(scope: Scope) -> bool:
    """Whether a request is SWR's ``ShowApiVersion`` of v2 rather than the registry's version check:
    ``GET /v2`` (no trailing slash; every container tool pings ``/v2/``) without registry credentials
    (no ``Authorization``, or an SDK signature). A Basic or Bearer ``GET /v2`` stays the registry's."""
    if scope["path"] != "/v2" or scope["method"] != "GET":
        return False
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.split(b" ", 1)[0].lower() not in _REGISTRY_CREDENTIALS
    return True


class MoorageApp(FastAPI):
    """FastAPI for the management APIs, with the OCI API dispatched first and directly: registry
    traffic (the hot path) skips FastAPI's routing (dozens of route patterns) and middleware stack.
    No management route has an OCI path's shape (a test keeps it so), so the order decides nothing."""

    _oci: OciRoute | None = None
    _observed_oci: ASGIApp | None = None

    def set_oci(
        self,
        route: OciRoute,
        *,
        metrics: Metrics,
        log_requests: bool,
        hosts: HostDirectory,
        policies: EndpointPolicyService,
        body_limits: BodyLimits,
    ) -> None:
        """Serve the OCI API through ``route``, observed like every other request, with its bodies
        capped and drained as every other request's, and with the request's registry instance
        resolved from its host name and checked against that instance's endpoint policy."""
        self._oci = route
        # The endpoint guard sits outside the body middleware: a refused client's body is never read,
        # not even drained.
        self._observed_oci = ObservabilityMiddleware(
            VirtualHostMiddleware(
                EndpointGuardMiddleware(
                    RequestBodyMiddleware(EventContextMiddleware(route.handle), limits=body_limits),
                    policies,
                    registry=True,
                ),
                hosts=hosts,
            ),
            metrics=metrics,
            log_requests=log_requests,
        )

    def _management_path(self, scope: Scope) -> bool:
        """Whether a management route takes this path (management routes win over OCI ones: an
        organization called ``manifests`` has ``/v2/manage/namespaces/manifests/access``). Only paths
        under a management prefix are looked at, so registry traffic pays one string test."""
        path: str = scope["path"]
        if not _MANAGEMENT_PREFIX.match(path):
            return False
        return any(route.matches(scope)[0] is Match.FULL for route in self.router.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """OCI paths to the OCI route, everything else to FastAPI."""

        if scope["type"] == "http" and self._oci is not None and self._observed_oci is not None:
            match, child = self._oci.matches(scope)
            if match is Match.FULL and not self._management_path(scope) and not _version_document(scope):
                scope["app"] = self
                scope.update(child)
                await self._observed_oci(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: Settings) -> MoorageApp:
    """The ASGI application for ``settings``. The schema must already be migrated."""
    services = build_services(settings)

    docs = settings.api_docs_enabled
    app = MoorageApp(
        title="moorage",
        version=moorage.__version__,
        description="Container registry (OCI distribution v1.1) with SWR and HSS compatible management APIs.",
        lifespan=lifespan(services),
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.services = services
    registry_authorizer = RegistryAuthorizer(
        settings=settings,
        logins=services.logins,
        users=services.users,
        permissions=services.permissions,
        signer=services.signer,
    )
    app.state.authorizer = registry_authorizer
    app.state.instance_resolver = current_instance
    metrics_registry = CollectorRegistry()
    app.state.metrics = Metrics(metrics_registry)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        """Liveness and database reachability; the advisory database's age, coverage and updates."""
        await services.db.read(lambda conn: conn.exec_driver_sql("SELECT 1"))
        advisories = await services.security.advisory_database.status()
        return JSONResponse(
            {"status": "ok", "version": moorage.__version__, "vulnerability_database": advisories.to_json()}
        )

    if settings.metrics_enabled:
        metrics_token = settings.http.metrics_token

        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            """Prometheus metrics (with ``Authorization: Bearer <metrics token>`` when one is set)."""
            if metrics_token is not None and not _bearer_matches(request, metrics_token.get_secret_value()):
                return Response(
                    "metrics need the metrics bearer token\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                    media_type="text/plain",
                )
            return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(
        "/service/token", registry_authorizer.token_endpoint, methods=["GET", "POST"], include_in_schema=False
    )
    if settings.console.enabled:
        install_console(app)
    routers, rules = management_api()
    for router in routers:
        app.include_router(router)
    app.state.access_rules = require_rules(app, rules)
    install_error_handlers(app)
    body_limits = BodyLimits(
        max_body_bytes=settings.http.max_body_bytes,
        manifest_max_bytes=settings.registry.manifest_max_bytes,
        drain_max_bytes=settings.http.drain_max_bytes,
        cicd_upload_max_bytes=settings.scanner.cicd_upload_max_bytes,
    )
    app.add_middleware(EventContextMiddleware)  # inside virtual hosting: it reads the request's instance
    app.add_middleware(RequestBodyMiddleware, limits=body_limits)
    # Outside the body middleware (a refused client's body is never read), inside virtual hosting.
    app.add_middleware(EndpointGuardMiddleware, policies=services.enterprise.endpoint_policies)
    app.add_middleware(VirtualHostMiddleware, hosts=services.enterprise.hosts)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics, log_requests=settings.access_log)
    app.set_oci(
        oci_route(),
        metrics=app.state.metrics,
        log_requests=settings.access_log,
        hosts=services.enterprise.hosts,
        policies=services.enterprise.endpoint_policies,
        body_limits=body_limits,
    )
    return app


def _bearer_matches(request: Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <token>`` (compared in constant time)."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())
