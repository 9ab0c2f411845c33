"""Producers: queue selection with latency fault tolerance, and the producers built on it."""
