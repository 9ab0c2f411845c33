"""`pocketmq bench`: bad options are one usage line (exit 2) before anything connects."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from pocketmq.cli.bench import BODY_BYTES_MAX
from pocketmq.cli.main import cli


@pytest.mark.parametrize(
    ("tool", "options", "message"),
    [
        ("producer", ["-s", "0"], "0: a body must have 1..4194304 bytes"),
        ("producer", ["-s", str(BODY_BYTES_MAX + 1)], f"{BODY_BYTES_MAX + 1}: a body must have"),
        ("producer", ["-w", "0"], "0: give 1..10000 senders"),
        ("producer", ["-b", "0", "-m", "batch"], "0: give at least 1 messages per batch"),
        ("producer", ["-m", "batch", "-s", "100000"], "100 bodies of 100000 bytes make 10000000 bytes"),
        ("producer", ["-t", "bad topic!"], "'bad topic!' contains characters other than"),
        ("producer", ["-n", "bogus"], "'bogus' is not host:port"),
        ("producer", ["-n", "127.0.0.1:0"], "the port '0' is not a TCP port"),
        ("producer", ["--count", "0"], "0: give a message count of at least 1"),
        ("producer", ["-d", "0"], "the duration must be more than 0 seconds"),
        ("consumer", ["-w", "0"], "0: give 1..1000 listener calls at once"),
        ("consumer", ["--batch-max-size", "1025"], "1025: give 1..1024 messages per listener call"),
        ("consumer", ["-n", "bogus"], "'bogus' is not host:port"),
        ("consumer", ["-t", ""], "the topic name is empty"),
    ],
)
def test_bad_options_are_one_usage_line(tool: str, options: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["bench", tool, *options])
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
