"""The engines' I/O: the asyncio runner of ``evcharge v2g secc|evcc``."""
