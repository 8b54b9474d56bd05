"""The local servers' HTTP/1.1 (tags_tools/local/http11.py): connections stay open across requests, as API Gateway's
and DynamoDB's do, and every request body is read whole, so the next request on a connection is answered as sent."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tags_tools.local.http11 import MAX_BODY, KeepAliveServer


def _echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers what it was sent: method, path, query and body; 204 for DELETE; fails on /fail."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    if environ["PATH_INFO"] == "/fail":
        raise RuntimeError("the application's own bug")
    if environ["REQUEST_METHOD"] == "DELETE":
        start_response("204 No Content", [])
        return [b""]
    answer = json.dumps({"method": environ["REQUEST_METHOD"], "path": environ["PATH_INFO"],
                         "raw": environ["RAW_URI"], "query": environ["QUERY_STRING"], "body": body.decode(),
                         "length": environ["CONTENT_LENGTH"], "type": environ.get("CONTENT_TYPE")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Connection", "close")])
    return [answer]


@pytest.fixture
def echo() -> Iterator[KeepAliveServer]:
    server = KeepAliveServer("127.0.0.1", 0, _echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.close()
    thread.join(timeout=10)


def _connection(server: KeepAliveServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)


def test_one_connection_carries_many_requests_each_answered_as_sent(echo: KeepAliveServer) -> None:
    connection = _connection(echo)
    connection.connect()
    first_socket = connection.sock
    for n in range(5):
        connection.request("POST", f"/tags%2Fx?n={n}", body=json.dumps({"n": n}),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = json.loads(response.read())
        assert response.status == 200
        assert response.getheader("Connection") is None  # the application's "close" does not end the connection
        assert answer == {"method": "POST", "path": "/tags/x", "raw": f"/tags%2Fx?n={n}", "query": f"n={n}",
                          "body": json.dumps({"n": n}), "length": str(len(json.dumps({"n": n}))),
                          "type": "application/json"}
    assert connection.sock is first_socket  # http.client reconnects when a server closes: it never had to


def test_a_chunked_body_is_read_to_its_last_chunk_and_the_connection_goes_on(echo: KeepAliveServer) -> None:
    connection = _connection(echo)
    connection.request("PUT", "/a", body=iter([b'{"name":', b' "chunked"}']), encode_chunked=True,
                       headers={"Transfer-Encoding": "chunked"})
    response = connection.getresponse()
    assert json.loads(response.read())["body"] == '{"name": "chunked"}'
    connection.request("GET", "/b")
    response = connection.getresponse()
    assert json.loads(response.read())["path"] == "/b"


def test_a_204_has_no_body_and_the_next_request_is_answered(echo: KeepAliveServer) -> None:
    connection = _connection(echo)
    connection.request("DELETE", "/tags/1")
    response = connection.getresponse()
    assert (response.status, response.read(), response.getheader("Content-Length")) == (204, b"", None)
    connection.request("GET", "/after")
    assert json.loads(connection.getresponse().read())["path"] == "/after"


def test_a_body_over_the_limit_is_not_read_the_application_answers_and_the_connection_closes(
        echo: KeepAliveServer) -> None:
    connection = _connection(echo)
    connection.putrequest("POST", "/big")
    connection.putheader("Content-Length", str(MAX_BODY + 1))
    connection.endheaders()  # the body is never sent: the answer must not wait for it
    response = connection.getresponse()
    answer = json.loads(response.read())
    assert (answer["length"], answer["body"], response.getheader("Connection")) == (str(MAX_BODY + 1), "", "close")


def test_an_application_that_fails_answers_500_not_a_dropped_connection(echo: KeepAliveServer) -> None:
    connection = _connection(echo)
    connection.request("GET", "/fail")
    response = connection.getresponse()
    response.read()
    assert (response.status, response.getheader("Connection")) == (500, "close")
