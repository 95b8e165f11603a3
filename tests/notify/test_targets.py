"""Safe targets: only http(s); loopback, private and link-local addresses refused (when written and when a name
resolves to one) unless allowed; redirects followed only to addresses we agree to call; answers read with a cap."""

from __future__ import annotations

import socket

import pytest
from remote import answer

from diagnoser.notify import http
from diagnoser.notify.http import MAX_ANSWER_BYTES, TransportError, post
from diagnoser.store.channels import ChannelError, check_url, is_public_address, mask_url


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x", "example.com/hook",
                                 "https://", "https://user:pw@example.com/hook", "https://example.com/a\x00b",
                                 "https://example.com/a b", "https://example.com/a\nb"])
def test_only_http_urls_with_a_host_and_no_credentials(url):
    with pytest.raises(ChannelError):
        check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://127.0.0.1/x", "http://localhost:8000/x", "http://10.1.2.3/", "http://[::1]/",
                                 "http://169.254.169.254/latest/meta-data", "http://192.168.0.10/", "http://0.0.0.0/",
                                 "http://[fe80::1]/", "http://[::ffff:127.0.0.1]/", "http://100.64.0.1/"])
def test_private_addresses_are_refused_unless_allowed(url):
    with pytest.raises(ChannelError, match="DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS"):
        check_url(url)
    check_url(url, allow_private=True)


def test_public_addresses_pass():
    assert check_url("https://hooks.slack.com/services/T/B/x") == ("https", "hooks.slack.com", 443)
    assert is_public_address("93.184.216.34") and not is_public_address("172.16.0.1")


def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "",
                                                                 ("10.0.0.7", 443))])
    with pytest.raises(TransportError) as caught:
        post("https://internal.example.com/hook", b"{}", {}, timeout=1, allow_private=False)
    assert caught.value.permanent and "10.0.0.7" in caught.value.message


def test_a_redirect_to_a_private_address_is_not_followed(remote, monkeypatch):
    # The stand-in listens on 127.0.0.1; let that one address count as public here, and redirect to another.
    import diagnoser.store.channels as channels

    for module in (http, channels):
        monkeypatch.setattr(module, "is_public_address", lambda address: address == "127.0.0.1")
    url = remote.plan("/redirect", answer(307, "", {"Location": "http://127.0.0.2:9/steal"}))
    with pytest.raises(TransportError) as caught:
        post(url, b"{}", {}, timeout=2, allow_private=False)
    assert caught.value.permanent and len(remote.requests) == 1


def test_a_307_to_an_allowed_address_is_followed_with_the_body(remote):
    target = remote.plan("/final")
    url = remote.plan("/moved", answer(308, "", {"Location": target}))
    got = post(url, b'{"a":1}', {"Content-Type": "application/json"}, timeout=2, allow_private=True)
    assert got.status == 200 and remote.to("/final")[0].body == b'{"a":1}'


def test_other_redirects_are_errors(remote):
    url = remote.plan("/302", answer(302, "", {"Location": "/elsewhere"}))
    with pytest.raises(TransportError, match="302 redirect not followed"):
        post(url, b"{}", {}, timeout=2, allow_private=True)


def test_answers_are_read_with_a_size_cap(remote):
    url = remote.plan("/big", answer(200, b"x" * (5 * 1024 * 1024)))
    got = post(url, b"{}", {}, timeout=5, allow_private=True)
    assert got.status == 200 and len(got.body) == MAX_ANSWER_BYTES


def test_a_masked_url_keeps_the_host_and_hides_the_path():
    assert mask_url("https://hooks.slack.com/services/T0001/B0001/abcdefghijklmnop") == "https://hooks.slack.com/…mnop"
