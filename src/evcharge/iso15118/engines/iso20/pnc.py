"""Plug & Charge for the -20 engines (being built): until then a PnC Authorization is answered FAILED."""

from __future__ import annotations

from typing import Any


def check_authorization(secc: Any, msg: Any, pnc: Any, now: float) -> tuple[str, str] | None:
    return ("FAILED", "Plug & Charge checks are not available yet")


def check_metering(secc: Any, msg: Any) -> str | None:
    return None if msg.header.signature is None else "metering signatures are not checked yet"
