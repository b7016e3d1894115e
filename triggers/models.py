"""Event source mappings, rules and schedules (see the app's docstring)."""

from __future__ import annotations
