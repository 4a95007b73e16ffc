"""Row counts of everything a refused request must leave untouched (shared by the bad-input tests)."""
from __future__ import annotations


def stored_counts() -> dict:
    from connectors.models import ConnectorConfig
    from governance.approvals.models import PromotionRequest, StagePolicy
    from governance.archive.models import EvidenceBundle, LegalHold
    from governance.audit.models import AuditEntry
    from lineage.ingest.models import IngestedEvent
    from lineage.models import Edge, Node, NodeRevision, RawRecord

    models = (RawRecord, Node, Edge, NodeRevision, IngestedEvent, AuditEntry, PromotionRequest, StagePolicy,
              EvidenceBundle, LegalHold, ConnectorConfig)
    return {m.__name__: m.objects.count() for m in models}
