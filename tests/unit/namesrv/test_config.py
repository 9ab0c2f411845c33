"""NamesrvConfig: Java properties parsing, the Java key table, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pocketmq.common.errors import ConfigError
from pocketmq.common.properties import format_properties, parse_java_properties
from pocketmq.namesrv.config import JAVA_KEYS, NamesrvConfig, load_namesrv_config


def test_java_properties_syntax() -> None:
    text = (
        "# comment\n! other comment\n\n"
        "a=b\n  b : c\nc d e\nlong=1\\\n   2\npath=C:\\\\x\nk\\=k=v\nempty\nu=\\u00fc\nspaced = x y \n"
    )
    assert parse_java_properties(text) == {
        "a": "b",
        "b": "c",
        "c": "d e",
        "long": "12",
        "path": "C:\\x",
        "k=k": "v",
        "empty": "",
        "u": "ü",
        "spaced": "x y ",
    }


def test_load_known_ignored_and_unknown_keys() -> None:
    loaded = load_namesrv_config(
        "listenPort=19876\nkvConfigPath=/tmp/kv.json\nserverWorkerThreads=8\nlistenPrt=1\n",
        {"orderMessageEnable": "true"},
    )
    assert loaded.config.listen_port == 19876
    assert loaded.config.kv_config_path == Path("/tmp/kv.json")
    assert loaded.config.order_message_enable
    assert loaded.ignored == ("serverWorkerThreads",)
    assert loaded.unknown == ("listenPrt",)
    assert loaded.warnings == ["unknown config key 'listenPrt' ignored (a typo?)"]


def test_defaults_are_rocketmq_defaults() -> None:
    config = NamesrvConfig()
    assert config.listen_port == 9876
    assert config.kv_config_path.parts[-2:] == ("namesrv", "kvConfig.json")
    assert config.scan_not_active_broker_interval_ms == 10_000
    assert config.broker_channel_expired_ms == 120_000


def test_printed_properties_load_back_to_the_same_config() -> None:
    config = NamesrvConfig(listen_port=1234, order_message_enable=True)
    properties = config.to_java_properties()
    assert list(properties) == list(JAVA_KEYS)
    assert load_namesrv_config(format_properties(properties)).config == config


@pytest.mark.parametrize(
    "text",
    [
        "listenPort=abc",
        "listenPort=70000",
        "orderMessageEnable=yes",
        "scanNotActiveBrokerInterval=0",
        "brokerChannelExpiredTime=-1",
        "clusterTest=true",
        "kvConfigPath=",
    ],
)
def test_bad_values_are_refused(text: str) -> None:
    with pytest.raises(ConfigError):
        load_namesrv_config(text)
