"""Exceptions the Viya client raises, one per thing a caller decides differently on.

Viya answers errors as `application/vnd.sas.error+json` ({errorCode, message, details[], httpStatusCode});
nginx answers paths no service owns with an HTML page. Both become `ViyaHTTPError` carrying what Viya said,
so an operator reads "21206: The model ... was not found" instead of a bare status code.
"""
from __future__ import annotations


class ViyaError(Exception):
    """Base class for everything the Viya client raises."""


class ViyaHTTPError(ViyaError):
    def __init__(self, status: int, method: str, url: str, *, error_code=None, message: str = "", details=None,
                 retry_after: float | None = None):
        self.status = status
        self.method = method
        self.url = url
        self.error_code = error_code
        self.message = message
        self.details = list(details or [])
        self.retry_after = retry_after
        code = f" (errorCode {error_code})" if error_code not in (None, "") else ""
        text = f": {message}" if message else ""
        super().__init__(f"Viya answered {status}{code} to {method} {url}{text}")


class ViyaNotFound(ViyaHTTPError):
    """404: the resource (or a whole optional service) does not exist."""


class ViyaConflict(ViyaHTTPError):
    """409/412/428: the If-Match precondition failed or was missing; re-read the resource and retry."""


class ViyaAuthError(ViyaError):
    """Credentials refused or no way to obtain a token. Never retried, never includes the secret."""


class ViyaTransientError(ViyaError):
    """5xx, 429, timeouts, dropped connections and truncated bodies: worth retrying."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class ViyaPayloadError(ViyaError):
    """A body that is not what the media type promised (e.g. not a collection where one was expected)."""
