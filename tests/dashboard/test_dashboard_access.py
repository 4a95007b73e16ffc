"""The dashboard sits behind Django's session login, on the same server, and CSRF-checks callbacks."""
import json

import pytest
from django.test import Client

from devtools.dashboard import DashCaller

pytestmark = pytest.mark.django_db


def login(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_login():
    response = Client().get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/dashboard/"
    deep = Client().get("/dashboard/lineage?node=3")
    assert deep.status_code == 302 and deep["Location"].startswith("/accounts/login/?next=/dashboard/lineage")


def test_anonymous_callback_gets_json_403():
    response = Client().post("/dashboard/_dash-update-component", data="{}", content_type="application/json")
    assert response.status_code == 403
    assert "Sign in" in response.json()["detail"]
    assert Client().get("/dashboard/_dash-layout").status_code == 403


def test_signed_in_user_gets_the_dash_page_and_a_csrf_cookie(users):
    client = login(users["engineer"])
    response = client.get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "_dash-renderer" in html or "dash-renderer" in html
    # Scripts come from this server, never a CDN.
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert "/dashboard/_dash-component-suites/" in html
    assert "csrftoken" in response.cookies
    config = json.loads(html.split('<script id="_dash-config" type="application/json">')[1].split("</script>")[0])
    assert config["requests_pathname_prefix"] == "/dashboard/"
    # A component bundle is served by the same process.
    script = next(part.split('"')[0] for part in html.split('src="')[1:] if "dash_renderer" in part)
    assert client.get(script).status_code == 200


def test_login_form_leads_to_the_dashboard(users):
    client = Client()
    users["engineer"].set_password("a-long-password")
    users["engineer"].save()
    response = client.post("/accounts/login/", {"username": "engineer", "password": "a-long-password",
                                                 "next": "/dashboard/"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_navigation_shows_only_pages_the_role_may_open(users):
    engineer = login(users["engineer"]).get("/dashboard/_dash-layout").content.decode()
    auditor = login(users["auditor"]).get("/dashboard/_dash-layout").content.decode()
    assert "nav-lineage" in engineer and "nav-audit" not in engineer
    assert "nav-audit" in auditor and "nav-archive" in auditor


def test_callback_without_csrf_token_is_refused(users):
    client = login(users["engineer"], enforce_csrf_checks=True)
    caller = DashCaller(client)
    response = caller.call("page.children", {"url.pathname": "/dashboard/", "url.search": ""}, csrf=False)
    assert response.status_code == 403
    ok = caller.call("page.children", {"url.pathname": "/dashboard/", "url.search": ""})
    assert ok.status_code == 200


def test_callback_from_another_origin_is_refused(users):
    client = login(users["engineer"], enforce_csrf_checks=True)
    caller = DashCaller(client)
    response = caller.call("page.children", {"url.pathname": "/dashboard/", "url.search": ""},
                           HTTP_ORIGIN="http://evil.example")
    assert response.status_code == 403


def test_user_without_role_sees_refusal_not_data(users):
    caller = DashCaller(login(users["outsider"], enforce_csrf_checks=True))
    page = caller.call_json("page.children", {"url.pathname": "/dashboard/lineage", "url.search": ""})
    assert "page-refused" in json.dumps(page)


def test_auditor_only_pages_are_refused_to_engineers(users):
    caller = DashCaller(login(users["engineer"], enforce_csrf_checks=True))
    page = caller.call_json("page.children", {"url.pathname": "/dashboard/audit", "url.search": ""})
    assert "Your role does not allow this page" in json.dumps(page)
