"""The one port check every server command makes before it starts (protocol/ports.py)."""
from __future__ import annotations

import socket

import pytest

from t2i_contract.protocol.ports import PortTaken, check_free


def test_a_listening_port_is_taken_and_named_in_one_line() -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
        with pytest.raises(PortTaken) as caught:
            check_free("127.0.0.1", port)
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "\n" not in message


def test_a_free_port_passes_and_stays_free() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    check_free("127.0.0.1", port)
    with socket.create_server(("127.0.0.1", port)):
        pass  # the check left nothing bound
