"""The console over HTTPS (`[console] cert_file`/`key_file`): TLS served and the session cookie marked Secure."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl

import aiohttp
import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.console.app import serve
from hub.store import SqliteMetadataStore
from testkit.hub import make_hub_config
from testkit.waiting import wait_for
from tests.hub.console.conftest import PASSWORDS, add_operators, console_config


def _self_signed(folder):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "console.crt", folder / "console.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


async def test_https_console_sets_a_secure_httponly_strict_cookie(shared_broker, vhost, tmp_path):
    """With a certificate the console speaks TLS and its session cookie is Secure, HttpOnly, SameSite=Strict."""
    cert_file, key_file = _self_signed(tmp_path)
    config = make_hub_config(shared_broker, vhost, tmp_path / "hub")
    config = msgspec.structs.replace(
        config, console=console_config(cert_file=cert_file, key_file=key_file)
    )
    assert config.console is not None
    await add_operators(config)
    store = await SqliteMetadataStore.open(config.hub.data_path, instance="test")
    stop = asyncio.Event()
    task = asyncio.create_task(serve(config, store, stop, instance="tls"))
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        async with aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            connector=aiohttp.TCPConnector(ssl=insecure),
        ) as http:
            base = config.console.url
            assert base.startswith("https://")

            async def page() -> str | None:
                try:
                    async with http.get(f"{base}/login") as response:
                        return await response.text()
                except aiohttp.ClientConnectionError:
                    return None

            await wait_for(lambda: _is_text(page()), timeout=30, what="the HTTPS console")
            text = await page()
            assert text is not None
            token = text.split('name="csrf_token" value="')[1].split('"')[0]
            async with http.post(
                f"{base}/login",
                data={"name": "ctenar", "password": PASSWORDS["ctenar"][1], "csrf_token": token},
                allow_redirects=False,
            ) as response:
                assert response.status == 302
                cookie = response.cookies["spisync_session"]
        assert cookie["secure"]
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"
    finally:
        stop.set()
        await task
        await store.close()


async def _is_text(coro) -> bool:
    return await coro is not None
