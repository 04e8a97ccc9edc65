"""The network model: what crossing a link costs in time, from the metered bytes (no sleeping).

A message of ``B`` bytes over a link of bandwidth ``b`` Mbit/s, one-way latency ``l`` ms,
jitter ``j`` ms and loss probability ``p`` takes, in expectation,

    t(B) = (l + j / 2) / 1000 + 8 B / (b * 10**6)     seconds per attempt,
    T(B) = t(B) / (1 - p)                              with retransmission of lost messages,

jitter being uniform on ``[0, j]`` and the number of attempts geometric. Expected values keep
the simulated clock deterministic. ``n`` messages of ``B`` bytes in all, sent one after the
other, take ``(n (l + j / 2) / 1000 + 8 B / (b * 10**6)) / (1 - p)``.
"""

from __future__ import annotations

from fedanomaly.config.schema import LinkConfig


def transfer_seconds(link: LinkConfig, total_bytes: float, messages: int) -> float:
    """Expected seconds to send ``messages`` messages of ``total_bytes`` in all, in sequence.

    Parameters
    ----------
    link
        Bandwidth b (Mbit/s), one-way latency l and jitter j (ms) and loss probability p.
    total_bytes
        Bytes B of all the messages together.
    messages
        Number of messages n.

    Returns
    -------
    float
        ``(n (l + j / 2) / 1000 + 8 B / (b * 10**6)) / (1 - p)``; 0 without a message.
    """
    if messages == 0:
        return 0.0
    latency = messages * (link.latency_ms + link.jitter_ms / 2) / 1000
    serialization = 8 * total_bytes / (link.bandwidth_mbps * 1e6)
    return (latency + serialization) / (1 - link.loss)


def message_seconds(link: LinkConfig, total_bytes: float, messages: int) -> float:
    """Expected seconds for ``messages`` equal messages of ``total_bytes`` in all sent in
    parallel, each over its own link (one per monitor or slice): the time of one of them.

    Parameters
    ----------
    link
        The link every message crosses (see :func:`transfer_seconds`).
    total_bytes
        Bytes of all the messages together.
    messages
        Number of messages.

    Returns
    -------
    float
        The seconds of one message of ``total_bytes / messages`` bytes; 0 without a message.
    """
    if messages == 0:
        return 0.0
    return transfer_seconds(link, total_bytes / messages, 1)
