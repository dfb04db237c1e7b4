"""Model manifest and fetch, against a real HTTP server on loopback serving archives built here."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from device.config.sources import load_config
from device.errors import ModelError
from device.system.manifest import (
    MANIFEST_PATH,
    ModelSpec,
    fetch,
    load_manifest,
    marker_path,
    require,
    shipped_file,
    verify,
)
from device.system.paths import resolved_vosk_model

FOLDER = "vosk-model-test-0.1"
MODEL_FILES = {f"{FOLDER}/am/final.mdl": b"acoustic model", f"{FOLDER}/conf/model.conf": b"--x=1\n"}
TIMEOUT = (2.0, 2.0)  # (connect, read) seconds: every wait on the server is bounded


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes
    announced_length: int | None = None  # Content-Length to claim, if not len(body)
    stall: bool = False  # send half the body, then go quiet (until the test ends, at most 5 s)


class ModelServer(ThreadingHTTPServer):
    """A loopback HTTP server that serves routes and counts requests."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.release = threading.Event()

    def url(self, path: str) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: ModelServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(route.announced_length or len(route.body)))
        self.end_headers()
        if route.stall:
            self.wfile.write(route.body[: len(route.body) // 2])
            self.wfile.flush()
            self.server.release.wait(timeout=5)
        else:
            self.wfile.write(route.body)
        self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server() -> Iterator[ModelServer]:
    srv = ModelServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def make_tar_gz(files: dict[str, bytes], symlink: tuple[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            link = tarfile.TarInfo(symlink[0])
            link.type = tarfile.SYMTYPE
            link.linkname = symlink[1]
            tf.addfile(link)
    return buffer.getvalue()


def serve(
    server: ModelServer,
    body: bytes,
    path: str = "/model.zip",
    announced_length: int | None = None,
    stall: bool = False,
) -> ModelSpec:
    """Serve ``body`` at ``path`` and return a spec that matches it."""
    server.routes[path] = Route(body, announced_length, stall)
    return ModelSpec(
        name="test-model",
        url=server.url(path),
        sha256=hashlib.sha256(body).hexdigest(),
        size_bytes=len(body),
        licence="Apache-2.0",
        archive="zip",
        unpacks_to=FOLDER,
        audio="16 kHz mono",
        description="a fake model",
    )


def assert_left_empty(models_dir: Path) -> None:
    assert sorted(p.name for p in models_dir.iterdir()) == []


# --- fetch: success -------------------------------------------------------------------------


def test_fetch_installs_zip_and_writes_marker(server: ModelServer, models_dir: Path) -> None:
    spec = serve(server, make_zip(MODEL_FILES))
    seen: list[tuple[int, int]] = []

    path = fetch(
        spec, models_dir, timeout=TIMEOUT, progress=lambda n, total: seen.append((n, total))
    )

    assert path == models_dir / FOLDER
    assert (path / "am" / "final.mdl").read_bytes() == b"acoustic model"
    assert (path / "conf" / "model.conf").read_bytes() == b"--x=1\n"
    assert marker_path(path).read_text().strip() == spec.sha256
    assert verify(spec, path)
    assert sorted(p.name for p in models_dir.iterdir()) == [FOLDER, FOLDER + ".sha256"]
    assert seen[-1] == (spec.size_bytes, spec.size_bytes)


def test_fetch_again_makes_no_request(server: ModelServer, models_dir: Path) -> None:
    spec = serve(server, make_zip(MODEL_FILES))
    first = fetch(spec, models_dir, timeout=TIMEOUT)
    second = fetch(spec, models_dir, timeout=TIMEOUT)
    assert first == second
    assert server.requests == ["/model.zip"]


def test_fetch_installs_tar_gz(server: ModelServer, models_dir: Path) -> None:
    spec = replace(serve(server, make_tar_gz(MODEL_FILES), "/model.tar.gz"), archive="tar.gz")
    path = fetch(spec, models_dir, timeout=TIMEOUT)
    assert (path / "am" / "final.mdl").read_bytes() == b"acoustic model"
    assert verify(spec, path)


def test_fetch_installs_single_file(server: ModelServer, models_dir: Path) -> None:
    spec = replace(serve(server, b"tflite bytes", "/hey_zero.tflite"), archive="file")
    spec = replace(spec, unpacks_to="hey_zero.tflite")
    path = fetch(spec, models_dir, timeout=TIMEOUT)
    assert path == models_dir / "hey_zero.tflite"
    assert path.read_bytes() == b"tflite bytes"
    assert verify(spec, path)


def test_fetch_replaces_model_without_marker(server: ModelServer, models_dir: Path) -> None:
    stale = models_dir / FOLDER
    stale.mkdir(parents=True)
    (stale / "half-unzipped-by-hand").write_bytes(b"")
    spec = serve(server, make_zip(MODEL_FILES))

    path = fetch(spec, models_dir, timeout=TIMEOUT)

    assert not (path / "half-unzipped-by-hand").exists()
    assert (path / "am" / "final.mdl").is_file()
    assert sorted(p.name for p in models_dir.iterdir()) == [FOLDER, FOLDER + ".sha256"]


# --- fetch: failures leave models_dir as it was ---------------------------------------------


def test_wrong_checksum_is_refused_and_deleted(server: ModelServer, models_dir: Path) -> None:
    spec = replace(serve(server, make_zip(MODEL_FILES)), sha256="0" * 64)
    with pytest.raises(ModelError, match=r"expected sha256 0{64}, got [0-9a-f]{64}"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert_left_empty(models_dir)


def test_http_404_names_url_and_how_to_fetch_by_hand(server: ModelServer, models_dir: Path) -> None:
    spec = replace(serve(server, b"unused"), url=server.url("/gone.zip"))
    with pytest.raises(ModelError) as caught:
        fetch(spec, models_dir, timeout=TIMEOUT)
    message = str(caught.value)
    assert "HTTP 404" in message
    assert spec.url in message
    assert f"unpack it in {models_dir}" in message
    assert_left_empty(models_dir)


def test_connection_closed_mid_download(server: ModelServer, models_dir: Path) -> None:
    body = make_zip(MODEL_FILES)
    spec = serve(server, body, announced_length=len(body) + 10_000)
    spec = replace(spec, size_bytes=len(body) + 10_000)
    with pytest.raises(ModelError, match="Could not download test-model"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert_left_empty(models_dir)


def test_stalled_server_times_out(server: ModelServer, models_dir: Path) -> None:
    spec = serve(server, make_zip(MODEL_FILES), stall=True)
    with pytest.raises(ModelError, match="Could not download test-model"):
        fetch(spec, models_dir, timeout=(2.0, 0.3))
    assert_left_empty(models_dir)


def test_nothing_listening_is_a_model_error(server: ModelServer, models_dir: Path) -> None:
    spec = serve(server, b"unused")
    server.shutdown()
    server.server_close()  # the port is closed now: connection refused
    with pytest.raises(ModelError, match="Could not download test-model"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert_left_empty(models_dir)


def test_download_larger_than_manifest_is_cut_off(server: ModelServer, models_dir: Path) -> None:
    spec = serve(server, make_zip(MODEL_FILES))
    spec = replace(spec, size_bytes=spec.size_bytes - 1)
    with pytest.raises(ModelError, match="larger than the manifest"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert_left_empty(models_dir)


@pytest.mark.parametrize("evil", ["../evil", f"{FOLDER}/../../evil", "/tmp/zeropin-evil"])
def test_zip_escaping_the_folder_is_refused(
    server: ModelServer, models_dir: Path, tmp_path: Path, evil: str
) -> None:
    spec = serve(server, make_zip({**MODEL_FILES, evil: b"pwned"}))
    with pytest.raises(ModelError, match="outside the model folder"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert_left_empty(models_dir)
    assert not (tmp_path / "evil").exists()


def test_tar_symlink_is_refused(server: ModelServer, models_dir: Path) -> None:
    body = make_tar_gz(MODEL_FILES, symlink=(f"{FOLDER}/link", "/etc/passwd"))
    spec = replace(serve(server, body, "/model.tar.gz"), archive="tar.gz")
    with pytest.raises(ModelError, match="not a plain file or folder"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert_left_empty(models_dir)


def test_archive_without_the_expected_folder(server: ModelServer, models_dir: Path) -> None:
    spec = replace(serve(server, make_zip(MODEL_FILES)), unpacks_to="vosk-model-other")
    with pytest.raises(ModelError, match="has no vosk-model-other/ folder"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert_left_empty(models_dir)


def test_unpinned_checksum_needs_trust_unverified(server: ModelServer, models_dir: Path) -> None:
    spec = replace(serve(server, make_zip(MODEL_FILES)), sha256="")
    with pytest.raises(ModelError, match="--trust-unverified"):
        fetch(spec, models_dir, timeout=TIMEOUT)
    assert server.requests == []

    path = fetch(spec, models_dir, timeout=TIMEOUT, trust_unverified=True)
    assert (path / "am" / "final.mdl").is_file()
    assert verify(spec, path)


# --- verify and require ---------------------------------------------------------------------


def test_verify_needs_a_matching_marker(server: ModelServer, models_dir: Path) -> None:
    spec = serve(server, make_zip(MODEL_FILES))
    path = fetch(spec, models_dir, timeout=TIMEOUT)
    assert not verify(replace(spec, sha256="1" * 64), path)
    marker_path(path).unlink()
    assert not verify(spec, path)
    assert not verify(spec, models_dir / "absent")


def test_require_missing_model_says_how_to_fetch(tmp_path: Path) -> None:
    spec = load_manifest()["vosk-small-en-us"]
    path = tmp_path / "models" / spec.unpacks_to
    with pytest.raises(ModelError) as caught:
        require("vosk-small-en-us", path)
    message = str(caught.value)
    assert "zeropin models fetch vosk-small-en-us" in message
    assert str(path) in message
    assert spec.url in message
    assert isinstance(caught.value, FileNotFoundError)


def test_require_without_manifest_entry_still_says_how(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="zeropin models fetch wake-word"):
        require("wake-word", tmp_path / "missing.tflite", manifest={})


def test_require_returns_existing_path(tmp_path: Path) -> None:
    assert require("vosk-small-en-us", tmp_path) == tmp_path


# --- manifest -------------------------------------------------------------------------------


def test_shipped_manifest_is_well_formed() -> None:
    specs = load_manifest()
    repo_manifest = Path(__file__).resolve().parents[2] / "models" / "manifest.toml"
    assert repo_manifest == MANIFEST_PATH
    assert specs
    for name, spec in specs.items():
        assert spec.name == name
        # "" would be the documented not-yet-pinned case; fetch then needs --trust-unverified
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256) or spec.sha256 == ""
        assert spec.size_bytes > 0
        if spec.path:  # ships in the repository: its size and checksum are the file's
            shipped = MANIFEST_PATH.parent / spec.path
            assert shipped_file(spec) == shipped
            assert shipped.stat().st_size == spec.size_bytes
            assert spec.unpacks_to == shipped.name
            continue
        assert spec.url.startswith("https://")
        assert spec.url.endswith(spec.archive) or spec.archive == "file"


def test_shipped_vosk_model_is_where_the_config_looks() -> None:
    spec = load_manifest()["vosk-small-en-us"]
    assert spec.sha256, "the default ASR model must be pinned"
    assert resolved_vosk_model(load_config(paths=[], env={})).name == spec.unpacks_to


GOOD_ENTRY = """\
[m]
url = "https://example.invalid/m.zip"
sha256 = "{sha}"
size_bytes = 10
licence = "MIT"
archive = "zip"
unpacks_to = "m-1"
audio = "16 kHz mono"
description = "a model"
""".replace("{sha}", "a" * 64)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (('sha256 = "' + "a" * 64, 'sha256 = "abc'), "sha256"),
        (("size_bytes = 10", 'size_bytes = "10"'), "size_bytes"),
        (('archive = "zip"', 'archive = "rar"'), "archive"),
        (('unpacks_to = "m-1"', 'unpacks_to = "../m-1"'), "unpacks_to"),
        (('licence = "MIT"\n', 'licence = "MIT"\nlicense = "MIT"\n'), "license"),
        (('audio = "16 kHz mono"\n', ""), "audio"),
    ],
)
def test_malformed_manifest_names_file_and_key(
    tmp_path: Path, change: tuple[str, str], key: str
) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(GOOD_ENTRY.replace(*change))
    with pytest.raises(ModelError, match=rf"^{re.escape(str(manifest))}: \[m\] {key}: "):
        load_manifest(manifest)


SHIPPED_ENTRY = """\
[w]
path = "wakeword/w.tflite"
url = ""
sha256 = "{sha}"
size_bytes = 10
licence = "Apache-2.0"
archive = "file"
unpacks_to = "w.tflite"
audio = "16 kHz mono"
description = "a shipped model"
""".replace("{sha}", "b" * 64)


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        (('url = ""', 'url = "https://example.invalid/w"'), "url", 'must be ""'),
        (('archive = "file"', 'archive = "zip"'), "archive", 'must be "file"'),
        (('sha256 = "' + "b" * 64, 'sha256 = "'), "sha256", "needs its sha256"),
        (('path = "wakeword', 'path = "../wakeword'), "path", "a path inside models/"),
    ],
)
def test_shipped_entry_rules(tmp_path: Path, change: tuple[str, str], key: str, reason: str):
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(SHIPPED_ENTRY.replace(*change))
    with pytest.raises(ModelError, match=rf"\[w\] {key}: .*{re.escape(reason)}"):
        load_manifest(manifest)


def test_shipped_model_is_not_fetched(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(SHIPPED_ENTRY)
    spec = load_manifest(manifest)["w"]
    with pytest.raises(ModelError, match=r"w ships with ZeroPin \(wakeword/w.tflite\)"):
        fetch(spec, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_good_manifest_entry_loads(tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(GOOD_ENTRY)
    assert load_manifest(manifest)["m"].unpacks_to == "m-1"


def test_missing_and_invalid_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model manifest not found"):
        load_manifest(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[m\n")
    with pytest.raises(ModelError, match="not valid TOML"):
        load_manifest(bad)
