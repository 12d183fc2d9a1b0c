"""Real RabbitMQ for tests: a fresh vhost on a shared node, or a private node.

The shared node is the machine's broker (or `SPISYNC_TEST_AMQP_URL`); each test
gets its own vhost there. Tests that stop, restart or cut off the broker start a
private node with its own ports and data folder, so the machine's broker is never
touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from spisync.broker import ManagementClient, open_connection
from spisync.config import BrokerConfig

__all__ = ["NodeTls", "PrivateNode", "SharedBroker", "free_port", "wait_for_amqp"]

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
SPISYNC_CONF = Path(__file__).resolve().parents[1] / "packaging" / "rabbitmq" / "spisync.conf"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_for_amqp(url: str, timeout: float = 60.0) -> None:
    """Wait until an AMQP handshake with `url` succeeds (not just a TCP accept)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = await open_connection(
                url, name="spisync-test readiness probe", handshake_timeout_s=5
            )
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)
        else:
            await connection.close()
            return


@dataclass
class SharedBroker:
    """The machine's broker, where each test gets its own vhost."""

    amqp_base: str
    management_url: str
    username: str
    password: str

    @classmethod
    def from_environment(cls) -> SharedBroker:
        """Use `SPISYNC_TEST_AMQP_URL` or the machine's broker on 127.0.0.1:5672."""
        url = os.environ.get("SPISYNC_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
        parts = urlsplit(url)
        management = os.environ.get("SPISYNC_TEST_MANAGEMENT_URL", f"http://{parts.hostname}:15672")
        return cls(
            amqp_base=f"{parts.scheme}://{parts.username}:{parts.password}@{parts.hostname}:{parts.port or 5672}",
            management_url=management,
            username=parts.username or "guest",
            password=parts.password or "guest",
        )

    def management(self) -> ManagementClient:
        """Return an administrator's management client."""
        return ManagementClient(self.management_url, self.username, self.password)

    def url(self, vhost: str, *, username: str | None = None, password: str | None = None) -> str:
        """Return the AMQP URL of `vhost`, as the admin or as another user."""
        parts = urlsplit(self.amqp_base)
        user = username or self.username
        secret = password or self.password
        return f"{parts.scheme}://{user}:{quote(secret, safe='')}@{parts.hostname}:{parts.port}/{quote(vhost, safe='')}"

    def broker_config(self, vhost: str) -> BrokerConfig:
        """Return the admin's `BrokerConfig` for `vhost`."""
        return BrokerConfig(url=self.url(vhost), management_url=self.management_url)

    async def create_vhost(self) -> str:
        """Create a fresh vhost with full permissions for the admin."""
        vhost = f"spisync-test-{uuid.uuid4().hex[:12]}"
        client = self.management()
        await client.put_vhost(vhost)
        await client.set_permissions(vhost, self.username, configure=".*", write=".*", read=".*")
        return vhost

    async def drop_vhost(self, vhost: str) -> None:
        """Delete `vhost` and the agent users the test created in it.

        Broker users are global, not per vhost, so they would outlive the vhost.
        """
        client = self.management()
        permissions = (
            await client.request("GET", f"vhosts/{quote(vhost, safe='')}/permissions") or []
        )
        for permission in permissions:
            if permission["user"] != self.username:
                await client.delete_user(permission["user"])
        await client.delete_vhost(vhost)


@dataclass(frozen=True)
class NodeTls:
    """TLS for a private node: its CA (to verify clients), its certificate and key.

    With it the node also listens for amqps, requires a client certificate signed
    by `ca_file`, and logs clients in as the certificate's common name (EXTERNAL,
    rabbitmq_auth_mechanism_ssl).
    """

    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass
class PrivateNode:
    """A RabbitMQ node of the test's own: own ports, own data folder, own process."""

    base: Path
    amqp_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    node_name: str = field(default_factory=lambda: f"spisync-{uuid.uuid4().hex[:8]}@localhost")
    process: subprocess.Popen[bytes] | None = None
    tls: NodeTls | None = None
    amqps_port: int = field(default_factory=free_port)

    def amqps_url(self, username: str = "", vhost: str = "/") -> str:
        """The node's amqps URL for a certificate login (EXTERNAL) as `username`."""
        user = f"{quote(username, safe='')}@" if username else ""
        return f"amqps://{user}127.0.0.1:{self.amqps_port}/{quote(vhost, safe='')}?auth=external"

    @property
    def url(self) -> str:
        """AMQP URL of the node's default vhost as guest."""
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def management_url(self) -> str:
        """Base URL of the node's management API."""
        return f"http://127.0.0.1:{self.management_port}"

    def broker_config(self) -> BrokerConfig:
        """Return the admin's `BrokerConfig` for the node."""
        return BrokerConfig(url=self.url, management_url=self.management_url)

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.base),
            RABBITMQ_NODENAME=self.node_name,
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.base / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.base / "log"),
            RABBITMQ_CONFIG_FILE=str(self.base / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.base / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(self.base / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.base / "enabled_plugins"),
            RABBITMQ_PLUGINS_EXPAND_DIR=str(self.base / "plugins-expand"),
            RABBITMQ_PID_FILE=str(self.base / "rabbitmq.pid"),
        )
        return env

    async def start(self) -> None:
        """Start the node (again, keeping its data) and wait for an AMQP handshake."""
        self.base.mkdir(parents=True, exist_ok=True)
        conf = (
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            f"management.tcp.port = {self.management_port}\n"
            "management.tcp.ip = 127.0.0.1\n"
            "loopback_users = none\n" + SPISYNC_CONF.read_text(encoding="utf-8")
            # The node-wide limits that production brokers get (max_message_size, ...).
        )
        plugins = "rabbitmq_management"
        if self.tls is not None:
            conf += (
                f"listeners.ssl.default = 127.0.0.1:{self.amqps_port}\n"
                f"ssl_options.cacertfile = {self.tls.ca_file}\n"
                f"ssl_options.certfile = {self.tls.cert_file}\n"
                f"ssl_options.keyfile = {self.tls.key_file}\n"
                "ssl_options.verify = verify_peer\n"
                "ssl_options.fail_if_no_peer_cert = true\n"
                "ssl_cert_login_from = common_name\n"
                "auth_mechanisms.1 = PLAIN\n"
                "auth_mechanisms.2 = AMQPLAIN\n"
                "auth_mechanisms.3 = EXTERNAL\n"
            )
            plugins += ",rabbitmq_auth_mechanism_ssl"
        (self.base / "rabbitmq.conf").write_text(conf)
        (self.base / "enabled_plugins").write_text(f"[{plugins}].\n")
        log = (self.base / "server.log").open("ab")
        self.process = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self._environment(),
            cwd=self.base,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        await wait_for_amqp(self.url, timeout=90)
        await self._wait_for_management()

    async def _wait_for_management(self) -> None:
        client = ManagementClient(self.management_url, "guest", "guest")
        deadline = time.monotonic() + 60
        while True:
            try:
                await client.overview()
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.3)
            else:
                return

    async def ctl(self, *args: str) -> str:
        """Run `rabbitmqctl <args>` against the node; return its output."""
        result = await asyncio.to_thread(
            subprocess.run,
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node_name, *args],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    async def stop(self) -> None:
        """Stop the node cleanly (its data stays for the next `start`)."""
        if self.process is None:
            return
        ctl = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node_name, "stop"],
            env=self._environment(),
            capture_output=True,
            timeout=60,
            check=False,
        )
        if ctl.returncode != 0:
            self.kill()
            return
        await asyncio.to_thread(self.process.wait, 60)
        self._reap_group()
        self.process = None

    def kill(self) -> None:
        """Kill the node's whole process group at once (a crash, not a shutdown)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._reap_group()
        self.process = None

    def _reap_group(self) -> None:
        # epmd is shared by every node on the machine and must survive; the node's own
        # erlang VM and helpers are in its session and go with it.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def remove(self) -> None:
        """Delete the node's data folder."""
        shutil.rmtree(self.base, ignore_errors=True)
