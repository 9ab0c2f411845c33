"""BrokerStats: the put/get rates of GET_BROKER_RUNTIME_INFO ("tps10s tps60s tps600s")."""

from __future__ import annotations

from pocketmq.broker.handlers.context import BrokerStats


def test_rates_over_the_three_windows() -> None:
    stats = BrokerStats()
    stats.sample(0)
    for second in range(1, 61):
        stats.put_message_count += 100
        if second % 10 == 0:
            stats.sample(second * 1000)
    stats.put_message_count += 50
    assert stats.rates(1, 60_500) == "100.0 100.0 100.0"
    assert stats.rates(2, 60_500) == "0.0 0.0 0.0"
    assert BrokerStats().rates(1, 5) == "0.0 0.0 0.0"
