"""[mcp.servers.NAME]: MCP servers whose tools the cloud model may call, read like providers:
one table per server, its token only from a secrets file (or a config file, with a warning),
every mistake one line naming the file, the table and the key, never showing the token."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from device.config.render import render_config
from device.config.schema import McpServerConfig
from device.config.sources import load_config, load_config_with_sources
from device.errors import ConfigError

TOKEN = "eyJhbGciOiJIUzI1NiJ9.ha-long-lived-DO-NOT-LEAK"
HOME = '[mcp.servers.home]\nurl = "http://homeassistant.local:8123/api/mcp"\n'


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def error(*paths: Path, secrets: tuple[Path, ...] = (), flags: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(paths=list(paths), env={}, overrides=flags, secrets_paths=secrets)
    message = str(caught.value)
    assert "\n" not in message and TOKEN not in message
    return message


def test_no_servers_by_default() -> None:
    assert load_config(paths=[], env={}, secrets_paths=[]).mcp_servers == ()


def test_a_server_table_with_its_token_from_the_secrets_file(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.toml",
        HOME + 'allow = ["HassTurnOff", "GetLiveContext"]\nread_only = ["GetLiveContext"]\n'
        '\n[mcp.servers.lab]\nurl = "https://lab.example/mcp"\nconfirm = false\n',
    )
    secrets = write(tmp_path / "secrets.toml", f'[mcp.servers.home]\ntoken = "{TOKEN}"\n')
    cfg, sources = load_config_with_sources([config], {}, (), secrets_paths=[secrets])
    assert [name for name, _ in cfg.mcp_servers] == ["home", "lab"]
    home, lab = dict(cfg.mcp_servers)["home"], dict(cfg.mcp_servers)["lab"]
    assert home.token.reveal() == TOKEN and home.confirm and home.timeout_seconds == 10.0
    assert (home.allow, home.read_only) == (("HassTurnOff", "GetLiveContext"), ("GetLiveContext",))
    assert lab == McpServerConfig(url="https://lab.example/mcp", confirm=False)
    assert sources["mcp.servers.home.token"] == str(secrets)
    shown = render_config(cfg, sources)
    assert TOKEN not in shown and 'token = "***"' in shown
    assert "[mcp.servers.home]" in shown and "[mcp.servers.lab]" in shown


def test_flags_set_server_keys_but_never_a_token() -> None:
    cfg = load_config(
        paths=[],
        env={},
        secrets_paths=[],
        overrides=["mcp.servers.home.url=http://10.0.0.9:8123/api/mcp", "mcp.servers.home.allow=*"],
    )
    assert dict(cfg.mcp_servers)["home"].allow == ("*",)
    assert error(flags=(f"mcp.servers.home.token={TOKEN}",)) == (
        "flag --set mcp.servers.home.token=***: any user can read a command line; put the token "
        "in /etc/zeropin/secrets.toml"
    )
    assert error(flags=("mcp.home.url=http://x",)).startswith(
        "flag --set mcp.home.url=http://x: expected mcp.servers.NAME.key=value"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[mcp.servers.home]\nallow = []", "[mcp.servers.home] url: not set; give the server's"),
        (HOME + 'url2 = "x"', "[mcp.servers.home] url2: unknown key (known: url, token, allow,"),
        ('[mcp.servers.home]\nurl = "homeassistant:8123"', "[mcp.servers.home] url: must start"),
        (HOME + 'allow = "HassTurnOff"', "[mcp.servers.home] allow: expected an array of strings"),
        (HOME + 'allow = ["Hass TurnOff"]', '[mcp.servers.home] allow: "Hass TurnOff" is not a'),
        (HOME + 'read_only = ["a", "a"]', '[mcp.servers.home] read_only: names "a" twice'),
        (HOME + 'confirm = "no"', '[mcp.servers.home] confirm: expected true or false, got "no"'),
        (HOME + "timeout_seconds = 0", "[mcp.servers.home] timeout_seconds: must be > 0"),
        ('[mcp.servers."Home"]\nurl = "http://x"', '[mcp.servers] "Home": an MCP server name'),
        ('[mcp]\nhome = "http://x"', '[mcp] "home": unknown key; a server is a [mcp.servers.NAME]'),
        ("mcp = 1", "[mcp]: expected a table, got 1"),
        ('allow = ["x"]', "allow: key outside any [section]; put it under [mcp.servers.NAME]"),
    ],
)
def test_mistakes_name_the_file_the_table_and_the_key(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = write(tmp_path / "zeropin.toml", text + "\n")
    assert error(path).startswith(f"{path}: {reason}")


def test_a_token_in_a_config_file_never_shows_in_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", HOME + f"token = {TOKEN.split('.')[0]!r}1 2\n")
    assert error(path).startswith(f"{path}: line 3:")  # TOML's own error, without the value
    path = write(tmp_path / "c.toml", HOME + f'token = "{TOKEN} "\n')
    assert error(path) == (
        f"{path}: [mcp.servers.home] token: must hold the key alone: no spaces, line breaks or "
        "non-ASCII (value not shown)"
    )


def test_the_secrets_file_holds_only_tokens_of_servers(tmp_path: Path) -> None:
    secrets = write(tmp_path / "s.toml", '[mcp.servers.home]\nurl = "http://x"\n')
    assert error(secrets=(secrets,)) == (
        f"{secrets}: [mcp.servers.home] url: not allowed in a secrets file; it holds only "
        "[providers.NAME] api_key, [mcp.servers.NAME] token and [web] token"
    )
    readable = write(tmp_path / "r.toml", f'[mcp.servers.home]\ntoken = "{TOKEN}"\n', 0o644)
    assert "lets other users read" in error(secrets=(readable,))


def test_a_token_in_a_world_readable_config_file_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "zeropin.toml", HOME + f'token = "{TOKEN}"\n', 0o644)
    with caplog.at_level(logging.WARNING, logger="device.config.sources"):
        cfg = load_config(paths=[path], env={}, secrets_paths=[])
    assert dict(cfg.mcp_servers)["home"].token.reveal() == TOKEN
    assert [r.getMessage() for r in caplog.records] == [
        f"{path} holds an API key or token that other users can read (mode 0644); "
        "move it to /etc/zeropin/secrets.toml"
    ]
