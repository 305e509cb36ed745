"""config.yaml: loaded once, every problem reported at once with its key path."""

from __future__ import annotations

import dataclasses
import datetime
import textwrap
from pathlib import Path

import pytest

from digest.config import Config, SourceConfig, load_config
from digest.errors import ConfigError
from digest.models import Profile, SendTime

KINDS = {"hf_text", "hf_api", "hf_html", "feed"}

READER = """
readers:
  - name: alice
    interests:
      keywords: [graph neural networks]
"""

TOP_KEYS = (
    "delivery, newsletter, out_dir, ranking, readers, schedule, site, sources, store, templates"
)


def write(directory: Path, text: str, name: str = "config.yaml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(directory: Path, text: str) -> Config:
    return load_config(write(directory, text), kinds=KINDS)


def problems(directory: Path, text: str) -> list[str]:
    """The problems loading `text` reports, without the leading `<file>: `."""
    path = write(directory, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, kinds=KINDS)
    assert caught.value.message == f"{path}: {len(caught.value.problems)} problem(s) in config"
    for line in caught.value.problems:
        assert line.startswith(f"{path}: ")
        assert "\n" not in line
    return [line.removeprefix(f"{path}: ") for line in caught.value.problems]


def error(directory: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(directory, text)
    return caught.value


# --- loading -------------------------------------------------------------------------------------


def test_valid_config_resolves_paths_against_its_directory(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "pages").mkdir(parents=True)
    (project / "pages" / "aug-20.txt").write_text("x", encoding="utf-8")
    (project / "my_templates").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(
        project,
        """
        store: data/store.sqlite3
        out_dir: build
        templates: [my_templates]
        newsletter:
          title: "  Morning Papers  "
        sources:
          - name: hf-aug-20
            kind: hf_text
            path: pages/aug-20.txt
            date: 2025-08-20
          - name: hf-daily
            kind: hf_api
            url: https://huggingface.co/api/daily_papers?date={date}
            date: "2025-08-21"
        readers:
          - name: alice
            display_name: Alice
            email: alice@example.org
            interests:
              keywords: [graph neural networks, GNN]
              liked: ["2506.08007", "Some paper title"]
            top_k: 5
            min_score: 0.25
          - name: bob
            interests:
              liked: ["2506.08007"]
        """,
    )

    config = load_config(Path("..") / "project" / "config.yaml", kinds=KINDS)

    assert config.path == path
    assert config.store == project / "data" / "store.sqlite3"
    assert config.out_dir == project / "build"
    assert config.templates == (project / "my_templates",)
    assert config.title == "Morning Papers"
    assert config.sources == (
        SourceConfig(
            "hf-aug-20", "hf_text", path=project / "pages" / "aug-20.txt",
            date=datetime.date(2025, 8, 20),
        ),
        SourceConfig(
            "hf-daily", "hf_api", url="https://huggingface.co/api/daily_papers?date={date}",
            date=datetime.date(2025, 8, 21),
        ),
    )  # fmt: skip
    assert config.readers == (
        Profile(
            name="alice",
            keywords=("graph neural networks", "GNN"),
            liked=("2506.08007", "Some paper title"),
            email="alice@example.org",
            display_name="Alice",
            top_k=5,
            min_score=0.25,
        ),
        Profile(name="bob", liked=("2506.08007",)),
    )
    assert config.reader("bob") is config.readers[1]


def test_defaults(tmp_path):
    config = load(tmp_path, READER)
    assert config.store == tmp_path / "out" / "digest.sqlite3"
    assert config.out_dir == tmp_path / "out"
    assert config.templates == ()
    assert config.title == "Paper Digest"
    assert config.sources == ()
    assert config.readers == (Profile(name="alice", keywords=("graph neural networks",)),)
    assert isinstance(config.readers[0].min_score, float)


def test_config_is_frozen(tmp_path):
    config = load(tmp_path, READER)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.title = "x"  # type: ignore[misc]


def test_unknown_reader(tmp_path):
    config = load(tmp_path, READER + "  - name: bob\n    interests: {liked: [x]}\n")
    with pytest.raises(ConfigError, match=r"^unknown reader 'carol' \(known: alice, bob\)$"):
        config.reader("carol")


# --- file and syntax -----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, kinds=KINDS)
    assert str(path) in caught.value.message
    assert caught.value.hint == "run from the project directory or pass --config"


def test_yaml_syntax_error_names_line_and_column(tmp_path):
    path = write(tmp_path, "readers:\n  - name: alice\n    interests: [unclosed\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, kinds=KINDS)
    assert caught.value.message.startswith(f"{path}: line 4, column 1: invalid YAML: ")


@pytest.mark.parametrize(
    ("text", "got"),
    [("- a\n- b\n", "list"), ("just text\n", "string"), ("", "an empty file"), ("# c\n", "an")],
)
def test_top_level_must_be_a_mapping(tmp_path, text, got):
    assert f"expected a mapping at the top level, got {got}" in error(tmp_path, text).message


# --- problems ------------------------------------------------------------------------------------


def test_unknown_keys_suggest_close_names(tmp_path):
    found = problems(
        tmp_path,
        """
        redaers: []
        colour: blue
        readers:
          - name: alice
            intrests: {keywords: [x]}
            interests: {keywords: [x], likes: [y]}
        """,
    )
    assert found == [
        "redaers: unknown key (did you mean 'readers'?)",
        f"colour: unknown key (known: {TOP_KEYS})",
        "readers[0].intrests: unknown key (did you mean 'interests'?)",
        "readers[0].interests.likes: unknown key (did you mean 'liked'?)",
    ]


def test_every_problem_is_reported_at_once_with_its_path(tmp_path):
    found = problems(
        tmp_path,
        """
        newsletter: {title: ""}
        sources:
          - {name: a, kind: rss, url: "ftp://example.org/x"}
        readers:
          - name: alice
            interests: {keywords: [x]}
          - name: bob
            interests: {keywords: graph neural networks}
          - name: carol
            interests: {keywords: [], liked: []}
          - name: dave
            interests: {keywords: [ok, "", 3]}
            top_k: 0
        """,
    )
    assert found == [
        "newsletter.title: must not be empty",
        "sources[0].kind: unknown kind 'rss' (known: feed, hf_api, hf_html, hf_text)",
        "sources[0].url: expected an http(s) URL, got 'ftp://example.org/x'",
        "readers[1].interests.keywords: expected a list of strings or a mapping of keyword to "
        "weight, got string",
        "readers[2].interests: needs keywords, liked papers, authors or a library",
        "readers[3].interests.keywords[1]: must not be empty",
        "readers[3].interests.keywords[2]: expected a string, got integer 3 (quote it)",
        "readers[3].top_k: must be between 1 and 100, got 0",
    ]


def test_duplicate_keys(tmp_path):
    found = problems(
        tmp_path,
        """\
        store: a.sqlite3
        store: b.sqlite3
        readers:
          - name: alice
            interests: {keywords: [x], keywords: [y]}
        """,
    )
    assert found == [
        "store: duplicate key (line 2; first on line 1)",
        "readers[0].interests.keywords: duplicate key (line 5; first on line 5)",
    ]


def test_duplicate_names(tmp_path):
    found = problems(
        tmp_path,
        """
        sources:
          - {name: feed, kind: feed, url: "https://example.org/a"}
          - {name: feed, kind: feed, url: "https://example.org/b"}
        readers:
          - {name: alice, interests: {keywords: [x]}}
          - {name: bob, interests: {keywords: [x]}}
          - {name: alice, interests: {keywords: [x]}}
        """,
    )
    assert found == [
        "sources[1].name: duplicate name 'feed' (sources[0])",
        "readers[2].name: duplicate name 'alice' (readers[0])",
    ]


@pytest.mark.parametrize("name", ["../etc", "Alice Smith", "a/b", "-x", "_x", "é", "a" * 65])
def test_bad_slug(tmp_path, name):
    found = problems(tmp_path, f"readers:\n  - name: {name!r}\n    interests: {{liked: [x]}}\n")
    assert found == [f"readers[0].name: invalid name {name!r} (use 1-64 of a-z 0-9 - _)"]


def test_names_are_stripped_and_must_be_strings(tmp_path):
    assert load(tmp_path, READER.replace("alice", "'  alice '")).readers[0].name == "alice"
    found = problems(tmp_path, "readers:\n  - name: no\n    interests: {liked: [2506.08007]}\n")
    assert found == [
        "readers[0].name: expected a string, got boolean False (quote it)",
        "readers[0].interests.liked[0]: expected a string, got number 2506.08007 (quote it)",
    ]


@pytest.mark.parametrize(
    "key", ["password", "smtp_password", "api_key", "apiKey", "github_token", "client-secret"]
)
def test_secrets_are_rejected_anywhere(tmp_path, key):
    found = problems(tmp_path, f"newsletter:\n  {key}: hunter2\n" + READER)
    assert found == [
        f"newsletter.{key}: secrets do not belong in the config file; "
        f"use '{key}_env: ENV_VAR_NAME' instead"
    ]


def test_secrets_inside_lists_and_env_values(tmp_path):
    found = problems(
        tmp_path,
        """
        readers:
          - name: alice
            interests: {keywords: [x]}
            token: abc123
        newsletter: {password_env: "hunter2!"}
        """,
    )
    assert found == [
        "readers[0].token: secrets do not belong in the config file; "
        "use 'token_env: ENV_VAR_NAME' instead",
        "newsletter.password_env: expected the NAME of an environment variable "
        "(like SMTP_PASSWORD), not its value",
        "newsletter.password_env: unknown key (known: from, intro, title)",
    ]
    assert not any("hunter2" in line or "abc123" in line for line in found)


def test_words_containing_secret_names_are_not_secrets(tmp_path):
    assert problems(tmp_path, "max_tokens: 5\n" + READER) == [
        f"max_tokens: unknown key (known: {TOP_KEYS})"
    ]


def test_duplicate_keys_and_merge_keys(tmp_path):
    found = problems(tmp_path, "a: &x {b: 1, b: 2}\nc: *x\n<<: *x\n" + READER)
    assert [line for line in found if "duplicate" in line] == [
        "a.b: duplicate key (line 1; first on line 1)"
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{name: s, kind: feed}", "sources[0]: needs exactly one of 'path' or 'url' (got neither)"),
        (
            "{name: s, kind: feed, path: config.yaml, url: 'https://example.org'}",
            "sources[0]: needs exactly one of 'path' or 'url' (got both)",
        ),
        ("{name: s, kind: feed, url: 'file:///etc/passwd'}", "sources[0].url: expected an "
         "http(s) URL, got 'file:///etc/passwd'"),
        ("{name: s, kind: feed, url: 'https://x.org/{day}'}", "sources[0].url: unknown "
         "placeholder {day} (only {date} is known)"),
        ("{kind: feed, url: 'https://x.org'}", "sources[0].name: required"),
        ("{name: s, url: 'https://x.org'}", "sources[0].kind: required"),
        ("{name: s, kind: RSS, url: 'https://x.org'}",
         "sources[0].kind: unknown kind 'RSS' (known: feed, hf_api, hf_html, hf_text)"),
    ],
)  # fmt: skip
def test_source_problems(tmp_path, entry, problem):
    assert problems(tmp_path, f"sources:\n  - {entry}\n" + READER) == [problem]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2025-13-01", "invalid date '2025-13-01' (expected YYYY-MM-DD)"),
        ("'20/08/2025'", "invalid date '20/08/2025' (expected YYYY-MM-DD)"),
        ("'20250820'", "invalid date '20250820' (expected YYYY-MM-DD)"),
        ("2025-08-20 10:00:00", "invalid date '2025-08-20 10:00:00' (expected YYYY-MM-DD)"),
        ("20250820", "expected a string, got integer 20250820 (quote it)"),
    ],
)
def test_bad_date(tmp_path, value, problem):
    text = f"sources:\n  - {{name: s, kind: feed, url: 'https://x.org', date: {value}}}\n"
    assert problems(tmp_path, text + READER) == [f"sources[0].date: {problem}"]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("top_k", "true", "expected an integer, got boolean"),
        ("top_k", "0", "must be between 1 and 100, got 0"),
        ("top_k", "101", "must be between 1 and 100, got 101"),
        ("top_k", "'10'", "expected an integer, got string"),
        ("top_k", "2.5", "expected an integer, got number"),
        ("min_score", "-0.5", "must be a number >= 0.0, got -0.5"),
        ("min_score", ".nan", "must be a number >= 0.0, got nan"),
        ("min_score", "false", "expected a number, got boolean"),
        ("near_misses", "-1", "must be between 0 and 100, got -1"),
        ("near_misses", "101", "must be between 0 and 100, got 101"),
        ("near_misses", "true", "expected an integer, got boolean"),
        ("near_misses", "'3'", "expected an integer, got string"),
        ("min_papers", "-1", "must be between 0 and 100, got -1"),
        ("min_papers", "1.5", "expected an integer, got number"),
        ("min_papers", "11", "must be at most top_k (10), got 11"),
        ("email", "alice", "not an email address: 'alice'"),
        ("email", "'a@b@c'", "not an email address: 'a@b@c'"),
        ("email", "'a b@c.org'", "not an email address: 'a b@c.org'"),
        ("email", "'a@b.org, c@d.org'", "not an email address: 'a@b.org, c@d.org'"),
        ("display_name", '"Alice\\nBcc: x@y.z"', "must not contain control characters"),
        ("display_name", "~", "expected a string, got null"),
    ],
)
def test_reader_value_problems(tmp_path, key, value, problem):
    found = problems(tmp_path, f"{READER}    {key}: {value}\n")
    assert len(found) == 1
    assert found[0].startswith(f"readers[0].{key}: {problem}")


def test_near_misses_and_min_papers_are_read_with_their_defaults(tmp_path):
    config = load(
        tmp_path,
        READER
        + """    top_k: 5
    near_misses: 0
    min_papers: 5
  - name: bob
    interests: {keywords: [GNN]}
""",
    )
    alice, bob = config.readers
    assert (alice.top_k, alice.near_misses, alice.min_papers) == (5, 0, 5)
    assert (bob.top_k, bob.near_misses, bob.min_papers) == (10, 3, 0)


def test_near_miss_mistakes_are_named_with_a_close_key(tmp_path):
    found = problems(
        tmp_path,
        READER
        + """    top_k: 3
    min_papers: 4
    near_miss: 2
""",
    )
    assert found == [
        "readers[0].near_miss: unknown key (did you mean 'near_misses'?)",
        "readers[0].min_papers: must be at most top_k (3), got 4",
    ]


def test_readers_are_required_and_non_empty(tmp_path):
    assert problems(tmp_path, "store: x.sqlite3\n") == ["readers: required"]
    assert problems(tmp_path, "readers: []\n") == ["readers: needs at least one reader"]
    assert problems(tmp_path, "readers: alice\n") == ["readers: expected a list, got string"]
    assert problems(tmp_path, READER + "  - bob\n") == [
        "readers[1]: expected a mapping, got string"
    ]
    assert problems(tmp_path, "readers:\n  - name: bob\n") == ["readers[0].interests: required"]


# --- paths ---------------------------------------------------------------------------------------


def test_missing_paths(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    found = problems(
        tmp_path,
        textwrap.dedent("""
        templates: [nope]
        out_dir: a-file
        store: empty
        sources:
          - {name: a, kind: hf_text, path: missing.txt}
          - {name: b, kind: hf_text, path: "pages/*.txt"}
          - {name: c, kind: hf_text, path: empty}
        """)
        + READER,
    )
    assert found == [
        f"store: is a directory: {tmp_path / 'empty'}",
        f"out_dir: not a directory: {tmp_path / 'a-file'}",
        f"templates[0]: no such directory: {tmp_path / 'nope'}",
        f"sources[0].path: no such file or directory: {tmp_path / 'missing.txt'}",
        f"sources[1].path: no such file matches: {tmp_path / 'pages/*.txt'}",
        f"sources[2].path: no such file in directory: {tmp_path / 'empty'}",
    ]


def test_files_expands_a_file_a_directory_and_a_glob(tmp_path):
    pages = tmp_path / "pages"
    (pages / "sub").mkdir(parents=True)
    for name in ("b.txt", "a.txt", "c.json", ".hidden.txt", "sub/d.txt"):
        (pages / name).write_text("x", encoding="utf-8")
    config = load(
        tmp_path,
        textwrap.dedent("""
        sources:
          - {name: one, kind: hf_text, path: pages/b.txt}
          - {name: dir, kind: hf_text, path: pages}
          - {name: glob, kind: hf_text, path: "pages/*.txt"}
          - {name: deep, kind: hf_text, path: "pages/**/*.txt"}
          - {name: web, kind: feed, url: "https://example.org/feed.xml"}
        """)
        + READER,
    )
    one, directory, pattern, deep, web = config.sources
    assert one.files() == [pages / "b.txt"]
    assert directory.files() == [pages / "a.txt", pages / "b.txt", pages / "c.json"]
    assert pattern.path == tmp_path / "pages" / "*.txt"
    assert pattern.files() == [pages / "a.txt", pages / "b.txt"]
    assert deep.files() == [pages / "a.txt", pages / "b.txt", pages / "sub" / "d.txt"]
    assert web.files() == []


def test_glob_under_a_directory_with_glob_characters(tmp_path):
    project = tmp_path / "proj[1]"
    (project / "pages").mkdir(parents=True)
    (project / "pages" / "a.txt").write_text("x", encoding="utf-8")
    config = load(project, "sources:\n  - {name: g, kind: hf_text, path: 'pages/*.txt'}\n" + READER)
    assert config.sources[0].files() == [project / "pages" / "a.txt"]


def test_a_rich_profile_is_read_in_full(tmp_path):
    config = load(
        tmp_path,
        """
        ranking: {window_days: 30}
        readers:
          - name: alice
            interests:
              keywords: {graph neural networks: 2, message passing: 0.5, GNN: null}
              exclude: [survey, medical imaging]
              liked: ["2506.08007"]
              disliked: ["2501.00001", "A title I did not like"]
              authors: [Yann LeCun]
            popularity: 0
            diversity: 0.5
          - name: bob
            interests: {keywords: [GNN]}
        """,
    )
    assert config.window_days == 30
    alice, bob = config.readers
    assert alice.keywords == ("graph neural networks", "message passing", "GNN")
    assert [alice.weight(i) for i in range(3)] == [2.0, 0.5, 1.0]
    assert alice.exclude == ("survey", "medical imaging")
    assert alice.disliked == ("2501.00001", "A title I did not like")
    assert alice.authors == ("Yann LeCun",)
    assert (alice.popularity, alice.diversity) == (0.0, 0.5)
    # defaults that work for a profile that is one short tag
    assert (bob.weight(0), bob.popularity, bob.diversity, bob.top_k) == (1.0, 0.1, 0.2, 10)
    assert load(tmp_path, READER).window_days == 90


def test_rich_profile_mistakes_are_named(tmp_path):
    found = problems(
        tmp_path,
        """
        ranking: {window_days: 0, windows: 3}
        readers:
          - name: alice
            interests:
              keywords: {graph: -1, "": 2, ok: high}
              exclude: survey
            popularity: 1.5
            diversity: -0.1
          - name: bob
            interests: {keywords: {graph: 0}}
          - name: carol
            interests: {authors: [Ada Lovelace]}
        """,
    )
    assert found == [
        "ranking.windows: unknown key (did you mean 'window_days'?)",
        "ranking.window_days: must be between 1 and 36500, got 0",
        "readers[0].interests.keywords['graph']: must be a number >= 0.0, got -1",
        "readers[0].interests.keywords['']: must not be empty",
        "readers[0].interests.keywords['ok']: expected a number, got string",
        "readers[0].interests.exclude: expected a list of strings, got string",
        "readers[0].popularity: must be between 0 and 1, got 1.5",
        "readers[0].diversity: must be a number >= 0.0, got -0.1",
        "readers[1].interests.keywords: needs a keyword with a weight above 0",
    ]


def test_site_newsletter_and_public_readers_are_read(tmp_path):
    config = load(
        tmp_path,
        """
        newsletter:
          title: Lab Papers
          from: Lab Papers <papers@lab.example.org>
          intro: |
            Good morning! The **five** best papers for each of you.
            Reply to this email with comments.
        site: {base_url: "https://papers.lab.example.org/archive", days_per_page: 7, feed_items: 30}
        readers:
          - name: alice
            public: true
            note: Your *lab* interests.
            interests: {keywords: [GNN]}
          - name: bob
            interests: {keywords: [GNN]}
        """,
    )
    site = config.site
    assert site.title == "Lab Papers" and site.sender == "Lab Papers <papers@lab.example.org>"
    assert site.base_url == "https://papers.lab.example.org/archive/"
    assert site.domain == "lab.example.org"
    assert (site.days_per_page, site.feed_items) == (7, 30)
    assert site.intro.startswith("Good morning!") and "\n" in site.intro
    alice, bob = config.readers
    assert (alice.public, alice.note) == (True, "Your *lab* interests.")
    assert (bob.public, bob.note) == (False, "")
    default = load(tmp_path, READER).site
    assert default.base_url == "http://localhost:8000/" and default.intro == ""
    assert default.sender == "Paper Digest <digest@localhost>"


def test_site_and_newsletter_mistakes_are_named(tmp_path):
    found = problems(
        tmp_path,
        """
        newsletter: {from: "not an address", intro: "bad \\x07 bell"}
        site: {base_url: "ftp://x.example.org/", days_per_page: 0, feed_items: 5000}
        readers:
          - name: alice
            public: "yes"
            interests: {keywords: [GNN]}
          - name: all
            interests: {keywords: [GNN]}
        """,
    )
    assert found == [
        "readers[0].public: expected true or false, got string",
        "readers[1].name: 'all' is reserved (feeds/all.xml)",
        "site.days_per_page: must be between 1 and 366, got 0",
        "site.feed_items: must be between 1 and 1000, got 5000",
        "site.base_url: expected an http(s) URL such as https://digest.example.org/, "
        "got 'ftp://x.example.org/'",
        "newsletter.intro: must not contain control characters",
        "newsletter.from: expected `Name <address@domain>` or an address, got 'not an address'",
    ]


def test_schedule_and_send_times_are_read_with_their_zones(tmp_path):
    text = """
schedule:
  timezone: Europe/Berlin
  ingest: {time: "06:05", days: mon-fri}
  build: {time: "6:30", days: "mon,wed,fri"}
  grace_hours: 0
readers:
  - name: ada
    interests: {keywords: [x]}
    send: {time: "07:15", timezone: America/Los_Angeles, weekday: sun, empty: true}
  - name: bob
    interests: {keywords: [y]}
"""
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path, kinds=KINDS)
    assert config.schedule.timezone == "Europe/Berlin"
    assert (config.schedule.ingest.time, config.schedule.ingest.days) == ("06:05", "mon-fri")
    assert (config.schedule.build.hour, config.schedule.build.minute) == (6, 30)
    assert config.schedule.build.days == "mon,wed,fri" and config.schedule.grace_hours == 0
    ada, bob = config.readers
    assert ada.send == SendTime("07:15", "America/Los_Angeles", "sun", empty=True)
    assert ada.send.weekly and not bob.send.weekly
    assert bob.send == SendTime("07:00", "Europe/Berlin")  # the schedule's zone by default


def test_bad_times_zones_and_weekdays_are_each_reported(tmp_path):
    found = problems(
        tmp_path,
        """
schedule:
  timezone: Mars/Olympus
  ingest: {time: "25:00", days: "1-5"}
readers:
  - name: ada
    interests: {keywords: [x]}
    send: {time: 730, weekday: sunday}
""",
    )
    assert found == [
        'readers[0].send.time: expected a time as "HH:MM" in quotes, got 730',
        "readers[0].send.weekday: unknown weekday 'sunday'"
        " (known: fri, mon, sat, sun, thu, tue, wed)",
        "schedule.timezone: unknown time zone 'Mars/Olympus' (use a name such as Europe/Berlin)",
        "schedule.ingest.time: expected a time as HH:MM (00:00 to 23:59), got '25:00'",
        "schedule.ingest.days: expected weekday names such as mon-fri or mon,wed,fri, got '1-5'",
    ]
