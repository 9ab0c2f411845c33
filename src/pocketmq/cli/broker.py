"""`mqbroker -n HOST:PORT [-c broker.conf] [-p]`: run a broker, as RocketMQ's mqbroker does.

-c reads a RocketMQ broker.conf (Java properties with the Java key names: brokerClusterName,
brokerName, brokerId, namesrvAddr, brokerIP1, listenPort, storePathRootDir, flushDiskType,
autoCreateTopicEnable, ...); -n sets namesrvAddr ("a:9876;b:9876") over the file; without either,
the NAMESRV_ADDR environment variable. -p prints the effective configuration and exits. SIGINT and
SIGTERM stop the broker cleanly (offsets persisted, store shut down).
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
from pathlib import Path

import click

from pocketmq.broker.broker import Broker
from pocketmq.broker.config import (
    LoadedBrokerConfig,
    format_effective_config,
    load_broker_config,
    namesrv_addr_problem,
)
from pocketmq.cli.signals import stop_requested
from pocketmq.common.errors import ConfigError, NotBuiltError, PocketMQError
from pocketmq.remoting import run

__all__ = ["main", "mqbroker", "load_cli_config", "serve_until_signal", "check_namesrv_option"]


def load_cli_config(config_file: Path | None, namesrv_addr: str | None) -> LoadedBrokerConfig:
    """broker.conf (if any) with `-n` over it, as BrokerStartup reads them."""
    text = config_file.read_text(encoding="utf-8") if config_file is not None else ""
    overrides = {"namesrvAddr": namesrv_addr} if namesrv_addr else None
    return load_broker_config(text, overrides=overrides, environ=os.environ, source=config_file)


def check_namesrv_option(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    """Click callback of `-n`: a malformed name server list is a usage error, before anything starts."""
    if value is not None and (problem := namesrv_addr_problem(value)):
        raise click.BadParameter(problem)
    return value


async def serve_until_signal(broker: Broker, ready_line: str | None = None) -> int:
    """Start `broker`, print `ready_line`, run until SIGINT/SIGTERM, stop it cleanly."""
    try:
        await broker.start()
    except OSError as error:
        click.echo(f"mqbroker: cannot start: {error}", err=True)
        return 1
    except PocketMQError as error:
        click.echo(f"mqbroker: {error}", err=True)
        return 1
    try:
        async with stop_requested(ready_line) as stop:
            await stop.wait()
    finally:
        await broker.stop()
    return 0


async def _serve(loaded: LoadedBrokerConfig) -> int:
    config = loaded.broker
    broker = Broker(config, loaded.store)
    # RocketMQ prints this line; scripts wait for it.
    ready = f"The broker[{config.broker_name}, {broker.broker_address}] boot success. serializeType=JSON" + (
        f" and name server is {config.namesrv_addr}" if config.namesrv_addr else ""
    )
    code = await serve_until_signal(broker, ready)
    if code == 0:
        click.echo("The broker shut down.")
    return code


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--configFile",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Broker config file (Java properties, RocketMQ key names).",
)
@click.option(
    "-n",
    "--namesrvAddr",
    "namesrv_addr",
    callback=check_namesrv_option,
    help="Name server address list, e.g. 127.0.0.1:9876;...",
)
@click.option(
    "-p", "--printConfigItem", "print_config", is_flag=True, help="Print the effective config and exit."
)
def mqbroker(config_file: Path | None, namesrv_addr: str | None, print_config: bool) -> None:
    """Start a pocketmq broker (RocketMQ 4.x wire-compatible)."""
    try:
        loaded = load_cli_config(config_file, namesrv_addr)
    except (ConfigError, NotBuiltError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{config_file or 'broker config'}: {error}") from error
    for warning in loaded.warnings():
        click.echo(f"mqbroker: {warning}", err=True)
    if print_config:
        click.echo(format_effective_config(loaded), nl=False)
        return
    if config_file is not None:
        click.echo(f"load config properties file OK, {config_file}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # `kill -USR1 <pid>` prints every thread's stack to the log: enough to see where a broker hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    sys.exit(run(_serve(loaded)))


def main() -> None:
    mqbroker()


if __name__ == "__main__":
    main()
