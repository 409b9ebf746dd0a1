"""``--plot``: current, power and state of charge over time (matplotlib, the optional ``plot`` extra)."""

from __future__ import annotations

from .record import EventLog

__all__ = ["plot"]


def plot(log: EventLog, path: str) -> None:
    """Draw the session's meter samples into ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = log.of("meter")
    minutes = [e["t"] / 60.0 for e in samples]
    fig, (ax_i, ax_p, ax_s) = plt.subplots(3, 1, sharex=True, figsize=(9, 7))
    ax_i.plot(minutes, [max(e["current_a"]) for e in samples], color="tab:blue")
    ax_i.set_ylabel("current / phase (A)")
    ax_p.plot(minutes, [e["power_w"] / 1000.0 for e in samples], color="tab:red")
    ax_p.set_ylabel("power (kW)")
    ax_s.plot(minutes, [e["soc"] for e in samples], color="tab:green")
    ax_s.set_ylabel("state of charge (%)")
    ax_s.set_xlabel("simulated time (min)")
    for e in log.of("scenario"):
        for ax in (ax_i, ax_p, ax_s):
            ax.axvline(e["t"] / 60.0, color="grey", linewidth=0.5, linestyle=":")
    ax_i.set_title("evcharge simulate")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
