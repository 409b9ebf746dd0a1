"""A mobility operator for Plug & Charge tests: answers Get15118EVCertificate (the CSMS relays the car's
CertificateInstallationReq) from a test PKI with :class:`evcharge.iso15118.engines.pnc.LocalTestProvider`,
as the base64 EXI of a signed CertificateInstallationRes. It is an
:class:`evcharge.csms.pki.ContractCertificateProvider` (``get_ev_certificate``) and has a synchronous twin
(``LocalContractService.answer``) for the in-process bench."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

__all__ = ["LocalContractService"]


class LocalContractService:
    """Signs contract certificates from the ``iso2`` tree of a test PKI (see the module documentation)."""

    def __init__(self, pki: str | Path) -> None:
        from evcharge.iso15118.engines.pnc import LocalTestProvider

        self.provider = LocalTestProvider(pki)
        self.requests: list[str] = []

    def answer(self, action: str, exi_request: str) -> tuple[str, str]:
        """(status, base64 EXI response) for a base64 EXI CertificateInstallationReq / CertificateUpdateReq."""
        from evcharge.iso15118.engines._v2g import message_set

        self.requests.append(action)
        ms = message_set("iso2")
        try:
            message = ms.decode(base64.b64decode(exi_request, validate=True))
        except Exception:  # a request that does not decode is Failed, as a mobility operator answers
            return "Failed", ""
        kind = "installation" if action == "Install" else "update"
        answered = self.provider.answer(kind, message)
        if answered is None:
            return "Failed", ""
        body, signature = answered
        attr = "certificate_installation_res" if kind == "installation" else "certificate_update_res"
        out = ms.message(message.header.session_id, attr, body)
        mod: Any = ms.mod
        out = mod.V2G_Message(header=mod.MessageHeader(session_id=message.header.session_id, signature=signature),
                              body=out.body)
        return "Accepted", base64.b64encode(ms.encode(out)).decode("ascii")

    async def get_ev_certificate(self, station_id: str, schema_version: str, action: str, exi_request: str) -> Any:
        from evcharge.csms.pki import ContractResponse

        status, exi = self.answer(action, exi_request)
        return ContractResponse(status=status, exi_response=exi)
