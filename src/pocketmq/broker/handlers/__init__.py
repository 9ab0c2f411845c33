"""Request handlers of the broker, one module per family (send, pull, query, client_manage,
consumer_manage, admin, send_back, transaction), each a class with `routes()` -> {code: handler}
over a shared BrokerContext. broker.py merges the tables into one Router."""
