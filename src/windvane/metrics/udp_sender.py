"""The StatsD transport: UDP datagrams to one address, sent without blocking and never raising.

Why our own and not a client library: the sink formats every line itself
(Airflow's names, DogStatsD tags, batching into packets), so all it needs from
a client is a socket; the ``statsd`` package (last release 2022) offered that
only through private attributes, and the maintained clients (``datadog``'s
DogStatsD, ``aiodogstatsd``) bring their own formatting and threads. This is
the whole transport, in one screen.

The address is resolved once, when the sender is built (a name that does not
resolve raises :class:`OSError` there, so the caller can turn StatsD off and
say why). :meth:`UdpSender.send` never raises: a failed send (no route, a full
socket buffer on the non-blocking socket, a datagram too large) is counted in
:attr:`UdpSender.failures` and returned for the caller to log.
"""

from __future__ import annotations

import socket


class UdpSender:
    """Sends datagrams to ``host:port`` (resolved now; IPv4 or IPv6)."""

    def __init__(self, host: str, port: int) -> None:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, kind, proto, _, address = infos[0]
        self.address = address
        self._sock: socket.socket | None = socket.socket(family, kind, proto)
        self._sock.setblocking(False)
        #: Datagrams sent, and datagrams that could not be sent.
        self.sent = 0
        self.failures = 0

    def send(self, data: str) -> OSError | None:
        """Send one datagram; the error when it could not be sent (counted), else None."""
        sock = self._sock
        if sock is None:
            self.failures += 1
            return OSError("the StatsD sender is closed")
        try:
            sock.sendto(data.encode("utf-8", "replace"), self.address)
        except OSError as exc:
            self.failures += 1
            return exc
        self.sent += 1
        return None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
