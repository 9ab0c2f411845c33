"""`pocketmq`: the umbrella command. Subcommands register themselves here, one module per family."""

from __future__ import annotations

import click

from pocketmq import __version__


@click.group()
@click.version_option(__version__, prog_name="pocketmq")
def cli() -> None:
    """pocketmq: Apache RocketMQ's architecture and semantics in Python."""


import pocketmq.cli.bench  # noqa: E402  (registers `pocketmq bench`)
import pocketmq.cli.standalone  # noqa: E402  (registers `pocketmq standalone`)
import pocketmq.cli.store  # noqa: E402, F401  (registers `pocketmq store`)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
