"""A template's error names its file and line: in a build, whatever the output (on SQLite and on
PostgreSQL, `store_location`), and in `digest config check`, which opens no store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import FIXTURES
from pg import StoreLocation, store_rows

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
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_location: StoreLocation) -> Path:
    """A project whose sources are ingested, on SQLite and on PostgreSQL: a build reads them."""
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


@pytest.fixture
def unbuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose sources were never ingested: `config check` needs no store."""
    shutil.copytree(FIXTURES / "pages", tmp_path / "pages")
    (tmp_path / "config.yaml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _check(project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """`config check`'s exit code and its error lines; it writes no file whatever it finds."""
    before = _files(project)
    capsys.readouterr()
    code = main(["config", "check"])
    err = capsys.readouterr().err.splitlines()
    assert _files(project) == before
    assert not (project / "out").exists()  # neither the store nor the output directory
    return code, err


@pytest.mark.parametrize(
    ("name", "source", "line", "said"),
    [
        ("digest.md", "# {{ newsletter_title }}\n\n{% if %}\n", 3, "Expected an expression"),
        ("digest.txt", "{{ who }}\n{{ missing }}\n", 2, "'missing' is undefined"),
        (
            "digest.html",
            '{% extends "default:digest.html" %}\n{% block footer %}\n{{ oops }}\n{% endblock %}\n',
            3,
            "'oops' is undefined",
        ),
        ("feed.rss.xml", "<rss>\n{{ feed.title | round }}\n</rss>\n", 2, "__round__"),
        ("site/day.html", "<p>{{ day.date }}</p>\n{{ day.nope }}\n", 2, "has no attribute 'nope'"),
        # only the loosely related papers reach the loop's body
        (
            "digest.md",
            "# {{ newsletter_title }}\n{% for item in digest.near %}\n{{ item.oops }}\n"
            "{% endfor %}\n",
            3,
            "has no attribute 'oops'",
        ),
        # only a feed entry of a loosely related paper has the category
        (
            "feed.atom.xml",
            '<feed>\n{% for e in feed.entries if "Loosely related" in e.categories %}\n'
            "{{ e.oops }}\n{% endfor %}\n</feed>\n",
            3,
            "has no attribute 'oops'",
        ),
        # only a reader with a specific template (ada, configured) uses it
        ("digest-ada.html", "<p>{{ who }}</p>\n{{ nope }}\n", 2, "'nope' is undefined"),
        # ... or one the store knows (bob, signed up by the form) and config.yaml does not
        ("digest-bob.txt", "{{ who }}\n\n{{ nope }}\n", 3, "'nope' is undefined"),
        ("site/reader-bob.html", "{{ reader.name }}\n{{ nope }}\n", 2, "'nope' is undefined"),
    ],
)
def test_config_check_names_a_broken_template_file_and_line(
    unbuilt: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    source: str,
    line: int,
    said: str,
) -> None:
    path = unbuilt / "mine" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    code, err = _check(unbuilt, capsys)
    assert code == 1
    *problems, summary = err
    assert summary == f"error: {unbuilt / 'config.yaml'}: {len(problems)} problem(s) in templates"
    assert problems and all(p.startswith(f"error: {path}:{line}: ") for p in problems), err
    assert any(said in p for p in problems), err


def test_config_check_reports_every_broken_template_at_once(
    unbuilt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = unbuilt / "mine"
    (mine / "site").mkdir()
    broken = {
        mine / "digest.md": ("{{ newsletter_title }}\n{% for x in %}\n", 2),
        mine / "digest.txt": ("{{ who }}\n\n{{ missing }}\n", 3),
        mine / "feed.atom.xml": ("<feed>\n{{ feed.nope }}\n</feed>\n", 2),
        mine / "site" / "index.html": ("<h1>{{ site.title }}</h1>\n\n\n{{ nope }}\n", 4),
        mine / "site" / "day.html": ("{% block x %}\n{% endblock y %}\n", 2),
    }
    for path, (source, _) in broken.items():
        path.write_text(source, encoding="utf-8")
    code, err = _check(unbuilt, capsys)
    assert code == 1
    found = {line.removeprefix("error: ").split(": ", 1)[0] for line in err[:-1]}
    assert found == {f"{path}:{line}" for path, (_, line) in broken.items()}, err
    assert len(err) == len(broken) + 1  # each problem once, whatever sample showed it


def test_config_check_passes_the_shipped_templates(
    unbuilt: Path, capsys: pytest.CaptureFixture[str], store_location: StoreLocation
) -> None:
    # a user template that extends the shipped one it replaces, and a reader's own
    (unbuilt / "mine" / "digest.html").write_text(
        '{% extends "default:digest.html" %}\n', encoding="utf-8"
    )
    (unbuilt / "mine" / "digest-ada.md").write_text(
        "# {{ newsletter_title }} for {{ digest.reader.name }}\n"
        "{% for item in digest.papers + digest.near %}\n- {{ item.paper.title }}\n{% endfor %}\n",
        encoding="utf-8",
    )
    code, err = _check(unbuilt, capsys)
    assert (code, err) == (0, [])
    if store_location.url is not None:  # DIGEST_STORE's store is not opened either
        tables = "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        assert store_rows(store_location.url, tables) == [(0,)]


def test_config_check_passes_the_bundled_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make run`'s config.yaml, as shipped."""
    repo = Path(__file__).resolve().parents[1]
    shutil.copy(repo / "config.yaml", tmp_path / "config.yaml")
    shutil.copytree(repo / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    code, err = _check(tmp_path, capsys)
    assert (code, err) == (0, [])
