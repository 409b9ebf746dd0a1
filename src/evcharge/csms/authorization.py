"""Token authorization: the answer to a token, from its stored status, expiry and group (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from evcharge.csms.store import TokenRecord

__all__ = ["TokenDecision", "decide"]

# 2.0.1 AuthorizationStatusEnumType -> 1.6 AuthorizationStatus
_TO_16 = {"Accepted": "Accepted", "Blocked": "Blocked", "Expired": "Expired", "Invalid": "Invalid",
          "ConcurrentTx": "ConcurrentTx", "Unknown": "Invalid", "NoCredit": "Blocked", "NotAllowedTypeEVSE": "Invalid",
          "NotAtThisLocation": "Invalid", "NotAtThisTime": "Invalid"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenDecision:
    """What the CSMS answers for one token."""

    status: str  #: a 2.0.1 AuthorizationStatusEnumType value
    expiry: str | None = None
    group_id: str | None = None

    def v201(self) -> dict[str, object]:
        """The 2.0.1 / 2.1 ``idTokenInfo``."""
        info: dict[str, object] = {"status": self.status}
        if self.expiry:
            info["cacheExpiryDateTime"] = self.expiry
        if self.group_id:
            info["groupIdToken"] = {"idToken": self.group_id, "type": "Central"}
        return info

    def v16(self) -> dict[str, object]:
        """The 1.6 ``idTagInfo``."""
        info: dict[str, object] = {"status": _TO_16.get(self.status, "Invalid")}
        if self.expiry:
            info["expiryDate"] = self.expiry
        if self.group_id:
            info["parentIdTag"] = self.group_id[:20]
        return info


def _parse(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def decide(token: TokenRecord | None, now_utc: datetime, *, accept_unknown: bool = False) -> TokenDecision:
    """The decision for ``token`` at ``now_utc``: unknown tokens are ``Unknown`` (or ``Accepted`` with
    ``accept_unknown``), a token past its expiry is ``Expired``, else its stored status."""
    if token is None:
        return TokenDecision(status="Accepted" if accept_unknown else "Unknown")
    if token.expiry:
        when = _parse(token.expiry)
        if when is None or when <= now_utc:
            return TokenDecision(status="Expired", expiry=token.expiry, group_id=token.group_id)
    return TokenDecision(status=token.status, expiry=token.expiry, group_id=token.group_id)
