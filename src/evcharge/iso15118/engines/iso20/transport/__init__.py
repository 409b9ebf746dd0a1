"""The asyncio side of ``evcharge v2g secc|evcc --protocol iso20`` (thin adapters, no protocol decisions)."""
