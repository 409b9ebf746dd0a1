"""Did the session end as its scenario expects?  Pure functions over the event log and the CSMS's books.

:func:`verify` returns the list of reasons the session failed (empty: it passed); :func:`summarize` the numbers
a person wants at the end.  The rules are the standard's (IEC 61851-1 and OCPP), not the code's own beliefs:

* the control pilot goes A-B-C-B-A (A-B-C-A when the cable is pulled while charging);
* the relays are closed only while the car is in C and the PWM runs; they open within
  :data:`RELAY_OPEN_GRACE` of the car leaving C, of a fault (F) and of an RCD trip, and within the 6 s the
  standard gives a car that stays in C after the PWM stopped;
* a lower limit reaches the pilot within the 5 s a duty cycle must stay unchanged, and the car follows it
  within the 5 s IEC 61851-1 allows;
* energy was delivered, and the transaction is closed at the CSMS with the meter's energy (to 1 Wh: OCPP 1.6
  sends whole watt-hours);
* every transaction message reached the CSMS exactly once (resends are recognised as copies).
"""

from __future__ import annotations

from typing import Any

from .record import FAULT_NAMES, EventLog
from .scenario import Scenario

__all__ = ["RELAY_OPEN_GRACE", "cp_sequence", "summarize", "verify"]

#: Seconds the simulation may take to open the relays after the reason appeared in the log (the firmware's
#: 50 ms control loop, the 100 ms step of the simulated clock and the serial round trip).
RELAY_OPEN_GRACE = 0.5
DUTY_CHANGE_INTERVAL = 5.0  #: IEC 61851-1: one duty-cycle change per 5 s at most (EVerest: IEC_PWM_MAX_UPDATE_INTERVAL)
EV_REACTION_TIME = 5.0  #: IEC 61851-1: the car follows a lower duty cycle within 5 s
PWM_STOP_TIMEOUT = 6.0  #: the charger forces the relays open 6 s after the PWM stopped with the car still in C
ENERGY_TOLERANCE_WH = 1.0


def cp_sequence(log: EventLog) -> list[str]:
    """The control-pilot states the board reported, repeats removed, F (the charger's own error signal) left out,
    starting with A."""
    seq = ["A"]
    for e in log.of("cp"):
        if e["state"] != "F" and e["state"] != seq[-1]:
            seq.append(e["state"])
    return seq


def _relay_problems(log: EventLog) -> list[str]:
    """Relays closed outside C with PWM, or opened later than allowed after the reason to open appeared."""
    problems = []
    cp, pilot, closed = "A", "X1", False
    since: float | None = None
    allowed = RELAY_OPEN_GRACE
    for e in log.events:
        kind = e["type"]
        if kind == "relays":
            if e["closed"]:
                closed = True
                if not (cp in ("C", "D") and pilot == "X2"):
                    problems.append(f"relays closed at t={e['t']} with cp {cp} and pilot {pilot}")
            else:
                if since is not None and e["t"] - since > allowed:
                    problems.append(f"relays opened {e['t'] - since:.2f} s after the reason at t={since} "
                                    f"(allowed {allowed} s)")
                closed, since = False, None
            continue
        if kind == "cp":
            cp = e["state"]
        elif kind == "pilot":
            pilot = e["output"]
        elif kind != "board_error":
            continue
        if closed and since is None:
            if kind == "board_error" or cp not in ("C", "D") or pilot == "F":
                since, allowed = e["t"], RELAY_OPEN_GRACE
            elif pilot == "X1":
                since, allowed = e["t"], PWM_STOP_TIMEOUT + RELAY_OPEN_GRACE
    if closed:
        problems.append("the relays were still closed at the end")
    return problems


def _meter_energy(log: EventLog) -> float | None:
    started, ended = log.of("transaction_started"), log.of("transaction_ended")
    if not started or not ended or started[0]["meter_wh"] is None or ended[-1]["meter_wh"] is None:
        return None
    return float(ended[-1]["meter_wh"]) - float(started[0]["meter_wh"])


def _limit_problems(log: EventLog, amps: float) -> list[str]:
    limits = [e for e in log.of("limit") if e["amps"] == amps]
    if not limits:
        return [f"the charger never received the {amps} A limit"]
    t0 = limits[0]["t"]
    pilots = [e for e in log.of("pilot") if e["t"] >= t0 and e["output"] == "X2"
              and abs(e["duty"] - amps / 0.6) < 0.05]
    if not pilots:
        return [f"the duty cycle for {amps} A never appeared after t={t0}"]
    t1 = pilots[0]["t"]
    problems = []
    if t1 - t0 > DUTY_CHANGE_INTERVAL + RELAY_OPEN_GRACE:
        problems.append(f"the duty cycle changed {t1 - t0:.1f} s after the limit (> {DUTY_CHANGE_INTERVAL} s)")
    follow = [e for e in log.of("meter") if e["t"] >= t1 and max(e["current_a"]) <= amps + 0.05]
    if not follow:
        problems.append(f"the current never fell to {amps} A")
    else:
        delay = follow[0]["t"] - t1
        if delay > EV_REACTION_TIME + RELAY_OPEN_GRACE:
            problems.append(f"the car took {delay:.1f} s to follow the limit (> {EV_REACTION_TIME} s)")
        later = [e for e in log.of("meter") if e["t"] >= follow[0]["t"] and max(e["current_a"]) > amps + 0.05]
        if later and later[0]["t"] < (log.of("transaction_ended") or [{"t": float("inf")}])[-1]["t"]:
            problems.append(f"the current rose above {amps} A again at t={later[0]['t']}")
    return problems


def verify(log: EventLog, books: Any, *, scenario: Scenario, ocpp_version: str, finish_reason: str = "",
           limit_amps: float = 10.0, queued_left: int = 0) -> list[str]:
    """Reasons the session did not end as ``scenario`` expects (empty: it did).  ``books`` is the embedded
    CSMS's :class:`~evcharge.sim.csms.CsmsBooks`, or ``None`` with an external CSMS (its side is not checked)."""
    problems = []
    if finish_reason:
        problems.append(finish_reason)
    if queued_left:
        problems.append(f"{queued_left} transaction messages never reached the CSMS")
    expected = ["A", "B", "C", "A"] if scenario is Scenario.UNPLUG else ["A", "B", "C", "B", "A"]
    seq = cp_sequence(log)
    if seq != expected:
        problems.append(f"control pilot went {'-'.join(seq)}, expected {'-'.join(expected)}")
    problems += _relay_problems(log)
    started, ended = log.of("transaction_started"), log.of("transaction_ended")
    if len(started) != 1 or len(ended) != 1:
        problems.append(f"{len(started)} transactions started and {len(ended)} ended, expected one")
    energy = _meter_energy(log)
    if energy is None or energy <= 0:
        problems.append("no energy was delivered")
    if scenario is Scenario.RCD_FAULT:
        trips = [e for e in log.of("board_error") if e["error"] == "MREC2GroundFailure"]
        if not trips:
            problems.append("the RCD never tripped")
    if scenario is Scenario.LIMIT_CHANGE:
        problems += _limit_problems(log, limit_amps)
    if books is not None:
        problems += _csms_problems(books, energy, scenario=scenario, ocpp_version=ocpp_version)
    return problems


def _csms_problems(books: Any, energy: float | None, *, scenario: Scenario, ocpp_version: str) -> list[str]:
    problems = []
    txs = list(books.transactions.values())
    if len(txs) != 1:
        return [f"the CSMS saw {len(txs)} transactions, expected one"]
    tx = txs[0]
    if tx.ended_t is None:
        return ["the transaction was not closed at the CSMS"]
    if tx.meter_start_wh is None or tx.meter_stop_wh is None:
        problems.append("the CSMS has no meter start or stop value")
    elif energy is not None and abs((tx.meter_stop_wh - tx.meter_start_wh) - energy) > ENERGY_TOLERANCE_WH:
        problems.append(f"the CSMS counted {tx.meter_stop_wh - tx.meter_start_wh:.1f} Wh, the meter {energy:.1f} Wh")
    if scenario is Scenario.RCD_FAULT:
        want = "EmergencyStop" if ocpp_version == "1.6" else "GroundFault"
    else:
        want = "EVDisconnected"
    if tx.stop_reason != want:
        problems.append(f"the transaction ended for {tx.stop_reason}, expected {want}")
    if ocpp_version != "1.6" and sorted(tx.seq_nos) != list(range(len(tx.seq_nos))):
        problems.append(f"transaction messages missing or repeated: seqNo {tx.seq_nos}")
    if scenario is Scenario.OFFLINE and tx.offline_messages == 0 and ocpp_version != "1.6":
        problems.append("no transaction message was queued offline")
    return problems


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


def faults(log: EventLog) -> list[str]:
    """Each fault the board raised, in words, with when it came and what the charger did about it."""
    out = []
    for e in log.of("board_error"):
        text = f"{FAULT_NAMES.get(e['error'], e['error'])} at {_clock(e['t'])}"
        opened = [r for r in log.of("relays") if not r["closed"] and r["t"] >= e["t"]]
        if opened:
            text += f"; relays opened {opened[0]['t'] - e['t']:.1f} s later"
        cleared = [c for c in log.of("board_error_cleared") if c["error"] == e["error"] and c["t"] >= e["t"]]
        if cleared:
            text += f"; cleared at {_clock(cleared[0]['t'])}"
        out.append(text)
    return out


def outages(log: EventLog) -> dict[str, Any] | None:
    """How often and how long the CSMS link was down after the first connection, and what waited meanwhile."""
    down_since: float | None = None
    seen_up = False
    count, down, queued = 0, 0.0, 0
    for e in log.of("ocpp_link"):
        if e["connected"]:
            if down_since is not None:
                down += e["t"] - down_since
                queued += int(e.get("queued", 0))
                down_since = None
            seen_up = True
        elif seen_up and down_since is None:
            down_since = e["t"]
            count += 1
    if count == 0:
        return None
    return {"outages": count, "down_s": round(down, 1), "queued": queued}


def summarize(log: EventLog, books: Any, *, peak_current: float, soc: float, station_calls: int,
              csms_calls: int, scenario: Scenario | None = None, queued_offline: int | None = None,
              replayed: int | None = None) -> dict[str, Any]:
    """The numbers for the end of the run."""
    started, ended = log.of("transaction_started"), log.of("transaction_ended")
    energy = _meter_energy(log)
    duration = ended[-1]["t"] - started[0]["t"] if started and ended else None
    tx = next(iter(books.transactions.values()), None) if books is not None else None
    return {
        "energy_wh": None if energy is None else round(energy, 1),
        "duration_s": None if duration is None else round(duration, 1),
        "peak_current_a": round(peak_current, 2),
        "final_soc": round(soc, 2),
        "ocpp_calls_from_station": station_calls,
        "ocpp_calls_from_csms": csms_calls,
        "transaction_id": (tx.transaction_id if tx is not None
                           else (started[0]["transaction_id"] if started else None)),
        "csms_energy_wh": (None if tx is None or tx.meter_start_wh is None or tx.meter_stop_wh is None
                           else round(tx.meter_stop_wh - tx.meter_start_wh, 1)),
        "stop_reason": None if tx is None else tx.stop_reason,
        "cp_sequence": "-".join(cp_sequence(log)),
        "scenario": None if scenario is None else scenario.value,
        "faults": faults(log),
        "offline": _offline(log, tx, queued_offline, replayed),
    }


def _offline(log: EventLog, tx: Any, queued_offline: int | None, replayed: int | None) -> dict[str, Any] | None:
    summary = outages(log)
    if summary is None:
        return None
    if queued_offline is not None:
        summary["queued"] = queued_offline
    summary["replayed"] = replayed if replayed is not None else summary["queued"]
    summary["marked_offline"] = None if tx is None else tx.offline_messages
    return summary
