"""Approvals reach the connectors only through common.sources (governance may not import connectors): what
the port answers is what write-back plans with, and without a connectors app nothing runs at a source."""
import pytest

import common.sources
from connectors import directory
from connectors.models import ConnectorConfig
from governance.approvals import writeback

pytestmark = pytest.mark.django_db
POLICY = {"stage": "production", "source_actions": {"viya": {"action": "set_champion"}}}


class _Node:
    source, namespace, source_id = "viya", "viya.example:443", "viya.example:443/model/m1/version/1"


def test_the_connectors_app_installs_its_directory():
    assert common.sources._directory is directory


def test_write_back_plans_with_the_configured_connectors():
    assert writeback.plan(POLICY, _Node()).note.startswith("No connector of kind 'viya'")
    config = ConnectorConfig.objects.create(name="viya-prod", kind="viya", settings={"url": "https://viya.example:443"},
                                            write_back_enabled=True)
    ConnectorConfig.objects.create(name="kfp", kind="kubeflow", settings={})
    assert common.sources.configured("viya") == [config]
    plan = writeback.plan(POLICY, _Node())
    assert plan.runs_at_source and plan.config == config


def test_without_a_connectors_app_promotions_are_recorded_only(monkeypatch):
    ConnectorConfig.objects.create(name="viya-prod", kind="viya", settings={}, write_back_enabled=True)
    monkeypatch.setattr(common.sources, "_directory", None)
    assert common.sources.configured("viya") == []
    assert not writeback.plan(POLICY, _Node()).runs_at_source
    with pytest.raises(writeback.WriteBackError, match="no connectors app"):
        writeback.perform(writeback.Plan({"action": "set_champion"}, object(), ""), _Node())


def test_a_kind_without_a_plugin_is_a_write_back_error():
    config = ConnectorConfig(name="x", kind="nosuch", settings={})
    with pytest.raises(writeback.WriteBackError, match="connector plugin 'nosuch' unavailable"):
        writeback.perform(writeback.Plan({"action": "a"}, config, ""), _Node())
