"""The event stream: recording events in the transaction of each change (``recorder``), handing them
to consumers (``dispatch``: webhooks, triggers), the audit log (``audit``), webhook policies and
triggers (``webhooks``, ``triggers``), deliveries (``delivery``) and pruning (``retention``);
``wiring`` builds what the handlers call.
docs/events.md has the design."""
