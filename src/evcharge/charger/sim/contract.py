"""A mobility operator for Plug & Charge tests: answers Get15118EVCertificate (the CSMS relays the car's
CertificateInstallationReq / CertificateUpdateReq) from a test PKI with the project's contract provider,
:class:`evcharge.csms.contract.TestPkiContractProvider` (ISO 15118-2 and -20: OEM provisioning chain and request
signature checked, a contract issued for a fresh eMAID, the signed response).

``LocalContractService`` is that provider with a synchronous twin (``answer``) for the in-process bench,
whose OCPP answerer is a plain function; ``get_ev_certificate`` is the provider's own (for
:class:`evcharge.csms.handlers.CsmsSettings`)."""

from __future__ import annotations

from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from evcharge.errors import LocalProtocolError

__all__ = ["LocalContractService"]

_T = TypeVar("_T")


def _finish(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """The result of a coroutine that never waits (the provider's work is all computation)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise LocalProtocolError("the contract provider waited for I/O: run it in an event loop instead")


class LocalContractService:
    """The contract provider on a test PKI folder (``evcharge v2g pki --out DIR``; see the module documentation).

    ``requests`` lists the actions asked (``Install`` / ``Update``); ``provider.log`` what became of each."""

    def __init__(self, pki: str | Path) -> None:
        from evcharge.csms.contract import TestPkiContractProvider

        self.provider = TestPkiContractProvider(pki)
        self.requests: list[str] = []

    def answer(self, action: str, exi_request: str, schema: str = "urn:iso:15118:2:2013:MsgDef") -> tuple[str, str]:
        """(status, base64 EXI response) for a base64 EXI request of the ``schema`` namespace (OCPP
        ``iso15118SchemaVersion``)."""
        self.requests.append(action)
        response = _finish(self.provider.get_ev_certificate("bench", schema, action, exi_request))
        return response.status, response.exi_response

    async def get_ev_certificate(self, station_id: str, schema_version: str, action: str, exi_request: str) -> Any:
        self.requests.append(action)
        return await self.provider.get_ev_certificate(station_id, schema_version, action, exi_request)
