"""The asyncio side of the role objects: a flag a coroutine can wait on (the role modules import no asyncio)."""

from __future__ import annotations

import asyncio

__all__ = ["Flag"]


class Flag:
    """Set / cleared by the transport; ``await flag.wait()`` returns once it is set."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()
