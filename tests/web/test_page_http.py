"""The companion page through HTTP, served by ``zeropin web serve`` as its own process over a
state directory the daemon filled: who gets in, what each page says, settings changed with the
daemon's validation, and no secret in any response or log."""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import requests

from device.web.auth import form_key, on_lan
from web.conftest import API_KEY, TOKEN, PageServer, serving, zeropin

PAGES = ("/", "/turns", "/notes", "/privacy", "/wake", "/settings")
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _text(html: str) -> str:
    """The words a reader sees: tags and styles removed, white space collapsed."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _post_setting(server: PageServer, name: str, value: str, **extra: str) -> requests.Response:
    form = {"form_key": _form_key(server), "name": name, "value": value, "action": "save"}
    return requests.post(server.url + "/settings", data={**form, **extra}, headers=BEARER)


def _form_key(server: PageServer) -> str:
    """The hidden field the settings form carries (read from the page in the browser test)."""
    return form_key(TOKEN)


def test_without_the_token_every_page_sends_to_the_login_and_nothing_is_shown(
    page_server: PageServer,
) -> None:
    for path in PAGES:
        response = requests.get(page_server.url + path, allow_redirects=False)
        assert response.status_code == 302, path
        assert response.headers["Location"] == f"/login?next={path}"
    wrong = requests.get(page_server.url + "/notes", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.text) == (401, "Wrong token.\n")
    posted = requests.post(page_server.url + "/settings", data={"name": "tts.rate_wpm"})
    assert posted.status_code == 401
    assert "milk" not in wrong.text + posted.text


def test_the_token_opens_each_page_and_it_shows_what_the_daemon_did(
    page_server: PageServer,
) -> None:
    shown = {}
    for path in PAGES:
        response = requests.get(page_server.url + path, headers=BEARER)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["Cache-Control"] == "no-store"
        assert "script-src" not in response.headers["Content-Security-Policy"]  # no scripts
        shown[path] = _text(response.text)
    # the daemon has stopped: its lights went off when the replay ended
    assert "stopped since" in shown["/"]
    assert "Privacy indicator off nothing is leaving the device" in shown["/"]
    # three turns, newest first, each with its stages drawn
    assert re.findall(r"· (?:wake) · (\w+) ·", shown["/turns"]) == ["brain", "note_add", "time"]
    turns_html = requests.get(page_server.url + "/turns", headers=BEARER).text
    assert turns_html.count('<svg class="waterfall"') == 3
    assert turns_html.count('class="cloud"') == 1  # only the question went to the cloud
    assert "buy" in shown["/notes"] and "The 1 newest of 1" in shown["/notes"]
    assert re.search(r"\d\d:\d\d:\d\d text [\d,]+ 127\.0\.0\.1 chat", shown["/privacy"])
    assert "none made; in use: the model card's rule" in shown["/wake"]
    assert "[providers.homelab]" in shown["/settings"]


def test_five_wrong_tokens_a_minute_and_the_login_waits(page_server: PageServer) -> None:
    login = page_server.url + "/login"
    for attempt in range(5):
        response = requests.post(login, data={"token": f"guess-{attempt}"}, allow_redirects=False)
        assert response.status_code == 401
        assert "That is not the token" in response.text
    braked = requests.post(login, data={"token": TOKEN}, allow_redirects=False)
    assert braked.status_code == 429
    assert 1 <= int(braked.headers["Retry-After"]) <= 60
    log = page_server.log()
    assert log.count("wrong token from 127.0.0.1") == 5
    assert "guess-" not in log and TOKEN not in log


def test_logging_in_gives_a_cookie_that_opens_the_pages(page_server: PageServer) -> None:
    session = requests.Session()
    response = session.post(
        page_server.url + "/login", data={"token": TOKEN, "next": "/notes"}, allow_redirects=False
    )
    assert (response.status_code, response.headers["Location"]) == (302, "/notes")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert "buy" in session.get(page_server.url + "/notes").text
    for away in ("//evil.example/", "/\\evil.example", "/\t/evil.example", "http://evil.example"):
        elsewhere = session.post(
            page_server.url + "/login", data={"token": TOKEN, "next": away}, allow_redirects=False
        )
        assert elsewhere.headers["Location"] == "/", away


def test_a_setting_is_checked_as_the_daemon_checks_it_then_saved_for_the_daemon(
    page_server: PageServer,
) -> None:
    page_file = page_server.page_file
    page_file.parent.mkdir(parents=True)
    page_file.write_text("# the owner's own note, kept\n[tts]\nvolume_percent = 90\n")
    refused = _post_setting(page_server, "tts.rate_wpm", "fast")
    assert refused.status_code == 400
    assert f'{page_file}: [tts] rate_wpm: expected an integer, got "fast"' in _text(refused.text)
    assert page_file.read_text() == "# the owner's own note, kept\n[tts]\nvolume_percent = 90\n"
    unknown = _post_setting(page_server, "tts.speed", "3")
    assert f"{page_file}: [tts] speed: unknown key" in _text(unknown.text)

    saved = _post_setting(page_server, "tts.rate_wpm", "160")
    assert saved.status_code == 200
    assert f"[tts] rate_wpm = 160 saved in {page_file}" in _text(saved.text)
    assert page_file.read_text() == (
        "# the owner's own note, kept\n[tts]\nvolume_percent = 90\nrate_wpm = 160\n"
    )
    assert f"rate_wpm = 160 # {page_file}" in _text(saved.text)  # the merged view says whence
    # the daemon's own loader reads it, from that file
    shown = zeropin(page_server.root, "config", "show")
    assert f"rate_wpm = 160  # {page_file}" in shown.stdout, shown.stderr

    forgotten = _post_setting(page_server, "tts.rate_wpm", "", action="forget")
    assert "[tts] rate_wpm forgotten" in _text(forgotten.text)
    assert "rate_wpm" not in page_file.read_text()


def test_secrets_and_firstboot_settings_are_not_changed_from_the_page(
    page_server: PageServer,
) -> None:
    secret = _post_setting(page_server, "web.token", "typed-into-a-form-0123456789")
    assert secret.status_code == 400
    assert "secrets are not changed over the network" in secret.text
    assert "typed-into-a-form" not in secret.text
    # a provider's address decides where its key goes: not for a cookie on the LAN to change
    moved = _post_setting(page_server, "providers.homelab.base_url", '"http://elsewhere/v1"')
    assert moved.status_code == 400 and "providers are set up over SSH" in _text(moved.text)
    system = _post_setting(page_server, "system.hostname", '"kit-09"')
    assert "applied at boot from the boot partition" in system.text
    foreign = requests.post(
        page_server.url + "/settings",
        data={"form_key": "0" * 64, "name": "tts.rate_wpm", "value": "150"},
        headers=BEARER,
    )
    assert foreign.status_code == 400
    assert not page_server.page_file.exists()


def test_no_secret_reaches_a_response_or_the_log(page_server: PageServer) -> None:
    """The provider's API key (in the secrets file) and the page's token (in the config file)
    appear in no page, header or log line, whatever is asked."""
    session = requests.Session()
    session.post(page_server.url + "/login", data={"token": "wrong"})
    session.post(page_server.url + "/login", data={"token": TOKEN})
    responses = [session.get(page_server.url + path) for path in PAGES]
    responses.append(_post_setting(page_server, "providers.homelab.api_key", API_KEY))
    responses.append(_post_setting(page_server, "web.token", TOKEN))
    responses.append(requests.get(page_server.url + "/nowhere", headers=BEARER))
    for response in responses:
        everything = response.text + str(response.headers)
        assert API_KEY not in everything and TOKEN not in everything, response.url
    assert all(r.status_code in (200, 400, 404) for r in responses)
    assert 'api_key = "***"' in _text(responses[PAGES.index("/settings")].text)
    log = page_server.log()
    assert API_KEY not in log and TOKEN not in log


def test_lan_addresses_only() -> None:
    assert all(
        on_lan(a) for a in ("127.0.0.1", "192.168.1.20", "10.1.2.3", "172.16.0.9", "::1",
                            "fe80::1%wlan0", "::ffff:192.168.0.7", "fd00::5")
    )  # fmt: skip
    assert not any(
        on_lan(a) for a in ("8.8.8.8", "2001:4860::8888", "100.64.0.1", "2001:0:5ef5::1", "", "x")
    )  # 2001::/32 is Teredo: "private" to Python 3.11, but tunnelled in from the internet


def test_a_settings_file_broken_by_hand_is_named_on_the_page(page_server: PageServer) -> None:
    page_server.page_file.parent.mkdir(parents=True)
    page_server.page_file.write_text("[tts]\nrate_wpm = = 3\n")
    for path in ("/", "/settings"):
        response = requests.get(page_server.url + path, headers=BEARER)
        assert response.status_code == 500
        shown = _text(response.text)
        assert f"{page_server.page_file}: line 2:" in shown, shown
        assert "Fix it over SSH" in shown
    assert requests.get(page_server.url + "/notes", headers=BEARER).status_code == 200


def test_a_big_request_is_refused_before_anything_is_read_or_asked(
    page_server: PageServer,
) -> None:
    """Without a token: waitress would otherwise spool the body to a file before the page even
    looks at who is asking, and a stranger on the LAN could fill the card."""
    big = requests.post(page_server.url + "/login", data=b"x" * (1024 * 1024))
    assert big.status_code == 413
    assert requests.get(page_server.url + "/login").status_code == 200  # and it serves on


def test_a_new_token_logs_out_the_old_one_at_once(spoken_state_token_file: PageServer) -> None:
    server = spoken_state_token_file
    old = zeropin(server.root, "web", "token").stdout.strip()
    session = requests.Session()
    session.post(server.url + "/login", data={"token": old})
    assert session.get(server.url + "/notes", allow_redirects=False).status_code == 200
    new = zeropin(server.root, "web", "token", "--new").stdout.strip()
    assert new != old and len(new) >= 32
    assert session.get(server.url + "/notes", allow_redirects=False).status_code == 302
    bearer = {"Authorization": f"Bearer {old}"}
    assert requests.get(server.url + "/notes", headers=bearer).status_code == 401
    bearer = {"Authorization": f"Bearer {new}"}
    assert requests.get(server.url + "/notes", headers=bearer).status_code == 200


def test_a_page_file_broken_by_hand_is_named_when_a_setting_is_changed(
    page_server: PageServer,
) -> None:
    page_server.page_file.parent.mkdir(parents=True)
    page_server.page_file.write_text("[tts\n")
    response = _post_setting(page_server, "tts.rate_wpm", "150")
    assert response.status_code in (400, 500)
    assert str(page_server.page_file) in _text(response.text)
    assert page_server.page_file.read_text() == "[tts\n"


def test_the_page_starts_with_a_config_file_broken_and_says_which(
    spoken_state: Path, tmp_path: Path
) -> None:
    """Socket-activated, a page that failed to start would fail at every visit, until systemd
    gave up on it; it starts on the defaults and names the broken line instead."""
    root = tmp_path / "device"
    shutil.copytree(spoken_state, root, ignore=shutil.ignore_patterns("out", "mic.wav"))
    config = root / "zeropin.toml"
    config.write_text(config.read_text() + "[tts]\nrate_wpm = = 3\n")
    token = zeropin(root, "web", "token")  # the file's: the one in the broken config is unread
    assert token.returncode == 0 and f"{config}: line" in token.stderr
    with serving(root) as server:
        bearer = {"Authorization": f"Bearer {token.stdout.strip()}"}
        broken = requests.get(server.url + "/settings", headers=bearer)
        assert broken.status_code == 500 and f"{config}: line" in _text(broken.text)
        assert requests.get(server.url + "/notes", headers=bearer).status_code == 200
        log = server.log()
    assert f"zeropin web: {config}: line" in log and "going on with the defaults" in log

