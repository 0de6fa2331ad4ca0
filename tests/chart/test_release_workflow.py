"""The release workflow publishes what the chart installs, and the dry run rehearses that workflow.

.github/workflows/release.yml runs only on a tag, on GitHub; nothing here can run it. These tests
hold it to the files it must agree with: the chart's default image and name, the Helm the tests
use, the scripts it shares with `make release-dry-run`, and the Makefile that runs the dry run
and actionlint in `make test`. A rename on one side that the other misses would publish an image
no chart installs, or a chart nobody tested.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
CHART = ROOT / "charts" / "acm-sync"
RELEASE = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
PROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
MAKEFILE = (ROOT / "Makefile").read_text()


def _job() -> dict[str, Any]:
    [job] = RELEASE["jobs"].values()
    return job  # type: ignore[no-any-return]


def _step(name_part: str) -> dict[str, Any]:
    matches = [s for s in _job()["steps"] if name_part in s.get("name", s.get("uses", ""))]
    assert len(matches) == 1, f"one step named like {name_part!r}, found {len(matches)}"
    return matches[0]  # type: ignore[no-any-return]


def _make_recipe(target: str) -> str:
    match = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", MAKEFILE, flags=re.MULTILINE)
    assert match, f"no {target} target in the Makefile"
    return match.group(1)


def test_runs_only_on_a_version_tag() -> None:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    assert RELEASE[True] == {"push": {"tags": ["v*"]}}


def test_publishes_the_image_the_chart_installs_by_default() -> None:
    image = RELEASE["env"]["IMAGE"]
    assert VALUES["image"]["repository"] == image
    # An empty tag means the chart's appVersion, which is the version the workflow tags with.
    assert VALUES["image"]["tag"] == ""
    # In git the chart has no digest: only the packaged release chart is pinned.
    assert VALUES["image"]["digest"] == ""
    build = _step("Build and push the image")["with"]
    assert build["tags"] == "${{ env.IMAGE }}:${{ steps.version.outputs.version }}"
    assert build["push"] is True


def test_chart_and_project_share_one_version() -> None:
    assert CHART_META["version"] == CHART_META["appVersion"] == PROJECT_VERSION
    version_step = _step("Version from the tag")
    assert 'release/version.sh "$version"' in version_step["run"]


def test_a_tag_that_disagrees_with_the_files_publishes_nothing() -> None:
    ok = subprocess.run(
        [ROOT / "release" / "version.sh", PROJECT_VERSION], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    bumped = subprocess.run(
        [ROOT / "release" / "version.sh", PROJECT_VERSION + "1"], capture_output=True, text=True
    )
    assert bumped.returncode != 0
    assert "pyproject.toml version" in bumped.stderr
    assert "Chart.yaml appVersion" in bumped.stderr


def test_image_is_multi_arch_with_sbom_and_provenance() -> None:
    build = _step("Build and push the image")["with"]
    assert set(build["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["sbom"] is True
    assert build["provenance"] == "mode=max"
    assert (ROOT / build["context"] / build["file"]).is_file()
    # The label version comes from the same tag.
    assert build["build-args"] == "VERSION=${{ steps.version.outputs.version }}"


def test_signs_keylessly_by_the_digest_it_built() -> None:
    job = _job()
    assert RELEASE["permissions"] == {}
    assert job["permissions"] == {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
    }
    sign = _step("Sign the image")
    assert sign["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert sign["run"] == 'cosign sign --yes "${IMAGE}@${DIGEST}"'
    steps = job["steps"]
    installer = next(i for i, s in enumerate(steps) if "cosign-installer" in s.get("uses", ""))
    assert installer < steps.index(sign)


def test_chart_is_packaged_by_the_dry_runs_script_and_pushed_where_the_docs_say() -> None:
    package = _step("Package the chart")
    assert package["env"]["DIGEST"] == "${{ steps.build.outputs.digest }}"
    assert 'release/chart.sh "$VERSION" "$DIGEST" dist' in package["run"]
    dry_run = (ROOT / "release" / "dry-run.sh").read_text()
    assert '"$here/chart.sh" "$version" "$digest"' in dry_run
    registry = RELEASE["env"]["CHART_REGISTRY"]
    assert f"chart_registry={registry}\n" in dry_run
    # helm push appends the chart's name: the chart lands at <registry>/<Chart.yaml name>.
    install_doc = (ROOT / "docs" / "install.md").read_text()
    assert f"{registry}/{CHART_META['name']}" in install_doc
    push = _step("Push the chart")["run"]
    assert 'helm push "$TGZ" "$CHART_REGISTRY"' in push
    assert 'cosign sign --yes "${CHART_REGISTRY#oci://}/acm-sync@${digest}"' in push


def test_helm_is_the_version_the_tests_build() -> None:
    gomod = (ROOT / "testbed" / "cluster" / "helm" / "go.mod").read_text()
    pinned = re.search(r"^require helm\.sh/helm/v3 (v\S+)$", gomod, flags=re.MULTILINE)
    assert pinned
    assert RELEASE["env"]["HELM_VERSION"] == pinned.group(1)
    assert _step("azure/setup-helm")["with"]["version"] == "${{ env.HELM_VERSION }}"


@pytest.mark.parametrize("workflow", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_action_is_pinned_by_commit(workflow: str) -> None:
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", (WORKFLOWS / workflow).read_text(), re.M)
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", ref), ref
        assert re.fullmatch(r" # v\d+\.\d+\.\d+", comment), f"{ref}: name the release"


def test_pull_requests_run_the_projects_ci_entry_point() -> None:
    ci = yaml.safe_load((WORKFLOWS / "ci.yml").read_text())
    assert "pull_request" in ci[True]
    [job] = ci["jobs"].values()
    assert any("CI=true bash .ci/run" in s.get("run", "") for s in job["steps"])
    go = next(s for s in job["steps"] if "setup-go" in s.get("uses", ""))
    assert (ROOT / go["with"]["go-version-file"]).is_file()


def test_make_test_lints_the_workflows_and_rehearses_the_release() -> None:
    test_deps = re.search(r"^test: (.*)$", MAKEFILE, flags=re.MULTILINE)
    assert test_deps
    assert {"workflow-lint", "test-image"} <= set(test_deps.group(1).split())
    assert ".image-bins/actionlint -no-color .github/workflows/*.yml" in _make_recipe(
        "workflow-lint"
    )
    assert "image-test release-dry-run" in _make_recipe("test-image")
    assert "release/dry-run.sh" in _make_recipe("release-dry-run")
    build = (ROOT / "testbed" / "image" / "build.sh").read_text()
    assert re.search(r"^all=\(.*\bactionlint\b.*\)$", build, flags=re.MULTILINE)


@pytest.mark.parametrize(
    ("version", "digest", "complaint"),
    [
        (PROJECT_VERSION, "latest", "not an image digest"),
        (PROJECT_VERSION, "sha256:" + "A" * 64, "not an image digest"),
        ("9.9.9", "sha256:" + "a" * 64, "Chart.yaml version"),
    ],
)
def test_chart_sh_refuses_a_pin_it_cannot_trust(
    version: str, digest: str, complaint: str, tmp_path: Path
) -> None:
    # Refused before Helm runs: a release can publish no chart pinned to a tag or to a version
    # other than the image's.
    result = subprocess.run(
        [ROOT / "release" / "chart.sh", version, digest, tmp_path / "out"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HELM": "/nonexistent/helm"},
    )
    assert result.returncode != 0
    assert complaint in result.stderr
    assert not (tmp_path / "out").exists()
