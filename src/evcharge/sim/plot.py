"""``--plot``: current, power and state of charge over time (matplotlib, the optional ``plot`` extra).

The picture says what happened, not only how much: the scenario is in the title, every scenario step and fault
is a labelled line, the current the charger offered (its own maximum, lowered by a CSMS charging limit) is drawn
over the measured current, and the time the CSMS link was down is shaded.
"""

from __future__ import annotations

from typing import Any

from .record import EventLog, describe

__all__ = ["figure", "plot"]


def _limit_steps(log: EventLog, end: float, charger_current: float | None) -> tuple[list[float], list[float]]:
    """The offered current over time (minutes, amps) as a step line: the charger's maximum, then each limit."""
    xs: list[float] = [0.0]
    ys: list[float] = [charger_current if charger_current is not None else float("nan")]
    for e in log.of("limit"):
        xs.append(e["t"] / 60.0)
        ys.append(float(e["amps"]))
    xs.append(end / 60.0)
    ys.append(ys[-1])
    return xs, ys


def _outages(log: EventLog, end: float) -> list[tuple[float, float]]:
    spans, since, seen_up = [], None, False
    for e in log.of("ocpp_link"):
        if e["connected"]:
            if since is not None:
                spans.append((since, e["t"]))
                since = None
            seen_up = True
        elif seen_up and since is None:
            since = e["t"]
    if since is not None:
        spans.append((since, end))
    return spans


def plot(log: EventLog, path: str, *, scenario: str | None = None, charger_current: float | None = None) -> None:
    """Draw the session into ``path`` (the format follows the name: PNG, SVG or PDF)."""
    import matplotlib.pyplot as plt

    fig = figure(log, scenario=scenario, charger_current=charger_current)
    fig.savefig(path)
    plt.close(fig)


def figure(log: EventLog, *, scenario: str | None = None, charger_current: float | None = None) -> Any:
    """The session as a matplotlib figure (three panels: current, power, state of charge)."""
    from evcharge.errors import require

    matplotlib: Any = require("matplotlib", "plot", feature="--plot")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = log.of("meter")
    end = log.events[-1]["t"] if log.events else 0.0
    minutes = [e["t"] / 60.0 for e in samples]
    fig, (ax_i, ax_p, ax_s) = plt.subplots(3, 1, sharex=True, figsize=(10, 8))
    ax_i.plot(minutes, [max(e["current_a"]) for e in samples], color="tab:blue", label="measured (max phase)")
    xs, ys = _limit_steps(log, end, charger_current)
    ax_i.step(xs, ys, where="post", color="tab:orange", linestyle="--", label="offered (charger max / CSMS limit)")
    for e in log.of("limit"):
        ax_i.annotate(f"limit {e['amps']:g} A", (e["t"] / 60.0, e["amps"]), textcoords="offset points",
                      xytext=(4, 4), fontsize=8, color="tab:orange")
    ax_i.set_ylabel("current / phase (A)")
    ax_i.legend(loc="lower left", fontsize=8)
    ax_p.plot(minutes, [e["power_w"] / 1000.0 for e in samples], color="tab:red")
    ax_p.set_ylabel("power (kW)")
    ax_s.plot(minutes, [e["soc"] for e in samples], color="tab:green")
    ax_s.set_ylabel("state of charge (%)")
    ax_s.set_xlabel("simulated time (min)")
    for start, stop in _outages(log, end):
        for ax in (ax_i, ax_p, ax_s):
            ax.axvspan(start / 60.0, stop / 60.0, color="grey", alpha=0.15)
        ax_p.text(start / 60.0, 0.95, " CSMS offline", transform=ax_p.get_xaxis_transform(), fontsize=8,
                  va="top", color="dimgrey")
    marks = [e for e in log.events if e["type"] in ("scenario", "board_error") and describe(e)]
    for n, e in enumerate(marks):
        fault = e["type"] == "board_error"
        color = "tab:red" if fault else "grey"
        for ax in (ax_i, ax_p, ax_s):
            ax.axvline(e["t"] / 60.0, color=color, linewidth=1.0 if fault else 0.6, linestyle="-" if fault else ":")
        ax_s.text(e["t"] / 60.0, 0.05 + 0.12 * (n % 4), " " + str(describe(e)), transform=ax_s.get_xaxis_transform(),
                  fontsize=7, color=color, rotation=0, va="bottom")
    ax_i.set_title(f"evcharge simulate: scenario {scenario}" if scenario else "evcharge simulate")
    fig.tight_layout()
    return fig
