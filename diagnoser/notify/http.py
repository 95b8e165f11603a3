"""Outbound HTTP for webhooks: one POST, with a deadline, to an address we agreed to call, its answer read with a
size cap. Standard library only.

Why connect to the address we checked (rather than let a client resolve the name again): a name can resolve to a
public address when checked and to 127.0.0.1 a moment later (DNS rebinding). The name is resolved once, every
address it gives must be public (unless private targets are allowed), and the connection goes to that address,
with the name in the Host header and for TLS (SNI and certificate checks). Redirects are followed only when they
keep the method and body (307, 308), at most twice, each target checked like the first.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from diagnoser.store.channels import ChannelError, check_url, is_public_address

MAX_ANSWER_BYTES = 64 * 1024
MAX_REDIRECTS = 2
USER_AGENT = "Diagnoser-Notifications/1"


class TransportError(Exception):
    """Delivery failed. `permanent`: it will never work as configured (the webhook was removed, the channel
    archived, the token revoked, the target refused): the channel is disabled, saying why. Otherwise the message is
    tried again with backoff when `retry` (5xx, timeouts, connection errors, 429 after `retry_after` seconds), or
    failed at once when not (the remote refused this message itself, e.g. Slack's 400 invalid_payload).

    The message is one line that never holds the URL (a secret)."""

    def __init__(
        self, message: str, permanent: bool = False, *, retry: bool = True, status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry = retry and not permanent
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most MAX_ANSWER_BYTES
    headers: dict[str, str]  # names lower-cased

    def text(self) -> str:
        return self.body.decode("utf-8", "replace").strip()


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to: every address of `host` must be public unless `allow_private`."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TransportError(f"cannot resolve {host}: {getattr(error, 'strerror', None) or error}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise TransportError(f"cannot resolve {host}")
    if not allow_private:
        private = [a for a in addresses if not is_public_address(a)]
        if private:
            raise TransportError(
                f"{host} resolves to {private[0]}, a loopback, private or link-local address: refused "
                "(DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS=1 allows it)",
                permanent=True,
            )
    return addresses[0]


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> Answer:
    """POST `body` to `url` and return the answer, whatever its status; TransportError when there is none (no
    connection, a timeout, the connection closed, a refused target). `timeout` bounds the whole exchange."""
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        answer = _post_once(url, body, headers, deadline, timeout, allow_private)
        location = answer.headers.get("location")
        if answer.status in (307, 308) and location:
            url = urljoin(url, location)
            continue
        if 300 <= answer.status < 400:
            raise TransportError(f"{answer.status} redirect not followed (only 307/308 keep the message)",
                                 status=answer.status)
        return answer
    raise TransportError("too many redirects")


def _post_once(url: str, body: bytes, headers: dict[str, str], deadline: float, timeout: float,
               allow_private: bool) -> Answer:
    try:
        scheme, host, port = check_url(url, allow_private)
    except ChannelError as error:
        raise TransportError(str(error), permanent=True) from None
    address = resolve(host, port, allow_private)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(host, port, timeout=timeout)  # Host: the name, not the address
    sock: socket.socket | None = None
    try:
        sock = socket.create_connection((address, port), timeout=_left(deadline, timeout))
        if scheme == "https":
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        connection.sock = sock
        connection.request("POST", path, body=body,
                           headers={"User-Agent": USER_AGENT, "Content-Length": str(len(body)), **headers})
        sock.settimeout(_left(deadline, timeout))
        response = connection.getresponse()
        chunks = []
        size = 0
        while size < MAX_ANSWER_BYTES:
            sock.settimeout(_left(deadline, timeout))
            chunk = response.read1(MAX_ANSWER_BYTES - size) if hasattr(response, "read1") else response.read(
                MAX_ANSWER_BYTES - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return Answer(response.status, b"".join(chunks), {k.lower(): v for k, v in response.getheaders()})
    except TransportError:
        raise
    except TimeoutError:
        raise TransportError(f"no answer within {timeout:g} s") from None
    except http.client.RemoteDisconnected:
        raise TransportError("the remote closed the connection without answering") from None
    except ConnectionRefusedError:
        raise TransportError(f"connection refused by {host}:{port}") from None
    except ConnectionResetError:
        raise TransportError("connection reset by the remote") from None
    except ssl.SSLError as error:
        raise TransportError(f"TLS error: {error.reason or type(error).__name__}") from None
    except http.client.HTTPException as error:
        raise TransportError(f"not an HTTP answer ({type(error).__name__})") from None
    except OSError as error:
        raise TransportError(f"network error: {error.strerror or type(error).__name__}") from None
    finally:
        connection.close()
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


def _left(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return min(left, timeout)
