"""The name server: routes of topics to brokers, broker liveness and the KV config (Java: namesrv)."""
