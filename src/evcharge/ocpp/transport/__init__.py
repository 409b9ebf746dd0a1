"""Transport adapters of the OCPP stack: the asyncio session and the ``websockets`` client and server.

Nothing here makes a protocol decision; :mod:`evcharge.ocpp.rpc` does.  ``websockets`` is imported only
when a connection is opened or a server started.
"""
