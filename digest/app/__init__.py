"""The floor above the stages: what a command or a scheduled job calls.

- `flow.py`: the flow, `ingest`, `build`, `send`, and `run`, the one ingest-build-send sequence;
  every run ends in `conclude` (alerts.py's rules) with one `RunReport` (models.py).
- `wiring.py`: setup that is not flow: the config, the store opened with its readers synced,
  the clock, the signer and the links, what a command ingests.

The CLI parses arguments, calls these, and prints; operate.py's scheduled jobs call the same.
"""
