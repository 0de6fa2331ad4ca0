"""The console script dispatches; plugins (the test bed) add subcommands through entry points."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from acm_sync import cli
from acm_sync.clusterctl.report import Report, render

ACM_SYNC = Path(sys.executable).with_name("acm-sync")


def _listed_commands(help_text: str) -> list[str]:
    """The subcommand names of a top-level --help: the first word of each indented line."""
    section = help_text.split("positional arguments:", 1)[1].split("options:", 1)[0]
    return [
        line.split()[0]
        for line in section.splitlines()
        if line.startswith("    ") and not line.startswith("      ")
    ]


def _help(capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_help_lists_every_subcommand() -> None:
    """With the test bed installed (as in the dev environment), playground and demo appear."""
    out = subprocess.run([ACM_SYNC, "--help"], capture_output=True, text=True, check=True).stdout
    assert sorted(_listed_commands(out)) == [
        "check",
        "demo",
        "playground",
        "resync",
        "run",
        "status",
    ]
    assert "run a local Kubernetes API emulator" in out


def test_without_the_test_bed_only_check_and_run_are_offered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    assert _listed_commands(_help(capsys)) == ["check", "run", "status", "resync"]


def test_plugin_commands_come_from_the_entry_point_group(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    groups: list[str] = []

    def fake_entry_points(group: str) -> list[EntryPoint]:
        groups.append(group)
        return [EntryPoint("demo", "acm_sync_testbed.demo", group)]

    monkeypatch.setattr(cli, "entry_points", fake_entry_points)
    out = _help(capsys)
    assert groups == ["acm_sync.commands"]
    assert _listed_commands(out) == ["check", "run", "status", "resync", "demo"]
    # The help line is the module's HELP literal.
    assert "walk through the whole product on the embedded emulators" in out


def test_a_plugin_cannot_replace_a_built_in_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cli, "entry_points", lambda group: [EntryPoint("check", "acm_sync_testbed.demo", group)]
    )
    assert cli.plugin_modules() == {}


def test_help_imports_no_plugin_module() -> None:
    """--help reads the plugins' HELP from source: the emulators' libraries stay unimported."""
    probe = (
        "import contextlib, io, sys\n"
        "from acm_sync.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main([])\n"
        "assert 'walk through the whole product' in out.getvalue()\n"
        "loaded = sorted({m for m in sys.modules if m.startswith('acm_sync_testbed.')}\n"
        "    | ({m.split('.')[0] for m in sys.modules} & {'moto', 'aiohttp', 'kopf', 'yaml'}))\n"
        "print(code, loaded)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "2 []"


def test_the_chosen_plugin_keeps_its_flags() -> None:
    out = subprocess.run(
        [ACM_SYNC, "playground", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in ("--host", "--port", "--acm-port", "--kubeconfig", "--crds", "--no-operator"):
        assert flag in out
    out = subprocess.run(
        [ACM_SYNC, "demo", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--timeout" in out


def test_no_subcommand_is_a_usage_error() -> None:
    result = subprocess.run([ACM_SYNC], capture_output=True, text=True, check=False)
    assert result.returncode == 2


def test_status_says_how_many_consumers_it_does_not_list() -> None:
    entry = {"kind": "Ingress", "name": "web", "annotation": "a", "region": "r", "arn": "x"}
    status = {"consumers": [entry], "consumersOmitted": 9_999}
    shown = render(Report({"metadata": {"name": "c"}, "status": status}, None))
    assert "  ... and 9999 more (status.consumers lists at most 100)" in shown.splitlines()
    status.pop("consumersOmitted")
    assert "more (status.consumers" not in render(Report({"status": status}, None))
