"""Library files (digest/library/): each format read from real exports in tests/fixtures/library/
(a Zotero BibTeX export of 56 real papers, and the same papers as Zotero's RIS, CSL JSON and CSV
give them, and a plain list), each entry at the line it starts on; bad entries reported at
theirs; the format picked by content and extension, an unknown one in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.errors import SourceError
from digest.library import read, which
from digest.library.records import Skipped, entry

FIXTURES = Path(__file__).parent / "fixtures" / "library"
FIRST, SECOND, ON_THE_DAY = "2511.17221", "2511.17207", "2511.20422"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_zotero_bibtex_export_is_read_whole_with_each_entrys_line() -> None:
    found = read("zotero.bib", fixture("zotero.bib"))
    assert (found.format, len(found.entries), found.bad) == ("BibTeX", 56, ())
    first, last = found.entries[0], found.entries[-1]
    assert (first.line, first.arxiv_id, first.doi) == (1, FIRST, None)  # the arXiv DOI is the id
    assert first.title == "QueryOcc: Query-based Self-Supervision for 3D Semantic Occupancy"
    assert first.abstract.startswith("Learning 3D scene geometry")
    assert "by 26% in semantic RayIoU" in first.abstract  # Zotero's `\%` decoded
    assert first.url == f"http://arxiv.org/abs/{FIRST}"
    assert last.line == 56 * 13 - 12  # 12 lines and a blank one per entry
    assert all(e.arxiv_id and e.abstract and "{" not in e.title for e in found.entries)
    assert len({e.arxiv_id for e in found.entries}) == 56


@pytest.mark.parametrize(
    ("name", "form", "lines"),
    [
        ("zotero.ris", "RIS", [1, 15, 29]),
        ("zotero.json", "CSL JSON", [2, 32, 62]),
        ("zotero.csv", "Zotero CSV", [2, 5, 7]),  # an abstract over two lines; a note left out
    ],
)
def test_the_same_papers_from_zoteros_other_exports(name: str, form: str, lines: list[int]) -> None:
    found = read(name, fixture(name))
    assert (found.format, found.bad) == (form, ())
    assert [(e.line, e.arxiv_id) for e in found.entries] == list(
        zip(lines, [FIRST, SECOND, ON_THE_DAY], strict=True)
    )
    assert all(e.title and len(e.abstract) > 1000 for e in found.entries)


def test_a_plain_list_reads_ids_urls_dois_and_titles() -> None:
    found = read("library.txt", fixture("library.txt"))
    assert [(e.line, e.arxiv_id, e.doi, e.title[:9]) for e in found.entries] == [
        (2, FIRST, None, ""),  # with a version
        (3, SECOND, None, ""),  # arXiv: prefix
        (4, ON_THE_DAY, None, ""),  # a PDF link
        (5, None, "10.1145/3292500.3330701", ""),
        (7, None, None, "VibraVers"),  # a title (line 6 is blank)
    ]


@pytest.mark.parametrize(
    ("name", "good", "line", "reason"),
    [
        ("bad.bib", 2, 14, 'a broken BibTeX entry "@misc{noauthor_sing3r_2025": Unexpected'),
        ("bad.ris", 2, 15, "a record not closed by an `ER  - ` line"),
        ("bad.json", 1, 35, "not valid JSON: Expecting ',' delimiter"),
        ("bad.csv", 2, 4, "no title, arXiv id or DOI"),
        ("bad.txt", 2, 2, "a link that names no arXiv paper or DOI"),
    ],
)
def test_a_bad_entry_is_reported_at_the_line_it_starts_on(
    name: str, good: int, line: int, reason: str
) -> None:
    found = read(name, fixture(name))
    assert len(found.entries) == good
    (bad,) = found.bad
    assert (bad.line, bad.bad) == (line, True)
    assert bad.reason.startswith(reason)


def test_the_format_is_the_contents_else_the_extension() -> None:
    assert which("export", fixture("zotero.bib").decode()) == "bibtex"
    assert which("library.txt", fixture("zotero.ris").decode()) == "ris"
    assert which("x.bib", fixture("zotero.json").decode()) == "csljson"
    assert which("Exported Items.csv", fixture("zotero.csv").decode("utf-8-sig")) == "zotero_csv"
    assert which("list", "2506.08007\n") == "plain"
    assert which("papers.txt", "Attention Is All You Need\n") == "plain"


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("paper.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "paper.pdf: not UTF-8 text"),
        ("notes.docx", b"some notes, not a library\n", "notes.docx: not a library file"),
        ("empty.bib", b"", "empty.bib: empty file"),
        ("comments.bib", b"% nothing but a comment\n", "comments.bib: no entries in this BibTeX"),
        ("bare.json", b'{"title": "x"}', "bare.json:1: a JSON object without an `items`"),
    ],
)
def test_a_file_of_no_library_format_is_one_line(name: str, data: bytes, said: str) -> None:
    try:
        found = read(name, data)
    except SourceError as exc:
        assert str(exc).startswith(said)
        assert "\n" not in str(exc)
    else:  # a file that is a library, with nothing but one bad entry
        (bad,) = found.bad
        assert f"{name}:{bad.line}: {bad.reason}".startswith(said)


def test_ids_are_found_wherever_exports_put_them() -> None:
    def arxiv(**fields: object) -> str | None:
        made = entry(1, title="T", **fields)  # type: ignore[arg-type]
        assert not isinstance(made, Skipped)
        return made.arxiv_id

    assert arxiv(ids=["arXiv preprint arXiv:1706.03762"]) == "1706.03762"  # Google Scholar
    assert arxiv(ids=["arXiv: 1706.03762"]) == "1706.03762"  # Zotero's Extra
    assert arxiv(ids=["arXiv:1706.03762v5 [cs]"]) == "1706.03762"  # Zotero's note
    assert arxiv(ids=["arXiv:hep-th/9901001v1"]) == "hep-th/9901001"
    assert arxiv(doi="https://doi.org/10.48550/arXiv.1706.03762") == "1706.03762"
    assert arxiv(url="https://arxiv.org/pdf/1706.03762v7.pdf") == "1706.03762"
    assert arxiv(url="https://openreview.net/forum?id=abc") is None
    made = entry(1, doi="doi:10.1145/3292500.3330701.")
    assert not isinstance(made, Skipped) and made.doi == "10.1145/3292500.3330701"
    assert entry(1, title="x" * 600) == Skipped(1, "a title of 600 characters is not a title", True)


# -- config.yaml: library and zotero ----------------------------------------------------------


def test_a_library_path_is_relative_to_config_yaml_and_zotero_is_checked(tmp_path: Path) -> None:
    from digest.config import LibrarySource, ZoteroConfig, load_config
    from digest.errors import ConfigError

    config = tmp_path / "config.yaml"
    config.write_text(
        "readers:\n"
        "  - {name: zoe, library: exports/zotero.bib, interests: {}}\n"
        "  - name: kim\n"
        "    interests: {keywords: [robots]}\n"
        "    zotero: {group: 4711, key_env: ZOTERO_KEY, collection: ABCD2345}\n",
        encoding="utf-8",
    )
    loaded = load_config(config, kinds={"feed"})
    assert loaded.libraries == (
        LibrarySource("zoe", path=tmp_path / "exports" / "zotero.bib"),
        LibrarySource(
            "kim", zotero=ZoteroConfig(group="4711", key_env="ZOTERO_KEY", collection="ABCD2345")
        ),
    )
    assert loaded.libraries[1].zotero is not None
    assert loaded.libraries[1].zotero.origin == "zotero:groups/4711/collections/ABCD2345"
    config.write_text(
        "readers:\n"
        "  - {name: zoe, library: z.bib, zotero: {user: 1}, interests: {}}\n"
        "  - {name: kim, interests: {}, zotero: {user: 1, group: 2, collection: abc, api_key: x}}\n"
        "  - {name: bob, interests: {}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config, kinds={"feed"})
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "readers[1].zotero.api_key: secrets do not belong in the config file; use 'api_key_env: "
        "ENV_VAR_NAME' instead",  # secrets first, whatever else is wrong
        "readers[0]: library and zotero: give one of them",
        "readers[1].zotero: needs exactly one of 'user' or 'group' (got both)",
        "readers[1].zotero.collection: expected a collection key (ABCD2345), got 'abc'",
        "readers[2].interests: needs keywords, liked papers, authors or a library",
    ]
