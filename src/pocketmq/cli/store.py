"""`pocketmq store dump|verify DIR`: read a store directory (read-only; works beside a running
broker)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import click

from pocketmq.cli.main import cli
from pocketmq.common.errors import PocketMQError
from pocketmq.common.message import MessageExt
from pocketmq.store.tools import iter_messages, open_read_only, verify_store

__all__ = ["store"]


def message_to_json(message: MessageExt) -> dict[str, object]:
    return {
        "commit_log_offset": message.commit_log_offset,
        "total_size": message.store_size,
        "topic": message.topic,
        "queue_id": message.queue_id,
        "queue_offset": message.queue_offset,
        "flag": message.flag,
        "sys_flag": message.sys_flag,
        "body_crc": message.body_crc,
        "born_timestamp": message.born_timestamp,
        "born_host": f"{message.born_host[0]}:{message.born_host[1]}",
        "store_timestamp": message.store_timestamp,
        "store_host": f"{message.store_host[0]}:{message.store_host[1]}",
        "reconsume_times": message.reconsume_times,
        "prepared_transaction_offset": message.prepared_transaction_offset,
        "offset_msg_id": message.msg_id,
        "properties": message.properties,
        "body_base64": base64.b64encode(message.body).decode("ascii"),
    }


_DIR = click.Path(exists=True, file_okay=False, path_type=Path)
_CONF = click.Path(exists=True, dir_okay=False, path_type=Path)


@cli.group()
def store() -> None:
    """Inspect a store directory (CommitLog, ConsumeQueues, index)."""


@store.command()
@click.argument("directory", type=_DIR)
@click.option("--topic", "-t", default=None, help="Only messages of this topic.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--config", "-c", "config_file", type=_CONF, default=None, help="broker.conf with the store sizes."
)
def dump(directory: Path, topic: str | None, as_json: bool, config_file: Path | None) -> None:
    """Print every message of the store in DIRECTORY."""
    try:
        opened = open_read_only(directory, config_file)
    except PocketMQError as error:
        raise click.ClickException(str(error)) from None
    count = 0
    corruptions: list[str] = []

    def report_corruption(where: str) -> None:
        corruptions.append(where)
        click.echo(f"corrupt record skipped: {where}", err=True)

    try:
        for message in iter_messages(opened, topic=topic, on_corruption=report_corruption):
            count += 1
            if as_json:
                click.echo(json.dumps(message_to_json(message), ensure_ascii=False))
            else:
                click.echo(
                    f"{message.commit_log_offset:>12} {message.msg_id} {message.topic}/{message.queue_id}"
                    f"@{message.queue_offset} size={message.store_size} tags={message.tags or ''} "
                    f"keys={message.keys or ''} body={len(message.body)}B"
                )
    except PocketMQError as error:
        click.echo(f"error after {count} messages: {error}", err=True)
        sys.exit(1)
    finally:
        opened.close()
    if not as_json:
        click.echo(f"{count} messages", err=True)
    if corruptions:
        click.echo(
            f"{len(corruptions)} corrupt record(s) skipped; `pocketmq store verify {directory}` names them",
            err=True,
        )
        sys.exit(1)


@store.command()
@click.argument("directory", type=_DIR)
@click.option(
    "--config", "-c", "config_file", type=_CONF, default=None, help="broker.conf with the store sizes."
)
def verify(directory: Path, config_file: Path | None) -> None:
    """Check every record, ConsumeQueue unit and index entry against the CommitLog."""
    try:
        opened = open_read_only(directory, config_file)
    except PocketMQError as error:
        raise click.ClickException(str(error)) from None
    try:
        report = verify_store(opened)
        recovery = opened.recovery_report
    finally:
        opened.close()
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    summary = (
        f"{report.records} records, {report.consume_queue_units} ConsumeQueue units, "
        f"{report.index_entries} index entries"
    )
    if recovery is not None and recovery.corruptions:
        report.problems[:0] = recovery.corruptions
    if not report.ok:
        click.echo(f"INCONSISTENT: {report.problems[0]}", err=True)
        for more in report.problems[1:]:
            click.echo(f"  also: {more}", err=True)
        click.echo(f"checked {summary}", err=True)
        sys.exit(1)
    click.echo(f"OK: {summary}")
