"""A threaded HTTP/1.1 server for a WSGI application that keeps connections open, as API Gateway and DynamoDB do.

werkzeug's development server closes every connection after its answer and then waits 10 ms for stray body bytes:
each request paid a new TCP connection and a new server thread (measured: ~2 ms per DynamoDB call from the same
machine, most of it that). Here each connection has one thread for its life and every request body is read whole
(`Content-Length`, or chunked to its last chunk) before the application sees it, so the next request on the
connection starts where it should.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

__all__ = ["MAX_BODY", "KeepAliveServer"]

logger = logging.getLogger("tags_tools.local.http11")

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit: a larger body is never read (see _Handler._body)
_NO_BODY = (204, 304)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _BodyTooLarge(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An answer leaves in one write, flushed after each request, and without Nagle's wait: headers and body written
    # apart on an open connection otherwise meet the client's delayed ACK (measured: 44 ms per call instead of 1).
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: KeepAliveServer

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._answer  # every method goes to the application
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the application logs what it serves

    def _answer(self) -> None:
        try:
            body, length = self._body()
        except _BodyTooLarge:
            self.send_error(413)  # send_error closes the connection: the rest of the body is never read
            return
        except ValueError:
            self.send_error(400, "Bad Content-Length or chunk size")
            return
        answer: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., Any]:
            answer[:] = [status, headers]
            return lambda data: None  # the application returns its body; it never writes

        try:
            payload = b"".join(self.server.app(self._environ(body, length), start_response))
            status, headers = answer
        except Exception:
            logger.exception("the application failed: answering 500")
            self.send_error(500)  # and the connection closes
            return
        code = int(status.split(" ", 1)[0])
        self.send_response(code, status.partition(" ")[2])
        for name, value in headers:
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        if code in _NO_BODY:
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _body(self) -> tuple[bytes, int]:
        """(the body, its length). A `Content-Length` over MAX_BODY is not read: the application sees the length
        with an empty body (to answer its own 413), and the connection closes after the answer."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._chunked()
            return body, len(body)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(length)
        if length > MAX_BODY:
            self.close_connection = True
            return b"", length
        return self.rfile.read(length), length

    def _chunked(self) -> bytes:
        parts, total = [], 0
        while True:
            size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY:
                raise _BodyTooLarge
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk
        while self.rfile.readline(1024).strip():  # trailers, to the empty line
            pass
        return b"".join(parts)

    def _environ(self, body: bytes, length: int) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command, "SCRIPT_NAME": "", "PATH_INFO": unquote(path, "latin-1"),
            "QUERY_STRING": query, "SERVER_NAME": str(host), "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0],
            "CONTENT_LENGTH": str(length), "RAW_URI": self.path, "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
            "wsgi.multiprocess": False, "wsgi.run_once": False}
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
                continue
            key = key if key == "CONTENT_TYPE" else f"HTTP_{key}"
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ


class KeepAliveServer(ThreadingHTTPServer):
    """`app` served on (host, port); `serve_forever` in a thread of the caller's, `close` ends open connections."""

    daemon_threads = True
    request_queue_size = 128  # connections waiting to be accepted (socketserver's 5 resets a burst of clients)

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((host, port), _Handler)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def close(self) -> None:
        """Stop serving and end every open connection (their threads see the end and finish)."""
        self.shutdown()
        self.server_close()
        with self._open_lock:
            for connection in list(self._open):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
