"""The event loop of ``evcharge csms`` (the command's only asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["forever", "run"]


def run(main: Callable[[], Awaitable[int]]) -> int:
    """Run ``main()`` on a new event loop; its exit status."""

    async def wrapper() -> int:
        return await main()

    return asyncio.run(wrapper())


async def forever() -> None:
    """Wait until cancelled (Ctrl-C)."""
    await asyncio.Future()
