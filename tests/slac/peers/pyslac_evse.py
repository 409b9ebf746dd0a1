"""Run pyslac's EVSE session on one interface until it matches; print the outcome as JSON.

Usage: python pyslac_evse.py IFACE TIMEOUT  (run inside the test's network namespace)
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from pyslac.enums import STATE_MATCHED
from pyslac.environment import Config
from pyslac.session import SlacEvseSession, SlacSessionController


async def main(iface: str, timeout: float) -> dict[str, object]:
    config = Config(slac_init_timeout=30, slac_atten_results_timeout=None, log_level=logging.DEBUG)
    session = SlacEvseSession("DE*PYS*E0001", iface, config)
    await session.evse_set_key()  # CM_SET_KEY to the (emulated) modem, then pyslac's 10 s settle time
    print("pyslac: waiting for CM_SLAC_PARM.REQ", file=sys.stderr, flush=True)
    controller = SlacSessionController()
    await controller.process_cp_state(session, "B")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while session.state != STATE_MATCHED and loop.time() < deadline:
        await asyncio.sleep(0.05)
    result = {
        "state": session.state,
        "nmk": session.nmk.hex() if session.nmk else None,
        "nid": session.nid.hex() if session.nid else None,
        "pev_mac": session.pev_mac.hex() if isinstance(session.pev_mac, bytes) else None,
        "run_id": session.run_id.hex() if isinstance(session.run_id, bytes) else None,
        "num_sounds": session.num_total_sounds,
    }
    if session.matching_process_task is not None:
        session.matching_process_task.cancel()
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    print(json.dumps(asyncio.run(main(sys.argv[1], float(sys.argv[2])))), flush=True)
