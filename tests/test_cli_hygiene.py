"""The command line's manners: every argument explained and checked by argparse, a closed pipe
ended quietly, errors on one line, log lines written as sentences. The commands that open the
store here (`status`, `run`) run on SQLite and on PostgreSQL (`store_location`)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.cli import PIPE_CLOSED, main, parser

REPO = Path(__file__).resolve().parents[1]
CONFIG = """\
store: out/store.sqlite3
sources: []
readers:
  - name: ada
    interests: {keywords: [quantization]}
"""
# a Python repr in a line meant for people: `SiteWrite(written=15, ...)`, `<Foo object at 0x..>`
REPR = re.compile(r"\b\w+\(\w+=|<[\w.]+ object at 0x")


def _actions(command: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_argument_of_every_command_has_help() -> None:
    walked = list(_actions(parser(), "digest"))
    commands = {path for path, _ in walked}
    assert {"digest serve", "digest backup", "digest readers import", "digest eval"} <= commands
    missing = [
        f"{path}: {action.dest}"
        for path, action in walked
        if not (action.help and action.help.strip()) or action.help == argparse.SUPPRESS
    ]
    assert missing == []


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["serve", "--port", "99999"], "argument --port: expected a port from 1 to 65535"),
        (["serve", "--port", "-1"], "argument --port: expected a port"),
        (["serve", "--port", "http"], "argument --port: expected a port"),
        (["papers", "--date", "20250820"], "argument --date: expected a date as YYYY-MM-DD"),
        (["status", "--date", "2025-W34-3"], "argument --date: expected a date as YYYY-MM-DD"),
        (["status", "--date", "2025-02-30"], "argument --date: expected a date as YYYY-MM-DD"),
        (["status", "--runs", "-1"], "argument --runs: expected a whole number"),
        (["readers", "import", "nobody.csv"], "argument FILE.csv: nobody.csv: no such file"),
        (["readers", "import", "."], "argument FILE.csv: .: is a directory"),
        (["eval", "missing.json", "--listings", "x.gz"], "argument SPEC.json: missing.json"),
        (["eval", "--all-dev", "nowhere"], "argument --all-dev: nowhere: no such directory"),
    ],
)
def test_bad_arguments_are_argparse_usage_errors(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: digest")
    assert f"error: {said}" in captured.err
    assert "Traceback" not in captured.err


def test_port_zero_and_the_whole_range_are_accepted() -> None:
    for port in ("0", "1", "8000", "65535"):
        args = parser().parse_args(["serve", "--port", port])
        assert args.port == int(port)


def _closed_pipe_run(
    args: list[str], cwd: Path, *, buffered: bool = False
) -> subprocess.CompletedProcess[str]:
    """`digest ARGS` writing to a real pipe whose reader has already gone, as in
    `digest status --json | head -0`; stdout unbuffered, or block-buffered as by default."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=cwd,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        os.close(write)


@pytest.mark.usefixtures("store_location")
@pytest.mark.parametrize("buffered", [False, True])
def test_a_closed_pipe_ends_quietly_as_sigpipe_would(project: Path, buffered: bool) -> None:
    done = _closed_pipe_run(["status", "--json"], project, buffered=buffered)
    assert done.stderr == ""
    assert done.returncode == PIPE_CLOSED == 141


def test_help_to_a_closed_pipe_ends_quietly_too(project: Path) -> None:
    done = _closed_pipe_run(["--help"], project)
    assert done.stderr == ""
    assert done.returncode == PIPE_CLOSED == 141


def test_an_error_with_a_closed_pipe_is_still_one_line(tmp_path: Path) -> None:
    done = _closed_pipe_run(["status"], tmp_path)  # no config.yaml here
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


@pytest.mark.usefixtures("store_location")
def test_the_bundled_example_runs_with_readable_log_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    assert main(["--verbose", "run"]) == 0
    assert main(["status"]) == 0
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert any(line.startswith("info: site: ") for line in lines)
    assert [line for line in lines if REPR.search(line)] == []
