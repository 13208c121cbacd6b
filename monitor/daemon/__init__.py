"""The daemon, one module per job: ``monitor`` (the Monitor: lifecycle and the one path from an observation
to state), ``probes`` (the probe scheduler), ``timers`` (deadline timers), ``writer`` (the store writer),
``book`` (the findings book), ``hooks`` (who hears what it does), ``tracked`` (a target as the daemon holds
it)."""

from monitor.daemon.hooks import Hooks
from monitor.daemon.monitor import Monitor, fetch_settings, now_shanghai, render_settings
from monitor.daemon.tracked import Tracked

__all__ = ["Hooks", "Monitor", "Tracked", "fetch_settings", "now_shanghai", "render_settings"]
