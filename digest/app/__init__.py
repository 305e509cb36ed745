"""The floor above the stages: what a command or a scheduled job calls.

- `flow.py`: the flow, `ingest`, `build`, `send`, and `run`, the one ingest-build-send sequence;
  every run ends in `conclude` (alerts.py's rules) with one `RunReport` (models.py).
- `wiring.py`: setup that is not flow: the config, the store opened with its readers synced,
  the clock, the signer and the links, what a command ingests.
- `build.py`: rank, curate, keep, render and write (`outputs.py`), plan the sends; `sending.py`
  sends a day's ledger (`senders.py`: one sender, or many processes) and the mails outside it;
  `alerts.py`, the operator's alerts; `jobs.py`, the scheduled jobs; `upkeep.py`, the store as
  a whole: copying it into another backend.

The CLI parses arguments, calls these, and prints; the scheduled jobs (jobs.py) call the same.
"""
