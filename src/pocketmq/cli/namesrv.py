"""`mqnamesrv [-c namesrv.conf] [-p]`: run a name server, as RocketMQ's mqnamesrv does.

-c reads a RocketMQ namesrv.conf (Java properties, Java key names: listenPort, kvConfigPath, ...);
-p prints the effective configuration and exits. `-n` is accepted and ignored, as in RocketMQ.
SIGINT / SIGTERM stop the server cleanly.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from pocketmq.cli.signals import stop_requested
from pocketmq.common.errors import ConfigError, CorruptionError
from pocketmq.common.properties import format_properties
from pocketmq.namesrv.config import NamesrvConfig, load_namesrv_config
from pocketmq.namesrv.server import NameServer
from pocketmq.remoting import run

__all__ = ["main", "mqnamesrv"]


async def _serve(config: NamesrvConfig) -> int:
    server = NameServer(config)
    try:
        await server.start()
    except OSError as error:
        click.echo(
            f"mqnamesrv: cannot listen on {config.bind_address}:{config.listen_port}: {error}", err=True
        )
        return 1
    except CorruptionError as error:
        click.echo(f"mqnamesrv: {error}", err=True)
        return 1
    # RocketMQ prints this line; scripts wait for it.
    ready = f"The Name Server boot success. serializeType=JSON address={server.address}"
    try:
        async with stop_requested(ready) as stop:
            await stop.wait()
    finally:
        await server.stop()
    click.echo("The Name Server shut down.")
    return 0


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--configFile",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Name server config file (Java properties, RocketMQ key names).",
)
@click.option(
    "-p", "--printConfigItem", "print_config", is_flag=True, help="Print the effective config and exit."
)
@click.option(
    "-n", "--namesrvAddr", "namesrv_addr", hidden=True, help="Accepted and ignored, as in RocketMQ."
)
def mqnamesrv(config_file: Path | None, print_config: bool, namesrv_addr: str | None) -> None:
    """Start a pocketmq name server (RocketMQ 4.x wire-compatible)."""
    try:
        text = config_file.read_text(encoding="utf-8") if config_file is not None else ""
        loaded = load_namesrv_config(text)
    except (ConfigError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{config_file}: {error}") from error
    for warning in loaded.warnings:
        click.echo(f"mqnamesrv: {config_file}: {warning}", err=True)
    if print_config:
        click.echo(format_properties(loaded.config.to_java_properties()), nl=False)
        return
    if config_file is not None:
        click.echo(f"load config properties file OK, {config_file}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(run(_serve(loaded.config)))


def main() -> None:
    mqnamesrv()


if __name__ == "__main__":
    main()
