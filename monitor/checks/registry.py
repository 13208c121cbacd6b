"""Every periodic check the daemon runs besides column probes, built from the inventory."""

from __future__ import annotations

from monitor.checks.accounts import InteractionCheck, MatrixCheck, PostShareCheck, ServiceMenuCheck
from monitor.checks.availability import AvailabilityCheck
from monitor.checks.base import Check, ObservationCheck
from monitor.checks.calendar import CalendarCheck
from monitor.checks.honest import HonestDatesCheck
from monitor.checks.interpretation import InterpretationCheck
from monitor.checks.links import LinksCheck
from monitor.checks.messages import MessagesCheck
from monitor.config import Inventory


def _enabled(inventory: Inventory, name: str) -> bool:
    return inventory.settings.checks is None or name in inventory.settings.checks


def build_checks(inventory: Inventory) -> list[Check]:
    """The periodic checks (monitor.checks.CheckRunner runs them) that ``settings.checks`` enables."""
    checks: list[Check] = [
        AvailabilityCheck(inventory), LinksCheck(), HonestDatesCheck(), CalendarCheck(), MessagesCheck(),
        InterpretationCheck(), InteractionCheck(), ServiceMenuCheck(), MatrixCheck()]
    return [check for check in checks if _enabled(inventory, check.name)]


def build_observation_checks(inventory: Inventory) -> list[ObservationCheck]:
    """The checks on what probes already read (run by the monitor on every fetched observation)."""
    checks: list[ObservationCheck] = [PostShareCheck(inventory.settings.accounts)]
    return [check for check in checks if _enabled(inventory, check.name)]
