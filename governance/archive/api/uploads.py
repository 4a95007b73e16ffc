"""How verify-upload takes a file it must assume hostile: on disk, never whole in memory, under a cap.

Django keeps uploads under FILE_UPLOAD_MAX_MEMORY_SIZE in memory and writes the rest to a temporary file
without any size limit; the verifier then only needs a seekable file. This handler always writes to a
temporary file (in the chunks the request arrives in) and stops keeping data once the upload passes
ARCHIVE_MAX_UPLOAD_BYTES, so the view can answer 413 without the disk or memory filling first. A
Content-Length already over the cap is refused before the body is read at all.
"""
from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler
from rest_framework.exceptions import APIException

from lineage.ingest.throttling import IngestRateThrottle

def max_upload_bytes() -> int:
    return int(settings.ARCHIVE_MAX_UPLOAD_BYTES)


class UploadTooLarge(APIException):
    status_code = 413
    default_code = "upload_too_large"

    def __init__(self, limit: int):
        super().__init__(f"the file is larger than the {limit}-byte limit (ARCHIVE_MAX_UPLOAD_BYTES)")


class BoundedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    def __init__(self, request=None):
        super().__init__(request)
        self.limit = max_upload_bytes()
        self.received = 0
        self.too_large = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            self.file.close()
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)


def install(request) -> BoundedTemporaryFileUploadHandler:
    """Call before anything reads request.data; refuses an announced oversize body outright."""
    limit = max_upload_bytes()
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    # The multipart envelope adds a few hundred bytes around the file.
    if announced > limit + 64 * 1024:
        raise UploadTooLarge(limit)
    handler = BoundedTemporaryFileUploadHandler(request._request)
    request._request.upload_handlers = [handler]
    return handler


class VerifyUploadThrottle(IngestRateThrottle):
    """Per-user budget for verify-upload (setting ARCHIVE_VERIFY_RATE_LIMIT): each call may inflate up to
    the ARCHIVE_ZIP_MAX_* caps, so one token must not keep the server's CPU and disk busy for everyone.
    Shares the ingest throttle's cache-backed counting (CACHE_URL=redis://... across workers)."""

    scope = "archive_verify_upload"

    def get_rate(self):
        rate = str(settings.ARCHIVE_VERIFY_RATE_LIMIT or "").strip()
        return None if rate in ("", "0") else rate

    def parse_rate(self, rate):
        try:
            return super().parse_rate(rate)
        except ValueError:
            raise ValueError(f"ARCHIVE_VERIFY_RATE_LIMIT={rate!r} is not a rate: use N/second, N/minute, N/hour "
                             "or N/day (0 = off)") from None

