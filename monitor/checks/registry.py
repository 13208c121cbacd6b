"""Every periodic check the daemon runs besides column probes, built from the inventory."""

from __future__ import annotations

from monitor.calendar_check import CalendarCheck
from monitor.checks import Check, ObservationCheck
from monitor.config import Inventory
from monitor.health.availability_check import AvailabilityCheck
from monitor.health.crawl import LinksCheck
from monitor.honest import HonestDatesCheck
from monitor.newmedia.checks import InteractionCheck, MatrixCheck, PostShareCheck, ServiceMenuCheck
from monitor.workday_checks import InterpretationCheck, MessagesCheck


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
