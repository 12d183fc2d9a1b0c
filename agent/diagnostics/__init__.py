"""Helpdesk diagnostics at the agent: a closed list of verbs, asked only by the hub.

A request runs only when the broker-validated `user_id` of its delivery is
the hub's user, its verb is allowed by `[diagnostics] allow`, and it has not
expired. One request runs at a time; every request is written to the local
journal (`spisync agent diag-log`), and results go back through the durable
outbox with every secret redacted.

Modules: `runner` (the checks and the one-at-a-time run), `info` and
`actions` and `bundle` (the verbs), `outgoing` (answers via the outbox),
`journal`, `logfile`, `redact`, `figures` (shared with the heartbeat). The
package imports none of them itself, so the heartbeat can use `figures`
without loading the verbs.
"""

__all__: list[str] = []
