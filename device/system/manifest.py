"""The model manifest, and fetching, verifying and finding the models it lists.

Models are downloaded only on request (``zeropin models fetch NAME`` or the image build), never at
import or test time. A fetch streams the download to a hidden temp file in the models folder,
hashing it as it goes, checks it against the manifest's sha256, unpacks it into a hidden temp
folder and renames the result into place, so nobody ever sees half a model. A ``<model>.sha256``
marker written beside the model records the checksum it was installed from; while it matches the
manifest, fetching again does nothing::

    specs = load_manifest()
    path = fetch(specs["vosk-small-en-us"], Path("/var/lib/zeropin/models"))
    # -> /var/lib/zeropin/models/vosk-model-small-en-us-0.15
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any, Literal, cast, get_args

from device.errors import ModelError

if TYPE_CHECKING:  # imported when a model is fetched: the page and the doctor only read
    import requests

log = logging.getLogger(__name__)

Archive = Literal["zip", "tar.gz", "file"]
ARCHIVES: tuple[str, ...] = get_args(Archive)
ProgressCallback = Callable[[int, int], None]  # (bytes received, bytes expected or 0)

REPO_MANIFEST_PATH = Path(__file__).resolve().parents[2] / "models" / "manifest.toml"
INSTALLED_MANIFEST_PATH = Path("/opt/zeropin/models/manifest.toml")
# The repo's copy when running from a checkout, else the one the image build installs.
MANIFEST_PATH = REPO_MANIFEST_PATH if REPO_MANIFEST_PATH.is_file() else INSTALLED_MANIFEST_PATH

CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 30.0  # longest silence from the server, mid-download, before giving up
CHUNK_BYTES = 64 * 1024
MARKER_SUFFIX = ".sha256"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


@dataclass(frozen=True)
class ModelSpec:
    """One ``[name]`` table of the manifest: where a model comes from and what it is."""

    name: str  # the table name, as given to ``zeropin models fetch``
    url: str
    sha256: str  # 64 lowercase hex digits of the download; "" = not pinned
    size_bytes: int  # size of the download; a download growing past it is cut off
    licence: str  # SPDX identifier
    archive: Archive
    unpacks_to: str  # top-level folder of the archive (file name for "file"), installed as is
    audio: str  # the audio format the model expects, e.g. "16 kHz mono"
    description: str
    # A file that ships in this repository, under models/, instead of a download: then url is ""
    # and the file is checked against sha256 when it is loaded.
    path: str = ""


# ---------------------------------------------------------------------------------------------
# Manifest


# How to get the manifest back: it ships with ZeroPin, nobody writes it by hand.
RESTORE_MANIFEST = (
    "restore it with `git checkout -- models/manifest.toml` in a checkout of ZeroPin, or "
    "reinstall ZeroPin; then `zeropin models list` shows what `zeropin models fetch` can fetch"
)


class Manifest(dict[str, ModelSpec]):
    """The manifest's models by name; asking for one it lacks is a ModelError naming the file."""

    def __init__(self, path: Path, specs: dict[str, ModelSpec]) -> None:
        super().__init__(specs)
        self.path = path

    def __missing__(self, name: str) -> ModelSpec:
        raise ModelError(
            f"{self.path}: no model {name!r} in the model manifest (it has "
            f"{', '.join(self) or 'none'}); {RESTORE_MANIFEST}"
        )


def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """Read the manifest; ModelError naming the file, table and key if anything is wrong."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: model manifest not found; {RESTORE_MANIFEST}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model manifest: {exc.strerror}") from exc
    if not data:
        raise ModelError(f"{path}: the model manifest is empty; {RESTORE_MANIFEST}")
    return Manifest(path, {name: _parse_entry(path, name, entry) for name, entry in data.items()})


def _parse_entry(path: Path, name: str, entry: object) -> ModelSpec:
    """One manifest table -> ModelSpec, validating every key."""

    def fail(key: str | None, reason: str) -> ModelError:
        where = f"[{name}] {key}" if key else f"[{name}]"
        return ModelError(f"{path}: {where}: {reason}")

    if not isinstance(entry, dict):
        raise fail(None, "expected a table: [name] followed by its keys")
    if not _NAME.fullmatch(name):
        raise fail(None, "a model name is lowercase letters, digits, '.', '-' and '_'")
    keys = [f.name for f in fields(ModelSpec) if f.name not in ("name", "path")]
    unknown = sorted(entry.keys() - {*keys, "path"})
    if unknown:
        raise fail(unknown[0], f"unknown key (known: {', '.join(keys)}, path)")
    shipped = entry.get("path", "")
    for key in keys:
        if key not in entry:
            raise fail(key, "missing")
        problem = _check_value(key, entry[key], shipped)
        if problem:
            raise fail(key, problem)
    if shipped and (
        not isinstance(shipped, str)
        or PurePosixPath(shipped).is_absolute()
        or ".." in PurePosixPath(shipped).parts
    ):
        raise fail("path", f"expected a path inside models/, got {shipped!r}")
    values = {key: entry[key] for key in keys} | {"path": shipped}
    values["sha256"] = values["sha256"].lower()
    return ModelSpec(name=name, **values)


def _check_value(key: str, value: Any, shipped: str = "") -> str | None:
    """Why a manifest value is wrong, or None if it is fine (``shipped``: the entry's path)."""
    if key == "size_bytes":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"expected a whole number of bytes, got {value!r}"
        return None
    if not isinstance(value, str):
        return f"expected a string, got {value!r}"
    if shipped:
        if key == "url" and value:
            return 'must be "" for a model that ships in the repository (path is set)'
        if key == "archive" and value != "file":
            return 'must be "file" for a model that ships in the repository'
        if key == "sha256" and not value:
            return "a model that ships in the repository needs its sha256"
    elif key == "url" and not value.startswith(("https://", "http://")):
        return f"expected an https:// address, got {value!r}"
    if key == "sha256" and value and not _SHA256.fullmatch(value.lower()):
        return f'expected 64 hex digits (or "" if not pinned yet), got {value!r}'
    if key == "archive" and value not in ARCHIVES:
        return f"expected one of {', '.join(ARCHIVES)}, got {value!r}"
    if key == "unpacks_to" and (value in ("", ".", "..") or PurePosixPath(value).name != value):
        return f"expected a plain file or folder name, got {value!r}"
    return None


# ---------------------------------------------------------------------------------------------
# Checking what is installed


def marker_path(model_path: Path) -> Path:
    """The ``<model>.sha256`` file beside an installed model."""
    return model_path.with_name(model_path.name + MARKER_SUFFIX)


def verify(spec: ModelSpec, path: Path) -> bool:
    """True if ``path`` holds a model that ``fetch`` installed from this manifest entry.

    That is: the model exists and its marker records the manifest's sha256. For an entry
    without a pinned sha256, any marker (left by a ``--trust-unverified`` install) counts.
    """
    try:
        recorded = marker_path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    if not path.exists():
        return False
    return recorded == spec.sha256 if spec.sha256 else bool(recorded)


def shipped_file(spec: ModelSpec, models_root: Path | None = None) -> Path:
    """The repository's copy of a shipped model, after checking it against its sha256."""
    path = (models_root or MANIFEST_PATH.parent) / spec.path
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ModelError(
            f"{path}: the shipped {spec.name} model cannot be read ({exc.strerror}); "
            "restore it from the repository (git checkout -- models/)"
        ) from exc
    if digest != spec.sha256:
        raise ModelError(
            f"{path} does not match its sha256 in {MANIFEST_PATH.name} (changed or damaged); "
            "restore it with git checkout -- models/, or put your own model in [wake] model"
        )
    return path


def require(spec_name: str, path: Path, manifest: Mapping[str, ModelSpec] | None = None) -> Path:
    """Return ``path`` if the model is there; else ModelError saying how to fetch it.

    Used by the daemon at start. ``manifest`` defaults to the shipped one, read only to add the
    download address to the message.
    """
    if path.exists():
        return path
    spec = _lookup(spec_name, manifest)
    by_hand = f" (or {_by_hand(spec, path)})" if spec else ""
    raise ModelError(
        f"Model {spec_name} not found at {path}. "
        f"Fetch it with: zeropin models fetch {spec_name}{by_hand}"
    )


def _lookup(spec_name: str, manifest: Mapping[str, ModelSpec] | None) -> ModelSpec | None:
    """The named spec, or None if it or the manifest is missing (the caller is already failing)."""
    if manifest is None:
        try:
            manifest = load_manifest()
        except ModelError as exc:
            log.debug("No manifest for the model hint: %s", exc)
            return None
    return manifest.get(spec_name)


def _by_hand(spec: ModelSpec, target: Path) -> str:
    """How to do what fetch does, by hand, so that the model ends up at ``target``."""
    if spec.archive == "file":
        return f"download {spec.url} and save it as {target}"
    if target.name == spec.unpacks_to:
        return f"download {spec.url} and unpack it in {target.parent}, which creates {target}"
    return f"download {spec.url}, unpack it and move its {spec.unpacks_to} folder to {target}"


# ---------------------------------------------------------------------------------------------
# Fetching


def fetch(
    spec: ModelSpec,
    models_dir: Path,
    *,
    session: requests.Session | None = None,
    progress: ProgressCallback | None = None,
    trust_unverified: bool = False,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
    source: Path | None = None,
) -> Path:
    """Download, verify and install ``spec`` in ``models_dir``; return the model's path.

    ``source``: a copy of the download already on disk (fetched once for twenty kits, or by an
    image build), used instead of the network and checked the same way.

    Does nothing if the model is already installed and verified. Refuses an entry without a
    sha256 unless ``trust_unverified``. ``timeout`` is (connect, read) seconds. On any failure
    raises ModelError and leaves ``models_dir`` as it was (no temp files, no half model).
    """
    if spec.path:
        raise ModelError(f"{spec.name} ships with ZeroPin ({spec.path}): there is nothing to fetch")
    target = models_dir / spec.unpacks_to
    if verify(spec, target):
        log.info("%s is already installed at %s", spec.name, target)
        return target
    if not spec.sha256 and not trust_unverified:
        raise ModelError(
            f"{spec.name} has no sha256 in the manifest, so its download cannot be checked; "
            "fetch it with --trust-unverified to install it anyway"
        )
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        fd, part_name = tempfile.mkstemp(
            dir=models_dir, prefix=f".{spec.unpacks_to}.", suffix=".part"
        )
    except OSError as exc:
        raise ModelError(f"Cannot write to {models_dir}: {exc.strerror}") from exc
    part = Path(part_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if source is not None:
                digest = _copy_local(spec, source, out)
            else:
                digest = _download(spec, target, out, session, progress, timeout)
        _check_digest(spec, digest)
        _install(spec, part, target)
        marker_path(target).write_text(digest + "\n", encoding="ascii")
    except ModelError:
        raise
    except OSError as exc:
        raise ModelError(f"Could not install {spec.name} in {models_dir}: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    log.info("Installed %s at %s", spec.name, target)
    return target


def _copy_local(spec: ModelSpec, source: Path, out: IO[bytes]) -> str:
    """Copy ``source`` into ``out``; return the sha256 of what was copied."""
    hasher = hashlib.sha256()
    try:
        with source.open("rb") as file:
            while block := file.read(CHUNK_BYTES):
                hasher.update(block)
                out.write(block)
    except OSError as exc:
        raise ModelError(f"cannot read {source} for {spec.name}: {exc.strerror}") from exc
    return hasher.hexdigest()


def _download(
    spec: ModelSpec,
    target: Path,
    out: IO[bytes],
    session: requests.Session | None,
    progress: ProgressCallback | None,
    timeout: tuple[float, float],
) -> str:
    """Stream ``spec.url`` into ``out``; return the sha256 of what was received."""
    import requests

    http = session if session is not None else requests.Session()
    hasher = hashlib.sha256()
    received = 0
    expected: int | None = None
    log.info("Downloading %s from %s (%d bytes)", spec.name, spec.url, spec.size_bytes)
    try:
        # identity: the byte count must match Content-Length, and the checksum the file itself
        with http.get(
            spec.url, stream=True, timeout=timeout, headers={"Accept-Encoding": "identity"}
        ) as response:
            response.raise_for_status()
            expected = _content_length(response)
            for chunk in response.iter_content(CHUNK_BYTES):
                received += len(chunk)
                if spec.size_bytes and received > spec.size_bytes:
                    reason = f"it is larger than the manifest's {spec.size_bytes} bytes"
                    raise _download_error(spec, target, reason)
                hasher.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(received, expected or spec.size_bytes)
    except requests.HTTPError as exc:
        answer = exc.response
        reason = f"HTTP {answer.status_code} {answer.reason}" if answer is not None else str(exc)
        raise _download_error(spec, target, reason) from exc
    except requests.RequestException as exc:
        reason = f"the connection failed after {received} bytes ({type(exc).__name__}: {exc})"
        raise _download_error(spec, target, reason) from exc
    finally:
        if session is None:
            http.close()
    if expected is not None and received != expected:
        reason = f"the connection closed after {received} of {expected} bytes"
        raise _download_error(spec, target, reason)
    return hasher.hexdigest()


def _content_length(response: requests.Response) -> int | None:
    """The Content-Length the server announced, if any."""
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _download_error(spec: ModelSpec, target: Path, reason: str) -> ModelError:
    """ModelError saying what failed and how to fetch the model by hand."""
    return ModelError(
        f"Could not download {spec.name} from {spec.url}: {reason.rstrip('.')}. "
        f"To fetch it by hand, {_by_hand(spec, target)}."
    )


def _check_digest(spec: ModelSpec, digest: str) -> None:
    """ModelError unless the download's sha256 is the manifest's (warn if there is none)."""
    if not spec.sha256:
        log.warning(
            "Installing %s unverified (--trust-unverified); its sha256 is %s", spec.name, digest
        )
        return
    if digest != spec.sha256:
        raise ModelError(
            f"Checksum mismatch for {spec.name} from {spec.url}: expected sha256 {spec.sha256}, "
            f"got {digest}. The download was deleted; try again, and if it still fails the file "
            "upstream has changed and the manifest needs updating."
        )


# ---------------------------------------------------------------------------------------------
# Installing


def _install(spec: ModelSpec, download: Path, target: Path) -> None:
    """Put the verified ``download`` at ``target``, atomically, replacing what was there."""
    if spec.archive == "file":
        marker_path(target).unlink(missing_ok=True)
        os.replace(download, target)
        return
    staging = Path(
        tempfile.mkdtemp(dir=target.parent, prefix=f".{spec.unpacks_to}.", suffix=".unpack")
    )
    try:
        _unpack(cast(Archive, spec.archive), download, staging)
        unpacked = staging / spec.unpacks_to
        if not unpacked.is_dir():
            raise ModelError(
                f"The {spec.name} archive from {spec.url} has no {spec.unpacks_to}/ folder at "
                "its top: the manifest's unpacks_to does not match the archive"
            )
        marker_path(target).unlink(missing_ok=True)
        _move_into_place(unpacked, target, attic=staging / ".replaced")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into_place(source: Path, target: Path, attic: Path) -> None:
    """Rename ``source`` to ``target``; an existing ``target`` is first moved to ``attic``."""
    if target.exists() or target.is_symlink():
        log.warning("Replacing %s, which has no matching checksum marker", target)
        os.rename(target, attic)
        try:
            os.rename(source, target)
        except OSError:
            os.rename(attic, target)
            raise
        return
    os.rename(source, target)


def _unpack(archive: Archive, file: Path, dest: Path) -> None:
    """Unpack ``file`` into ``dest``, refusing any member that would land outside it."""
    try:
        if archive == "zip":
            _unzip(file, dest)
        else:
            _untar(file, dest)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ModelError(f"{file.name} is not a valid {archive} archive: {exc}") from exc


def _unzip(file: Path, dest: Path) -> None:
    """Unpack a zip, refusing absolute and ``..`` paths."""
    with zipfile.ZipFile(file) as zf:
        for info in zf.infolist():
            _check_member(info.filename, dest)
        zf.extractall(dest)


def _untar(file: Path, dest: Path) -> None:
    """Unpack a .tar.gz of plain files and folders, refusing links, devices and escaping paths."""
    with tarfile.open(file, "r:gz") as tf:
        members = tf.getmembers()
        for member in members:
            _check_member(member.name, dest)
            if not (member.isfile() or member.isdir()):
                raise ModelError(f"Refusing to unpack {member.name!r}: not a plain file or folder")
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4; Bookworm ships 3.11.2
            tf.extractall(dest, members=members, filter="data")
        else:
            tf.extractall(dest, members=members)


def _check_member(name: str, dest: Path) -> None:
    """ModelError if the archive member ``name`` would be written outside ``dest``."""
    member = PurePosixPath(name.replace("\\", "/"))
    root = dest.resolve()
    escapes = (
        member.is_absolute()
        or ".." in member.parts
        or (member.parts and ":" in member.parts[0])  # C:evil on Windows-made archives
        or not (root / member).resolve().is_relative_to(root)
    )
    if escapes:
        raise ModelError(f"Refusing to unpack {name!r}: it would land outside the model folder")
