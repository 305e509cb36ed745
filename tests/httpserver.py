"""A real HTTP server on 127.0.0.1 for tests, answering from a script of canned responses."""

from __future__ import annotations

import http.server
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Reply:
    """One canned response. `drop_after` closes the connection after that many body bytes;
    `hold` makes the server wait on an event before answering (a slow server)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    hold: threading.Event | None = None
    chunked: bool = False


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class Server:
    """Replies per path are served in order; the last one repeats. Every request is recorded."""

    def __init__(self) -> None:
        self.replies: dict[str, deque[Reply]] = defaultdict(deque)
        self.seen: list[Seen] = []
        self.base = ""

    def script(self, path: str, *replies: Reply) -> str:
        self.replies[path].extend(replies)
        return self.base + path

    def next_reply(self, path: str) -> Reply:
        queue = self.replies.get(path)
        if not queue:
            return Reply(404, b"not found")
        return queue.popleft() if len(queue) > 1 else queue[0]

    def requests(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


def _handler(server: Server) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
            reply = server.next_reply(self.path)
            if reply.hold is not None:
                reply.hold.wait(10)
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.chunked:
                self._chunked(reply.body)
                return
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            body = reply.body if reply.drop_after is None else reply.body[: reply.drop_after]
            self.wfile.write(body)
            if reply.drop_after is not None:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)

        def _chunked(self, body: bytes) -> None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(body), 4096):
                chunk = body[start : start + 4096]
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that hung up on purpose (timeouts, size caps) is not news


@contextmanager
def serve() -> Iterator[Server]:
    """A running server; stopped (and any held reply released) on exit."""
    state = Server()
    httpd = _QuietServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        for queue in state.replies.values():
            for reply in queue:
                if reply.hold is not None:
                    reply.hold.set()
        httpd.shutdown()
        httpd.server_close()
