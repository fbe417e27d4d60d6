"""Retention policies of Enterprise Edition namespaces and their executions: create, list (per
instance), show, update, delete, execute (also as a dry run), and list executions, tasks and
subtasks (CreateInstanceRetentionPolicy ... ListInstanceRetentionPolicyExecSubTasks). The rules'
meaning is in ``services/retention/rules.py``; a run in ``services/retention/runner.py``."""

from __future__ import annotations

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import Response

from moorage.api.deps import PrincipalDep, ServicesDep, authorize
from moorage.api.enterprise import schemas_retention as s
from moorage.api.enterprise.common import INSTANCE, NAMESPACE, page
from moorage.api.enterprise.schemas import CreatedId
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import INSTANCE_MEMBER, M, R, access_rules, on_instance_namespace
from moorage.api.row_ids import OptionalRowIdQuery, RowId
from moorage.services.enterprise.executions import parse_status

POLICIES = NAMESPACE + "/retention/policies"
POLICY = POLICIES + "/{policy_id}"
EXECUTIONS = POLICY + "/executions"
TASKS = EXECUTIONS + "/{execution_id}/tasks"
SUBTASKS = TASKS + "/{task_id}/subtasks"
POLICIES_OF_INSTANCE = INSTANCE + "/retention/policies"

router = APIRouter(
    tags=["Enterprise Edition retention policies"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("POST", POLICIES): on_instance_namespace(M),
        ("GET", POLICIES_OF_INSTANCE): INSTANCE_MEMBER,  # filtered to the namespaces the caller may see
        ("GET", POLICY): on_instance_namespace(R),
        ("PUT", POLICY): on_instance_namespace(M),
        ("DELETE", POLICY): on_instance_namespace(M),
        ("POST", EXECUTIONS): on_instance_namespace(M),
        ("GET", EXECUTIONS): on_instance_namespace(R),
        ("GET", TASKS): on_instance_namespace(R),
        ("GET", SUBTASKS): on_instance_namespace(R),
    }
)


@router.post(POLICIES, status_code=201, response_model=CreatedId)
async def create_instance_retention_policy(
    instance_id: str, namespace_name: str, body: s.PolicyBody, services: ServicesDep
) -> CreatedId:
    """Create a retention policy in a namespace."""
    created = await services.retention.policies.create(
        instance_id=instance_id, namespace=namespace_name, changes=body.changes()
    )
    return CreatedId(id=created)


@router.get(POLICIES_OF_INSTANCE, response_model=s.RetentionPolicyList)
async def list_instance_retention_policies(
    instance_id: str,
    principal: PrincipalDep,
    services: ServicesDep,
    name: str | None = Query(default=None, max_length=256),
    namespace_id: OptionalRowIdQuery = None,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.RetentionPolicyList:
    """Policies of the namespaces of the instance the caller may see (of one namespace, of one name)."""
    found = await services.retention.policies.list_policies(
        principal, instance_id=instance_id, namespace_id=namespace_id, name=name, page=page(offset, limit)
    )
    return s.RetentionPolicyList(total=found.total, retentions=[s.ImageRetention.of(p) for p in found.items])


@router.get(POLICY, response_model=s.ImageRetention)
async def show_instance_retention_policy(
    instance_id: str, namespace_name: str, policy_id: RowId, services: ServicesDep
) -> s.ImageRetention:
    """One policy."""
    return s.ImageRetention.of(
        await services.retention.policies.get(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    )


@router.put(POLICY)
async def update_instance_retention_policy(
    instance_id: str, namespace_name: str, policy_id: RowId, body: s.PolicyBody, services: ServicesDep
) -> Response:
    """Change the fields given (the rules as a whole)."""
    await services.retention.policies.update(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id, changes=body.changes()
    )
    return Response(status_code=200)


@router.delete(POLICY, status_code=204)
async def delete_instance_retention_policy(
    instance_id: str, namespace_name: str, policy_id: RowId, services: ServicesDep
) -> Response:
    """Delete a policy and its executions."""
    await services.retention.policies.delete(instance_id=instance_id, namespace=namespace_name, policy_id=policy_id)
    return Response(status_code=204)


@router.post(EXECUTIONS, status_code=201, response_model=CreatedId)
async def execute_instance_retention_policy(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    services: ServicesDep,
    body: s.ExecuteBody | None = Body(default=None),
) -> CreatedId:
    """Run a policy now (``dry_run``: record what it would delete, delete nothing)."""
    policy = await services.retention.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    execution_id = await services.retention.executions.start(
        policy, trigger="manual", dry_run=body.dry_run if body else False
    )
    assert execution_id is not None  # manual executions have no idempotency key
    return CreatedId(id=execution_id)


@router.get(EXECUTIONS, response_model=s.RetentionExecutionList)
async def list_instance_retention_policy_executions(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.RetentionExecutionList:
    """Executions of a policy, newest first."""
    requested = page(offset, limit)
    policy = await services.retention.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.retention.executions.list_executions(policy, page=requested)
    return s.RetentionExecutionList(total=found.total, executions=[s.RetentionExecutionView.of(e) for e in found.items])


@router.get(TASKS, response_model=s.RetentionTaskList)
async def list_instance_retention_policy_exec_tasks(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    execution_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    status: str | None = Query(default=None, max_length=16),
) -> s.RetentionTaskList:
    """Tasks (one per repository) of an execution, optionally of one status."""
    wanted, requested = parse_status(status), page(offset, limit)
    policy = await services.retention.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.retention.executions.tasks(policy, execution_id, status=wanted, page=requested)
    return s.RetentionTaskList(tasks=[s.RetentionTaskView.of(t) for t in found.items], total=found.total)


@router.get(SUBTASKS, response_model=s.RetentionSubtaskList)
async def list_instance_retention_policy_exec_sub_tasks(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    execution_id: RowId,
    task_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    status: str | None = Query(default=None, max_length=16),
) -> s.RetentionSubtaskList:
    """Subtasks (one per deleted artifact) of a task: ListInstanceSignatureExecutionSubtasks's paging and
    status filter."""
    wanted, requested = parse_status(status), page(offset, limit)
    policy = await services.retention.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.retention.executions.subtasks(policy, execution_id, task_id, status=wanted, page=requested)
    return s.RetentionSubtaskList(sub_tasks=[s.RetentionSubtaskView.of(t) for t in found.items], total=found.total)
