"""Getting a source's bytes: files from disk, URLs over HTTP, politely.

HTTP (httpx, `http.py`): explicit timeouts, redirects followed (a permanent one reported),
conditional GET with the validators of the last fetch, bounded retries with exponential backoff and
full jitter on 5xx and connection errors, `Retry-After` honoured on 429/503 up to a bound, a minimum
interval per host (`limits.py`: 3 s for arxiv.org), a User-Agent naming the project, and a size
cap. Clock, sleep and randomness are injectable, so tests never wait for real.
"""

from digest.fetch.files import path_from_location, read_file
from digest.fetch.http import ACCEPT, USER_AGENT, Fetched, Fetcher, FetchError, Validators
from digest.fetch.limits import ARXIV_INTERVALS, MAX_BYTES, HostLimiter

__all__ = [
    "ACCEPT",
    "ARXIV_INTERVALS",
    "MAX_BYTES",
    "USER_AGENT",
    "FetchError",
    "Fetched",
    "Fetcher",
    "HostLimiter",
    "Validators",
    "path_from_location",
    "read_file",
]
