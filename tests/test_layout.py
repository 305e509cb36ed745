"""The output directory's layout: named in digest/layout.py and nowhere else; the reader names
that would land on another entry of it are refused everywhere a reader is named."""

from __future__ import annotations

import re
import textwrap
from datetime import date
from pathlib import Path

import pytest

import digest
from digest import layout
from digest.cli.newsletter import _new_profile
from digest.config import RESERVED_NAMES, load_config
from digest.errors import ConfigError

PACKAGE = Path(digest.__file__).parent
DAY = date(2024, 5, 17)
# a folder or file of out/ spelled as a literal in a path join: `/ "mail"`, `Path("feeds")`
_JOIN = re.compile(
    r"""(?:/\s*|Path\(\s*)["'](?:digests|mail|feeds|site|cache|operator|confirm)["']"""
)


def test_every_path_under_out_is_built_in_the_layout_module():
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "layout.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _JOIN.search(line)
    ]
    assert found == []


def test_the_scan_finds_a_join_by_hand():
    assert _JOIN.search('file = Path("mail") / "operator" / f"{stamp}.eml"')
    assert _JOIN.search("cache = config.out_dir / 'cache'")
    assert not _JOIN.search("cache = config.out_dir / layout.CACHE")


def test_the_paths_a_reader_gets():
    assert layout.digest_path("ada", DAY, "md") == Path("digests/ada/2024-05-17.md")
    assert layout.digest_path("ada", DAY, "html") == Path("digests/ada/2024-05-17.html")
    assert layout.mail_path("ada", DAY) == Path("mail/ada/2024-05-17.eml")
    assert layout.feed_path("ada", "atom") == Path("feeds/ada.atom")
    assert layout.confirm_path("ada") == Path("mail/confirm/ada.eml")
    assert layout.operator_path("20240517T060000", "0a1b2c3d") == Path(
        "mail/operator/20240517T060000-0a1b2c3d.eml"
    )


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_a_reserved_name_is_one_that_lands_on_another_entry(name):
    mine = {
        layout.feed_path(name, "xml"),
        layout.mail_path(name, DAY).parent,
        layout.digest_path(name, DAY, "md").parent,
    }
    others = {
        layout.feed_path(layout.PUBLIC_FEED, "xml"),
        layout.operator_path("20240517T060000", "0a1b2c3d").parent,
        layout.confirm_path("ada").parent,
    }
    assert mine & others


def test_no_other_name_lands_on_another_entry():
    for name in ("ada", "all-papers", "operators", "confirmed", "site", "cache"):
        mine = {layout.feed_path(name, "xml"), layout.mail_path(name, DAY).parent}
        assert not mine & {
            layout.feed_path(layout.PUBLIC_FEED, "xml"),
            layout.OPERATOR,
            layout.CONFIRM,
        }


@pytest.mark.parametrize("name", ["all", "operator", "confirm"])
def test_config_refuses_a_reader_named_after_an_entry_of_out(tmp_path, name):
    path = tmp_path / "config.yaml"
    path.write_text(
        textwrap.dedent(f"""
            readers:
              - name: {name}
                interests: {{keywords: [GNN]}}
            """),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, kinds={"feed"})
    assert list(caught.value.problems) == [
        f"{path}: readers[0].name: {name!r} is reserved ({layout.RESERVED[name]})"
    ]


@pytest.mark.parametrize("name", ["all", "operator", "confirm"])
def test_readers_add_refuses_a_reader_named_after_an_entry_of_out(name):
    with pytest.raises(ConfigError, match="reader name"):
        _new_profile(name, "ada@example.org", "GNN")


# --- atomic writing: one writer -----------------------------------------------------------------

# what writes a file in place or renames one over another
_WRITE = re.compile(r"os\.replace\(|\.write_(?:text|bytes)\(|mkstemp\(|open\([^)]*[\"'][wa]b?[\"']")
# the writer, the site's tree swap (its own temporary trees, named by atomic.temporary), the
# store's online backup (SQLite writes the copy), and the crash-point counter (a test's log)
_WRITERS = {"atomic.py", "deliver/site.py", "crashpoint.py"}


def test_every_file_is_written_by_the_one_atomic_writer():
    found = [
        f"{relative}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if (relative := path.relative_to(PACKAGE).as_posix()) not in _WRITERS
        and not relative.startswith("store/")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _WRITE.search(line)
    ]
    assert found == []


def test_the_writer_scan_finds_a_write_by_hand():
    assert _WRITE.search("os.replace(tmp, path)")
    assert _WRITE.search('path.write_text(text, encoding="utf-8")')
    assert _WRITE.search('with open(path, "wb") as handle:')
    assert not _WRITE.search("write_atomic(path, content)")
