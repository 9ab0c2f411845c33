"""Consumers: allocation, rebalance, process queues, offset stores, and the consumers built on them."""
