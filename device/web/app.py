"""The companion page's routes: each gathers its data (``pages``) and fills a template.

Every request is checked in ``_guard`` before any route runs: from the LAN, not too many, and
holding the session cookie or the token as a bearer header. Only ``/login`` is open, and it is
braked: five wrong tokens a minute from one address, then it waits. The token itself is never
put in a response, a log line or a URL.

Example::

    app = create_app(Site(layers, state_dir, token))
    app.run()  # or device.web.serve, which is what zeropin web serve does
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, redirect, render_template, request, url_for

from device.config.render import render_config
from device.config.text import is_secret, without_credentials
from device.errors import ConfigError, StorageError
from device.web import pages
from device.web.auth import Brake, form_key, is_session, on_lan, same_secret, session_cookie
from device.web.settings import Layers, change, editable_keys

log = logging.getLogger(__name__)

COOKIE = "zeropin_session"
COOKIE_DAYS = 30
# no scripts at all; styles inline in the template; images only the page's own SVG
_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_OPEN = frozenset({"login"})  # endpoints served without a session
_PAGE_PATH = re.compile(r"/(?:[a-z]+)?")  # the pages' paths: "/", "/turns"...
# What a request may carry: a form of a setting's name and value, or a token. A bigger one is
# refused before it is read (waitress would spool it to a file first: the card, or memory).
MAX_REQUEST_BYTES = 16 * 1024


@dataclass
class Site:
    """What the page serves: the device's settings layers, state directory and token."""

    layers: Layers
    state_dir: Path
    # the token, or how to read it now (a file `zeropin web token --new` may replace meanwhile)
    token: str | Callable[[], str]
    wrong_tokens: Brake = field(default_factory=lambda: Brake(5, 60.0))
    requests: Brake = field(default_factory=lambda: Brake(240, 60.0))
    last_request: float = field(default_factory=time.monotonic)  # for the idle exit

    def secret(self) -> str:
        return self.token() if callable(self.token) else self.token


def create_app(site: Site) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.jinja_env.filters["when"] = _when
    app.jinja_env.filters["ms"] = _ms
    app.before_request(lambda: _guard(site))
    app.after_request(_headers)
    # a settings file broken by hand, a database the disk lost: the page says which and why
    app.register_error_handler(ConfigError, lambda exc: _trouble(site, exc))
    app.register_error_handler(StorageError, lambda exc: _trouble(site, exc))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        return _login(site)

    @app.route("/logout", methods=["POST"])
    def logout() -> Any:
        response = redirect(url_for("login"))
        response.delete_cookie(COOKIE)
        return response

    @app.route("/")
    def status() -> Any:
        cfg, _ = site.layers.load()
        return _page("status.html", page=pages.status_page(cfg, site.state_dir), site=site)

    @app.route("/turns")
    def turns() -> Any:
        return _page("turns.html", page=pages.turns_page(site.state_dir), site=site)

    @app.route("/notes")
    def notes() -> Any:
        shown, count = pages.notes_page(site.state_dir)
        return _page("notes.html", notes=shown, count=count, site=site)

    @app.route("/privacy")
    def privacy() -> Any:
        rows, totals = pages.ledger_page(site.state_dir)
        return _page("privacy.html", rows=rows, totals=totals, site=site)

    @app.route("/wake")
    def wake() -> Any:
        cfg, _ = site.layers.load()
        return _page("wake.html", page=pages.wake_page(cfg), site=site)

    @app.route("/settings", methods=["GET", "POST"])
    def settings() -> Any:
        return _settings(site)

    return app


def _page(template: str, status: int = 200, **values: Any) -> Response:
    site: Site = values["site"]
    html = render_template(template, form_key=form_key(site.secret()), **values)
    return Response(html, status, mimetype="text/html")


def _trouble(site: Site, exc: Exception) -> Response:
    return _page("trouble.html", 500, problem=without_credentials(str(exc)), site=site)


def _client() -> str:
    return request.remote_addr or ""


def _guard(site: Site) -> Any:
    site.last_request = time.monotonic()
    client = _client()
    if not on_lan(client):
        log.warning("refused %s: not on the local network", client)
        return Response("This page is served to the local network only.\n", 403)
    wait = site.requests.blocked_for(client)
    if wait:
        return _too_many(wait)
    site.requests.count(client)
    if request.endpoint in _OPEN or is_session(request.cookies.get(COOKIE, ""), site.secret()):
        return None
    bearer = request.headers.get("Authorization", "")
    if bearer.startswith("Bearer "):
        return _bearer(site, client, bearer.removeprefix("Bearer ").strip())
    if request.method == "GET":
        return redirect(url_for("login", next=request.path))
    return Response("Log in first.\n", 401)


def _bearer(site: Site, client: str, given: str) -> Any:
    wait = site.wrong_tokens.blocked_for(client)
    if wait:
        return _too_many(wait)
    if same_secret(given, site.secret()):
        return None
    site.wrong_tokens.count(client)
    log.warning("wrong token from %s", client)  # never the token tried: it may be a near miss
    return Response("Wrong token.\n", 401)


def _too_many(wait: float) -> Response:
    seconds = max(1, round(wait))
    response = Response(f"Too many tries; wait {seconds} s.\n", 429)
    response.headers["Retry-After"] = str(seconds)
    return response


def _safe_next(target: str) -> str:
    """Only one of this site's own paths: never an address elsewhere ("//evil", "/\\evil",
    "/%09/evil": browsers drop tabs and read backslashes as slashes)."""
    return target if _PAGE_PATH.fullmatch(target) else "/"


def _login(site: Site) -> Any:
    target = _safe_next(request.values.get("next", "/"))
    if request.method == "GET":
        return _page("login.html", next=target, error="", site=site)
    client = _client()
    wait = site.wrong_tokens.blocked_for(client)
    if wait:
        return _too_many(wait)
    if not same_secret(request.form.get("token", "").strip(), site.secret()):
        site.wrong_tokens.count(client)
        log.warning("wrong token from %s", client)
        error = "That is not the token. On the device, zeropin web token prints it."
        return _page("login.html", 401, next=target, error=error, site=site)
    response = redirect(target)
    response.set_cookie(
        COOKIE,
        session_cookie(site.secret()),
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="Strict",
    )
    return response


def _settings(site: Site) -> Response:
    message, error, status = "", "", 200
    name = request.form.get("name", "")
    if request.method == "POST":
        if not same_secret(request.form.get("form_key", ""), form_key(site.secret())):
            return Response("This form is from another page; reload the settings page.\n", 400)
        forget = request.form.get("action") == "forget"
        try:
            message = change(site.layers, name, request.form.get("value", ""), forget=forget)
        except (ConfigError, StorageError) as exc:
            error, status = without_credentials(str(exc)), 400
    cfg, sources = site.layers.load()
    shown = without_credentials(render_config(cfg, sources))
    return _page(
        "settings.html",
        status,
        merged=shown,
        keys=editable_keys(cfg),
        page_file=site.layers.page_file,
        message=message,
        error=error,
        name=name,
        # what was typed, to correct it; never a secret (refused anyway, but not echoed)
        value=request.form.get("value", "") if error and not is_secret(name) else "",
        site=site,
    )


def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"  # a phone's cache is no place for notes
    return response


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S") if seconds else ""


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} ms"
