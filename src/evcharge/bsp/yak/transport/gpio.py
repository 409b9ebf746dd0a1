"""The Yeti's reset line through the Linux GPIO character device (``/dev/gpiochipN``).

Needs the ``gpiod`` Python bindings (libgpiod 2.x), an optional dependency: ``pip install gpiod``.  On the YAK
(Raspberry Pi CM4) the Yeti's reset is ``gpiochip0`` line 27; on the Raspberry Pi variant line 13.  The line is
held high (MCU running); :meth:`GpioResetLine.pulse` drives it low for 10 ms and high again, as EVerest does.
"""

from __future__ import annotations

import glob
import time
from dataclasses import dataclass
from typing import Any

from evcharge.bsp.errors import BspError


class GpioUnavailableError(BspError):
    """The GPIO character device or the ``gpiod`` bindings are missing."""


@dataclass(frozen=True, slots=True)
class GpioLine:
    """A line of a GPIO chip."""

    chip: str
    offset: int


def gpio_chips() -> list[str]:
    """The GPIO character devices of this machine (empty on machines without GPIO)."""
    return sorted(glob.glob("/dev/gpiochip*"))


class GpioResetLine:
    """Reset line of the board's MCU, active low.  Implements the driver's ``ResetLine`` protocol."""

    def __init__(
        self,
        line: GpioLine,
        *,
        pulse_width: float = 0.01,
        consumer: str = "evcharge-yeti-reset",
        sleep: Any = time.sleep,
    ) -> None:
        self.line = line
        self.pulse_width = pulse_width
        self.consumer = consumer
        self._sleep = sleep
        self._request: Any = None
        self._value: Any = None

    def open(self) -> None:
        """Request the line as an output, driven high (MCU running)."""
        try:
            import gpiod
            from gpiod.line import Direction, Value
        except ImportError as exc:
            raise GpioUnavailableError(
                "the reset line needs the gpiod bindings (pip install gpiod); "
                "without them, leave reset_line unset and the driver resets the board with a message"
            ) from exc
        self._value = Value
        try:
            self._request = gpiod.request_lines(
                self.line.chip,
                consumer=self.consumer,
                config={self.line.offset: gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.ACTIVE)},
            )
        except OSError as exc:
            raise GpioUnavailableError(f"cannot request {self.line.chip} line {self.line.offset}: {exc}") from exc

    def pulse(self) -> None:
        """High, low for ``pulse_width`` seconds, high."""
        if self._request is None:
            self.open()
        value = self._value
        self._request.set_value(self.line.offset, value.ACTIVE)
        self._request.set_value(self.line.offset, value.INACTIVE)
        self._sleep(self.pulse_width)
        self._request.set_value(self.line.offset, value.ACTIVE)

    def close(self) -> None:
        """Release the line."""
        if self._request is not None:
            self._request.release()
            self._request = None
