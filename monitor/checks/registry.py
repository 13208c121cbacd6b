"""The checks by name: what ``settings.checks`` chooses from, and how each is built from the inventory."""

from __future__ import annotations

from collections.abc import Callable

from monitor.checks.accounts import InteractionCheck, MatrixCheck, PostShareCheck, ServiceMenuCheck
from monitor.checks.availability import AvailabilityCheck
from monitor.checks.base import Check, ObservationCheck
from monitor.checks.bridges import BridgeCheck
from monitor.checks.calendar import CalendarCheck
from monitor.checks.honest import HonestDatesCheck
from monitor.checks.interpretation import InterpretationCheck
from monitor.checks.links import LinksCheck
from monitor.checks.messages import MessagesCheck
from monitor.config import Inventory

# Every check by the name settings.checks uses (config.CHECK_NAMES), built from the inventory in this order.
CHECKS: dict[str, Callable[[Inventory], Check]] = {
    "availability": AvailabilityCheck,
    "links": lambda inventory: LinksCheck(),
    "honest": lambda inventory: HonestDatesCheck(),
    "calendar": lambda inventory: CalendarCheck(),
    "messages": lambda inventory: MessagesCheck(),
    "interpretation": lambda inventory: InterpretationCheck(),
    "interaction": lambda inventory: InteractionCheck(),
    "service_menu": lambda inventory: ServiceMenuCheck(),
    "matrix": lambda inventory: MatrixCheck(),
    "bridges": lambda inventory: BridgeCheck(),
}
# The checks on what probes already read (run by the monitor on every fetched observation).
OBSERVATION_CHECKS: dict[str, Callable[[Inventory], ObservationCheck]] = {
    "repost_share": lambda inventory: PostShareCheck(inventory.settings.accounts),
}


def _enabled(inventory: Inventory, name: str) -> bool:
    return inventory.settings.checks is None or name in inventory.settings.checks


def build_checks(inventory: Inventory) -> list[Check]:
    """The periodic checks (``runner.CheckRunner`` runs them) that ``settings.checks`` enables."""
    return [build(inventory) for name, build in CHECKS.items() if _enabled(inventory, name)]


def build_observation_checks(inventory: Inventory) -> list[ObservationCheck]:
    """The observation checks that ``settings.checks`` enables."""
    return [build(inventory) for name, build in OBSERVATION_CHECKS.items() if _enabled(inventory, name)]
