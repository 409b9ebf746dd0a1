"""``--plot`` for ``evcharge simulate --hlc``: DC (or AC per phase) voltage, current and power against the CSMS's
limit, and the state of charge, over the simulated time."""

from __future__ import annotations

from typing import Any

__all__ = ["plot_hlc"]


def _limits(result: dict[str, Any]) -> list[tuple[float, float]]:
    """(time, watts) of the composite limit after every SetChargingProfile the CSMS sent: the profile with the
    highest stackLevel wins (relative W profiles, first period)."""
    profiles: dict[int, tuple[int, float]] = {}
    steps = []
    for entry in result["ocpp"]:
        if entry["action"].startswith("SetChargingProfile (from"):
            profile = entry["request"]
            schedule = profile["chargingSchedule"][0]
            if schedule.get("chargingRateUnit", "W") == "W":
                watts = float(schedule["chargingSchedulePeriod"][0]["limit"])
                profiles[int(profile.get("id", 0))] = (int(profile.get("stackLevel", 0)), watts)
                steps.append((float(entry["t"]), max(profiles.values())[1]))
    return steps


def plot_hlc(result: dict[str, Any], path: str) -> None:
    """Draw ``result`` (the JSON log of the run) into ``path`` (.png, .svg or .pdf)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result["samples"]
    t = [s[0] for s in samples]
    fig, (ax_v, ax_p, ax_soc) = plt.subplots(3, 1, sharex=True, figsize=(9, 7))
    ax_v.plot(t, [s[1] for s in samples], label="voltage (V)", color="tab:blue")
    ax_i = ax_v.twinx()
    per_phase = " per phase" if result.get("phases", 1) > 1 else ""
    ax_v.lines[0].set_label(f"voltage{per_phase} (V)")
    ax_i.plot(t, [s[2] for s in samples], label=f"current{per_phase} (A)", color="tab:orange")
    ax_v.set_ylabel("V")
    ax_i.set_ylabel("A")
    ax_v.legend(loc="upper left")
    ax_i.legend(loc="upper right")
    phases = result.get("phases", 1)  # AC: voltage and current per phase
    ax_p.plot(t, [s[1] * s[2] * phases / 1000 for s in samples], label="power (kW)", color="tab:green")
    limits = _limits(result)
    if limits:
        xs, ys = [], []
        for i, (start, watts) in enumerate(limits):
            end = limits[i + 1][0] if i + 1 < len(limits) else (t[-1] if t else start)
            xs += [start, end]
            ys += [watts / 1000, watts / 1000]
        ax_p.plot(xs, ys, label="CSMS limit (kW)", color="tab:red", linestyle="--")
    ax_p.set_ylabel("kW")
    ax_p.legend(loc="upper right")
    ax_soc.plot(t, [s[3] for s in samples], label="state of charge (%)", color="tab:purple")
    ax_soc.set_ylabel("%")
    ax_soc.set_xlabel("simulated time (s)")
    ax_soc.legend(loc="lower right")
    for f in result["faults"]:
        for ax in (ax_v, ax_p, ax_soc):
            ax.axvline(f["at"], color="red", linewidth=0.8)
        ax_v.annotate(f"{f['kind']} fault", (f["at"], 0), rotation=90, fontsize=8)
    fig.suptitle(f"evcharge simulate --hlc {result['hlc']} --energy {result['energy']}: {result['scenario']}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
