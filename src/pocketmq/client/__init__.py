"""The Python client: producers, push/pull consumers, routing and the pure decision cores under them."""
