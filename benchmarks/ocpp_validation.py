"""Validation time per MeterValues with 10 sampled values: evcharge vs mobilityhouse ``ocpp``.

For each OCPP version the same payload is validated by

* evcharge: the generated, compiled validator (``evcharge.ocpp.<version>.validate``), strict mode;
* mobilityhouse ``ocpp``: ``ocpp.messages._validate_payload`` -- the synchronous jsonschema
  validation its charge point and CSMS run for every message (its default only moves the same call
  into a thread pool).

A second block adds what each library does next with the payload: evcharge builds the typed model
(``MeterValuesRequest.from_json``), mobilityhouse converts the keys camelCase -> snake_case.

Every line prints our time per message, the peer's, and the ratio (peer / ours: above 1 means
we are faster). Times are the median of several timed batches after a warm-up.

Run: ``python benchmarks/ocpp_validation.py`` (needs the test extras: ``pip install ".[test]"``).
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from typing import Any

TIMESTAMP = "2026-11-21T20:15:00.000Z"


def meter_values_16() -> dict[str, Any]:
    measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage", "SoC"]
    samples = [
        {
            "value": f"{1234.5 + i:.1f}",
            "context": "Sample.Periodic",
            "format": "Raw",
            "measurand": measurands[i % len(measurands)],
            "phase": ["L1", "L2", "L3", "N", "L1-N"][i % 5],
            "location": "Outlet",
            "unit": ["Wh", "W", "A", "V", "Percent"][i % 5],
        }
        for i in range(10)
    ]
    return {"connectorId": 1, "transactionId": 4711, "meterValue": [{"timestamp": TIMESTAMP, "sampledValue": samples}]}


def meter_values_2x() -> dict[str, Any]:
    measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import", "Voltage", "SoC"]
    samples = [
        {
            "value": 1234.5 + i,
            "context": "Sample.Periodic",
            "measurand": measurands[i % len(measurands)],
            "phase": ["L1", "L2", "L3", "N", "L1-N"][i % 5],
            "location": "Outlet",
            "unitOfMeasure": {"unit": ["Wh", "W", "A", "V", "Percent"][i % 5], "multiplier": 0},
        }
        for i in range(10)
    ]
    return {"evseId": 1, "meterValue": [{"timestamp": TIMESTAMP, "sampledValue": samples}]}


def measure(func: Callable[[], Any], repeat: int, number: int) -> float:
    """Median seconds per call."""
    func()
    timeit.timeit(func, number=max(1, number // 10))
    return statistics.median(timeit.repeat(func, repeat=repeat, number=number)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed batches per case (default 7)")
    parser.add_argument("--number", type=int, default=300, help="calls per batch for the peer (ours: 20x)")
    args = parser.parse_args()

    from ocpp.charge_point import camel_to_snake_case
    from ocpp.messages import Call, _validate_payload

    from evcharge.ocpp import v16, v21, v201

    cases = [("1.6", v16, meter_values_16()), ("2.0.1", v201, meter_values_2x()), ("2.1", v21, meter_values_2x())]
    print("MeterValues, 10 sampled values: validation time per message")
    print(f"{'version':8} {'evcharge':>12} {'mobilityhouse':>14} {'ratio':>8}")
    ratios = []
    for version, module, payload in cases:
        module.validate("MeterValues", "request", payload)  # both accept the payload before timing
        _validate_payload(Call("1", "MeterValues", payload), version)
        ours = measure(lambda m=module, p=payload: m.validate("MeterValues", "request", p),
                       args.repeat, args.number * 20)
        theirs = measure(lambda v=version, p=payload: _validate_payload(Call("1", "MeterValues", p), v),
                         args.repeat, args.number)
        ratios.append(theirs / ours)
        print(f"{version:8} {ours * 1e6:10.1f}us {theirs * 1e6:12.1f}us {theirs / ours:7.1f}x")

    print("\nvalidation + handing the payload to the application (typed model vs snake_case dict)")
    print(f"{'version':8} {'evcharge':>12} {'mobilityhouse':>14} {'ratio':>8}")
    for version, module, payload in cases:
        cls = module.request_class("MeterValues")

        def ours_full(m: Any = module, c: Any = cls, p: dict[str, Any] = payload) -> Any:
            m.validate("MeterValues", "request", p)
            return c.from_json(p)

        def theirs_full(v: str = version, p: dict[str, Any] = payload) -> Any:
            _validate_payload(Call("1", "MeterValues", p), v)
            return camel_to_snake_case(p)

        ours = measure(ours_full, args.repeat, args.number * 5)
        theirs = measure(theirs_full, args.repeat, args.number)
        print(f"{version:8} {ours * 1e6:10.1f}us {theirs * 1e6:12.1f}us {theirs / ours:7.1f}x")

    print(f"\nvalidation target: at least 20x faster; lowest ratio measured: {min(ratios):.1f}x")


if __name__ == "__main__":
    main()
