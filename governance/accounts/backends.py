"""Authentication backends: password sign-in behind django-axes' lockout, and the session backend of
users signed in through OpenID Connect."""
from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend


class PasswordLockoutBackend(AxesStandaloneBackend):
    """Axes' check before the password backends. A call without a request (a script, the test client's
    login()) is not a web sign-in an attacker can repeat, so it passes through unchecked instead of
    raising as AxesStandaloneBackend does."""

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class OidcSessionBackend(ModelBackend):
    """Named in the session of an OIDC sign-in (views.oidc_callback) so that the session stays valid
    when LOCAL_PASSWORD_LOGIN drops ModelBackend; it authenticates no credentials itself."""

    def authenticate(self, request, **credentials):
        return None
