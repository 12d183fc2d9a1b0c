"""A small client for the RabbitMQ management HTTP API (users, permissions, connections).

It uses the standard library in a worker thread: provisioning makes a handful of
calls, so a full HTTP client library is not worth its weight on an agent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from spisync.errors import BrokerSetupError

__all__ = ["ManagementClient"]


class ManagementClient:
    """Calls the management API of one broker as one (administrator) user.

    Args:
        base_url: For example `http://127.0.0.1:15672`.
        username: Administrator user.
        password: Its password (never logged or shown in `repr`).
    """

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self._base_url = base_url.rstrip("/")
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._auth = f"Basic {token}"

    def __repr__(self) -> str:
        return f"ManagementClient({self._base_url!r})"

    def _call(self, method: str, path: str, body: Any = None, reason: str = "") -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL comes from the operator's config
            f"{self._base_url}/api/{path}", data=data, method=method
        )
        request.add_header("Authorization", self._auth)
        request.add_header("Content-Type", "application/json")
        if reason:  # the broker passes it to the client in connection.close
            request.add_header("X-Reason", reason)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - as above
                payload = response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and method in {"GET", "DELETE"}:
                return None
            detail = exc.read().decode(errors="replace")[:300]
            raise BrokerSetupError(
                f"management API {method} {path} at {self._base_url}: HTTP {exc.code} {detail}"
            ) from None
        except OSError as exc:
            raise BrokerSetupError(
                f"management API at {self._base_url} is not reachable: {exc}"
            ) from None
        return json.loads(payload) if payload else {}

    async def request(self, method: str, path: str, body: Any = None, *, reason: str = "") -> Any:
        """Make one API call; a 404 on GET or DELETE returns None."""
        return await asyncio.to_thread(self._call, method, path, body, reason)

    async def overview(self) -> dict[str, Any]:
        """Return the broker's overview (version, node); proves the API answers."""
        result: dict[str, Any] = await self.request("GET", "overview")
        return result

    async def put_vhost(self, vhost: str) -> None:
        """Create `vhost` if it does not exist."""
        await self.request("PUT", f"vhosts/{quote(vhost, safe='')}", {})

    async def delete_vhost(self, vhost: str) -> None:
        """Delete `vhost` and everything in it."""
        await self.request("DELETE", f"vhosts/{quote(vhost, safe='')}")

    async def get_user(self, user: str) -> dict[str, Any] | None:
        """Return a user's record, or None if there is none."""
        result: dict[str, Any] | None = await self.request("GET", f"users/{quote(user, safe='')}")
        return result

    async def put_user(self, user: str, password: str | None, *, tags: str = "") -> None:
        """Create `user` or set its password; None: no password (a certificate login only)."""
        body = {"password": password} if password is not None else {"password_hash": ""}
        await self.request("PUT", f"users/{quote(user, safe='')}", body | {"tags": tags})

    async def delete_user(self, user: str) -> None:
        """Delete `user` (and its permissions)."""
        await self.request("DELETE", f"users/{quote(user, safe='')}")

    async def set_permissions(
        self, vhost: str, user: str, *, configure: str, write: str, read: str
    ) -> None:
        """Set `user`'s configure, write and read regexes on `vhost`."""
        await self.request(
            "PUT",
            f"permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
            {"configure": configure, "write": write, "read": read},
        )

    async def set_topic_permissions(
        self, vhost: str, user: str, *, exchange: str, write: str, read: str
    ) -> None:
        """Limit the routing keys `user` may publish to (or read from) `exchange`."""
        await self.request(
            "PUT",
            f"topic-permissions/{quote(vhost, safe='')}/{quote(user, safe='')}",
            {"exchange": exchange, "write": write, "read": read},
        )

    async def user_permissions(self, user: str) -> list[dict[str, Any]]:
        """Return `user`'s permissions, one record per vhost (empty if none or no user)."""
        result = await self.request("GET", f"users/{quote(user, safe='')}/permissions")
        return list(result or [])

    async def connections_of(self, user: str) -> list[dict[str, Any]]:
        """Return the open connections of `user` (name, peer host and port, ...)."""
        connections = await self.request("GET", "connections") or []
        return [c for c in connections if c.get("user") == user]

    async def close_connection(self, name: str, *, reason: str) -> None:
        """Close the connection called `name`, telling the client `reason`."""
        await self.request("DELETE", f"connections/{quote(name, safe='')}", reason=reason)

    async def close_connections_of(self, user: str, *, reason: str) -> int:
        """Close every connection of `user`; return how many were closed."""
        connections = await self.connections_of(user)
        for connection in connections:
            await self.close_connection(connection["name"], reason=reason)
        return len(connections)

    async def queue(self, vhost: str, name: str) -> dict[str, Any] | None:
        """Return a queue's record (messages, consumers, arguments), or None."""
        result: dict[str, Any] | None = await self.request(
            "GET", f"queues/{quote(vhost, safe='')}/{quote(name, safe='')}"
        )
        return result
