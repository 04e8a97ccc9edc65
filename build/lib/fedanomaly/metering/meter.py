"""Traffic counters per link and direction, kept by each sender."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from fedanomaly.metering.precision import Precision, decode, encode
from fedanomaly.metering.wire import message_size

#: The links a payload crosses, named by the tiers at their ends.
MONITOR_SLICE, SLICE_CONTROLLER, MONITOR_CONTROLLER = (
    "monitor_slice",
    "slice_controller",
    "monitor_controller",
)
LINKS = (MONITOR_SLICE, SLICE_CONTROLLER, MONITOR_CONTROLLER)
DIRECTIONS = ("up", "down")


@dataclass
class Traffic:
    """Bytes and messages that crossed one link in one direction."""

    payload_bytes: int = 0
    framing_bytes: int = 0
    messages: int = 0

    def add(self, other: Traffic) -> None:
        """Add another count to this one."""
        self.payload_bytes += other.payload_bytes
        self.framing_bytes += other.framing_bytes
        self.messages += other.messages

    @classmethod
    def total_of(cls, counts: Iterable[Traffic]) -> Traffic:
        """The sum of several counts (a new one)."""
        total = cls()
        for count in counts:
            total.add(count)
        return total

    @property
    def total_bytes(self) -> int:
        """Payload and framing."""
        return self.payload_bytes + self.framing_bytes


def traffic_fields(up: Traffic, down: Traffic) -> dict[str, int]:
    """Bytes and messages of a record's two directions, as ``metrics.jsonl`` writes them.

    Parameters
    ----------
    up, down
        The counts towards the controller and away from it.

    Returns
    -------
    dict
        ``up_bytes`` and ``down_bytes`` (payload and framing), ``up_messages`` and
        ``down_messages``.
    """
    return {
        "up_bytes": up.total_bytes,
        "down_bytes": down.total_bytes,
        "up_messages": up.messages,
        "down_messages": down.messages,
    }


@dataclass
class Meter:
    """What one node sent, per (link, direction). ``up`` is towards the controller."""

    counts: dict[tuple[str, str], Traffic] = field(default_factory=dict)

    def send(self, link: str, direction: str, arrays: Mapping[str, np.ndarray]) -> Traffic:
        """Count one message; returns its own size.

        Parameters
        ----------
        link
            The link it crosses, one of :data:`LINKS`.
        direction
            ``up`` (towards the controller) or ``down``.
        arrays
            The named arrays of the message, as they go on the wire.

        Returns
        -------
        Traffic
            The message's payload and framing bytes, and one message.
        """
        payload, framing = message_size(arrays)
        sent = Traffic(payload, framing, 1)
        self.counts.setdefault((link, direction), Traffic()).add(sent)
        return sent

    def transmit(
        self,
        link: str,
        direction: str,
        arrays: Mapping[str, np.ndarray],
        precision: Precision = "float32",
    ) -> tuple[dict[str, np.ndarray], Traffic]:
        """Send ``arrays`` at a payload precision: count the encoded message and return what
        the receiver decodes, with the message's size.

        Parameters
        ----------
        link
            The link it crosses, one of :data:`LINKS`.
        direction
            ``up`` (towards the controller) or ``down``.
        arrays
            The named arrays to send.
        precision
            ``float32``, ``float16`` or ``int8`` (see :mod:`fedanomaly.metering.precision`).

        Returns
        -------
        tuple
            The decoded arrays by name and the encoded message's :class:`Traffic`.
        """
        wire = encode(arrays, precision)
        return decode(wire, precision), self.send(link, direction, wire)

    def merge(self, other: Meter) -> None:
        """Add another node's counts."""
        for key, traffic in other.counts.items():
            self.counts.setdefault(key, Traffic()).add(traffic)

    def traffic(self, link: str, direction: str) -> Traffic:
        """The count for one link and direction (zero if nothing was sent).

        Parameters
        ----------
        link
            One of :data:`LINKS`.
        direction
            ``up`` or ``down``.

        Returns
        -------
        Traffic
            The meter's own count (not a copy), or a new zero count.
        """
        return self.counts.get((link, direction), Traffic())
