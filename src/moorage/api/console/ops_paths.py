"""The addresses of an instance's operations pages (``pages_operations``) and of their write forms
(``pages_actions``), in one place: a page asks ``may()`` about a form's route by its address."""

from __future__ import annotations

INSTANCE = "/console/enterprise/{instance_id}"
NAMESPACE = INSTANCE + "/namespaces/{namespace_name}"
RETENTION = INSTANCE + "/retention"
RETENTION_POLICY = NAMESPACE + "/retention/{policy_id}"
RETENTION_TASKS = RETENTION_POLICY + "/executions/{execution_id}/tasks"
GC = INSTANCE + "/gc"
REPLICATION = INSTANCE + "/replication"
REPLICATION_POLICIES = REPLICATION + "/policies"
REPLICATION_EXECUTIONS = REPLICATION + "/executions"
WEBHOOKS = INSTANCE + "/webhooks"
WEBHOOK = NAMESPACE + "/webhooks/{policy_id}"
WEBHOOK_JOBS = WEBHOOK + "/jobs"
AUDIT = INSTANCE + "/audit"

# the write forms
RETENTION_RUN = RETENTION_POLICY + "/run"
RETENTION_ENABLED = RETENTION_POLICY + "/enabled"
RETENTION_DELETE = RETENTION_POLICY + "/delete"
GC_RUN = GC + "/run"
GC_SCHEDULE = GC + "/schedule"
REPLICATION_POLICY = REPLICATION_POLICIES + "/{policy_id}"
REPLICATION_RUN = REPLICATION_POLICY + "/run"
REPLICATION_ENABLED = REPLICATION_POLICY + "/enabled"
WEBHOOK_ENABLED = WEBHOOK + "/enabled"
WEBHOOK_DELETE = WEBHOOK + "/delete"
