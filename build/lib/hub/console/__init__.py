"""The operator console: web pages, a JSON API and Prometheus metrics, served by the hub.

It reads state only from the metadata store and the broker's management API,
never from a hub process's memory, so that every hub process shows the same
console. Importing this package loads no web framework: `hub.console.app`
does.
"""

from __future__ import annotations

__all__: list[str] = []
