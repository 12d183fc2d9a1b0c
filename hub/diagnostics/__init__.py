"""Helpdesk diagnostics at the hub: requests to agents, their states, results and audit.

`submit` sends a request (the CLI and the console both use it), `refresh`
marks requests whose time to live ran out, `wait_for_outcome` waits for an
answer; the results arrive through the obec's queue and are stored by
`hub.handlers.control.handle_diagnostics_result`. Everything lives in the
metadata store, so every hub process sees the same requests.
"""

from hub.diagnostics.requests import (
    DEFAULT_TTL_S,
    DiagnosticsRequestError,
    as_json,
    expiry_sweep,
    parse_ttl,
    refresh,
    submit,
    validate,
    wait_for_outcome,
)
from hub.diagnostics.states import STATE_NAMES, TERMINAL, after_result, expire

__all__ = [
    "DEFAULT_TTL_S",
    "STATE_NAMES",
    "TERMINAL",
    "DiagnosticsRequestError",
    "after_result",
    "as_json",
    "expire",
    "expiry_sweep",
    "parse_ttl",
    "refresh",
    "submit",
    "validate",
    "wait_for_outcome",
]
