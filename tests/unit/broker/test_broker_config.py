"""BrokerConfig and broker.conf loading: Java names, defaults, checks, unknown keys, `-p`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketmq.broker.config import (
    JAVA_KEYS,
    BrokerConfig,
    BrokerRole,
    format_effective_config,
    load_broker_config,
    load_broker_config_file,
    namesrv_addr_problem,
)
from pocketmq.common.errors import ConfigError, NotBuiltError
from pocketmq.store.config import FlushDiskType

# The broker.conf of the run that wrote ../shared/compat/store-4.9.8 (its README lists the settings).
GOLDEN_BROKER_CONF = """\
# written for RocketMQ 4.9.8
brokerClusterName = DefaultCluster
brokerName = broker-a
brokerId = 0
brokerIP1 = 127.0.0.1
listenPort = 10911
brokerRole = ASYNC_MASTER
flushDiskType = SYNC_FLUSH
mappedFileSizeCommitLog = 1048576
mappedFileSizeConsumeQueue = 6000
maxHashSlotNum = 1000
maxIndexNum = 4000
autoCreateTopicEnable = true
deleteWhen = 04
fileReservedTime = 48
sendMessageThreadPoolNums = 4
"""


def test_defaults_are_rocketmq_defaults() -> None:
    config = BrokerConfig(broker_name="broker-a")
    assert config.broker_cluster_name == "DefaultCluster" and config.broker_id == 0
    assert config.listen_port == 10911 and config.broker_permission == 6
    assert config.default_topic_queue_nums == 8 and config.auto_create_topic_enable
    assert config.auto_create_subscription_group and not config.enable_property_filter
    assert config.transaction_timeout_ms == 6000 and config.transaction_check_max == 15
    assert config.transaction_check_interval_ms == 60_000 and config.short_polling_time_ms == 1000
    assert config.register_broker_timeout_ms == 6000 and not config.trace_topic_enable
    assert not config.acl_enable and config.long_polling_enable and config.is_master


def test_every_field_has_one_java_name() -> None:
    import dataclasses

    assert sorted(JAVA_KEYS.values()) == sorted(f.name for f in dataclasses.fields(BrokerConfig))


def test_golden_broker_conf_splits_between_broker_and_store() -> None:
    loaded = load_broker_config(GOLDEN_BROKER_CONF)
    broker, store = loaded.broker, loaded.store
    assert broker.broker_name == "broker-a" and broker.broker_ip1 == "127.0.0.1"
    assert broker.broker_ip2 == "127.0.0.1" and broker.broker_role is BrokerRole.ASYNC_MASTER
    assert broker.broker_address == "127.0.0.1:10911"
    assert store.flush_disk_type is FlushDiskType.SYNC_FLUSH
    assert store.commit_log_file_bytes == 1_048_576 and store.consume_queue_file_bytes == 6000
    assert store.index_hash_slot_count == 1000 and store.index_entry_count == 4000
    assert store.file_reserved_hours == 48 and store.store_host == "127.0.0.1:10911"
    assert [problem.key for problem in loaded.ignored] == ["sendMessageThreadPoolNums"]
    assert loaded.unknown == ()


def test_unknown_keys_are_reported_with_line_and_suggestion() -> None:
    loaded = load_broker_config("brokerName=a\n\nbrokerNmae=b\nnoSuchThing=1\n", detect_address=False)
    assert [(p.key, p.line) for p in loaded.unknown] == [("brokerNmae", 3), ("noSuchThing", 4)]
    assert "did you mean 'brokerName'" in str(loaded.unknown[0])
    assert loaded.warnings()[0].startswith("line 3: brokerNmae=b")
    with pytest.raises(ConfigError, match="brokerNmae"):
        load_broker_config("brokerNmae=b\n", strict=True, detect_address=False)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("listenPort=ten", "listenPort='ten': expected an integer"),
        ("listenPort=70000", "not a TCP port"),
        ("autoCreateTopicEnable=yes", "expected true or false"),
        ("brokerRole=LEADER", "expected one of ASYNC_MASTER, SYNC_MASTER, SLAVE"),
        ("brokerId=-1", "brokerId=-1"),
        ("defaultTopicQueueNums=0", "must be positive"),
        ("flushDiskType=SOMETIMES", "flushDiskType"),
        ("flushDiskType=FAST", "'FAST' is not a valid FlushDiskType: expected ASYNC_FLUSH or SYNC_FLUSH"),
        ("namesrvAddr=notanaddr", "'notanaddr' is not host:port"),
        ("namesrvAddr=127.0.0.1:9876;10.0.0.1:98765", "'10.0.0.1:98765': the port '98765' is not a TCP port"),
        ("brokerName=", "brokerName must not be empty"),
    ],
)
def test_bad_values_are_refused_clearly(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_broker_config(line + "\n", detect_address=False)


def test_overrides_and_environment() -> None:
    loaded = load_broker_config(
        "brokerName=a\n", environ={"NAMESRV_ADDR": "10.0.0.1:9876;10.0.0.2:9876"}, detect_address=False
    )
    assert loaded.broker.namesrv_addresses == ("10.0.0.1:9876", "10.0.0.2:9876")
    loaded = load_broker_config(
        "brokerName=a\nnamesrvAddr=1.1.1.1:9876\n",
        overrides={"namesrvAddr": "127.0.0.1:9999"},
        environ={"NAMESRV_ADDR": "ignored:1"},
        detect_address=False,
    )
    assert loaded.broker.namesrv_addresses == ("127.0.0.1:9999",)


@pytest.mark.parametrize(
    "addresses", ["127.0.0.1:9876", "a:1;b:65535", " 10.0.0.1:9876 ; 10.0.0.2:9876 ;", "[::1]:9876"]
)
def test_legal_name_server_lists(addresses: str) -> None:
    assert namesrv_addr_problem(addresses) is None
    assert BrokerConfig(broker_name="a", namesrv_addr=addresses).namesrv_addresses


@pytest.mark.parametrize(
    ("addresses", "bad_entry"),
    [
        ("notanaddr", "'notanaddr' is not host:port"),
        ("bogus:", "'bogus:': the port ''"),
        (":9876", "':9876' is not host:port"),
        ("a:1;b:0", "'b:0': the port '0'"),
        ("a:65536", "'a:65536': the port '65536'"),
        ("a:1;;b", "'b' is not host:port"),
        ("a b:1", "'a b:1' is not host:port"),
        ("a:\u00b2", "the port"),
        (";", "no name server address"),
    ],
)
def test_malformed_name_server_lists_are_refused_naming_the_entry(addresses: str, bad_entry: str) -> None:
    """Java: BrokerStartup refuses an illegal namesrvAddr at start; so do we, and say which entry."""
    problem = namesrv_addr_problem(addresses)
    assert problem is not None and bad_entry in problem, problem
    with pytest.raises(ConfigError, match="namesrvAddr="):
        BrokerConfig(broker_name="a", namesrv_addr=addresses)
    with pytest.raises(ConfigError, match=r"NAMESRV_ADDR=.*\(environment\)"):
        load_broker_config("brokerName=a\n", environ={"NAMESRV_ADDR": addresses}, detect_address=False)
    with pytest.raises(ConfigError, match="namesrvAddr="):
        BrokerConfig(broker_name="a").updated({"namesrvAddr": addresses})


def test_broker_ip_is_detected_when_missing() -> None:
    loaded = load_broker_config("brokerName=a\n")
    assert loaded.broker.broker_ip1 and loaded.broker.broker_ip1.count(".") == 3


def test_file_loading(tmp_path: Path) -> None:
    path = tmp_path / "broker.conf"
    path.write_text(GOLDEN_BROKER_CONF)
    loaded = load_broker_config_file(path)
    assert loaded.source == path and loaded.broker.broker_name == "broker-a"
    with pytest.raises(ConfigError, match="cannot read broker config"):
        load_broker_config_file(tmp_path / "missing.conf")


def test_effective_config_lists_every_key() -> None:
    loaded = load_broker_config(GOLDEN_BROKER_CONF + "typoKey=1\n")
    text = format_effective_config(loaded)
    for java_name in JAVA_KEYS:
        assert f"\n{java_name}=" in text
    assert "\nflushDiskType=SYNC_FLUSH\n" in text and "\nenablePropertyFilter=false\n" in text
    assert "# line 17: typoKey=1: unknown key" in text
    # what -p prints can be read back as a broker.conf with the same effect
    again = load_broker_config(text, detect_address=False)
    assert again.broker == loaded.broker
    assert again.store.to_java_properties() == loaded.store.to_java_properties()


def test_update_broker_config() -> None:
    config = BrokerConfig(broker_name="a")
    updated = config.updated({"enablePropertyFilter": "true", "brokerPermission": "4"})
    assert updated.enable_property_filter and updated.broker_permission == 4
    assert not config.enable_property_filter
    assert config.to_java_properties()["enablePropertyFilter"] == "false"
    with pytest.raises(ConfigError, match="not a broker setting"):
        config.updated({"flushDiskTyp": "SYNC_FLUSH"})


@pytest.mark.parametrize(
    ("text", "feature"),
    [
        ("brokerRole=SLAVE\n", "master-slave replication"),
        ("brokerRole=SYNC_MASTER\n", "master-slave replication"),
        ("enableDLegerCommitLog=true\n", "DLedger"),
        ("aclEnable=true\n", "access control"),
    ],
)
def test_settings_for_features_not_built_are_refused(text: str, feature: str) -> None:
    with pytest.raises(NotBuiltError, match=feature):
        load_broker_config(text, detect_address=False)


def test_settings_for_features_not_built_are_accepted_when_off() -> None:
    loaded = load_broker_config(
        "brokerRole=ASYNC_MASTER\nenableDLegerCommitLog=false\naclEnable=false\n", detect_address=False
    )
    assert loaded.broker.acl_enable is False
