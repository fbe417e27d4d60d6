"""Triggers of a repository (``.../repos/{repository}/triggers``): create, list, show, update (turn on
or off) and delete. SWR's CCE/CCI kinds are stored and answered as not executed (``executed: false``
with a ``notice``); moorage's ``webhook`` kind calls an HTTP(S) target on each matching push. See
docs/events.md."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import M, W, access_rules, on_repository
from moorage.api.swr.schemas_triggers import (
    CreatedTrigger,
    CreateTriggerBody,
    TriggerModel,
    UpdateTriggerBody,
    notice,
)
from moorage.api.swr.wire import instance_id, refuse_nul_characters, repository_name
from moorage.services.events.triggers import parse_enable

router = APIRouter(
    tags=["SWR triggers"],
    dependencies=[Depends(refuse_nul_characters), Depends(authorize)],
    route_class=ManagementRoute,
)

TRIGGERS = "/v2/manage/namespaces/{namespace}/repos/{repository}/triggers"
TRIGGER = TRIGGERS + "/{trigger}"

ACCESS_RULES = access_rules(
    {
        ("POST", TRIGGERS): on_repository(M),
        ("GET", TRIGGERS): on_repository(W),
        ("GET", TRIGGER): on_repository(W),
        ("PATCH", TRIGGER): on_repository(M),
        ("DELETE", TRIGGER): on_repository(M),
    }
)


@router.post(TRIGGERS, status_code=201, response_model=CreatedTrigger, response_model_exclude_none=True)
async def create_trigger(
    namespace: str,
    repository: str,
    body: CreateTriggerBody,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
) -> JSONResponse:
    """Create a trigger; a CCE/CCI one is stored and the answer says it will not be executed."""
    created, secret = await services.events.triggers.create(
        principal, instance_id=instance_id(request), name=repository_name(namespace, repository), fields=body.fields()
    )
    answer = CreatedTrigger(executed=created.mode.executed, notice=notice(created) or None, signing_secret=secret)
    headers = {} if created.mode.executed else {"Warning": '299 moorage "trigger stored, not executed"'}
    return JSONResponse(answer.model_dump(exclude_none=True), status_code=201, headers=headers)


@router.get(TRIGGERS, response_model=list[TriggerModel])
async def list_triggers_details(
    namespace: str, repository: str, request: Request, services: ServicesDep
) -> list[TriggerModel]:
    """The repository's triggers with their newest history."""
    found = await services.events.triggers.list_triggers(
        instance_id=instance_id(request), name=repository_name(namespace, repository)
    )
    return [TriggerModel.of(view) for view in found]


@router.get(TRIGGER, response_model=TriggerModel)
async def show_trigger(
    namespace: str, repository: str, trigger: str, request: Request, services: ServicesDep
) -> TriggerModel:
    """One trigger with its newest history."""
    return TriggerModel.of(
        await services.events.triggers.show(
            instance_id=instance_id(request), name=repository_name(namespace, repository), trigger=trigger
        )
    )


@router.patch(TRIGGER, status_code=201, response_class=Response)
async def update_trigger(
    namespace: str, repository: str, trigger: str, body: UpdateTriggerBody, request: Request, services: ServicesDep
) -> Response:
    """Turn a trigger on (``enable: "true"``) or off."""
    await services.events.triggers.update(
        instance_id=instance_id(request),
        name=repository_name(namespace, repository),
        trigger=trigger,
        enabled=parse_enable(body.enable),
    )
    return Response(status_code=201)


@router.delete(TRIGGER, status_code=204, response_class=Response)
async def delete_trigger(
    namespace: str, repository: str, trigger: str, request: Request, services: ServicesDep
) -> Response:
    """Delete a trigger with its history."""
    await services.events.triggers.delete(
        instance_id=instance_id(request), name=repository_name(namespace, repository), trigger=trigger
    )
    return Response(status_code=204)
