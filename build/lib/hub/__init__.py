"""The ORP hub: ingest every obec's changes into a verified, versioned store.

Start it with `spisync hub run --config HUB.toml` or `hub.service.run`.
"""

__all__: list[str] = []
