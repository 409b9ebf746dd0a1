"""Thin asyncio adapters joining the pure charge-point functions to a live charge point."""
