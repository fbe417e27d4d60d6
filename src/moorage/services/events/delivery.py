"""Sending one delivery (the body of the ``events.webhook_delivery`` job): one HTTP POST per run, under
the egress policy, with a timeout; each attempt recorded; a failure that may pass (no answer, a
timeout, 408, 429, 5xx) retried with exponential backoff until ``MOORAGE_WEBHOOKS__MAX_ATTEMPTS``;
any other answer, or a receiver the egress policy refuses, fails at once.

The request: ``POST`` of the frozen Harbor payload, ``Content-Type: application/json``, the target's
auth headers, ``X-Moorage-Event-Id``, ``X-Moorage-Delivery`` (the same on every retry, so a receiver
can drop a repeat) and ``X-Moorage-Signature-256: sha256=<hex HMAC-SHA256 of the body>`` keyed with
the policy's (or trigger's) signing secret. Redirects are not followed (a 3xx fails the delivery).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from moorage.auth.keys import MasterKey, SecretDecryptionError
from moorage.clients.egress import EgressPolicy
from moorage.clients.errors import EgressDenied
from moorage.clients.transport import EgressTransport
from moorage.domain.enterprise import RunStatus
from moorage.domain.jobs import JobControl, RetryLater
from moorage.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    Delivery,
    DeliveryAttempt,
    WebhookTarget,
    parse_auth_header,
)
from moorage.metadata.database import Database, now_ms
from moorage.metadata.queries import triggers as triggers_q
from moorage.metadata.queries import webhooks as q
from moorage.services.events.webhooks import open_auth_header, open_secret

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({408, 429})
ANSWER_READ_BYTES = 4096


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are sent (from ``MOORAGE_WEBHOOKS__*`` and ``MOORAGE_EGRESS__*``)."""

    egress: EgressPolicy
    timeout_seconds: float = 10.0
    max_attempts: int = 5
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt number ``attempt`` (1, 2, ...): base, twice base, ... at most max."""
        return float(min(self.retry_base_seconds * 2 ** (attempt - 1), self.retry_max_seconds))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    status_code: int | None
    error: str
    succeeded: bool
    retry: bool


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class _Target:
    """What a delivery is sent to, in clear (never logged)."""

    address: str
    headers: dict[str, str]
    verify: bool
    secret: str


def _target(db: Database, master_key: MasterKey, delivery: Delivery) -> _Target | str:
    """The delivery's target now, or why there is none (its policy or trigger was deleted or turned off)."""
    if delivery.policy_id is not None:
        policy = db.run_read(lambda conn: q.policy_by_id(conn, delivery.policy_id or 0))
        if policy is None:
            return "the webhook policy was deleted"
        if not policy.enabled:
            return "the webhook policy was disabled"
        if delivery.target_index >= len(policy.targets):
            return "the policy's target was removed"
        target: WebhookTarget = policy.targets[delivery.target_index]
        sealed_secret = db.run_read(lambda conn: q.secret_of(conn, delivery.policy_id or 0)) or ""
        return _Target(
            target.address,
            parse_auth_header(open_auth_header(master_key, target)),
            not target.skip_cert_verify,
            open_secret(master_key, sealed_secret),
        )
    trigger = db.run_read(lambda conn: triggers_q.by_id(conn, delivery.trigger_id or 0))
    sealed = db.run_read(lambda conn: triggers_q.sealed(conn, delivery.trigger_id or 0))
    if trigger is None or sealed is None:
        return "the trigger was deleted"
    if not trigger.enabled:
        return "the trigger was disabled"
    header = master_key.decrypt(sealed[0], context=f"webhook-auth:{trigger.address}") if sealed[0] else ""
    return _Target(
        trigger.address, parse_auth_header(header), not trigger.skip_cert_verify, open_secret(master_key, sealed[1])
    )


async def _post(target: _Target, delivery: Delivery, policy: DeliveryPolicy) -> Outcome:
    body = delivery.payload.encode()
    headers = {
        **target.headers,
        "Content-Type": "application/json",
        "User-Agent": "moorage-webhook",
        EVENT_ID_HEADER: str(delivery.event_id),
        DELIVERY_HEADER: str(delivery.id),
        SIGNATURE_HEADER: sign(target.secret, body),
    }
    transport = EgressTransport(policy.egress, verify=target.verify)
    async with httpx.AsyncClient(
        transport=transport, timeout=policy.timeout_seconds, follow_redirects=False, trust_env=False
    ) as client:
        try:
            async with asyncio.timeout(policy.timeout_seconds):
                response = await client.post(target.address, content=body, headers=headers)
        except EgressDenied as exc:
            return Outcome(None, f"refused by the egress policy: {exc}", False, False)
        except TimeoutError:
            return Outcome(None, f"no answer within {policy.timeout_seconds:g} s", False, True)
        except httpx.TimeoutException as exc:
            return Outcome(None, f"timed out ({type(exc).__name__})", False, True)
        except httpx.HTTPError as exc:
            return Outcome(None, f"{type(exc).__name__}: {str(exc)[:300]}", False, True)
    code = response.status_code
    if 200 <= code < 300:
        return Outcome(code, "", True, False)
    retry = code in RETRIED_STATUSES or code >= 500
    return Outcome(code, f"answered {code} {response.reason_phrase}"[:300], False, retry)


def deliver(control: JobControl, *, db: Database, master_key: MasterKey, policy: DeliveryPolicy) -> dict[str, Any]:
    """Send a delivery once (the job runs again, after the backoff, for a failure that may pass)."""
    delivery_id = int(control.job.params["delivery_id"])
    delivery = db.run_read(lambda conn: q.get_delivery(conn, delivery_id))
    if delivery is None or delivery.status.finished:
        return {"skipped": "the delivery is gone or finished"}
    try:
        target = _target(db, master_key, delivery)
    except SecretDecryptionError:
        target = "the stored credentials cannot be decrypted with this master key"
    if isinstance(target, str):
        db.run_write(lambda conn: q.set_delivery(conn, delivery_id, status=RunStatus.STOPPED, status_text=target))
        return {"stopped": target}
    attempt = delivery.attempts + 1
    db.run_write(
        lambda conn: q.set_delivery(
            conn, delivery_id, status=RunStatus.IN_PROGRESS, status_text=f"attempt {attempt}", attempts=attempt
        )
    )
    started, clock = now_ms(), time.monotonic()
    outcome = asyncio.run(_post(target, delivery, policy))
    took = int((time.monotonic() - clock) * 1000)
    retry = outcome.retry and attempt < policy.max_attempts
    if outcome.succeeded:
        status, text = RunStatus.SUCCEED, f"delivered: answered {outcome.status_code} (attempt {attempt})"
    elif retry:
        status, text = (
            RunStatus.PENDING,
            (f"attempt {attempt} failed: {outcome.error}; next attempt in {policy.backoff(attempt):g} s"),
        )
    else:
        status, text = RunStatus.FAILED, f"attempt {attempt} failed: {outcome.error}"

    def settle(conn: Any) -> None:
        q.add_attempt(
            conn,
            DeliveryAttempt(delivery_id, attempt, started, took, outcome.status_code, outcome.error, outcome.succeeded),
        )
        q.set_delivery(conn, delivery_id, status=status, status_text=text)

    db.run_write(settle)
    if retry:
        raise RetryLater(text, delay_seconds=policy.backoff(attempt))
    log.info("webhook delivery %d to policy/trigger %s: %s", delivery_id, delivery.consumer, text)
    return {"status": str(status), "attempts": attempt, "status_code": outcome.status_code}
