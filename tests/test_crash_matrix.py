"""`digest run` killed at every one of its write steps in turn, then run again, ends as a clean run,
on SQLite and on PostgreSQL.

A first run with DIGEST_CRASH_COUNT lists the steps of a whole run (every store commit, every
atomic file replace, the site swapped in, every SMTP MAIL, RCPT and DATA, and the end of each
message's DATA): it is the clean run the others are held to. Then, for each step N, a fresh
project is run with DIGEST_CRASH_AT=N (killed by SIGKILL there), and run again without it.
Afterwards the store holds the same papers, sightings, readers and digests, the output
directory the same files byte for byte (DIGEST_NOW fixes the clock), and every reader got their
message exactly once, the same bytes as in the clean run. Only a reader whose message had been
handed over in full (the end of DATA sent) before the outcome was committed is left `unknown`
instead of `sent`, and is not sent again.

Each run is a real process (`python -c ... main()`), reading local fixture pages and sending to
a real SMTP server on 127.0.0.1. On PostgreSQL each project's store is a fresh schema of its own
on the test server, named by DIGEST_STORE (so a kill during its first migrations is a step too).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from helpers import FIXTURES
from pg import fresh_schema, pg_server_or_skip
from smtpserver import SmtpServer

NOW = "2025-08-20T06:30:00+00:00"
SECRET = "correct horse battery staple, twice over"
CONFIG = """\
store: out/store.sqlite3
sources:
  - {{name: aug, kind: hf_text, path: pages/000_136fd171620bccff.txt, date: 2025-08-20}}
  - {{name: jun, kind: hf_text, path: pages/002_3cd0b1d1c34a916a.txt, date: 2025-06-02}}
delivery:
  method: smtp
  from: "Paper Digest <digest@example.org>"
  base_url: https://digest.example.org/
  rate: 1000
  smtp: {{host: 127.0.0.1, port: {port}, security: none, timeout: 10}}
readers:
  - name: ada
    email: ada@example.org
    interests: {{keywords: [network pruning, quantization, knowledge distillation]}}
  - name: grace
    email: grace@example.org
    interests: {{keywords: [gaussian splatting, novel view synthesis, 3D reconstruction]}}
    public: true
  - name: alan
    interests: {{keywords: [large language models, reasoning, in-context learning]}}
"""
PAGES = ("000_136fd171620bccff.txt", "002_3cd0b1d1c34a916a.txt")
STORE_FILES = {"store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm"}
# the store's rows compared as they are; `runs` (a killed run records none) and `deliveries` (who
# claimed a row differs) are compared apart, and where each source lives differs by project
TABLES = {
    "papers": "SELECT * FROM papers",
    "sightings": "SELECT * FROM sightings",
    "paper_aliases": "SELECT * FROM paper_aliases",
    "source_state": "SELECT source, last_attempt, last_success, last_error,"
    " consecutive_failures FROM source_state",
    "readers": "SELECT * FROM readers",
    "digests": "SELECT * FROM digests",
    "digest_papers": "SELECT * FROM digest_papers",
}
END_OF_DATA = "smtp end of DATA"
COMMIT = "store commit"
WORKERS = 2  # steps run two at a time, each pair of runs in its own project and SMTP server
MAIL_KINDS = {"smtp MAIL", "smtp RCPT", "smtp DATA", END_OF_DATA}
MAIN = [sys.executable, "-c", "import sys; from digest.cli import main; sys.exit(main())"]
# Reads jobs (JSON lines) on stdin; forks a child for each, which adds the job's variables to
# its environment, sends its output to the job's log and runs digest's main; answers with the
# child's exit code (-9 for SIGKILL). The crash hook reads its variables at its first step.
FORKER = """\
import json, os, sys, traceback
from digest.cli import main
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.environ.update(job["env"])
            log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
            code = main(job["args"])
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a project holds after its runs."""

    files: dict[str, bytes]  # every file under out/ but the store's own, by relative path
    tables: dict[str, list[tuple[Any, ...]]]
    ledger: dict[str, str]  # reader -> delivery status
    received: dict[str, list[bytes]]  # recipient -> every message the server took for them


def project(home: Path, port: int) -> Path:
    (home / "pages").mkdir(parents=True)
    for name in PAGES:
        shutil.copy(FIXTURES / "pages" / name, home / "pages" / name)
    (home / "config.yaml").write_text(CONFIG.format(port=port), encoding="utf-8")
    return home


def environment(**extra: str) -> dict[str, str]:
    """This environment with the clock fixed and the secret set, and no crash hook unless asked."""
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("DIGEST_CRASH", "DIGEST_NOW"))
    }
    return (
        environ | {"DIGEST_NOW": NOW, "DIGEST_SECRET": SECRET, "OPENBLAS_NUM_THREADS": "1"} | extra
    )


def digest_run(home: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """`digest run` in a new interpreter."""
    return subprocess.run(
        [*MAIN, "--config", str(home / "config.yaml"), "run"],
        env=environment(**env),
        capture_output=True,
        timeout=120,
        check=False,
    )


class Runner:
    """A process that has imported digest and forks a child for each `digest run`: every run
    is still a process of its own (killed alone, its files and sockets closed by the kernel),
    without paying the imports (most of a small run's time) again."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", FORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment(),
            text=True,
        )

    def run(self, home: Path, **env: str) -> tuple[int, str]:
        """`digest run` in `home` with `env` added: its exit code (-9 when killed), its output."""
        log = home / "run.log"
        job = {"args": ["--config", str(home / "config.yaml"), "run"], "env": env, "log": str(log)}
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(job) + "\n")
        self._process.stdin.flush()
        code = int(self._process.stdout.readline())
        return code, log.read_text("utf-8", errors="replace")

    def close(self) -> None:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)
        self._process.stdout.close()


@contextlib.contextmanager
def store_for(pg: str | None) -> Iterator[dict[str, str]]:
    """The environment that puts a project's store in place: nothing for SQLite (config.yaml's
    `store:`, in the project), DIGEST_STORE naming a fresh schema on PostgreSQL server `pg`."""
    if pg is None:
        yield {}
        return
    with fresh_schema(pg) as url:
        yield {"DIGEST_STORE": url}


def connect(home: Path, env: dict[str, str]) -> contextlib.closing[Any]:
    """A connection to the project's store, on whichever backend `env` puts it."""
    url = env.get("DIGEST_STORE")
    return contextlib.closing(
        psycopg.connect(url) if url else sqlite3.connect(home / "out" / "store.sqlite3")
    )


def outcome(home: Path, server: SmtpServer, env: dict[str, str]) -> Outcome:
    out = home / "out"
    # the model cache by name only: a model pickled after another was loaded from the cache
    # shares its objects differently (same model, other bytes); what it ranks is compared
    files = {
        path.relative_to(out).as_posix(): b"" if path.parent.name == "cache" else path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name not in STORE_FILES
    }
    with connect(home, env) as conn:
        tables = {t: sorted(conn.execute(sql).fetchall()) for t, sql in TABLES.items()}
        ledger = dict(conn.execute("SELECT reader, status FROM deliveries").fetchall())
    received: dict[str, list[bytes]] = {}
    for message in server.messages:
        for recipient in message.recipients:
            received.setdefault(recipient, []).append(message.content)
    return Outcome(files, tables, ledger, received)


@contextlib.contextmanager
def served_project(home: Path, pg: str | None) -> Iterator[tuple[Path, SmtpServer, dict[str, str]]]:
    """A new project, its SMTP server, and the environment that names its store."""
    with SmtpServer() as server, store_for(pg) as env:
        yield project(home, server.port), server, env


def in_flight(steps: list[str], crash_at: int) -> int:
    """How many messages a kill at step `crash_at` (1-based) leaves handed over in full but
    with no outcome committed: the kill falls on or after a message's end of DATA and on or
    before the commit that follows it (a kill at a commit comes before COMMIT)."""
    count = 0
    for index, name in enumerate(steps, start=1):
        if name != END_OF_DATA or index > crash_at:
            continue
        outcome_commit = steps.index(COMMIT, index) + 1
        count += crash_at <= outcome_commit
    return count


def crash_and_rerun(
    runner: Runner, home: Path, pg: str | None, steps: list[str], crash_at: int, clean: Outcome
) -> tuple[int, list[str]]:
    """Run killed at step `crash_at`, run again, and compare with the clean run; returns the
    number of messages left `unknown` and every difference found."""
    problems: list[str] = []
    with served_project(home, pg) as (home, server, env):
        code, said = runner.run(home, DIGEST_CRASH_AT=str(crash_at), **env)
        if code != -signal.SIGKILL:
            return 0, [f"step {crash_at}: not killed (exit {code}): {said[-500:]}"]
        rerun, said = runner.run(home, **env)
        # the server records a message before it answers; the rerun has ended, so every
        # message handed over is recorded by now
        got = outcome(home, server, env)
    unknown = [r for r, status in got.ledger.items() if status == "unknown"]
    expected_unknown = in_flight(steps, crash_at)
    if len(unknown) != expected_unknown:
        problems.append(f"{len(unknown)} unknown ({unknown}), expected {expected_unknown}")
    if set(got.ledger.values()) - {"sent", "unknown"} or got.ledger.keys() != clean.ledger.keys():
        problems.append(f"ledger {got.ledger}, clean {clean.ledger}")
    if got.received != clean.received:
        times = {r: len(m) for r, m in got.received.items()}
        problems.append(f"messages received {times} differ from the clean run's")
    if rerun != 0:
        problems.append(f"rerun exit {rerun}: {said[-500:]}")
    if got.tables != clean.tables:
        problems.append(f"tables differ: {[t for t in TABLES if got.tables[t] != clean.tables[t]]}")
    if got.files != clean.files:
        extra = sorted(got.files.keys() - clean.files.keys())
        missing = sorted(clean.files.keys() - got.files.keys())
        changed = sorted(
            p for p in got.files.keys() & clean.files.keys() if got.files[p] != clean.files[p]
        )
        problems.append(f"files differ: extra {extra}, missing {missing}, changed {changed}")
    return len(unknown), [f"step {crash_at} ({steps[crash_at - 1]}): {p}" for p in problems]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_run_killed_at_any_write_step_then_run_again_ends_as_a_clean_run(
    tmp_path: Path, backend: str
) -> None:
    pg = pg_server_or_skip() if backend == "postgresql" else None
    counted = tmp_path / "steps.txt"
    with served_project(tmp_path / "clean", pg) as (home, server, env):
        first = digest_run(home, DIGEST_CRASH_COUNT=str(counted), **env)
        assert first.returncode == 0, first.stderr.decode()
        clean = outcome(home, server, env)
    lines = counted.read_text("utf-8").splitlines()
    steps = [line.split(" ", 1)[1] for line in lines]
    assert [int(line.split(" ", 1)[0]) for line in lines] == list(range(1, len(steps) + 1))
    kinds = Counter(steps)
    # the run did all its kinds of writes: a meaningful matrix, not an empty one
    assert set(clean.ledger.values()) == {"sent"} and len(clean.ledger) == 2
    assert {r: len(m) for r, m in clean.received.items()} == {
        "ada@example.org": 1,
        "grace@example.org": 1,
    }
    assert kinds[END_OF_DATA] == kinds["smtp MAIL"] == kinds["smtp DATA"] == 2
    assert kinds["smtp RCPT"] == 2 and kinds[COMMIT] > 2 and "swap in site" in kinds
    assert any(name.startswith("replace ") for name in steps)
    assert set(kinds) <= MAIL_KINDS | {COMMIT, "swap in site"} | {
        n for n in kinds if n.startswith("replace ")
    }

    def share(first: int) -> list[tuple[int, list[str]]]:
        """Every other step from `first`, each killed and rerun by one forking runner."""
        runner = Runner()
        try:
            return [
                crash_and_rerun(runner, tmp_path / f"crash-{n}", pg, steps, n, clean)
                for n in range(first, len(steps) + 1, WORKERS)
            ]
        finally:
            runner.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = [r for part in pool.map(share, range(1, WORKERS + 1)) for r in part]
    problems = [p for _, found in results for p in found]
    unknown = sum(count for count, _ in results)
    print(
        f"crash matrix ({backend}): {len(steps)} write steps, each killed and rerun;"
        f" {unknown} left unknown"
    )
    print(", ".join(f"{n} {name}" for name, n in sorted(kinds.items())))
    assert problems == [], "\n".join(problems)
    # every step was covered: one killed run per counted step, and a kill after the end of
    # DATA left exactly the messages in flight unknown (at least one per message)
    assert len(results) == len(steps)
    assert unknown >= kinds[END_OF_DATA]


# -- what a kill before a rename leaves, and the next write removes --------------------------

WRITE = """\
import sys
from pathlib import Path
from digest.deliver.files import write_atomic
write_atomic(Path(sys.argv[1]), sys.argv[2].encode())
"""
SITE = """\
import sys
from pathlib import Path
from digest.deliver.site import write_site
from digest.models import Artifact
write_site(Path(sys.argv[1]), [Artifact(Path("index.html"), sys.argv[2].encode(), "text/html")])
"""


def killed_at_first_step(script: str, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=environment(DIGEST_CRASH_AT="1"),
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()


def test_a_file_write_killed_before_its_rename_leaves_nothing_after_the_next(tmp_path) -> None:
    target = tmp_path / "mail" / "ada" / "2025-08-20.eml"
    killed_at_first_step(WRITE, str(target), "first")
    assert not target.exists()
    left = list(target.parent.iterdir())
    assert len(left) == 1 and left[0].name.startswith(".2025-08-20.eml.")
    killed_at_first_step(WRITE, str(target), "second")  # took the first one's away, left its own
    (second,) = target.parent.iterdir()
    assert second != left[0] and second.name.startswith(".2025-08-20.eml.")
    subprocess.run(
        [sys.executable, "-c", WRITE, str(target), "third"], env=environment(), check=True
    )
    assert list(target.parent.iterdir()) == [target]
    assert target.read_bytes() == b"third"


def test_a_site_write_killed_before_its_swap_leaves_nothing_after_the_next(tmp_path) -> None:
    root = tmp_path / "out" / "site"
    killed_at_first_step(SITE, str(root), "first")
    assert not root.exists() and len(list(root.parent.iterdir())) == 1  # the new tree, aside
    subprocess.run([sys.executable, "-c", SITE, str(root), "again"], env=environment(), check=True)
    assert list(root.parent.iterdir()) == [root]
    assert (root / "index.html").read_bytes() == b"again"


def test_a_write_leaves_the_temporary_files_of_running_writers_alone(tmp_path) -> None:
    from digest.deliver.files import temporary, write_atomic

    # one of this process (a writer in another thread, mid-write) and one of another user's
    # or an unknown process (pid 1 is always running)
    mine = tmp_path / f"{temporary('a.md')}abc_12.tmp"
    init = tmp_path / ".b.md.1.xyz.tmp"
    for path in (mine, init):
        path.write_bytes(b"half")
    write_atomic(tmp_path / "c.md", b"c")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, init.name, "c.md"])
