"""The operator's image built without Docker (`make image`): build times and size, printed.

1. tools: what testbed/image/build.sh recorded in its build-times.txt when it built runc,
   buildkitd, buildctl, the registry and crane (cold only if the Go build cache was empty);
2. base layer: what testbed/image/base.sh recorded for debootstrap + Python;
3. image: testbed/image/make-image.sh run twice on an empty BuildKit cache of its own (the
   user's cache is left alone): cold (pip installs every locked dependency from PyPI) and
   warm (every step cached); wall time of the whole script, tools and base layer cached;
4. size of the resulting image: compressed layers (what a node pulls) and unpacked.

Needs root and Go (as `make image` does); elsewhere it says so and exits 0.

Usage: python bench/bench_image.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO / "testbed" / "image"


def recorded(folder: Path) -> str:
    times = folder / "build-times.txt"
    if not times.is_file():
        return "not recorded (built before build-times.txt existed)"
    return times.read_text().strip().splitlines()[0]


def image_size(archive: Path) -> tuple[int, int]:
    """Compressed size of the layers and their unpacked size, in bytes."""
    with tarfile.open(archive) as t:

        def blob(path: str) -> tarfile.ExFileObject:
            f = t.extractfile(path)
            assert f is not None, path
            return f  # type: ignore[return-value]

        def digest(d: str) -> tarfile.ExFileObject:
            return blob("blobs/" + d.replace(":", "/"))

        [entry] = json.load(blob("index.json"))["manifests"]
        manifest = json.load(digest(entry["digest"]))
        compressed = sum(layer["size"] for layer in manifest["layers"])
        unpacked = 0
        for layer in manifest["layers"]:
            with tarfile.open(fileobj=digest(layer["digest"]), mode="r:*") as lt:
                unpacked += sum(m.size for m in lt.getmembers())
    return compressed, unpacked


def timed_build(state: Path, out: Path) -> float:
    env = dict(os.environ, ACM_SYNC_BUILDKIT_STATE=str(state), ACM_SYNC_IMAGE_OUT=str(out))
    t0 = time.monotonic()
    r = subprocess.run([str(IMAGE / "make-image.sh")], env=env, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"make-image.sh failed ({r.returncode}):\n{r.stderr}")
    return time.monotonic() - t0


def main() -> int:
    if os.geteuid() != 0:
        print("image: not measured (make image needs root: runc and mount namespaces)")
        return 0
    tools = subprocess.run([str(IMAGE / "build.sh")], capture_output=True, text=True)
    if tools.returncode == 3:
        print(f"image: not measured here ({tools.stderr.strip()})")
        return 0
    tools.check_returncode()
    base = subprocess.run([str(IMAGE / "base.sh")], capture_output=True, text=True, check=True)
    tools_dir = Path(tools.stdout.split()[-1])
    base_dir = Path(base.stdout.split()[-1]).parent
    print(f"tools (runc, buildkitd, buildctl, registry, crane): {recorded(tools_dir)}")
    print(f"base layer (debootstrap bookworm + python3.11): {recorded(base_dir)}")
    with tempfile.TemporaryDirectory(prefix="bench-image-") as tmp:
        state, out = Path(tmp) / "buildkit", Path(tmp) / "acm-sync-image.tar"
        cold = timed_build(state, out)
        warm = timed_build(state, out)
        compressed, unpacked = image_size(out)
        # BuildKit's snapshots hold root-owned, read-only trees: rmtree copes, as root.
        shutil.rmtree(state)
    print(f"image build, empty BuildKit cache (tools and base layer cached): {cold:.0f} s")
    print(f"image build, warm BuildKit cache: {warm:.1f} s")
    print(
        f"image size: {compressed / 1e6:.1f} MB compressed layers, {unpacked / 1e6:.1f} MB unpacked"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
