"""The inventory: units, sites, columns, accounts and settings, from YAML, JSON or an Excel sheet.

``errors`` (problems with their lines), ``schema`` (the pydantic models), ``build`` (plain data → an
``Inventory``), ``load`` (files, with lines), ``excel`` and ``account_list`` (offices' spreadsheets). The
names below are the package's public face: ``config.load(path)``, ``config.Inventory``, ``config.ConfigError``.
"""

from monitor.config.build import build
from monitor.config.errors import ConfigError, ConfigProblem
from monitor.config.inventory import Inventory, account_site
from monitor.config.load import load
from monitor.config.schema import (
    ACCOUNT_STATUS,
    CHECK_NAMES,
    EVENT_KINDS,
    PLATFORMS,
    AccountModel,
    AccountSettings,
    AlertSettings,
    AvailabilitySettings,
    CategoryModel,
    ClusterSettings,
    ColumnModel,
    Contact,
    FetchModel,
    InteractionModel,
    InterpretationSelect,
    InventoryModel,
    LadderStep,
    LinkSettings,
    MessageBoxModel,
    MqttModel,
    ReceiverModel,
    SettingsModel,
    SiteModel,
    SourceModel,
    UnitModel,
    canonical_platform,
)

__all__ = [
    "ACCOUNT_STATUS",
    "CHECK_NAMES",
    "EVENT_KINDS",
    "PLATFORMS",
    "AccountModel",
    "AccountSettings",
    "AlertSettings",
    "AvailabilitySettings",
    "CategoryModel",
    "ClusterSettings",
    "ColumnModel",
    "ConfigError",
    "ConfigProblem",
    "Contact",
    "FetchModel",
    "InteractionModel",
    "InterpretationSelect",
    "Inventory",
    "InventoryModel",
    "LadderStep",
    "LinkSettings",
    "MessageBoxModel",
    "MqttModel",
    "ReceiverModel",
    "SettingsModel",
    "SiteModel",
    "SourceModel",
    "UnitModel",
    "account_site",
    "build",
    "canonical_platform",
    "load",
]
