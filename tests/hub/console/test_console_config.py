"""`[console]` in HUB.toml: defaults, and one clear error naming the key."""

from __future__ import annotations

import pytest

from hub.config import load_hub_config
from hub.console.pages import _safe_next
from spisync.errors import ConfigError

BASE = '[hub]\norp = "t"\ndata_dir = "d"\n[broker]\nurl = "amqp://u:p@127.0.0.1:1/"\n'


def test_console_is_off_without_the_section_and_on_with_listen(tmp_path):
    """No `[console]` means no console; `listen` alone gives the documented thresholds."""
    path = tmp_path / "HUB.toml"
    path.write_text(BASE, encoding="utf-8")
    assert load_hub_config(path).console is None
    path.write_text(BASE + '[console]\nlisten = "127.0.0.1:8080"\n', encoding="utf-8")
    console = load_hub_config(path).console
    assert console is not None
    assert (console.host, console.port, console.url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert (console.heartbeat_warning_s, console.heartbeat_error_s) == (120.0, 900.0)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('listen = "localhost"', "console.listen"),
        ('listen = "127.0.0.1:1"\ncert_file = "c.pem"', "console"),
        ('listen = "127.0.0.1:1"\nheartbeat_warning_s = 900.0', "console"),
        ('listen = "127.0.0.1:1"\nlogin = true', "login"),
    ],
)
def test_bad_console_settings_name_the_key(tmp_path, section, key):
    """A wrong `[console]` value is refused with the file and the key in one line."""
    path = tmp_path / "HUB.toml"
    path.write_text(BASE + "[console]\n" + section + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_hub_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert key in message
    assert "\n" not in message


def test_metrics_token_never_shows_in_repr(tmp_path):
    """The metrics token is a secret: the config's repr hides it."""
    path = tmp_path / "HUB.toml"
    path.write_text(
        BASE + '[console]\nlisten = "127.0.0.1:1"\nmetrics_token = "velmi-tajne"\n',
        encoding="utf-8",
    )
    config = load_hub_config(path)
    assert "velmi-tajne" not in repr(config)
    assert "velmi-tajne" not in repr(config.console)


@pytest.mark.parametrize(
    ("target", "safe"),
    [("/obce/1", "/obce/1"), ("//evil.example", "/"), ("/\\evil.example", "/"), ("https://x", "/")],
)
def test_login_goes_back_only_to_this_console(target, safe):
    """After login the console follows `next` only to its own paths, never to another host."""
    assert _safe_next(target) == safe
