"""The SQL every backend runs: one mixin per aggregate over the backend's connection (base.py
says what a backend gives them), composed into `SqlAggregates`.

- papers.py and feedback.py: papers merged over their sightings (store/merge.py decides), and
  what each reader said of them;
- library.py: each reader's library, matched to stored papers or kept as library papers;
- built.py: the digests built, each reader's papers in order with why they were picked;
- sources.py and runs.py: each source's last attempt and fetch, each command's run;
- readers.py and signups.py: readers and their links' version, the subscribe form's budgets;
- ledger.py, behind deliveries.py: the send ledger, sent exactly once;
- shards.py: what the shards of a sharded build share, the day's model and which are done.
"""

from __future__ import annotations

from digest.store.sql.built import SqlBuiltDigests
from digest.store.sql.deliveries import SqlLedger
from digest.store.sql.feedback import SqlFeedback
from digest.store.sql.library import SqlLibrary
from digest.store.sql.papers import SqlPapers
from digest.store.sql.readers import SqlReaders
from digest.store.sql.runs import SqlRuns
from digest.store.sql.shards import SqlModels, SqlShards
from digest.store.sql.signups import SqlSignups
from digest.store.sql.sources import SqlSources


class SqlAggregates(
    SqlFeedback,
    SqlLibrary,
    SqlBuiltDigests,
    SqlPapers,
    SqlSources,
    SqlRuns,
    SqlReaders,
    SqlSignups,
    SqlLedger,
    SqlModels,
    SqlShards,
):
    """Every aggregate; a backend's store is its connection class and these."""


__all__ = ["SqlAggregates"]
