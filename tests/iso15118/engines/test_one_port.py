"""One charger, every protocol: :func:`evcharge.iso15118.engines.secc_engines` is the single mapping a SeccSession
needs to hand each connection to the DIN 70121, ISO 15118-2 or ISO 15118-20 engine that SupportedAppProtocol
chose (the whole sessions over a real port: test_cli.py::test_one_port_for_din_iso2_and_iso20)."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge.iso15118.engines import EvccConfig, Secc, SeccConfig, evcc_factory, secc_engines
from evcharge.iso15118.engines import events as ev
from evcharge.iso15118.engines.iso20 import EnergyService, Iso20EvccConfig, Iso20Secc, Iso20SeccConfig
from evcharge.iso15118.handover import AppProtocol
from evcharge.iso15118.sap import OfferedProtocol, SupportedProtocol
from evcharge.iso15118.session import EvccSession, EvccSessionConfig, SeccSession, SeccSessionConfig

DC = SeccConfig(energy_modes=(ev.EnergyMode.DC_EXTENDED,))
AC = SeccConfig(energy_modes=(ev.EnergyMode.AC_THREE_PHASE,))


def _negotiate(engines: dict[AppProtocol, Any], offered: AppProtocol) -> tuple[SeccSession, EvccSession]:
    secc = SeccSession(
        SeccSessionConfig(protocols=tuple(SupportedProtocol(protocol=p) for p in engines)), engines, now=0.0
    )

    car = evcc_factory(
        EvccConfig(energy_mode=ev.EnergyMode.DC_EXTENDED),
        iso20=Iso20EvccConfig(service=EnergyService.DC if offered is AppProtocol.ISO20_DC else EnergyService.AC),
    )
    evcc = EvccSession(
        EvccSessionConfig(protocols=(OfferedProtocol(protocol=offered, schema_id=7, priority=1),)),
        {offered: car},
        now=0.0,
    )
    for _ in range(4):
        secc.receive_data(b"".join(evcc.data_to_send()), 0.0)
        evcc.receive_data(b"".join(secc.data_to_send()), 0.0)
    return secc, evcc


def test_one_mapping_for_every_protocol() -> None:
    engines = secc_engines(DC, Iso20SeccConfig(services=(EnergyService.DC, EnergyService.AC_BPT)))
    assert set(engines) == {AppProtocol.DIN, AppProtocol.ISO2, AppProtocol.ISO20_DC, AppProtocol.ISO20_AC}


@pytest.mark.parametrize(
    ("offered", "kind", "protocol"),
    [
        (AppProtocol.DIN, Secc, "din"),
        (AppProtocol.ISO2, Secc, "iso2"),
        (AppProtocol.ISO20_DC, Iso20Secc, "iso20"),
        (AppProtocol.ISO20_AC, Iso20Secc, "iso20"),
    ],
)
def test_sap_hands_the_connection_to_the_chosen_engine(offered: AppProtocol, kind: type, protocol: str) -> None:
    config20 = Iso20SeccConfig(services=(EnergyService.DC, EnergyService.AC))
    secc, evcc = _negotiate(secc_engines(DC, config20), offered)
    engine: Any = secc.engine
    assert isinstance(engine, kind) and engine.protocol == protocol
    assert engine.handover.protocol is offered and engine.handover.schema_id == 7
    assert engine.config is (config20 if protocol == "iso20" else DC)  # each engine with its own configuration
    # the car's SessionSetupReq reached that engine and its answer the car: both hold the charger's SessionID
    car: Any = evcc.engine
    assert engine.session_id and car.session_id == engine.session_id


def test_din_is_not_offered_by_an_ac_charger() -> None:
    """DIN 70121 is DC only: an AC-only configuration leaves it out, and a DIN car is refused in SAP."""
    engines = secc_engines(AC, Iso20SeccConfig(services=(EnergyService.AC,)))
    assert set(engines) == {AppProtocol.ISO2, AppProtocol.ISO20_AC}
    secc, _ = _negotiate(engines, AppProtocol.DIN)
    assert secc.engine is None


def test_a_subset_and_a_wrong_name() -> None:
    assert set(secc_engines(DC, protocols=("iso20",))) == {AppProtocol.ISO20_DC, AppProtocol.ISO20_AC}
    with pytest.raises(ValueError, match="iso15"):
        secc_engines(DC, protocols=("iso15",))


# -- one TLS port: TLS 1.3 with the -20 PKI beside TLS 1.2 with the -2 PKI -------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("cryptography")
    from evcharge.iso15118.security.pki import PkiOptions, write_pki

    out = tmp_path_factory.mktemp("pki_one_port")
    write_pki(out, PkiOptions(trees=("iso2", "iso20")))
    return out


async def _serve_one_tls_port(pki: Any, cars: list[tuple[AppProtocol, Any]]) -> tuple[list[Any], list[Any]]:
    """One SECC port chosen per ClientHello (our transport with a TlsSelector); each car connects with its own TLS
    profile and offers its one protocol. Returns (each car's result, each charger session's result)."""
    import asyncio

    from evcharge.iso15118.engines import engines_for_tls
    from evcharge.iso15118.engines.iso20 import events as ev20
    from evcharge.iso15118.engines.transport.runner import SimulatedCharger
    from evcharge.iso15118.security.tls import TlsProfile, TlsSelector, evcc_tls, secc_context
    from evcharge.iso15118.session import NegotiationFailed, ProtocolNegotiated
    from evcharge.iso15118.transport.tcp import connect_evcc, start_secc_server

    engines = secc_engines(
        SeccConfig(
            energy_modes=(ev.EnergyMode.DC_EXTENDED,),
            dc_limits=ev.DcLimits(max_voltage=500, max_current=200, max_power=100_000),
            auto_authorize=True,
        ),
        Iso20SeccConfig(services=(EnergyService.DC,), auto_authorize=True),
    )
    config = SeccSessionConfig(protocols=tuple(SupportedProtocol(protocol=p) for p in engines))
    charger = SimulatedCharger()
    served: list[dict[str, Any]] = []

    def make_session(info: Any) -> SeccSession:
        return SeccSession(config, engines_for_tls(engines, info.tls), now=info.now, tls=info.tls)

    async def handler(conn: Any) -> None:
        seen: list[Any] = []
        async for event in conn.events():
            seen.append(event)
            if conn.session.engine is not None:
                charger(conn.session.engine, event, conn.send)
        engine = conn.session.engine
        served.append(
            {
                "tls": conn.session.tls.version if conn.session.tls else None,
                "engine": getattr(engine, "protocol", None),
                "normal": bool(engine is not None and engine.ended is not None and engine.ended.normal),
                "failed_sap": any(isinstance(e, NegotiationFailed) for e in seen),
                "vehicle_hash": getattr(engine, "vehicle_certificate_hash", None),
            }
        )

    selector = TlsSelector(iso2=secc_context(pki, TlsProfile.ISO2), iso20=secc_context(pki, TlsProfile.ISO20))
    server = await start_secc_server(make_session, handler=handler, host="::1", port=0, ssl_select=selector)

    async def car(offered: AppProtocol, profile: Any) -> dict[str, Any]:
        tls = evcc_tls(pki, profile)
        iso20 = offered.is_iso20
        factory = evcc_factory(
            EvccConfig(energy_mode=ev.EnergyMode.DC_EXTENDED, pre_charge_max_requests=3),
            iso20=Iso20EvccConfig(service=EnergyService.DC, charge_loop_requests=2) if iso20 else None,
        )
        offers = (OfferedProtocol(protocol=offered, schema_id=1, priority=1),)

        def session(info: Any) -> EvccSession:
            return EvccSession(EvccSessionConfig(protocols=offers), {offered: factory}, now=info.now, tls=info.tls)

        conn = await connect_evcc(session, host="::1", port=server.port, ssl=tls.context, verify_peer=tls.verify_peer)
        events: list[Any] = []
        loops = 0
        async for event in conn.events():
            events.append(event)
            if isinstance(event, ev.ChargeLoopStatus):
                loops += 1
                if loops == 2:
                    conn.send(ev.StopCharging())
        engine: Any = conn.session.engine
        return {
            "tls": conn.session.tls.version if conn.session.tls else None,
            "negotiated": next((e.protocol for e in events if isinstance(e, ProtocolNegotiated)), None),
            "failed_sap": any(isinstance(e, NegotiationFailed) for e in events),
            "normal": bool(engine is not None and engine.ended is not None and engine.ended.normal),
            "iso20_loops": sum(isinstance(e, ev20.Iso20ChargeLoopStatus) for e in events),
            "reason": engine.ended.reason if engine is not None and engine.ended is not None else None,
        }

    try:
        results = await asyncio.wait_for(asyncio.gather(*(car(p, profile) for p, profile in cars)), 60)
        for _ in range(200):  # the charger's side of the last session ends a moment after the car's
            if len(served) == len(cars):
                break
            await asyncio.sleep(0.05)
    finally:
        await server.close()
    return list(results), served


def test_one_tls_port_for_iso20_and_iso2(pki: Any) -> None:
    """A -20 car (TLS 1.3, its OEM chain) and an ISO-2 car (TLS 1.2, server-auth) at once against ONE port: the
    ClientHello picks the PKI, SAP the engine, both sessions end normally."""
    import asyncio

    from evcharge.iso15118.security.tls import TlsProfile

    cars, served = asyncio.run(
        _serve_one_tls_port(pki, [(AppProtocol.ISO20_DC, TlsProfile.ISO20), (AppProtocol.ISO2, TlsProfile.ISO2)])
    )
    iso20, iso2 = cars
    assert iso20["tls"] == "TLSv1.3" and iso20["negotiated"] is AppProtocol.ISO20_DC and iso20["normal"]
    assert iso20["iso20_loops"] >= 2
    assert iso2["tls"] == "TLSv1.2" and iso2["negotiated"] is AppProtocol.ISO2 and iso2["normal"]
    by_engine = {s["engine"]: s for s in served}
    assert by_engine["iso20"]["tls"] == "TLSv1.3" and by_engine["iso20"]["normal"]
    assert by_engine["iso20"]["vehicle_hash"] is not None  # mutual authentication: the car's chain arrived
    assert by_engine["iso2"]["tls"] == "TLSv1.2" and by_engine["iso2"]["normal"]


def test_protocol_and_tls_version_must_match(pki: Any) -> None:
    """ISO 15118-20 only over TLS 1.3, DIN / ISO-2 only over TLS 1.2: a -20 car that connected with TLS 1.2 and
    an ISO-2 car that connected with TLS 1.3 are both answered Failed_NoNegotiation."""
    import asyncio

    from evcharge.iso15118.security.tls import TlsProfile

    cars, served = asyncio.run(
        _serve_one_tls_port(pki, [(AppProtocol.ISO20_DC, TlsProfile.ISO2), (AppProtocol.ISO2, TlsProfile.ISO20)])
    )
    assert [c["tls"] for c in cars] == ["TLSv1.2", "TLSv1.3"]
    assert all(c["failed_sap"] and c["negotiated"] is None and not c["normal"] for c in cars)
    assert sorted(s["tls"] for s in served) == ["TLSv1.2", "TLSv1.3"]
    assert all(s["failed_sap"] and s["engine"] is None for s in served)


def test_not_tls_on_the_tls_port_is_closed(pki: Any) -> None:
    """A car speaking plain V2GTP to the TLS port, and one that sends half a ClientHello and goes quiet: both are
    closed (the first at once, the second at the handshake timeout), and the port goes on serving."""
    import asyncio

    from evcharge.iso15118.security.tls import TlsProfile, TlsSelector, secc_context
    from evcharge.iso15118.transport.tcp import start_secc_server

    async def closed(reader: asyncio.StreamReader) -> bytes:
        """What the charger sent before it closed (a reset, as the car's bytes were left unread, counts)."""
        try:
            return await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:
            return b""

    async def main() -> tuple[bytes, bytes, float]:
        selector = TlsSelector(iso2=secc_context(pki, TlsProfile.ISO2), iso20=secc_context(pki, TlsProfile.ISO20))

        def never(info: Any) -> SeccSession:  # pragma: no cover - no connection gets this far
            raise AssertionError("a session was made")

        server = await start_secc_server(never, host="::1", port=0, ssl_select=selector, ssl_handshake_timeout=0.5)
        loop = asyncio.get_running_loop()
        try:
            reader, writer = await asyncio.open_connection("::1", server.port)
            writer.write(b"\x01\xfe\x80\x01\x00\x00\x00\x04abcd")
            plain = await closed(reader)
            writer.close()
            reader, writer = await asyncio.open_connection("::1", server.port)
            writer.write(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a 512-byte record, 6 bytes of it
            start = loop.time()
            half = await closed(reader)
            took = loop.time() - start
            writer.close()
        finally:
            await server.close()
        return plain, half, took

    plain, half, took = asyncio.run(main())
    assert plain == b"" and half == b""
    assert 0.4 <= took < 3.0
