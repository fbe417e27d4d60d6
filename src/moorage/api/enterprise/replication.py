"""Enterprise Edition replication: registries (CreateInstanceRegistry, ListInstanceRegistries,
ShowInstanceRegistry, UpdateInstanceRegistry, DeleteInstanceRegistry), policies
(CreateInstanceReplicationPolicy ... DeleteInstanceReplicationPolicy) and executions
(ExecuteInstanceReplicationPolicy, ListInstanceReplicationPolicyExecutions,
StopInstanceReplicationPolicyExecution, ListInstanceReplicationPolicyExecTasks,
ListInstanceReplicationPolicyExecSubTasks). Instance administrators only: a registry holds
credentials and a policy copies any namespace. The services are in
``services/enterprise/replication/``; docs/replication-policies.md explains them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import ServicesDep, authorize
from moorage.api.enterprise import schemas_replication as s
from moorage.api.enterprise.common import INSTANCE, page
from moorage.api.enterprise.schemas import CreatedId
from moorage.api.enterprise.schemas_signing import execution_view
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_ADMIN, access_rules
from moorage.api.row_ids import OptionalRowIdQuery, RowId
from moorage.services.enterprise.executions import parse_status

REGISTRIES = INSTANCE + "/registries"
REGISTRY = REGISTRIES + "/{registry_id}"
POLICIES = INSTANCE + "/replication/policies"
POLICY = POLICIES + "/{policy_id}"
EXECUTIONS = INSTANCE + "/replication/executions"
EXECUTION = EXECUTIONS + "/{execution_id}"
TASKS = EXECUTION + "/tasks"
SUBTASKS = TASKS + "/{task_id}/subtasks"

router = APIRouter(
    tags=["Enterprise Edition replication"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("POST", REGISTRIES): INSTANCE_ADMIN,
        ("GET", REGISTRIES): INSTANCE_ADMIN,
        ("GET", REGISTRY): INSTANCE_ADMIN,
        ("PUT", REGISTRY): INSTANCE_ADMIN,
        ("DELETE", REGISTRY): INSTANCE_ADMIN,
        ("POST", POLICIES): INSTANCE_ADMIN,
        ("GET", POLICIES): INSTANCE_ADMIN,
        ("GET", POLICY): INSTANCE_ADMIN,
        ("PUT", POLICY): INSTANCE_ADMIN,
        ("DELETE", POLICY): INSTANCE_ADMIN,
        ("POST", EXECUTIONS): INSTANCE_ADMIN,
        ("GET", EXECUTIONS): INSTANCE_ADMIN,
        ("PUT", EXECUTION): INSTANCE_ADMIN,
        ("GET", TASKS): INSTANCE_ADMIN,
        ("GET", SUBTASKS): INSTANCE_ADMIN,
    }
)

ORDER = Query(default=None, max_length=32)


# Registries ---------------------------------------------------------------------------------------
@router.post(REGISTRIES, status_code=201, response_model=CreatedId)
async def create_instance_registry(instance_id: str, body: s.RegistryBody, services: ServicesDep) -> CreatedId:
    """Add a registry once it answered to the credentials given."""
    created = await services.replication.registries.create(instance_id=instance_id, changes=body.changes())
    return CreatedId(id=created)


@router.get(REGISTRIES, response_model=s.RegistryList)
async def list_instance_registries(
    instance_id: str,
    services: ServicesDep,
    order_column: str | None = ORDER,
    order_type: str | None = ORDER,
    name: str | None = Query(default=None, max_length=64),
    type: str | None = Query(default=None, max_length=32),
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.RegistryList:
    """Registries of the instance (of a name, of a type)."""
    found = await services.replication.registries.list_registries(
        instance_id=instance_id,
        name=name,
        kind=type,
        order_column=order_column,
        order_type=order_type,
        page=page(offset, limit),
    )
    region = services.settings.auth.region
    return s.RegistryList(registries=[s.Registry.of(r, region=region) for r in found.items], total=found.total)


@router.get(REGISTRY, response_model=s.Registry)
async def show_instance_registry(instance_id: str, registry_id: RowId, services: ServicesDep) -> s.Registry:
    """One registry (its password masked)."""
    found = await services.replication.registries.get(instance_id=instance_id, registry_id=registry_id)
    return s.Registry.of(found, region=services.settings.auth.region)


@router.put(REGISTRY)
async def update_instance_registry(
    instance_id: str, registry_id: RowId, body: s.RegistryBody, services: ServicesDep
) -> Response:
    """Change the fields given (a new address or credentials are checked first)."""
    await services.replication.registries.update(
        instance_id=instance_id, registry_id=registry_id, changes=body.changes()
    )
    return Response(status_code=200)


@router.delete(REGISTRY, status_code=204)
async def delete_instance_registry(instance_id: str, registry_id: RowId, services: ServicesDep) -> Response:
    """Remove a registry no policy uses."""
    await services.replication.registries.delete(instance_id=instance_id, registry_id=registry_id)
    return Response(status_code=204)


# Policies -----------------------------------------------------------------------------------------
@router.post(POLICIES, status_code=201, response_model=CreatedId)
async def create_instance_replication_policy(instance_id: str, body: s.PolicyBody, services: ServicesDep) -> CreatedId:
    """Create a replication policy."""
    created = await services.replication.policies.create(instance_id=instance_id, changes=body.changes())
    return CreatedId(id=created)


@router.get(POLICIES, response_model=s.ReplicationPolicyList)
async def list_instance_replication_policies(
    instance_id: str,
    services: ServicesDep,
    order_column: str | None = ORDER,
    order_type: str | None = ORDER,
    name: str | None = Query(default=None, max_length=256),
    registry_id: OptionalRowIdQuery = None,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.ReplicationPolicyList:
    """Policies of the instance (of a name, of a registry)."""
    found = await services.replication.policies.list_policies(
        instance_id=instance_id,
        name=name,
        registry_id=registry_id,
        order_column=order_column,
        order_type=order_type,
        page=page(offset, limit),
    )
    return s.ReplicationPolicyList(policies=[s.ReplicationPolicyView.of(p) for p in found.items], total=found.total)


@router.get(POLICY, response_model=s.ReplicationPolicyView)
async def show_instance_replication_policy(
    instance_id: str, policy_id: RowId, services: ServicesDep
) -> s.ReplicationPolicyView:
    """One policy."""
    return s.ReplicationPolicyView.of(
        await services.replication.policies.get(instance_id=instance_id, policy_id=policy_id)
    )


@router.put(POLICY)
async def update_instance_replication_policy(
    instance_id: str, policy_id: RowId, body: s.PolicyBody, services: ServicesDep
) -> Response:
    """Change the fields given (filters as a whole)."""
    await services.replication.policies.update(instance_id=instance_id, policy_id=policy_id, changes=body.changes())
    return Response(status_code=200)


@router.delete(POLICY, status_code=204)
async def delete_instance_replication_policy(instance_id: str, policy_id: RowId, services: ServicesDep) -> Response:
    """Delete a policy and its executions (a running one stops at its next artifact)."""
    await services.replication.policies.delete(instance_id=instance_id, policy_id=policy_id)
    return Response(status_code=204)


# Executions ---------------------------------------------------------------------------------------
@router.post(EXECUTIONS, status_code=201, response_model=CreatedId)
async def execute_instance_replication_policy(
    instance_id: str, body: s.ExecuteBody, services: ServicesDep
) -> CreatedId:
    """Run a policy now."""
    execution_id = await services.replication.start_manual(instance_id=instance_id, policy_id=body.policy_id)
    return CreatedId(id=execution_id)


@router.get(EXECUTIONS, response_model=s.ReplicationExecutionList)
async def list_instance_replication_policy_executions(
    instance_id: str,
    services: ServicesDep,
    policy_id: OptionalRowIdQuery = None,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.ReplicationExecutionList:
    """Executions of the instance (of one policy), newest first."""
    found = await services.replication.executions.list_executions(
        instance_id=instance_id, policy_id=policy_id, page=page(offset, limit)
    )
    return s.ReplicationExecutionList(executions=[execution_view(e) for e in found.items], total=found.total)


@router.put(EXECUTION)
async def stop_instance_replication_policy_execution(
    instance_id: str, execution_id: RowId, services: ServicesDep
) -> Response:
    """Stop a running execution."""
    await services.replication.executions.stop(instance_id=instance_id, execution_id=execution_id)
    return Response(status_code=200)


@router.get(TASKS, response_model=s.TaskList)
async def list_instance_replication_policy_exec_tasks(
    instance_id: str,
    execution_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.TaskList:
    """Tasks (one per artifact) of an execution."""
    found = await services.replication.executions.tasks(
        instance_id=instance_id, execution_id=execution_id, page=page(offset, limit)
    )
    return s.TaskList(tasks=[s.TaskDetail.of(t) for t in found.items], total=found.total)


@router.get(SUBTASKS, response_model=s.SubtaskList)
async def list_instance_replication_policy_exec_sub_tasks(
    instance_id: str,
    execution_id: RowId,
    task_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    status: str | None = Query(default=None, max_length=16),
) -> s.SubtaskList:
    """Subtasks (one per manifest or blob) of a task, optionally of one status."""
    wanted, requested = parse_status(status), page(offset, limit)
    found = await services.replication.executions.subtasks(
        instance_id=instance_id, execution_id=execution_id, task_id=task_id, status=wanted, page=requested
    )
    return s.SubtaskList(sub_tasks=[s.SubtaskDetail.of(t) for t in found.items], total=found.total)
