"""pocketmq: Apache RocketMQ's architecture and semantics in Python, wire-compatible with RocketMQ 4.x."""

__version__ = "0.1.0"
