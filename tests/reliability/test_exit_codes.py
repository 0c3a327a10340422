"""Whatever goes wrong, the command ends in one line and a documented exit code."""
import errno

import pytest
import torch

import modeguard.cli

from .helpers import assert_one_line, cli


def raising(exc):
    def command(args):
        raise exc
    return command


@pytest.mark.parametrize("exc,code,fragment", [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 8.00 GiB\nmore lines"), 5, "out of memory"),
    (MemoryError(), 5, "out of memory"),
    (OSError(errno.ENOSPC, "No space left on device", "/x/report.html"), 5, "No space left on device"),
    (OSError(errno.ENOENT, "No such file or directory", "/no/such/r.html"), 2, "/no/such/r.html"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (RuntimeError("a bug\nwith a second line"), 1, "internal error"),
])
def test_unexpected_failures_are_one_line(monkeypatch, capsys, exc, code, fragment):
    monkeypatch.delenv("MODEGUARD_DEBUG", raising=False)
    monkeypatch.setitem(modeguard.cli.COMMANDS, "strategies", raising(exc))
    got, _, err = cli(capsys, "strategies")
    assert_one_line(got, err, code, fragment)


def test_debug_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("MODEGUARD_DEBUG", "1")
    monkeypatch.setitem(modeguard.cli.COMMANDS, "strategies", raising(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        modeguard.cli.main(["strategies"])
