"""A template's error names its file and line: in a build, whatever the output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES

from digest.cli import main

CONFIG = """\
store: out/store.sqlite3
templates: [mine]
sources:
  - {name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}
readers:
  - name: ada
    interests: {keywords: [network pruning, quantization]}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(FIXTURES / "pages", tmp_path / "pages")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["ingest"]) == 0
    return tmp_path


@pytest.mark.parametrize(
    ("name", "source", "line", "said"),
    [
        (
            "digest.md",
            "# {{ newsletter_title }}\n\n{{ digest.nope }}\n",
            3,
            "has no attribute 'nope'",
        ),
        ("digest.txt", "{{ who }}\n{{ missing }}\n", 2, "'missing' is undefined"),
        (
            "digest.html",
            '{% extends "default:digest.html" %}\n{% block footer %}\n{{ oops }}\n{% endblock %}\n',
            3,
            "'oops' is undefined",
        ),
        ("feed.atom.xml", "<feed>\n{{ feed.title | round }}\n</feed>\n", 2, "__round__"),
    ],
)
def test_a_build_names_the_template_file_and_line(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    source: str,
    line: int,
    said: str,
) -> None:
    (project / "mine" / name).write_text(source, encoding="utf-8")
    capsys.readouterr()
    assert main(["build"]) == 1
    errors = [e for e in capsys.readouterr().err.splitlines() if e.startswith("error: ")]
    where = f"{project / 'mine' / name}:{line}: "
    assert errors and all(where in e for e in errors), errors
    assert any(said in e for e in errors), errors
