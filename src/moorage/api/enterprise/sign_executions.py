"""Executions of signature policies, their tasks and subtasks (ListInstanceSignatureExecutionSubtasks),
and stopping one.

``PUT .../executions/{execution_id}`` (no body) stops an execution, as SWR's replication API stops
its executions; ``GET`` of the same path shows one (both moorage extensions).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from moorage.api.deps import ServicesDep, authorize
from moorage.api.enterprise import schemas_signing as s
from moorage.api.enterprise.common import EXECUTION, POLICY, page, timestamp
from moorage.api.enterprise.schemas import CreatedId
from moorage.api.management_route import ManagementRoute
from moorage.api.management_rules import M, R, access_rules, on_instance_namespace
from moorage.api.row_ids import RowId
from moorage.domain.enterprise import SignSubtask, SignTask
from moorage.services.enterprise.executions import parse_status

router = APIRouter(
    tags=["Enterprise Edition signature executions"], dependencies=[Depends(authorize)], route_class=ManagementRoute
)

ACCESS_RULES = access_rules(
    {
        ("POST", POLICY + "/executions"): on_instance_namespace(M),
        ("GET", POLICY + "/executions"): on_instance_namespace(R),
        ("GET", EXECUTION): on_instance_namespace(R),
        ("PUT", EXECUTION): on_instance_namespace(M),
        ("GET", EXECUTION + "/tasks"): on_instance_namespace(R),
        ("GET", EXECUTION + "/tasks/{task_id}/subtasks"): on_instance_namespace(R),
    }
)


def task_view(task: SignTask) -> s.SignatureExecutionTask:
    """A ``SignatureExecutionTask`` model."""
    return s.SignatureExecutionTask(
        id=task.id,
        execution_id=task.execution_id,
        job_id=task.job_id,
        status=task.status.value,
        status_text=task.status_text,
        namespace=task.namespace,
        repository=task.repository,
        created_at=timestamp(task.created_at),
        updated_at=timestamp(task.updated_at),
    )


def subtask_view(subtask: SignSubtask) -> s.SignatureExecutionSubTask:
    """A ``SignatureExecutionSubTask`` model (ListInstanceSignatureExecutionSubtasks)."""
    return s.SignatureExecutionSubTask(
        id=subtask.id,
        job_id=subtask.job_id,
        namespace=subtask.namespace,
        repository=subtask.repository,
        tags=subtask.tag,
        digest=subtask.digest,
        status=subtask.status.value,
        status_text=subtask.status_text,
        created_at=timestamp(subtask.created_at),
        updated_at=timestamp(subtask.updated_at),
    )


@router.post(POLICY + "/executions", status_code=201, response_model=CreatedId)
async def execute_policy(instance_id: str, namespace_name: str, policy_id: RowId, services: ServicesDep) -> CreatedId:
    """Run a policy now."""
    policy = await services.enterprise.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    execution_id = await services.enterprise.executions.start(policy, trigger="manual")
    assert execution_id is not None  # manual executions have no idempotency key
    return CreatedId(id=execution_id)


@router.get(POLICY + "/executions", response_model=s.ExecutionList)
async def list_executions(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.ExecutionList:
    """Executions of a policy, newest first."""
    policy = await services.enterprise.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.enterprise.executions.list_executions(policy, page=page(offset, limit))
    return s.ExecutionList(executions=[s.execution_view(e) for e in found.items], total=found.total)


@router.get(EXECUTION, response_model=s.Execution)
async def show_execution(
    instance_id: str, namespace_name: str, policy_id: RowId, execution_id: RowId, services: ServicesDep
) -> s.Execution:
    """One execution."""
    policy = await services.enterprise.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    return s.execution_view(await services.enterprise.executions.get(policy, execution_id))


@router.put(EXECUTION, response_model=s.Execution)
async def stop_execution(
    instance_id: str, namespace_name: str, policy_id: RowId, execution_id: RowId, services: ServicesDep
) -> s.Execution:
    """Stop an execution (what is not signed yet is marked Stopped)."""
    policy = await services.enterprise.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    return s.execution_view(await services.enterprise.executions.stop(policy, execution_id))


@router.get(EXECUTION + "/tasks", response_model=s.SignatureExecutionTaskList)
async def list_tasks(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    execution_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
) -> s.SignatureExecutionTaskList:
    """Tasks (one per repository) of an execution."""
    policy = await services.enterprise.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.enterprise.executions.tasks(policy, execution_id, page=page(offset, limit))
    return s.SignatureExecutionTaskList(tasks=[task_view(t) for t in found.items], total=found.total)


@router.get(EXECUTION + "/tasks/{task_id}/subtasks", response_model=s.SignatureExecutionSubTaskList)
async def list_subtasks(
    instance_id: str,
    namespace_name: str,
    policy_id: RowId,
    execution_id: RowId,
    task_id: RowId,
    services: ServicesDep,
    offset: int | None = Query(default=None),
    limit: int | None = Query(default=None),
    status: str | None = Query(default=None, max_length=16),
) -> s.SignatureExecutionSubTaskList:
    """Subtasks (one per signed tag) of a task: ListInstanceSignatureExecutionSubtasks's paging and status filter."""
    wanted = parse_status(status)
    requested = page(offset, limit)
    policy = await services.enterprise.policies.get(
        instance_id=instance_id, namespace=namespace_name, policy_id=policy_id
    )
    found = await services.enterprise.executions.subtasks(policy, execution_id, task_id, status=wanted, page=requested)
    return s.SignatureExecutionSubTaskList(sub_tasks=[subtask_view(t) for t in found.items], total=found.total)
