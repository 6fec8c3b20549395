"""One port number bound on 127.0.0.1 for UDP and TCP at once, as a DNS server listens."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


@contextlib.contextmanager
def udp_and_tcp() -> Iterator[tuple[int, socket.socket, socket.socket]]:
    """A port with a UDP and a TCP socket bound to it (closed after the block): the port, the
    UDP socket and the TCP one (not listening yet). A port free for UDP may be taken for TCP:
    another is tried then."""
    for _attempt in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                yield port, udp, tcp
                return
    raise AssertionError("no port free for both UDP and TCP on 127.0.0.1")
