"""What /metrics reports, in the Prometheus text format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry()
INBOUND = Counter("baoxiu_inbound_messages", "Messages received", ["channel"], registry=REGISTRY)
DUPLICATES = Counter("baoxiu_inbound_duplicates", "Messages received again and not handled twice", ["channel"],
                     registry=REGISTRY)  # fmt: skip
HANDLING = Histogram("baoxiu_handling_seconds", "Time to handle one message, database included", ["channel"],
                     buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5), registry=REGISTRY)  # fmt: skip
OUTBOX_SENT = Counter("baoxiu_outbox_sent", "Messages delivered", ["channel"], registry=REGISTRY)
OUTBOX_RETRIED = Counter("baoxiu_outbox_retried", "Deliveries to try again later", ["channel"], registry=REGISTRY)
OUTBOX_DEAD = Counter("baoxiu_outbox_dead", "Messages the channel refused for good", ["channel"], registry=REGISTRY)
OUTBOX_SENT_AGAIN = Counter(
    "baoxiu_outbox_sent_again",
    "Messages sent again after a try whose outcome was unknown (a timeout, say): each may have reached its chat twice",
    ["channel"],
    registry=REGISTRY,
)
