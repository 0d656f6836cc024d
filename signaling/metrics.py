"""Counters and gauges of the signaling service, rendered in the Prometheus text format."""

from __future__ import annotations

from collections import Counter


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class SignalingMetrics:
    """What ``GET /metrics`` reports. Labels are bounded sets (tags, error codes)."""

    def __init__(self) -> None:
        self.rooms = 0
        self.clients = 0
        self.rooms_created = 0
        self.rooms_closed: Counter[str] = Counter()
        self.joins: Counter[str] = Counter()  # new / resumed
        self.messages: Counter[str] = Counter()  # by message type
        self.rejected: Counter[str] = Counter()  # by reason (error code or HTTP refusal)
        self.relayed_bytes = 0
        self.relayed_frames = 0
        # Which backend this node uses, and (shared backends) its health and node-to-node bus.
        self.backend = "memory"
        self.node = "local"
        self.backend_up = True
        self.bus: Counter[str] = Counter()  # frames published to / received from other nodes
        self.nodes_reaped = 0

    def render(self) -> str:
        """The Prometheus text exposition (version 0.0.4)."""
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: dict[str, float]) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            for labels, value in samples.items():
                lines.append(f"{name}{labels} {value:g}")

        def labelled(label: str, counts: Counter[str]) -> dict[str, float]:
            return {f'{{{label}="{_escape(k)}"}}': float(v) for k, v in sorted(counts.items())}

        metric("quibble_signaling_rooms", "gauge", "Open rooms.", {"": self.rooms})
        metric("quibble_signaling_clients", "gauge", "Open WebSockets.", {"": self.clients})
        metric(
            "quibble_signaling_rooms_created_total",
            "counter",
            "Rooms created (resumed rooms not counted).",
            {"": self.rooms_created},
        )
        metric(
            "quibble_signaling_rooms_closed_total",
            "counter",
            "Rooms closed, by reason.",
            labelled("reason", self.rooms_closed),
        )
        metric(
            "quibble_signaling_joins_total",
            "counter",
            "Seats taken, new or resumed.",
            labelled("kind", self.joins),
        )
        metric(
            "quibble_signaling_messages_total",
            "counter",
            "Well-formed client messages, by type.",
            labelled("type", self.messages),
        )
        metric(
            "quibble_signaling_rejected_total",
            "counter",
            "Refused inputs, by reason.",
            labelled("reason", self.rejected),
        )
        metric(
            "quibble_signaling_relayed_bytes_total",
            "counter",
            "Payload bytes carried by the WebSocket data relay.",
            {"": self.relayed_bytes},
        )
        metric(
            "quibble_signaling_relayed_frames_total",
            "counter",
            "Frames carried by the WebSocket data relay.",
            {"": self.relayed_frames},
        )
        node = f'{{backend="{_escape(self.backend)}",node="{_escape(self.node)}"}}'
        metric(
            "quibble_signaling_backend_up",
            "gauge",
            "1 when the room backend (memory or Redis) is reachable from this node.",
            {node: float(self.backend_up)},
        )
        if self.backend != "memory":
            metric(
                "quibble_signaling_bus_frames_total",
                "counter",
                "Frames exchanged with other nodes over Redis pub/sub, by direction.",
                labelled("direction", self.bus),
            )
            metric(
                "quibble_signaling_nodes_reaped_total",
                "counter",
                "Dead nodes whose clients this node took over.",
                {"": self.nodes_reaped},
            )
        return "\n".join(lines) + "\n"
