"""The operator's image as users get it: the OCI archive `make image` writes.

Run by `make image-test` (after `make image`), never by the default pytest run: the file name
does not match pytest's test_*.py, and every test here is marked `image`. A missing archive
is a failure, not a skip: whoever asks for these checks asked for an image.

The last tests start the image's `acm-sync check` under runc the way a restricted Pod runs it:
read-only root filesystem, no capabilities, uid/gid 65532, no network, no new privileges.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tarfile
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytestmark = pytest.mark.image

REPO = Path(__file__).resolve().parents[2]
ARCHIVE = Path(os.environ.get("ACM_SYNC_IMAGE_ARCHIVE", REPO / "build" / "acm-sync-image.tar"))
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]

# Measured at 0.1.0 (Debian bookworm minbase + Python 3.11 + the locked dependencies):
# 110 MB compressed, 375 MB unpacked. A little headroom, so that a dependency or base change
# that bloats the image is a decision, not an accident.
COMPRESSED_BUDGET = 120 * 1000**2
UNPACKED_BUDGET = 400 * 1000**2


@dataclass(frozen=True)
class Image:
    archive: tarfile.TarFile
    manifest: dict[str, Any]
    config: dict[str, Any]
    ref_name: str

    def blob(self, digest: str) -> tarfile.ExFileObject:
        f = self.archive.extractfile("blobs/" + digest.replace(":", "/"))
        assert f is not None, digest
        return f  # type: ignore[return-value]

    def layers(self) -> Iterator[tarfile.TarFile]:
        for layer in self.manifest["layers"]:
            with tarfile.open(fileobj=self.blob(layer["digest"]), mode="r:*") as t:
                yield t


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    if not ARCHIVE.is_file():
        pytest.fail(f"{ARCHIVE} does not exist: run `make image` first (or `make image-test`)")
    with tarfile.open(ARCHIVE) as archive:
        f = archive.extractfile("index.json")
        assert f is not None
        index = json.load(f)
        [entry] = index["manifests"]

        def blob(digest: str) -> Any:
            f = archive.extractfile("blobs/" + digest.replace(":", "/"))
            assert f is not None, digest
            return json.load(f)

        manifest = blob(entry["digest"])
        ref_name = entry.get("annotations", {}).get("org.opencontainers.image.ref.name", "")
        yield Image(archive, manifest, blob(manifest["config"]["digest"]), ref_name)


@dataclass(frozen=True)
class Contents:
    names: set[str]
    unpacked_size: int
    files: dict[str, bytes]  # the few files the checks read, by path without a leading ./


def read_contents(image: Image, wanted: tuple[str, ...]) -> Contents:
    names: set[str] = set()
    size = 0
    files: dict[str, bytes] = {}
    for layer in image.layers():
        for m in layer.getmembers():
            name = m.name.removeprefix("./")
            names.add(name)
            size += m.size
            if m.isfile() and name.startswith(wanted):
                f = layer.extractfile(m)
                assert f is not None
                files[name] = f.read()
    return Contents(names, size, files)


@pytest.fixture(scope="module")
def contents(image: Image) -> Contents:
    return read_contents(
        image, ("etc/ssl/certs/ca-certificates.crt", "usr/share/ca-certificates/mozilla/")
    )


def test_tagged_with_the_project_version(image: Image) -> None:
    assert image.ref_name == VERSION


def test_runs_the_operator_as_uid_65532_without_a_shell(image: Image) -> None:
    cfg = image.config["config"]
    # The chart's runAsNonRoot can only verify a numeric user.
    assert cfg["User"] == "65532:65532"
    assert cfg["Entrypoint"] == ["/opt/venv/bin/acm-sync", "run"]
    assert not cfg.get("Cmd")


def dockerfile_labels() -> dict[str, str]:
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    [label_line] = [line for line in text.splitlines() if line.startswith("LABEL ")]
    return dict(re.findall(r'(\S+?)="([^"]*)"', label_line))


def test_carries_the_dockerfiles_oci_labels(image: Image) -> None:
    want = {k: v.replace("${VERSION}", VERSION) for k, v in dockerfile_labels().items()}
    assert "org.opencontainers.image.source" in want  # the Dockerfile's LABEL was parsed
    assert image.config["config"]["Labels"] == want


def test_the_build_machines_proxy_and_ca_are_not_in_it(image: Image, contents: Contents) -> None:
    env = image.config["config"]["Env"]
    assert not [e for e in env if e.split("=", 1)[0].lower().endswith("_proxy")]
    assert not [
        e for e in env if e.split("=", 1)[0] in {"PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"}
    ]
    bundle = contents.files["etc/ssl/certs/ca-certificates.crt"].decode()
    debian = {
        "".join(v.decode().split()) for k, v in contents.files.items() if k.startswith("usr/share/")
    }
    # Every certificate the image trusts is one of Debian's: the build trusted the machine's
    # CA bundle through a bind mount only (testbed/image/runc-build-ca).
    pem = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", bundle, re.S)
    assert len(pem) > 100
    foreign = [p for p in pem if "".join(p.split()) not in debian]
    assert not foreign, (
        f"{len(foreign)} certificate(s) not from Debian's ca-certificates in the image"
    )


def test_holds_the_operator_but_no_test_bed(contents: Contents) -> None:
    names = contents.names
    site = "opt/venv/lib/python3.11/site-packages/"
    assert site + "acm_sync/__init__.py" in names
    assert not [n for n in names if "acm_sync_testbed" in n or "acm-sync-testbed" in n]
    assert not [n for n in names if n.startswith((site + "tests/", "src/", "tests/"))]
    assert not [n for n in names if n.startswith(("opt/venv/bin/moto", "opt/venv/bin/pytest"))]


def test_stays_within_its_size_budget(image: Image, contents: Contents) -> None:
    compressed = sum(layer["size"] for layer in image.manifest["layers"])
    unpacked = contents.unpacked_size
    print(f"image size: {compressed / 1e6:.1f} MB compressed, {unpacked / 1e6:.1f} MB unpacked")
    assert compressed <= COMPRESSED_BUDGET
    assert unpacked <= UNPACKED_BUDGET


# --- running it ----------------------------------------------------------------------------


def unpack_rootfs(image: Image, dest: Path) -> None:
    """Apply the layers in order, honouring OCI whiteouts, as a container runtime would."""
    dest.mkdir()
    for layer in image.layers():
        members = []
        for m in layer.getmembers():
            path = Path(m.name)
            if path.name == ".wh..wh..opq":
                for child in (dest / path.parent).glob("*"):
                    shutil.rmtree(
                        child
                    ) if child.is_dir() and not child.is_symlink() else child.unlink()
            elif path.name.startswith(".wh."):
                gone = dest / path.parent / path.name.removeprefix(".wh.")
                shutil.rmtree(gone) if gone.is_dir() and not gone.is_symlink() else gone.unlink(
                    missing_ok=True
                )
            else:
                members.append(m)
        # The image is our own build; its absolute symlinks and root-owned files are wanted.
        layer.extractall(dest, members=members, numeric_owner=True, filter="fully_trusted")  # noqa: S202


@pytest.fixture(scope="module")
def bundle(image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.fail("running the image under runc needs root")
    root = tmp_path_factory.mktemp("bundle")
    unpack_rootfs(image, root / "rootfs")
    yield root
    shutil.rmtree(root)


def runc_binary() -> str:
    bins = os.environ.get("ACM_SYNC_IMAGE_BINS_DIR")
    found = Path(bins) / "runc" if bins else None
    if found is None or not found.is_file():
        pytest.fail(
            "ACM_SYNC_IMAGE_BINS_DIR must name testbed/image/build.sh's output folder"
            " (make image-test sets it)"
        )
    return str(found)


def spec(image: Image, args: list[str], inputs: Path) -> dict[str, Any]:
    """A restricted Pod's container: what the chart's securityContext asks of the kubelet."""
    no_caps: list[str] = []
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 65532, "gid": 65532},
            "args": args,
            "env": image.config["config"]["Env"],
            "cwd": "/",
            "capabilities": dict.fromkeys(
                ("bounding", "effective", "inheritable", "permitted", "ambient"), no_caps
            ),
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "acm-sync",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/dev",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
            },
            {
                "destination": "/dev/pts",
                "type": "devpts",
                "source": "devpts",
                "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
            },
            {
                "destination": "/sys",
                "type": "sysfs",
                "source": "sysfs",
                "options": ["nosuid", "noexec", "nodev", "ro"],
            },
            {
                "destination": "/input",
                "type": "bind",
                "source": str(inputs),
                "options": ["rbind", "ro", "nosuid", "nodev", "noexec"],
            },
        ],
        "linux": {
            # A network namespace of its own with nothing in it but a downed loopback.
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": [
                "/proc/bus",
                "/proc/fs",
                "/proc/irq",
                "/proc/sys",
                "/proc/sysrq-trigger",
            ],
        },
    }


def run_in_image(
    image: Image, bundle: Path, args: list[str], inputs: Path
) -> subprocess.CompletedProcess[str]:
    (bundle / "config.json").write_text(json.dumps(spec(image, args, inputs)))
    state = bundle / "runc-state"
    name = f"acm-sync-image-test-{uuid.uuid4().hex[:8]}"
    runc = runc_binary()
    try:
        return subprocess.run(
            [runc, "--root", str(state), "run", "--bundle", str(bundle), name],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
    finally:
        # Normally gone already; after a timeout this kills it and removes its cgroups.
        subprocess.run([runc, "--root", str(state), "delete", "--force", name], capture_output=True)


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "inputs"
    d.mkdir()
    shutil.copy(REPO / "examples" / "tls-secret.yaml", d / "good.yaml")
    # The same Secret with somebody else's key: ACM would refuse it.
    other = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    good = (d / "good.yaml").read_text()
    key = re.search(
        r"(    -----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----)", good, re.S
    )
    assert key, "examples/tls-secret.yaml has no tls.key"
    (d / "bad.yaml").write_text(
        good.replace(key.group(1), "\n".join("    " + ln for ln in other.splitlines()))
    )
    for f in d.iterdir():
        f.chmod(0o644)
    d.chmod(0o755)
    return d


def test_check_accepts_a_valid_secret_in_a_locked_down_container(
    image: Image, bundle: Path, inputs: Path
) -> None:
    r = run_in_image(image, bundle, ["/opt/venv/bin/acm-sync", "check", "/input/good.yaml"], inputs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ACM would accept this material" in r.stdout
    assert "web.example.com" in r.stdout


def test_check_names_the_reason_for_a_bad_secret(image: Image, bundle: Path, inputs: Path) -> None:
    r = run_in_image(
        image, bundle, ["/opt/venv/bin/acm-sync", "check", "--json", "/input/bad.yaml"], inputs
    )
    assert r.returncode != 0, r.stdout
    assert "KeyMismatch" in r.stdout, r.stdout + r.stderr


def test_the_container_really_is_locked_down(image: Image, bundle: Path, inputs: Path) -> None:
    # What the two tests above ran under: if any of this were looser, they would prove less.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        probe = (
            "import json, os, socket\n"
            "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
            "try:\n    open('/tmp/probe', 'w')\nexcept OSError as e:\n    write = e.strerror\n"
            "else:\n    write = 'ok'\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "except OSError:\n    host = 'unreachable'\nelse:\n    host = 'reached'\n"
            "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(),\n"
            "    'caps': [status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd')],\n"
            "    'write': write, 'host': host, 'links': sorted(os.listdir('/sys/class/net'))}))\n"
        )
        r = run_in_image(image, bundle, ["/opt/venv/bin/python", "-c", probe], inputs)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {
        "uid": 65532,
        "gid": 65532,
        "groups": [],
        "caps": ["0000000000000000"] * 3,
        "write": "Read-only file system",
        "host": "unreachable",
        "links": ["lo"],
    }
