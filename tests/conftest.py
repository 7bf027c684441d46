"""Shared fixtures (the helpers themselves live in helpers.py)."""

from __future__ import annotations

import pytest
from helpers import make_plugin_dist


@pytest.fixture
def plugin_dist(tmp_path):
    """Factory: ``plugin_dist(dist_name, {entry_point_name: source})`` -> env for run_cli."""

    def factory(dist: str, plugins: dict[str, str]) -> dict[str, str]:
        return make_plugin_dist(tmp_path / dist, dist, plugins)

    return factory
