"""Command-line entry points: `pocketmq`, `mqnamesrv`, `mqbroker` (RocketMQ's command names and flags)."""
