"""The default stages and their policies: staging (1 approver), production (2), retired (1).

Production asks for the full checklist; staging for a producing run and no failed run; retiring a model
needs only an approval. Admins change these through the API or the admin.
"""
from django.db import migrations

DEFAULTS = [
    ("staging", "Pre-production validation", 10, {
        "required_approvals": 1, "require_producing_run": True, "max_training_hops": None,
        "forbid_failed_runs": True, "require_evidence_archived": False,
    }),
    ("production", "Serving live traffic", 20, {
        "required_approvals": 2, "require_producing_run": True, "max_training_hops": 5,
        "forbid_failed_runs": True, "require_evidence_archived": True,
        "source_actions": {"viya": {"action": "set_champion"}},
    }),
    ("retired", "Withdrawn from use", 30, {
        "required_approvals": 1, "require_producing_run": False, "max_training_hops": None,
        "forbid_failed_runs": False, "require_evidence_archived": False,
    }),
]


def create(apps, schema_editor):
    Stage = apps.get_model("approvals", "Stage")
    StagePolicy = apps.get_model("approvals", "StagePolicy")
    for name, description, order, policy in DEFAULTS:
        stage, _ = Stage.objects.get_or_create(name=name, defaults={"description": description, "order": order})
        StagePolicy.objects.get_or_create(stage=stage, defaults=policy)


def remove(apps, schema_editor):
    Stage = apps.get_model("approvals", "Stage")
    StagePolicy = apps.get_model("approvals", "StagePolicy")
    names = [d[0] for d in DEFAULTS]
    StagePolicy.objects.filter(stage__name__in=names, stage__requests__isnull=True).delete()
    Stage.objects.filter(name__in=names, requests__isnull=True, policy__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
