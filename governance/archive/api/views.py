"""Thin viewsets over governance.archive services; every rule that matters lives in the services.

Who may do what (checked here, on the server):
- bundles: auditors and admins create and see all; engineers and approvers see only bundles they created;
  anyone with a role may check an uploaded file with verify-upload (it writes nothing).
- bundle builds (the jobs a broker-backed create queues): read like bundles, by the same rule on who
  requested them; nobody writes them directly.
- legal holds: any role reads; auditors and admins place and release.
- retention policies: any role reads; admins write and run; auditors and admins preview.
"""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from common.errors import Conflict, ServiceError
from common.parsers import BoundedJSONParser
from governance.archive import builds, holds, retention, services, verify
from governance.archive import rules
from governance.archive.api import serializers as s
from governance.archive.api import uploads
from governance.archive.api.uploads import VerifyUploadThrottle
from governance.archive.closure import ClosureTooLarge
from governance.archive.filtersets import (BundleBuildFilterSet, EvidenceBundleFilterSet, LegalHoldFilterSet,
                                           RetentionPolicyFilterSet)
from governance.archive.models import EvidenceBundle, LegalHold, RetentionPolicy
from common.audit import record
from governance.audit.viewsets import AuditedModelViewSet
from governance.celery import broker_configured

# The roles come from the archive's rules (governance/archive/rules.py), which the dashboard reads too.
BundlePermission = rules.RULES.permission("build")
AnyRoleMayCheck = rules.RULES.permission("check_upload")
HoldPermission = rules.RULES.permission("hold")
PolicyPermission = rules.RULES.permission("retention")
PreviewPermission = rules.RULES.permission("retention", read_action="preview")


class ZipRenderer(BaseRenderer):
    """Lets a client ask for `Accept: application/zip` on download; errors still go out as JSON bytes."""

    media_type = "application/zip"
    format = "zip"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return JSONRenderer().render(data)


class EvidenceBundleViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            viewsets.GenericViewSet):
    serializer_class = s.EvidenceBundleSerializer
    filterset_class = EvidenceBundleFilterSet
    parser_classes = [BoundedJSONParser, FormParser, MultiPartParser]

    def get_permissions(self):
        if self.action == "verify_upload":
            return [AnyRoleMayCheck()]
        return [BundlePermission()]

    def get_queryset(self):
        return rules.visible_to(self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return s.BundleCreateSerializer
        if self.action == "verify_upload":
            return s.BundleUploadSerializer
        return s.EvidenceBundleSerializer

    @extend_schema(request=s.BundleCreateSerializer, responses={
        201: s.EvidenceBundleSerializer, 202: s.BundleBuildSerializer, 503: s.BuildRefusedSerializer})
    def create(self, request, *args, **kwargs):
        """Build an evidence bundle of a model version or run and its lineage closure to `depth`.

        With a task broker configured (CELERY_BROKER_URL) the build is queued for the workers: 202 with the
        bundle build to poll at its `url` (`state` queued, running, then done with `bundle` set, or failed
        with `error`, e.g. a closure too large), and a Location header naming it. Without a broker (the
        embedded default) the bundle is built in this request: 201 with the bundle, or 400 when the service
        refuses it (closure too large), and no build job is recorded. Either way bad input (no such node,
        a node of another kind, depth out of range) is a 400 that stores and queues nothing, and a broker
        that cannot be reached is a 503 with the build closed as failed."""
        params = s.BundleCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        node, depth = params.validated_data["node"], params.validated_data["depth"]
        if broker_configured():
            try:
                build = builds.enqueue(node, request.user, depth)
            except builds.QueueUnavailable as exc:
                raise ServiceError("the task broker cannot be reached; the bundle build was not queued",
                                   code="broker_unavailable", status=status.HTTP_503_SERVICE_UNAVAILABLE,
                                   build=exc.build.pk) from None
            data = s.BundleBuildSerializer(build).data
            return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": data["url"]})
        try:
            bundle = services.build_bundle(node, request.user, depth=depth)
        except (services.BundleError, ClosureTooLarge) as exc:
            raise ValidationError({"node": [str(exc)]}) from None
        return Response(s.EvidenceBundleSerializer(bundle).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The bundle ZIP")})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ZipRenderer])
    def download(self, request, pk=None):
        bundle = self.get_object()
        try:
            data = services.bundle_bytes(bundle)
        except (FileNotFoundError, OSError):
            raise Conflict("the bundle file is missing from the archive store") from None
        # Exports of evidence are themselves evidence: who took a copy, and when.
        record("bundle.download", "evidence_bundle", bundle.pk, after={"sha256": bundle.sha256})
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="evidence-{bundle.sha256[:16]}.zip"'
        response["X-Content-SHA256"] = bundle.sha256
        return response

    @extend_schema(responses={200: s.VerifyResultSerializer})
    @action(detail=True, methods=["get"])
    def verify(self, request, pk=None):
        return Response(services.verify_bundle(self.get_object()))

    def initial(self, request, *args, **kwargs):
        # Before authentication: a session login's CSRF check reads the form, which parses the upload.
        if self.action == "verify_upload":
            self._upload_handler = uploads.install(request)
        super().initial(request, *args, **kwargs)

    def get_throttles(self):
        if self.action == "verify_upload":
            return [VerifyUploadThrottle()]
        return super().get_throttles()

    @extend_schema(request={"multipart/form-data": s.BundleUploadSerializer},
                   responses={200: s.VerifyResultSerializer, 413: s.VerifyResultSerializer, 422: s.VerifyResultSerializer})
    @action(detail=False, methods=["post"], url_path="verify-upload")
    def verify_upload(self, request):
        """Check an uploaded bundle with the offline verifier's code and this deployment's keys.

        The upload goes to a temporary file (never whole into memory) and is refused past
        ARCHIVE_MAX_UPLOAD_BYTES (413); the ZIP is screened and inflated in chunks under the
        ARCHIVE_ZIP_MAX_* caps. A bundle that fails any check (tampered, malformed, over a cap) is a 422
        with `problem` naming the first thing wrong; 200 means it verified, and `signature` says whether its
        checkpoint was signed by a key this deployment holds (`verified`) or by another (`unknown_key`)."""
        handler = self._upload_handler
        params = s.BundleUploadSerializer(data=request.data)
        if handler.too_large:
            raise uploads.UploadTooLarge(handler.limit)
        params.is_valid(raise_exception=True)
        upload = params.validated_data["file"]
        from governance.archive.restore import limits_from_settings
        from governance.audit.signing import verification_keys

        with upload.open("rb") as handle:
            try:
                report = verify.verify_file(handle, keys=verification_keys(), limits=limits_from_settings(),
                                            unknown_key_ok=True)
            except verify.Problem as problem:
                sha = verify.file_sha256(handle)
                raise ServiceError(str(problem), code="bundle_invalid", status=status.HTTP_422_UNPROCESSABLE_ENTITY,
                                   ok=False, problem=str(problem), sha256=sha,
                                   registered=EvidenceBundle.objects.filter(sha256=sha).exists()) from None
        return Response({"ok": True, "problem": None, "sha256": report.sha256, "files": report.files,
                         "nodes": report.nodes, "edges": report.edges, "audit_entries": report.audit_entries,
                         "signature": report.signature, "checkpoint": report.checkpoint, "notes": report.notes,
                         "registered": EvidenceBundle.objects.filter(sha256=report.sha256).exists()})


class BundleBuildViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Read-only: the bundle create opens a build and the worker closes it. Users without the auditor
    role see only the builds they requested (none can request one today, but it is the bundles' own rule,
    so a role taken away never exposes another user's build)."""

    serializer_class = s.BundleBuildSerializer
    filterset_class = BundleBuildFilterSet
    permission_classes = [BundlePermission]

    def get_queryset(self):
        return rules.builds_visible_to(self.request.user)


class LegalHoldViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    queryset = LegalHold.objects.select_related("node")
    serializer_class = s.LegalHoldSerializer
    filterset_class = LegalHoldFilterSet
    permission_classes = [HoldPermission]

    def get_serializer_class(self):
        return s.ReleaseSerializer if self.action == "release" else s.LegalHoldSerializer

    def perform_create(self, serializer):
        try:
            serializer.instance = holds.place_hold(
                serializer.validated_data["node"], self.request.user, serializer.validated_data["reason"]
            )
        except holds.HoldError as exc:
            raise ValidationError({"detail": str(exc)}) from None

    @extend_schema(request=s.ReleaseSerializer, responses={200: s.LegalHoldSerializer})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        hold = self.get_object()
        params = s.ReleaseSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        if hold.released_at is not None:
            raise Conflict(f"hold #{hold.pk} was already released")
        try:
            hold = holds.release_hold(hold, request.user, params.validated_data["reason"])
        except holds.HoldError as exc:
            raise Conflict(str(exc)) from None
        return Response(s.LegalHoldSerializer(hold).data)


class RetentionPolicyViewSet(AuditedModelViewSet):
    audit_type = "retention_policy"
    queryset = RetentionPolicy.objects.all()
    serializer_class = s.RetentionPolicySerializer
    filterset_class = RetentionPolicyFilterSet
    permission_classes = [PolicyPermission]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_permissions(self):
        if self.action == "preview":
            return [PreviewPermission()]
        return super().get_permissions()

    def audit_data(self, obj):
        return s.policy_data(obj)

    def save_kwargs(self):
        return {"updated_at": timezone.now()}

    @extend_schema(responses={200: s.RetentionRunSerializer})
    @action(detail=False, methods=["get"])
    def preview(self, request):
        """What `apply_retention --dry-run` would print, as JSON."""
        return Response(retention.apply_retention(dry_run=True).as_dict())

    @extend_schema(request=None, responses={200: s.RetentionRunSerializer})
    @action(detail=False, methods=["post"])
    def apply(self, request):
        return Response(retention.apply_retention(dry_run=False).as_dict())
