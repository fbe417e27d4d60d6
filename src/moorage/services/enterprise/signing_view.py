"""The console's view of one Enterprise namespace's signature policies: each policy with its most
recent executions (and their progress), read and run through ``SignPolicyService`` and
``ExecutionService``, as ``ListSignaturePolicies``, ``ListInstanceSignatureExecutions`` and
``CreateInstanceSignatureExecution`` do."""

from __future__ import annotations

from dataclasses import dataclass

from moorage.domain.enterprise import Execution, PageRequest, RunStatus, SignPolicy
from moorage.domain.identity import Principal
from moorage.services.enterprise.executions import ExecutionService
from moorage.services.enterprise.policies import SignPolicyService

POLICIES_SHOWN = 50
EXECUTIONS_SHOWN = 5
RUNNING = frozenset({RunStatus.INITIALIZED, RunStatus.PENDING, RunStatus.IN_PROGRESS})


@dataclass(frozen=True, slots=True)
class PolicyRuns:
    """A policy and its latest executions, newest first."""

    policy: SignPolicy
    executions: tuple[Execution, ...]


@dataclass(frozen=True, slots=True)
class SigningView:
    """A namespace's policies and whether any execution is still running (the page then refreshes)."""

    policies: tuple[PolicyRuns, ...]
    total: int
    running: bool


class SigningViews:
    """See the module docstring."""

    def __init__(self, *, policies: SignPolicyService, executions: ExecutionService) -> None:
        self.policies = policies
        self.executions = executions

    async def view(self, principal: Principal, *, instance_id: str, namespace: str) -> SigningView:
        """The namespace's policies with their latest executions."""
        page = await self.policies.list_policies(
            principal, instance_id=instance_id, namespace=namespace, page=PageRequest(0, POLICIES_SHOWN)
        )
        found = []
        running = False
        for policy in page.items:
            runs = await self.executions.list_executions(policy, page=PageRequest(0, EXECUTIONS_SHOWN))
            running = running or any(e.status in RUNNING for e in runs.items)
            found.append(PolicyRuns(policy, tuple(runs.items)))
        return SigningView(tuple(found), page.total, running)

    async def run_now(self, *, instance_id: str, namespace: str, policy_id: int) -> int | None:
        """Start an execution of the policy (as ``CreateInstanceSignatureExecution``)."""
        policy = await self.policies.get(instance_id=instance_id, namespace=namespace, policy_id=policy_id)
        return await self.executions.start(policy, trigger="manual")
