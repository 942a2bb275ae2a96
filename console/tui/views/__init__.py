"""The console's views, in the order `:` lists them; a view's module holds its load and draw."""

from __future__ import annotations

from console.tui.views.alerts import AlertsView
from console.tui.views.base import View
from console.tui.views.canary import CanaryView
from console.tui.views.drift import DriftView
from console.tui.views.incidents import IncidentsView
from console.tui.views.logs import LogsView
from console.tui.views.metrics import MetricsView
from console.tui.views.models import ModelsView
from console.tui.views.overview import OverviewView
from console.tui.views.sql import SqlView

VIEWS: tuple[type[View], ...] = (
    OverviewView,
    AlertsView,
    LogsView,
    MetricsView,
    ModelsView,
    SqlView,
    IncidentsView,
    DriftView,
    CanaryView,
)

__all__ = [
    "VIEWS",
    "AlertsView",
    "CanaryView",
    "DriftView",
    "IncidentsView",
    "LogsView",
    "MetricsView",
    "ModelsView",
    "OverviewView",
    "SqlView",
    "View",
]
