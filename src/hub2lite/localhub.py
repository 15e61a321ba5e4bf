"""A local stand-in for tfhub.dev: serves hub-format archives over HTTP on 127.0.0.1.

tensorflow_hub fetches `<handle>?tf-hub-format=compressed` and expects a .tar.gz whose root is the
model folder. `LocalHub` answers exactly that, so `hub.resolve` runs its real code path (download,
lock file, atomic rename into the cache) without the internet. Used by `hub2lite demo` and the
tests; `faults` lets tests inject HTTP errors, stalls, trickles, resets and truncated transfers.
"""

from __future__ import annotations

import io
import os
import tarfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ._files import atomic_write_bytes

__all__ = ["LocalHub", "Fault", "pack_hub_archive"]


def pack_hub_archive(model_dir: str | os.PathLike[str], archive: str | os.PathLike[str]) -> Path:
    """Pack `model_dir`'s contents (not the folder itself) into a .tar.gz, as tfhub.dev serves them."""
    buf = io.BytesIO()
    root = Path(model_dir)
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for p in sorted(root.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(root)), recursive=False)
    atomic_write_bytes(archive, buf.getvalue())
    return Path(archive)


@dataclass
class Fault:
    """What to do to the next `times` requests for a path (None = forever)."""

    status: int | None = None  # answer with this HTTP status
    stall: float = 0.0  # sleep this long before answering (or, with stall_after, mid-transfer)
    stall_after: int | None = None  # send this many bytes of the archive, then stall
    truncate: int | None = None  # send only this many bytes of the archive, then close
    reset: bool = False  # close the connection without an answer
    trickle: float | None = None  # send the archive one byte every `trickle` seconds
    times: int | None = 1


class LocalHub:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.archives: dict[str, Path] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()  # wakes stalled handlers on exit
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- configuration -------------------------------------------------------------------------
    def add(self, path: str, archive: str | os.PathLike[str]) -> str:
        """Serve `archive` at `/path`; returns the handle (URL) to give hub2lite."""
        key = "/" + path.strip("/")
        self.archives[key] = Path(archive)
        return self.url(key)

    def fault(self, path: str, fault: Fault) -> None:
        self.faults.setdefault("/" + path.strip("/"), []).append(fault)

    def clear_faults(self, path: str | None = None) -> None:
        """Forget the pending faults of `path` (all paths when None)."""
        with self._lock:
            if path is None:
                self.faults.clear()
            else:
                self.faults.pop("/" + path.strip("/"), None)

    def url(self, path: str) -> str:
        assert self._server is not None, "start the LocalHub first (use it as a context manager)"
        return f"http://{self.host}:{self._server.server_address[1]}/{path.strip('/')}"

    # -- serving --------------------------------------------------------------------------------
    def _next_fault(self, key: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(key) or []
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            return fault

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server API
                try:
                    self._get()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout, kill): expected in fault tests

            def _get(self) -> None:
                parts = urlsplit(self.path)
                key = "/" + parts.path.strip("/")
                with hub._lock:
                    hub.requests.append(self.path)
                fault = hub._next_fault(key)
                if fault and fault.stall and fault.stall_after is None:
                    hub._closing.wait(fault.stall)
                if fault and fault.reset:
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault and fault.status:
                    self.send_error(fault.status)
                    return
                archive = hub.archives.get(key)
                fmt = parse_qs(parts.query).get("tf-hub-format", [""])[0]
                if archive is None:
                    self.send_error(404, "model not found")
                    return
                if fmt != "compressed":
                    self.send_error(400, "only ?tf-hub-format=compressed is served here")
                    return
                data = archive.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-tar")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault and fault.stall_after is not None:
                    self.wfile.write(data[: fault.stall_after])
                    self.wfile.flush()
                    hub._closing.wait(fault.stall)
                    self.close_connection = True
                    return
                if fault and fault.trickle is not None:
                    for i in range(len(data)):
                        if hub._closing.wait(fault.trickle):
                            break
                        self.wfile.write(data[i:i + 1])
                        self.wfile.flush()
                    self.close_connection = True
                    return
                if fault and fault.truncate is not None:
                    self.wfile.write(data[: fault.truncate])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

        return Handler

    def __enter__(self) -> LocalHub:
        self._closing.clear()
        self._server = ThreadingHTTPServer((self.host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="localhub", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
