"""JSON bodies of requests and responses, with Java's field names and fastjson's quirks.

heartbeat.py (HeartbeatData, ConsumerData, ProducerData), consumer.py (lock batches, consumer lists,
connections, consume stats and time spans, offsets reset, running info), admin.py (topic stats,
subscription groups, group lists, broker stats), route.py (route and registration bodies of the name
server). Each body has `to_json()` / `from_json(obj)` and `encode()` / `decode(bytes)`; decoding is
lenient (missing fields take Java's defaults) and raises BodyError for a body of the wrong shape.
"""
