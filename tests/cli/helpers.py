"""Run ``evcharge`` as a user would and keep what a user sees: the exit status and the lines on standard error."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

from evcharge.cli import main


@dataclass
class Outcome:
    status: int
    out: str
    err: str
    seconds: float

    @property
    def lines(self) -> list[str]:
        """The non-empty lines on standard error."""
        return [line for line in self.err.splitlines() if line.strip()]

    def one_line(self) -> str:
        """The one line a failure must print (and fail the test if there are more, or a traceback)."""
        assert "Traceback" not in self.err, self.err
        assert len(self.lines) == 1, f"expected one line on stderr, got {self.lines!r}"
        return self.lines[0]


def run_cli(capsys: object, *args: str) -> Outcome:
    """``evcharge ARGS`` in this process (argparse's exit included)."""
    start = time.monotonic()
    try:
        status = main(list(args))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    return Outcome(status, captured.out, captured.err, time.monotonic() - start)


def run_process(*args: str, blocked: tuple[str, ...] = (), timeout: float = 60.0, stdin: str | None = None) -> Outcome:
    """``evcharge ARGS`` in a fresh interpreter; ``blocked`` modules cannot be imported there (as in an install
    without that extra)."""
    code = (f"import sys\nfor m in {list(blocked)!r}: sys.modules[m] = None\n"
            "from evcharge.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          input=stdin)
    return Outcome(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
