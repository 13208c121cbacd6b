"""The runtime inventory: the validated model, the rules by category and every target probed."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.addresses import named_literals
from monitor.config.bridges import Bridge
from monitor.config.schema import InventoryModel, SettingsModel
from monitor.model import Target
from monitor.rules import NEW_MEDIA, Rule


def account_site(unit_id: str) -> str:
    """The site id under which a unit's new-media accounts are grouped (their targets' and findings' site)."""
    return f"nm-{unit_id}"


@dataclass(frozen=True, slots=True)
class Inventory:
    source: str
    model: InventoryModel
    rules: dict[str, Rule]
    targets: tuple[Target, ...]
    bridges: tuple[Bridge, ...] = ()  # what accounts are read through (monitor.config.bridges)

    @property
    def settings(self) -> SettingsModel:
        return self.model.settings

    @property
    def named_addresses(self) -> frozenset[str]:
        """The IP literals written as hosts in the inventory's URLs: the fetcher trusts them as written."""
        return named_literals(_strings(self.model.model_dump()))

    @property
    def site_names(self) -> dict[str, str]:
        """Names by site id, a unit's accounts grouped as 政务新媒体 (for findings, alerts and the board)."""
        return {**{account_site(a.unit): NEW_MEDIA for a in self.model.accounts},
                **{site.id: site.name for site in self.model.sites}}


def _strings(node: object) -> list[str]:
    """Every string in plain nested data (a model's dump)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        node = list(node.values())
    return [s for child in node for s in _strings(child)] if isinstance(node, list | tuple) else []
