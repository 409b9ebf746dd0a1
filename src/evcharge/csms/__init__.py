"""evcharge csms: a reference CSMS (OCPP 1.6, 2.0.1, 2.1) to test a charger against.

Built on the CSMS role of :mod:`evcharge.ocpp`: one endpoint per TLS mode serving security profiles 0-1
(``ws://``) and 2-3 (``wss://``), a station registry with hashed passwords and per-station minimum profiles,
tokens, transactions and meter values in SQLite (default) or PostgreSQL, certificate signing, and an HTTP admin
API.  See the guide "Test your charger against evcharge csms".
"""

from evcharge.csms.handlers import CsmsService, CsmsSettings
from evcharge.csms.server import CsmsServer, ServerConfig, open_store
from evcharge.csms.store import StationRecord, Store, TokenRecord, TransactionRecord

__all__ = ["CsmsServer", "CsmsService", "CsmsSettings", "ServerConfig", "StationRecord", "Store", "TokenRecord",
           "TransactionRecord", "open_store"]
