"""Marquez's paths under /api/v1/ (registered by governance/urls.py after the OpenLineage ingest's, which
owns /api/v1/lineage and /api/v1/lineage/batch).

Namespaces and names arrive URL-decoded and may hold slashes (`s3://bucket`, `/tmp/file`), so the path
parts are regular expressions: a namespace runs to the first `/datasets/` or `/jobs/` after it.
"""
from django.urls import re_path

from lineage.marquez import views as v

NS = r"(?P<namespace>.+?)"
DS = r"(?P<dataset>.+?)"
JOB = r"(?P<job>.+?)"

urlpatterns = [
    re_path(r"^v1/namespaces/?$", v.NamespaceList.as_view(), name="marquez-namespaces"),
    re_path(rf"^v1/namespaces/{NS}/datasets/{DS}/versions/(?P<version>[^/]+)$", v.DatasetVersionDetail.as_view(),
            name="marquez-dataset-version"),
    re_path(rf"^v1/namespaces/{NS}/datasets/{DS}/versions/?$", v.DatasetVersionList.as_view(),
            name="marquez-dataset-versions"),
    re_path(rf"^v1/namespaces/{NS}/datasets/{DS}/fields/(?P<field>.+)/tags/(?P<tag>[^/]+)$", v.RefusedWrite.as_view()),
    re_path(rf"^v1/namespaces/{NS}/datasets/{DS}/tags/(?P<tag>[^/]+)$", v.RefusedWrite.as_view()),
    re_path(rf"^v1/namespaces/{NS}/datasets/?$", v.DatasetList.as_view(), name="marquez-datasets"),
    re_path(rf"^v1/namespaces/{NS}/datasets/{DS}$", v.DatasetDetail.as_view(), name="marquez-dataset"),
    re_path(rf"^v1/namespaces/{NS}/jobs/{JOB}/versions/(?P<version>[^/]+)$", v.JobVersionDetail.as_view(),
            name="marquez-job-version"),
    re_path(rf"^v1/namespaces/{NS}/jobs/{JOB}/versions/?$", v.JobVersionList.as_view(), name="marquez-job-versions"),
    re_path(rf"^v1/namespaces/{NS}/jobs/{JOB}/runs/?$", v.RunList.as_view(), name="marquez-runs"),
    re_path(rf"^v1/namespaces/{NS}/jobs/{JOB}/tags/(?P<tag>[^/]+)$", v.RefusedWrite.as_view()),
    re_path(rf"^v1/namespaces/{NS}/jobs/?$", v.JobList.as_view(), name="marquez-jobs"),
    re_path(rf"^v1/namespaces/{NS}/jobs/{JOB}$", v.JobDetail.as_view(), name="marquez-job"),
    re_path(rf"^v1/namespaces/{NS}$", v.NamespaceDetail.as_view(), name="marquez-namespace"),
    re_path(r"^v1/jobs/?$", v.JobList.as_view(), name="marquez-all-jobs"),
    re_path(r"^v1/jobs/runs/(?P<run_id>[^/]+)/facets$", v.RunFacets.as_view(), name="marquez-run-facets"),
    re_path(r"^v1/jobs/runs/(?P<run_id>[^/]+)/(?:start|complete|fail|abort)$", v.RefusedWrite.as_view()),
    re_path(r"^v1/jobs/runs/(?P<run_id>[^/]+)$", v.RunDetail.as_view(), name="marquez-run"),
    re_path(r"^v1/sources/?$", v.SourceList.as_view(), name="marquez-sources"),
    re_path(r"^v1/sources/(?P<source>.+)$", v.SourceDetail.as_view(), name="marquez-source"),
    re_path(r"^v1/column-lineage/?$", v.ColumnLineage.as_view(), name="marquez-column-lineage"),
    re_path(r"^v1/runlineage/upstream/?$", v.RunLineageUpstream.as_view(), name="marquez-run-lineage"),
    re_path(r"^v1/tags/?$", v.TagList.as_view(), name="marquez-tags"),
    re_path(r"^v1/tags/(?P<tag>[^/]+)$", v.RefusedWrite.as_view()),
    re_path(r"^v1/search/?$", v.Search.as_view(), name="marquez-search"),
    re_path(r"^v1/events/lineage/?$", v.LineageEvents.as_view(), name="marquez-events"),
    # marquez-python's list_events() asks /events and /events/{namespace}.
    re_path(r"^v1/events/?$", v.LineageEvents.as_view()),
    re_path(r"^v1/events/(?P<namespace>.+)$", v.LineageEvents.as_view()),
    re_path(r"^v1(?:/.*)?$", v.NotFoundView.as_view(), name="marquez-not-found"),
]
