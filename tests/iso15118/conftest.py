"""Fixtures of the ISO 15118 tests."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

#: how the tests run the command line
CMD = [sys.executable, "-m", "evcharge"]
_NETNS_SERIAL = itertools.count()


@pytest.fixture
def lo() -> Iterator[list[str]]:
    """The command to run ``evcharge`` with: inside a private network namespace (its own ``lo`` and port 15118)
    as root, else on this host's ``lo``."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        yield CMD
        return
    ns = f"evc-lo-{os.getpid() % 100000}-{next(_NETNS_SERIAL)}"
    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, capture_output=True)
        yield ["ip", "netns", "exec", ns, *CMD]
    finally:
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
        for pid in pids:  # whatever the test left running in the namespace ends with it
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
