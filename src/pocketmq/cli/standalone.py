"""`pocketmq standalone [--store DIR] [-c broker.conf]`: a name server and a broker in one process.

What `make run` starts: the broker's store in ./data (or --store), the name server's KV config beside
it, ports 9876 and 10911 unless broker.conf says otherwise (listenPort for the broker; the port of a
local namesrvAddr for the name server). Prints both addresses once ready; Ctrl-C or SIGTERM stops
the broker, then the name server, cleanly.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from pocketmq.broker.broker import Broker
from pocketmq.broker.config import load_broker_config
from pocketmq.cli.main import cli
from pocketmq.cli.signals import stop_requested
from pocketmq.common.errors import ConfigError, NotBuiltError, PocketMQError
from pocketmq.namesrv.config import NamesrvConfig
from pocketmq.namesrv.server import NameServer
from pocketmq.remoting import run

__all__ = ["standalone"]

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "0.0.0.0", "")
_DEFAULT_NAMESRV_PORT = 9876


def _namesrv_port(namesrv_addr: str | None) -> int:
    """The port of the first local name server address in `namesrv_addr`, else 9876."""
    for address in (namesrv_addr or "").split(";"):
        host, _, port = address.strip().rpartition(":")
        if host in _LOCAL_HOSTS and port.isdigit():
            return int(port)
    return _DEFAULT_NAMESRV_PORT


async def _serve(store: Path, config_text: str) -> int:
    namesrv_port = _namesrv_port(load_broker_config(config_text, detect_address=False).broker.namesrv_addr)
    overrides = {
        "storePathRootDir": str(store),
        "namesrvAddr": f"127.0.0.1:{namesrv_port}",
    }
    loaded = load_broker_config(config_text, overrides=overrides, detect_address=False)
    broker_config = loaded.broker  # brokerIP1 unset: the broker advertises 127.0.0.1
    namesrv = NameServer(
        NamesrvConfig(
            listen_port=namesrv_port,
            kv_config_path=store / "namesrv" / "kvConfig.json",
            config_store_path=store / "namesrv" / "namesrv.properties",
        )
    )
    try:
        await namesrv.start()
    except OSError as error:
        click.echo(
            f"pocketmq standalone: name server cannot listen on port {namesrv_port}: {error}", err=True
        )
        return 1
    broker = Broker(broker_config, loaded.store)
    try:
        await broker.start()
    except (OSError, PocketMQError) as error:
        click.echo(f"pocketmq standalone: broker cannot start: {error}", err=True)
        await namesrv.stop()
        return 1
    ready = (
        f"pocketmq standalone: name server {namesrv.address}, broker {broker.broker_address}, store {store}"
    )
    try:
        async with stop_requested(ready) as stop:
            await stop.wait()
    finally:
        await broker.stop()
        await namesrv.stop()
    click.echo("pocketmq standalone: shut down.")
    return 0


@cli.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    "store",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data"),
    show_default=True,
    help="Store directory (broker store, config and name server KV config).",
)
@click.option(
    "-c",
    "--configFile",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Broker config file (Java properties, RocketMQ key names).",
)
def standalone(store: Path, config_file: Path | None) -> None:
    """Run a name server and a broker in one process (for development and `make run`)."""
    try:
        text = config_file.read_text(encoding="utf-8") if config_file is not None else ""
        load_broker_config(text, detect_address=False)
    except (ConfigError, NotBuiltError, UnicodeDecodeError) as error:
        raise click.ClickException(f"{config_file or 'broker config'}: {error}") from error
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(run(_serve(store.absolute(), text)))
