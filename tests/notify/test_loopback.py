"""One loopback check for the web front and the gateways (core/loopback.py): a bare host or address, or one
with its port; loopback is 127.0.0.0/8 and ::1 (RFC 1122 §3.2.1.3, RFC 4291 §2.5.3) and the name localhost."""

from __future__ import annotations

import pytest

from core.loopback import is_loopback


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost:8025",
                                  "127.0.0.1:8025", "[::1]:25"])
def test_this_machine(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["", "10.0.0.1", "192.168.1.1:25", "smtp.example.com", "smtp.example.com:587",
                                  "::2", "[2001:db8::1]:25", "localhost.example.com", "127.0.0.1.example.com"])
def test_another_machine(host):
    assert not is_loopback(host)
