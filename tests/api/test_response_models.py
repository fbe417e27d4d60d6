"""Every management route that answers a body declares a pydantic response model, and each model of
the Enterprise Edition, IAM and SWR organization routes is the official SDK's: the same wire names,
types and nesting as the response class the SDK parses the answer into.

The SDK side is read from the SDK packages: each response class's ``openapi_types`` (attribute ->
type: ``str``, ``list[Artifact]``, ``dict(str, NativeReportSummary)``, a model name) and
``attribute_map`` (attribute -> wire name). ``SDK_CLASSES`` names the SDK class of every model; a
route's model must be the one named for the response class of the route's own SDK operation (its
method and path in the SDK client). Nested models are compared through the SDK's nested classes.
A field the SDK does not know fails, unless ``EXTENSIONS`` lists it with its reason. The other SWR
and HSS models are compared with the response class of their route's operation the same way.

Everything is read from the application's route table and the SDK packages: no server is started.
"""

from __future__ import annotations

import importlib
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Response
from fastapi.routing import APIRoute, iter_route_contexts
from huaweicloudsdkhss.v5 import HssClient
from huaweicloudsdkiam.v3 import IamClient
from huaweicloudsdkswr.v2 import SwrClient
from pydantic import BaseModel, Field, RootModel

from moorage.api.enterprise import schemas as ee
from moorage.api.enterprise import schemas_access as eac
from moorage.api.enterprise import schemas_artifacts as ea
from moorage.api.enterprise import schemas_events as ev
from moorage.api.enterprise import schemas_gc as egc
from moorage.api.enterprise import schemas_immutable as eim
from moorage.api.enterprise import schemas_replication as erp
from moorage.api.enterprise import schemas_retention as ert
from moorage.api.enterprise import schemas_signing as es
from moorage.api.enterprise import schemas_tags as etg
from moorage.api.iam import schemas as iam
from moorage.api.response_model import ResponseModel
from moorage.api.swr import schemas as swr
from moorage.api.swr import schemas_retention as swr_retention
from moorage.app import create_app
from moorage.settings import Settings
from tests.support.routes import INFRASTRUCTURE, is_console_path
from tests.support.sdk_operations import client_operations

SWR_MODELS = "huaweicloudsdkswr.v2.model"
IAM_MODELS = "huaweicloudsdkiam.v3.model"
CLIENTS: tuple[type[Any], ...] = (SwrClient, IamClient, HssClient)
CHECKED_MODULES = ("moorage.api.enterprise.", "moorage.api.iam.")
"""The routers whose every model must be listed in ``SDK_CLASSES`` (or ``NO_SDK_CLASS``)."""

SDK_CLASSES: dict[type[BaseModel], tuple[str, ...]] = {
    # Enterprise Edition: instances, jobs, namespaces, repositories
    ee.CreatedInstance: ("CreateInstanceResponse",),
    # Enterprise Edition: garbage collection
    egc.ExecutedView: ("ExecuteGcScheduleResponse",),
    egc.ScheduleView: ("ShowGcScheduleResponse",),
    egc.GcTaskPageView: ("ListGcTasksResponse",),
    egc.GcTaskDetailView: ("ShowGcTaskResponse",),
    # Enterprise Edition: immutable tag rules
    eim.ImmutableRuleList: ("ListImmutableRulesResponse",),
    eim.ImmutableRuleView: ("ImmutableRule",),
    eim.CreatedRule: ("CreateImmutableRuleResponse",),
    ee.Instance: ("ShowInstanceResponse", "Instance"),
    ee.InstanceList: ("ListInstanceResponse",),
    ee.DomainNameResult: ("AddDomainNameResponse", "UpdateDomainNameResponse"),
    ee.DomainNameList: ("ListDomainNamesResponse",),
    ee.InstanceConfiguration: ("ShowInstanceConfigurationResponse",),
    ee.InstanceStatistics: ("ListInstanceStatisticsResponse",),
    ee.FeatureGates: ("ListFeatureGatesResponse",),
    ee.GlobalFeatureGates: ("ListGlobalFeatureGatesResponse",),
    ee.JobDetail: ("ShowInstanceJobResponse", "JobDetail"),
    ee.JobList: ("ListInstanceJobsResponse",),
    ee.CreatedId: (
        "CreateInstanceNamespaceResponse",
        "CreateInstanceSignPolicyResponse",
        "ExecuteInstanceSignPolicyResponse",
        "CreateInstanceRetentionPolicyResponse",
        "ExecuteInstanceRetentionPolicyResponse",
        "CreateInstanceRegistryResponse",
        "CreateInstanceReplicationPolicyResponse",
        "ExecuteInstanceReplicationPolicyResponse",
    ),
    ee.Namespace: ("ShowInstanceNamespaceResponse", "Namespace"),
    ee.NamespaceList: ("ListInstanceNamespacesResponse",),
    ee.UpdatedNamespace: ("UpdateInstanceNamespaceResponse",),
    ee.Repository: ("ShowInstanceRepositoryResponse", "Repository"),
    ee.RepositoryList: ("ListNamespaceRepositoriesResponse", "ListInstanceRepositoriesResponse"),
    ee.AllRepositoryList: ("ListAllInstanceRepositoriesResponse",),
    # Enterprise Edition: artifacts and scans
    ea.ArtifactList: ("ListInstanceArtifactsResponse",),
    ea.AllArtifactList: ("ListInstanceAllArtifactsResponse",),
    ea.ShownArtifact: ("ShowInstanceArtifactResponse",),
    ea.AccessoryList: ("ListInstanceAccessoriesResponse",),
    ea.BuildHistoryList: ("ShowInstanceArtifactAdditionResponse",),
    ea.RepositoryTagList: ("ListInstanceTagsResponse",),
    ea.ScanStarted: ("StartManualScanningResponse",),
    ea.VulnerabilityReports: ("ListInstanceArtifactVulnerabilitiesResponse",),
    # Enterprise Edition: signing
    es.SignPolicyDetail: ("ShowInstanceSignPolicyResponse", "SignPolicyDetail"),
    es.SignPolicyList: ("ListInstanceSignPoliciesResponse",),
    es.Execution: ("Execution",),
    es.ExecutionList: ("ListInstanceSignPolicyExecutionsResponse",),
    es.SignatureExecutionTaskList: ("ListInstanceSignPolicyExecTasksResponse",),
    es.SignatureExecutionSubTaskList: ("ListInstanceSignatureExecutionSubtasksResponse",),
    # Enterprise Edition: audit logs and webhooks
    ev.AuditLogList: ("ListAuditLogsResponse",),
    ev.AuditLogView: ("AuditLog",),
    ev.CreatedWebhook: ("CreateInstanceWebhookResponse",),
    ev.WebhookPolicyView: ("ShowInstanceWebhookResponse", "WebhookPolicyDetail"),
    ev.WebhookPolicyList: ("ListInstanceWebhooksResponse",),
    ev.WebhookJob: ("Job",),
    ev.WebhookJobList: ("ListInstanceWebhookJobsResponse",),
    # Enterprise Edition: credentials and endpoint policies
    eac.IssuedCredentialView: ("CreateInstanceLtCredentialResponse", "CreateInstanceTempCredentialResponse"),
    eac.AuthTokenView: ("AuthToken",),
    eac.AuthTokenList: ("ListInstanceLtCredentialsResponse",),
    eac.IpInfoView: ("IpInfo",),
    eac.EndpointPolicyView: ("ShowInstanceEndpointPolicyResponse",),
    # Enterprise Edition: resource tags
    etg.ResourceTagView: ("ResourceTag",),
    etg.ResourceTagList: ("ListInstanceResourceTagsResponse", "ListSubResourceTagsResponse"),
    etg.ProjectTagView: ("ProjectTag",),
    etg.ProjectTagList: ("ListInstanceProjectTagsResponse", "ListNamespaceTagsResponse"),
    etg.ResourceView: ("Resource",),
    etg.ResourceList: ("ListInstanceResourceInstancesResponse", "ListSubResourceInstancesResponse"),
    etg.ResourceCount: ("ShowInstanceResourceInstancesCountResponse", "ShowSubResourceInstancesCountResponse"),
    # Enterprise Edition: retention
    ert.ImageRetention: ("ShowInstanceRetentionPolicyResponse", "ImageRetention"),
    ert.RetentionPolicyList: ("ListInstanceRetentionPoliciesResponse",),
    ert.RetentionExecutionList: ("ListInstanceRetentionPolicyExecutionsResponse",),
    ert.RetentionTaskList: ("ListInstanceRetentionPolicyExecTasksResponse",),
    ert.RetentionSubtaskList: ("ListInstanceRetentionPolicyExecSubTasksResponse",),
    # Enterprise Edition: replication
    erp.Registry: ("ShowInstanceRegistryResponse", "Registry"),
    erp.RegistryList: ("ListInstanceRegistriesResponse",),
    erp.Credential: ("Credential",),
    erp.ReplicationPolicyView: ("ShowInstanceReplicationPolicyResponse", "ReplicationPolicy"),
    erp.ReplicationPolicyList: ("ListInstanceReplicationPoliciesResponse",),
    erp.RegistryIdView: ("ReplicationRegistry",),
    erp.FilterView: ("Filter",),
    erp.ReplicationExecutionList: ("ListInstanceReplicationPolicyExecutionsResponse",),
    erp.TaskDetail: ("TaskDetail",),
    erp.TaskList: ("ListInstanceReplicationPolicyExecTasksResponse",),
    erp.SubtaskDetail: ("SubtaskDetail",),
    erp.SubtaskList: ("ListInstanceReplicationPolicyExecSubTasksResponse",),
    # SWR retention
    swr_retention.CreatedRetention: ("CreateRetentionResponse",),
    swr_retention.RetentionLogList: ("ListRetentionHistoriesResponse",),
    # SWR organizations and login commands
    swr.NamespaceList: ("ListNamespacesResponse",),
    swr.NamespaceView: ("ShowNamespaceResponse", "ShowNamespace"),
    swr.NamespaceAuthView: ("ShowNamespaceAuthResponse",),
    swr.RepositoryAuthView: ("ShowUserRepositoryAuthResponse",),
    swr.LoginView: ("CreateSecretResponse", "CreateAuthorizationTokenResponse"),
    # IAM
    iam.TokenResponse: ("KeystoneCreateUserTokenByPasswordResponse", "KeystoneValidateTokenResponse"),
    iam.ProjectList: ("KeystoneListProjectsResponse",),
    iam.AuthProjectList: ("KeystoneListAuthProjectsResponse",),
    iam.UserResponse: ("KeystoneCreateUserResponse", "KeystoneShowUserResponse"),
    iam.UserList: ("KeystoneListUsersResponse",),
    iam.NewCredentialResponse: ("CreatePermanentAccessKeyResponse",),
    iam.CredentialResponse: ("ShowPermanentAccessKeyResponse", "UpdatePermanentAccessKeyResponse"),
    iam.CredentialList: ("ListPermanentAccessKeysResponse",),
}
"""Each model -> the SDK classes (of ``huaweicloudsdkswr`` or ``huaweicloudsdkiam``) it stands for."""

NO_SDK_CLASS: dict[type[BaseModel], str] = {
    es.SigningKey: "signing keys are a moorage extension standing in for KMS",
    es.SigningKeyList: "signing keys are a moorage extension standing in for KMS",
}

EXTENSIONS: dict[tuple[str, str], str] = {
    ("NamespaceMetadata", "enable_content_trust_cosign"): "Harbor's name for refusing pulls of unsigned images",
    ("AuditLog", "client_address"): "where the request came from: what an auditor asks first",
    ("AuditLog", "result"): "success or failure (failed logins are audited too)",
    ("CreateInstanceWebhookResponse", "signing_secret"): "the HMAC key of the deliveries' signature, shown once",
    ("Trigger", "webhook"): "the target of moorage's webhook trigger kind",
    ("Trigger", "executed"): "whether moorage carries the trigger out (CCE/CCI kinds: no)",
    ("Trigger", "notice"): "why a CCE/CCI trigger is not executed",
    ("ShowTriggerResponse", "webhook"): "the target of moorage's webhook trigger kind",
    ("ShowTriggerResponse", "executed"): "whether moorage carries the trigger out (CCE/CCI kinds: no)",
    ("ShowTriggerResponse", "notice"): "why a CCE/CCI trigger is not executed",
    (
        "ShowInstanceReplicationPolicyResponse",
        "dest_namespace_replace_count",
    ): "Harbor's flattening",
    ("ShowInstanceReplicationPolicyResponse", "replicate_deletion"): "Harbor's: replicate deletes too",
    ("ShowInstanceReplicationPolicyResponse", "speed"): "Harbor's bandwidth limit (KiB/s)",
    ("ShowInstanceReplicationPolicyResponse", "copy_by_chunk"): "Harbor's chunked blob upload",
    ("ReplicationPolicy", "dest_namespace_replace_count"): "Harbor's flattening",
    ("ReplicationPolicy", "replicate_deletion"): "Harbor's: replicate deletes too",
    ("ReplicationPolicy", "speed"): "Harbor's bandwidth limit (KiB/s)",
    ("ReplicationPolicy", "copy_by_chunk"): "Harbor's chunked blob upload",
    ("ShowGcTaskResponse", "log"): "the run's log lines, as Harbor's GC log (also as text under .../log)",
    ("ShowCicdConfigurationResponse", "block_severities"): "the gate's severities (the SDK model has no field)",
    ("ShowCicdConfigurationResponse", "block_on_secrets"): "whether secrets fail the build (no SDK field)",
    ("ShowCicdConfigurationResponse", "block_on_malicious_files"): "whether malware fails the build (no SDK field)",
    ("SyncJob", "detail"): "what the sync job's last attempt found (an error, or the copy's figures)",
}
"""(SDK class, wire name) -> why moorage sends a field the SDK does not read."""

WITHOUT_BODY: dict[tuple[str, str], str] = {
    (
        "GET",
        "/v2/{project_id}/instances/{instance_id}/signature/keys/{key_id}/public-key",
    ): "a PEM file (application/x-pem-file) for cosign verify --key; a moorage extension",
    (
        "GET",
        "/v5/{project_id}/image/export-tasks/{task_id}/file",
    ): "an exported report file (CSV or HTML); a moorage extension",
    (
        "GET",
        "/v2/{project_id}/instances/{instance_id}/system/gc/{gc_id}/log",
    ): "a garbage collection run's log as text, as Harbor's GC log; a moorage extension",
}
"""Management routes that answer something other than a JSON body, and why. Besides these, routes
answer without a model when they cannot have a body (204, HEAD), when the SDK operation's response
class reads no body (only headers, or nothing: ``DeleteInstanceResponse``), and the 501 answers of
``moorage.api.unserved``, whose error bodies ``api/errors.py`` writes."""


# The SDKs' side ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One SDK operation: its name and the class its answer is parsed into."""

    name: str
    response_class: type[Any]
    response_headers: tuple[str, ...]
    client: type[Any]

    def reads_a_body(self) -> bool:
        """Whether the response class has a field the SDK fills from the body."""
        return bool(set(self.response_class.attribute_map.values()) - set(self.response_headers))


def _operations() -> dict[tuple[str, str], list[Operation]]:
    """(method, resource path) -> the SDK operations sent there, from the SWR, IAM and HSS clients."""
    found: dict[tuple[str, str], list[Operation]] = {}
    for client in CLIENTS:
        models = importlib.import_module(client.__module__.rsplit(".", 1)[0])
        for name, operation in client_operations(client).items():
            probe = operation.request_class()
            for parameter in probe.attribute_map:
                setattr(probe, parameter, "x")
            info = getattr(client, f"_{name}_http_info")(probe)
            response_class = getattr(models, info["response_type"])
            found.setdefault((operation.method, operation.path), []).append(
                Operation(name, response_class, tuple(info.get("response_headers") or ()), client)
            )
    return found


def _sdk_class(name: str) -> type[Any]:
    for module in (SWR_MODELS, IAM_MODELS):
        if (found := getattr(importlib.import_module(module), name, None)) is not None:
            return typing.cast(type[Any], found)
    raise AssertionError(f"no SDK model {name}")


# The comparison -------------------------------------------------------------------------------------

_CONTAINER = re.compile(r"^(list)\[(.+)\]$|^dict\((\w+), (.+)\)$|^(dict)\[(\w+), (.+)\]$")
_SCALARS: dict[str, type[Any]] = {"str": str, "int": int, "bool": bool, "float": float}


def _optional_removed(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def type_problems(annotation: Any, sdk_type: str, sdk_models: Any, where: str) -> list[str]:
    """How a field's annotation differs from the SDK's type string (nothing: the same)."""
    annotation = _optional_removed(annotation)
    if sdk_type in _SCALARS:
        return [] if annotation is _SCALARS[sdk_type] else [f"{where}: {annotation!r}, the SDK reads {sdk_type}"]
    if m := _CONTAINER.match(sdk_type):
        origin = typing.get_origin(annotation)
        arguments = typing.get_args(annotation)
        if m.group(1):
            if origin is not list:
                return [f"{where}: {annotation!r}, the SDK reads {sdk_type}"]
            return type_problems(arguments[0], m.group(2), sdk_models, f"{where}[]")
        item = m.group(4) or m.group(7)
        if origin is not dict or arguments[0] is not str:
            return [f"{where}: {annotation!r}, the SDK reads {sdk_type}"]
        return type_problems(arguments[1], item, sdk_models, f"{where}{{}}")
    if sdk_type == "object":
        return []
    nested = getattr(sdk_models, sdk_type, None)
    if nested is None:
        return [f"{where}: the SDK's type {sdk_type!r} is not understood by this test"]
    if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
        return [f"{where}: {annotation!r}, the SDK reads its model {sdk_type}"]
    return model_problems(annotation, nested, where)


def model_problems(model: type[BaseModel], sdk_class: type[Any], where: str = "") -> list[str]:
    """How ``model`` differs from ``sdk_class``: fields the SDK does not know (unless an extension),
    fields of another type or nesting. Fields the SDK has and moorage leaves out are allowed."""
    where = where or model.__name__
    sdk_models = importlib.import_module(sdk_class.__module__.rsplit(".", 1)[0])
    if issubclass(model, RootModel):
        # a response whose whole body is one value: the SDK's ``body`` attribute
        if set(sdk_class.openapi_types) != {"body"}:
            return [f"{where}: a root model, but {sdk_class.__name__} is not a body-only response"]
        return type_problems(
            model.model_fields["root"].annotation, sdk_class.openapi_types["body"], sdk_models, f"{where}(body)"
        )
    wire_to_attribute = {wire: attribute for attribute, wire in sdk_class.attribute_map.items()}
    problems = []
    for name, field in model.model_fields.items():
        wire = field.alias or name
        place = f"{where}.{wire}"
        if wire not in wire_to_attribute:
            if (sdk_class.__name__, wire) not in EXTENSIONS:
                problems.append(
                    f"{place}: {sdk_class.__name__} has no field {wire!r} (it has {sorted(wire_to_attribute)})"
                )
            continue
        sdk_type = sdk_class.openapi_types[wire_to_attribute[wire]]
        problems += type_problems(field.annotation, sdk_type, sdk_models, place)
    return problems


# The routes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServedRoute:
    """A management route of the application."""

    method: str
    path: str
    """As the SDKs write it (``{repository_name}``, not ``{repository_name:path}``)."""
    route: APIRoute

    @property
    def module(self) -> str:
        return str(self.route.endpoint.__module__)


def management_routes(app: FastAPI) -> Iterator[ServedRoute]:
    """Every (method, route) of the management API, nested routers included."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if (
            isinstance(route, APIRoute)
            and context.path
            and context.path not in INFRASTRUCTURE
            and not is_console_path(context.path)  # HTML pages, not an API: no SDK parses them
        ):
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", context.path)
            for method in sorted(route.methods):
                yield ServedRoute(method, path, route)


def body_model(route: APIRoute) -> type[BaseModel] | None:
    """The pydantic model of a route's answer (the item model of a list), None without one."""
    declared = route.response_model
    if typing.get_origin(declared) is list:
        declared = typing.get_args(declared)[0]
    return declared if isinstance(declared, type) and issubclass(declared, BaseModel) else None


def routes_without_model(app: FastAPI, operations: dict[tuple[str, str], list[Operation]]) -> list[str]:
    """Management routes that answer a body but declare no response model (see ``WITHOUT_BODY``)."""
    missing = []
    for served in management_routes(app):
        if body_model(served.route) is not None or served.module == "moorage.api.unserved":
            continue
        if served.route.status_code == 204 or served.method == "HEAD" or (served.method, served.path) in WITHOUT_BODY:
            continue
        sdk = operations.get((served.method, served.path), [])
        if sdk and not any(operation.reads_a_body() for operation in sdk):
            continue
        if served.route.response_model == list[str] and any(
            operation.response_class.openapi_types.get("body") == "list[str]" for operation in sdk
        ):
            continue  # a list of strings, as the SDK reads it (CreateManualImageSyncRepo)
        missing.append(f"{served.method} {served.path} ({served.module}.{served.route.endpoint.__name__})")
    return missing


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    """The application, not started: only its route table and OpenAPI document are read."""
    return create_app(Settings(data_dir=tmp_path_factory.mktemp("response-models")))


@pytest.fixture(scope="module")
def operations() -> dict[tuple[str, str], list[Operation]]:
    return _operations()


def test_every_management_route_that_answers_a_body_has_a_response_model(
    app: FastAPI, operations: dict[tuple[str, str], list[Operation]]
) -> None:
    checked = list(management_routes(app))
    enterprise_and_iam = [r for r in checked if r.module.startswith(CHECKED_MODULES)]
    assert len(checked) > 300 and len(enterprise_and_iam) >= 68  # the walk itself must not go blind
    assert routes_without_model(app, operations) == []
    modelled = [r for r in enterprise_and_iam if body_model(r.route) is not None]
    assert len(modelled) >= 48, [f"{r.method} {r.path}" for r in enterprise_and_iam]


@pytest.mark.parametrize(
    "model", list(SDK_CLASSES), ids=lambda m: f"{m.__module__.removeprefix('moorage.api.')}.{m.__name__}"
)
def test_each_model_is_what_the_sdk_parses(model: type[BaseModel]) -> None:
    for name in SDK_CLASSES[model]:
        assert model_problems(model, _sdk_class(name)) == [], name


def test_each_route_answers_with_its_sdk_operations_model(
    app: FastAPI, operations: dict[tuple[str, str], list[Operation]]
) -> None:
    """The Enterprise and IAM models are listed, and a route's model stands for the response class of
    the SDK operation that calls it (so the comparison above is with the right class)."""
    wrong = []
    for served in management_routes(app):
        model = body_model(served.route)
        if model is None or not (served.module.startswith(CHECKED_MODULES) or model in SDK_CLASSES):
            continue
        if model in NO_SDK_CLASS:
            continue
        if model not in SDK_CLASSES:
            wrong.append(f"{served.method} {served.path}: {model.__name__} names no SDK class in SDK_CLASSES")
            continue
        expected = {operation.response_class.__name__ for operation in operations.get((served.method, served.path), [])}
        if expected and not expected & set(SDK_CLASSES[model]):
            wrong.append(
                f"{served.method} {served.path}: {model.__name__} stands for {SDK_CLASSES[model]}, "
                f"the SDK parses the answer into {sorted(expected)}"
            )
    assert wrong == []


CLIENT_OF_ROUTERS = {"moorage.api.swr.": SwrClient, "moorage.api.hss.": HssClient}


def test_the_other_models_agree_with_their_sdk_operations_too(
    app: FastAPI, operations: dict[tuple[str, str], list[Operation]]
) -> None:
    """The SWR and HSS models (beyond those in ``SDK_CLASSES``) against the response class of the
    route's operation in its own SDK; a list answer against the SDK's ``body``. Where that class reads
    no body (HSS's ``AddRegistryResponse``: moorage answers ``{id, task_id}`` as a courtesy) there is
    nothing to compare."""
    problems, compared = [], 0
    for served in management_routes(app):
        model = body_model(served.route)
        client = next((c for prefix, c in CLIENT_OF_ROUTERS.items() if served.module.startswith(prefix)), None)
        if model is None or client is None or model in SDK_CLASSES:
            continue
        for operation in operations.get((served.method, served.path), []):
            if operation.client is not client or not operation.reads_a_body():
                continue
            compared += 1
            declared = served.route.response_model
            if typing.get_origin(declared) is list:
                sdk_models = importlib.import_module(operation.response_class.__module__.rsplit(".", 1)[0])
                problems += type_problems(
                    declared,
                    operation.response_class.openapi_types.get("body", "?"),
                    sdk_models,
                    f"{served.method} {served.path}",
                )
            else:
                problems += model_problems(model, operation.response_class)
    assert compared > 60, compared
    assert problems == []


def test_the_openapi_document_describes_every_modelled_answer(app: FastAPI) -> None:
    document = app.openapi()
    undescribed = []
    for served in management_routes(app):
        if served.route.include_in_schema and body_model(served.route) is not None:
            operation = document["paths"][served.route.path_format][served.method.lower()]
            answer = operation["responses"][str(served.route.status_code or 200)]
            if "schema" not in answer.get("content", {}).get("application/json", {}):
                undescribed.append(f"{served.method} {served.path}")
    assert undescribed == []
    assert "NativeReportSummary" in document["components"]["schemas"]


# The checks themselves fail where they should -------------------------------------------------------


def test_a_misspelt_field_is_caught() -> None:
    class Misspelt(ResponseModel):
        job_id: str
        instanse_id: str

    problems = model_problems(Misspelt, _sdk_class("CreateInstanceResponse"))
    assert len(problems) == 1 and "instanse_id" in problems[0], problems


def test_a_misspelt_alias_or_nested_field_is_caught() -> None:
    class Gates(ResponseModel):
        enable_domain_name: bool = Field(alias="enableDomainname")

    class Selector(es.SignRuleSelector):
        extra: str

    class Rule(ResponseModel):
        tag_selectors: list[Selector]

    assert "enableDomainname" in " ".join(model_problems(Gates, _sdk_class("ListFeatureGatesResponse")))
    nested = model_problems(Rule, _sdk_class("SignScopeRule"))
    assert nested == [
        "Rule.tag_selectors[].extra: SignRuleSelector has no field 'extra' "
        "(it has ['decoration', 'extras', 'kind', 'pattern'])"
    ], nested


def test_a_wrong_type_or_nesting_is_caught() -> None:
    class Wrong(ResponseModel):
        id: str  # the SDK reads int
        policies: list[es.SignRuleSelector]

    problems = model_problems(Wrong, _sdk_class("CreateInstanceNamespaceResponse"))
    assert any("Wrong.id" in p and "int" in p for p in problems), problems
    listed = model_problems(es.SignPolicyList, _sdk_class("ListInstanceSignPolicyExecTasksResponse"))
    assert any("policies" in p for p in listed), listed
    shown = type_problems(
        dict[str, int], "dict(str, NativeReportSummary)", importlib.import_module(SWR_MODELS), "scan_overview"
    )
    assert shown and "NativeReportSummary" in shown[0], shown


def test_a_route_without_a_model_is_caught(operations: dict[tuple[str, str], list[Operation]]) -> None:
    router = APIRouter()

    @router.get("/v2/{project_id}/instances/{instance_id}")
    async def untyped() -> dict[str, Any]:
        return {}

    @router.put("/v2/{project_id}/instances/{instance_id}/configurations")
    async def no_body() -> Response:  # UpdateInstanceConfigurationResponse reads no body
        return Response()

    @router.delete("/v2/{project_id}/somewhere", status_code=204)
    async def gone() -> Response:
        return Response(status_code=204)

    @router.get("/v2/{project_id}/typed", response_model=ee.InstanceList)
    async def typed() -> ee.InstanceList:
        return ee.InstanceList(instances=[], total=0)

    small = FastAPI()
    small.include_router(router)
    assert [m.split(" (")[0] for m in routes_without_model(small, operations)] == [
        "GET /v2/{project_id}/instances/{instance_id}"
    ]


def test_the_schema_modules_have_no_unlisted_response_model() -> None:
    """A model added to a schema module is listed here, or nested in one that is (no stale entries
    either: every listed model is one of the modules')."""
    nested: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel]) -> None:
        for field in model.model_fields.values():
            for argument in _arguments(field.annotation):
                if isinstance(argument, type) and issubclass(argument, BaseModel) and argument not in nested:
                    nested.add(argument)
                    walk(argument)

    listed = set(SDK_CLASSES) | set(NO_SDK_CLASS)
    for model in listed:
        walk(model)
    declared = {
        value
        for module in (ee, eac, etg, ea, egc, eim, erp, ert, es, ev, iam)
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, (ResponseModel, RootModel))
        and value.__module__ == module.__name__
        and "[" not in value.__name__
    }  # not RootModel[...]
    assert declared - listed - nested == set()
    assert listed <= declared | {m for m in listed if m.__module__ in (swr.__name__, swr_retention.__name__)}


def _arguments(annotation: Any) -> Iterator[Any]:
    yield annotation
    for argument in typing.get_args(annotation):
        yield from _arguments(argument)
