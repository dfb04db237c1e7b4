"""Fixtures of the image tests: one build.sh run on the stand-in image, shared by the session.

build.sh downloads the Vosk model by default, which these machines cannot: the build is given
the copy named by ZEROPIN_VOSK_ZIP when that is set, and is run with --no-vosk-model otherwise.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from image import stand_in
from image.stand_in import BOOT, REPO


@dataclass(frozen=True)
class Built:
    image: Path
    seconds: float  # build.sh's wall time
    log: str
    vosk_zip: Path | None  # the Vosk model it was given; None: built with --no-vosk-model


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    work = tmp_path_factory.mktemp("image")
    base = stand_in.make_base_image(
        stand_in.base_rootfs_tar(stand_in.cache_dir()), BOOT, work / "base.img"
    )
    out = work / "zeropin.img"
    vosk_zip = Path(os.environ["ZEROPIN_VOSK_ZIP"]) if os.environ.get("ZEROPIN_VOSK_ZIP") else None
    vosk = ["--vosk-zip", str(vosk_zip)] if vosk_zip else ["--no-vosk-model"]
    started = time.monotonic()
    result = subprocess.run(
        [str(REPO / "image-build/build.sh"), "--base", str(base), "--out", str(out), *vosk],
        capture_output=True, text=True, timeout=3000, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    (work / "build.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    print(f"\nbuild.sh took {seconds:.0f} s")
    base.unlink()  # no longer needed
    return Built(out, seconds, result.stdout, vosk_zip)


@pytest.fixture
def root(built: Built, tmp_path: Path) -> Iterator[Path]:
    with stand_in.mounted_root(built.image, tmp_path / "root") as mounted:
        yield mounted
