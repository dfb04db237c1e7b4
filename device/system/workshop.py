"""``zeropin workshop kits``: one boot-partition ``zeropin.toml`` per kit on a workshop table.

A teacher flashes one image onto twenty cards and copies one file onto each card's boot
partition: ``DIR/kit-07/zeropin.toml``. Each file names its kit (the host name, so twenty kits
on one Wi-Fi can be told apart over SSH), the teacher's Wi-Fi, the audio profile, and one
provider: an OpenAI-compatible gateway on the teacher's laptop (LiteLLM's proxy, or any other),
with that kit's own key from ``--key-file``, so the real API key never sits on a card and each
kit's spending can be capped and seen on its own. ``zeropin firstboot`` moves the key off the
card at the first boot, as it does any key.

Every file is read back through the daemon's own config loader before anything is written, so
a file that would stop the kit at boot is never written. The files hold keys: each is 0600
(on a FAT card it makes no difference, but the teacher's laptop is another matter), and no key
is printed or logged.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from device.config.schema import is_clean_key
from device.config.sources import load_config
from device.config.text import toml_value
from device.errors import ConfigError, ZeroPinError
from device.storage.files import write_atomically

KIT_FILE = "zeropin.toml"
PROVIDER = "workshop"  # the [providers.NAME] every kit file names
MAX_KITS = 999


class KitsExist(ZeroPinError, FileExistsError):
    """A kit file is already there and ``--force`` was not given."""


@dataclass(frozen=True)
class KitPlan:
    """What ``zeropin workshop kits`` was asked for; "" and 0 leave a setting out."""

    count: int
    prefix: str = "kit"
    wifi_ssid: str = ""
    wifi_password: str = ""
    country: str = ""
    timezone: str = ""
    profile: str = ""
    provider_url: str = ""
    model: str = ""
    vision_model: str = ""
    transcription_model: str = ""
    max_requests_per_hour: int = 0
    max_requests_per_day: int = 0
    max_tokens_per_day: int = 0
    # the button held this long asks to forget the visitor (a spoken yes does it); 0: no gesture
    reset_hold_seconds: float = 8.0
    web_tokens: Sequence[str] = ()  # one companion-page token per kit, in kit order; () none


def kit_names(prefix: str, count: int) -> list[str]:
    """``kit-01`` ... ``kit-20``: zero-padded so the folders sort as the kits are numbered."""
    if not 1 <= count <= MAX_KITS:
        raise ConfigError(f"--count must be 1..{MAX_KITS}, got {count}")
    width = max(2, len(str(count)))
    return [f"{prefix}-{number:0{width}d}" for number in range(1, count + 1)]


def read_keys(path: Path, count: int) -> list[str]:
    """The first ``count`` keys in ``path``, one a line (blank lines and ``#`` lines skipped).

    Errors name the file and the line, never a key."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the keys: {exc}") from exc
    keys: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        key = line.strip()
        if not key or key.startswith("#"):
            continue
        if not is_clean_key(key):
            raise ConfigError(
                f"{path}: line {number}: not a key on its own (spaces inside it, or non-ASCII; "
                "value not shown)"
            )
        keys.append(key)
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{path}: the same key is on two lines; each kit needs its own")
    if len(keys) < count:
        raise ConfigError(f"{path}: {len(keys)} key(s) for {count} kits; put one key on each line")
    return keys[:count]


def render_kit(name: str, plan: KitPlan, key: str = "", web_token: str = "") -> str:
    """The ``zeropin.toml`` of one kit."""
    lines = [
        f"# ZeroPin workshop kit {name}: copy this file onto the card's boot partition as",
        "# zeropin.toml. Written by `zeropin workshop kits`; at the first boot the key, the",
        "# Wi-Fi password and the page's token below are moved off the card.",
        "",
        "[system]",
        f"hostname = {toml_value(name)}",
    ]
    lines += _optional("wifi_country", plan.country)
    lines += _optional("wifi_ssid", plan.wifi_ssid)
    lines += _optional("wifi_password", plan.wifi_password)
    lines += _optional("timezone", plan.timezone)
    if plan.profile:
        lines += ["", "[audio]", f"profile = {toml_value(plan.profile)}"]
    if plan.reset_hold_seconds:
        lines += ["", "# between visitors: hold the button this long, then say yes", "[buttons]"]
        lines += [f"reset_hold_seconds = {toml_value(plan.reset_hold_seconds)}"]
    if web_token:
        lines += ["", f"# the companion page, http://{name}.local/", "[web]"]
        lines += [f"token = {toml_value(web_token)}"]
    if plan.provider_url:
        lines += ["", "[llm]", f"chain = [{toml_value(PROVIDER)}]"]
        lines += _optional("max_requests_per_hour", plan.max_requests_per_hour)
        lines += _optional("max_requests_per_day", plan.max_requests_per_day)
        lines += _optional("max_tokens_per_day", plan.max_tokens_per_day)
        lines += ["", f"[providers.{PROVIDER}]", f"base_url = {toml_value(plan.provider_url)}"]
        lines += [f"model = {toml_value(plan.model or 'gpt-4o-mini')}"]
        lines += _optional("vision_model", plan.vision_model)
        lines += _optional("transcription_model", plan.transcription_model)
        lines += _optional("api_key", key)
    return "\n".join(lines) + "\n"


def write_kits(
    plan: KitPlan, out: Path, keys: Sequence[str] | None = None, *, force: bool = False
) -> list[Path]:
    """Write ``out/<name>/zeropin.toml`` for each kit; the files written, in kit order.

    Every file is checked by the daemon's config loader first; none is written if one fails,
    or (without ``force``) if one is already there."""
    names = kit_names(plan.prefix, plan.count)
    if keys is not None and len(keys) < len(names):
        raise ConfigError(f"{len(keys)} key(s) for {len(names)} kits")
    targets = [out / name / KIT_FILE for name in names]
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        raise KitsExist(
            f"{existing[0]} is already there ({len(existing)} of the {len(targets)} kit files "
            "are); add --force to write over them"
        )
    tokens = list(plan.web_tokens) or [""] * len(names)
    texts = [
        render_kit(name, plan, keys[index] if keys else "", tokens[index])
        for index, name in enumerate(names)
    ]
    for target, text in zip(targets, texts, strict=True):
        check_kit_file(text, target)
    for target, text in zip(targets, texts, strict=True):
        write_atomically(target, text.encode("utf-8"), mode=0o600)
    return targets


def new_web_tokens(count: int) -> list[str]:
    """One random companion-page token per kit (as ``zeropin web token`` would make)."""
    return [secrets.token_urlsafe(24) for _ in range(count)]


def write_token_sheet(out: Path, names: Sequence[str], tokens: Sequence[str]) -> Path:
    """``out/web-tokens.txt``: each kit's page address and token, for the teacher (mode 0600)."""
    lines = ["# kit, its companion page, the token that opens it (docs/companion.md)"]
    pairs = zip(names, tokens, strict=True)
    lines += [f"{name}  http://{name}.local/  {token}" for name, token in pairs]
    sheet = out / "web-tokens.txt"
    write_atomically(sheet, ("\n".join(lines) + "\n").encode("utf-8"), mode=0o600)
    return sheet


def check_kit_file(text: str, shown_as: Path) -> None:
    """ConfigError, naming ``shown_as`` and the key, if the daemon would refuse ``text``."""
    with tempfile.TemporaryDirectory(prefix="zeropin-kit-") as folder:
        path = Path(folder) / KIT_FILE
        write_atomically(path, text.encode("utf-8"), mode=0o600)  # as private as the real one
        try:
            load_config(paths=[path], env={}, secrets_paths=[], page_paths=[])
        except ConfigError as exc:
            raise ConfigError(str(exc).replace(str(path), str(shown_as))) from None


def _optional(key: str, value: str | int | float) -> list[str]:
    return [f"{key} = {toml_value(value)}"] if value else []
