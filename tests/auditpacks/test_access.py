"""Who may see, request and download packs, in the portal and over the API: staff and auditors (read-only,
time-limited) may list, request and download; a client viewer may not; another client's pack is a 404; the
list pages and the API list do not grow with the number of packs; the page polls pending packs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from apps.auditpacks.models import AuditPack
from apps.auditpacks.signing import signing_key
from apps.compliance.models import ClientFramework
from tests.conftest import auth_header, make_user

from .conftest import TODAY, members, pack_bytes

BASE = "/c/alpha/compliance/audit-packs/"
API = "/c/alpha/api/v1/audit-packs/"


@pytest.fixture
def auditor(alpha, clock):
    return make_user(
        "auditor@firm.test", role=Role.AUDITOR, client=alpha, expires_at=timezone.now() + dt.timedelta(days=30)
    )


@pytest.fixture
def viewer(alpha, clock):
    return make_user("viewer@alpha.test", role=Role.CLIENT_VIEWER, client=alpha)


def _queued(n: int) -> list[AuditPack]:
    """Packs as rows only (no build): enough for the list pages."""
    packs = []
    for i in range(n):
        pack = AuditPack.objects.create(
            requested_by="am@msp.test",
            requested_at=timezone.now() - dt.timedelta(minutes=i),
            period_from=TODAY - dt.timedelta(days=30),
            period_to=TODAY,
        )
        pack.frameworks.set(ClientFramework.objects.all())
        packs.append(pack)
    return packs


def test_auditor_lists_requests_and_downloads(register, auditor, login_as, django_capture_on_commit_callbacks):
    http = login_as(auditor)
    page = http.get(BASE)
    assert page.status_code == 200
    assert signing_key().fingerprint_grouped in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post(
            f"{BASE}request/",
            {"period_from": "2026-11-01", "period_to": "2026-11-20", "frameworks": [register["cf_ai"].pk]},
        )
    assert response.status_code == 302
    pack = AuditPack.objects.get()
    assert pack.status == AuditPack.Status.READY and pack.requested_by == "auditor@firm.test"
    download = http.get(f"{BASE}{pack.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert download["X-Audit-Pack-SHA256"] == pack.sha256
    body = b"".join(download.streaming_content)
    assert body == pack_bytes(pack) and "manifest.json" in members(body)
    event = AuditEvent.objects.get(action="auditpack.download")
    assert event.actor_email == "auditor@firm.test" and event.after["sha256"] == pack.sha256
    detail = http.get(f"{BASE}{pack.pk}/")
    assert detail.status_code == 200 and pack.sha256 in detail.content.decode()


def test_viewer_may_not_see_or_download_packs(register, viewer, pack_factory, login_as):
    pack = pack_factory()
    http = login_as(viewer)
    for url in (BASE, f"{BASE}{pack.pk}/", f"{BASE}{pack.pk}/row/", f"{BASE}{pack.pk}/download/"):
        assert http.get(url).status_code == 403, url
    assert http.post(f"{BASE}request/", {"period_from": "2026-11-01", "period_to": "2026-11-20"}).status_code == 403
    assert not AuditEvent.objects.filter(action="auditpack.download").exists()


def test_an_expired_auditor_reaches_nothing(register, auditor, pack_factory, login_as, clock):
    pack = pack_factory()
    clock.move_to(timezone.now() + dt.timedelta(days=31))
    assert login_as(auditor).get(f"{BASE}{pack.pk}/download/").status_code == 404


def test_another_clients_pack_is_a_404(register, pack_factory, msp_admin, login_as):
    pack = pack_factory()
    http = login_as(msp_admin)
    assert http.get(f"{BASE}{pack.pk}/download/").status_code == 200
    for url in ("/c/beta/compliance/audit-packs/{}/", "/c/beta/compliance/audit-packs/{}/row/",
                "/c/beta/compliance/audit-packs/{}/download/"):  # fmt: skip
        assert http.get(url.format(pack.pk)).status_code == 404, url


def test_bad_input_is_shown_on_the_form(register, alpha_manager, login_as):
    response = login_as(alpha_manager).post(f"{BASE}request/", {"period_from": "2026-11-10", "period_to": "2026-12-25"})
    assert response.status_code == 400
    assert "cannot end after today" in response.content.decode()
    assert not AuditPack.objects.exists()


def test_list_page_queries_do_not_grow(register, alpha_manager, login_as, django_assert_max_num_queries):
    _queued(3)
    http = login_as(alpha_manager)
    http.get(BASE)  # warm caches (sessions, tenant)
    with django_assert_max_num_queries(30) as few:  # session, access, nav counts, packs + their frameworks
        assert http.get(BASE).status_code == 200
    _queued(20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = http.get(BASE)
    assert page.content.decode().count('id="pack-') == 23


def test_pending_rows_poll_and_ready_rows_stop(register, alpha_manager, pack_factory, login_as):
    [queued] = _queued(1)
    ready = pack_factory()
    http = login_as(alpha_manager)
    row = http.get(f"{BASE}{queued.pk}/row/").content.decode()
    assert 'hx-trigger="every 3s"' in row and "Queued" in row
    row = http.get(f"{BASE}{ready.pk}/row/").content.decode()
    assert "hx-trigger" not in row and f"{BASE}{ready.pk}/download/" in row


def test_a_pack_not_ready_is_not_downloadable(register, alpha_manager, login_as):
    [queued] = _queued(1)
    response = login_as(alpha_manager).get(f"{BASE}{queued.pk}/download/")
    assert response.status_code == 302 and response["Location"].endswith(f"{BASE}{queued.pk}/")


# --- API -----------------------------------------------------------------------------------------------------


@pytest.fixture
def reader(alpha, api_key_for):
    return auth_header(api_key_for(alpha, ["read"])[1])


@pytest.fixture
def writer(alpha, api_key_for):
    return auth_header(api_key_for(alpha, ["read", "write"])[1])


def post(client, body, headers):
    return client.post(API, json.dumps(body), content_type="application/json", **headers)


def test_api_create_poll_download(register, client, writer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = post(
            client, {"period_from": "2026-11-01", "period_to": "2026-11-20", "frameworks": ["tp-ai"]}, writer
        )
    assert created.status_code == 202, created.content
    data = created.json()
    assert data["status"] == "queued" and data["download_url"] is None
    assert [f["ref"] for f in data["frameworks"]] == ["tp-ai"]
    for callback in callbacks:
        callback()
    status = client.get(f"{API}{data['id']}/", **writer).json()
    assert status["status"] == "ready" and len(status["sha256"]) == 64
    assert status["summary"]["evidence_files"] == 2 and status["download_url"].endswith(f"{API}{data['id']}/download/")
    download = client.get(status["download_url"], **writer)
    assert download.status_code == 200 and download["X-Audit-Pack-SHA256"] == status["sha256"]
    assert "signature.json" in members(b"".join(download.streaming_content))


def test_api_defaults_to_the_last_twelve_months_and_every_framework(register, client, writer):
    data = post(client, {}, writer).json()
    assert data["period_from"] == "2025-11-21" and data["period_to"] == "2026-11-20"
    assert {f["ref"] for f in data["frameworks"]} == {"tp-ai", "tp-ops"}


def test_api_bad_input(register, client, writer):
    unknown = post(client, {"frameworks": ["tp-ai", "soc-2"]}, writer)
    assert unknown.status_code == 400
    assert "Not enabled for this client: soc-2" in unknown.json()["errors"]["frameworks"][0]
    future = post(client, {"period_from": "2026-11-01", "period_to": "2027-01-01"}, writer)
    assert future.status_code == 400 and "cannot end after today" in future.json()["errors"]["period_to"][0]
    assert not AuditPack.objects.exists()


def test_api_read_scope_lists_and_downloads_but_cannot_create(register, client, reader, pack_factory):
    pack = pack_factory()
    assert post(client, {}, reader).status_code == 403
    listed = client.get(API, **reader)
    assert listed.status_code == 200 and [p["id"] for p in listed.json()["results"]] == [pack.pk]
    assert client.get(f"{API}{pack.pk}/download/", **reader).status_code == 200


def test_api_not_ready_download_is_409(register, client, reader):
    [queued] = _queued(1)
    response = client.get(f"{API}{queued.pk}/download/", **reader)
    assert response.status_code == 409 and "not ready" in response.json()["detail"]


def test_api_auditor_session_may_create(register, client, auditor, login_as):
    http = login_as(auditor)
    created = http.post(
        API, json.dumps({"period_from": "2026-11-01", "period_to": "2026-11-20"}), content_type="application/json"
    )
    assert created.status_code == 202, created.content


def test_api_list_queries_do_not_grow(register, client, reader, django_assert_max_num_queries):
    _queued(2)
    client.get(API, **reader)
    with django_assert_max_num_queries(20) as few:
        assert client.get(API, **reader).status_code == 200
    _queued(15)
    with django_assert_max_num_queries(len(few.captured_queries)):
        listed = client.get(API, **reader)
    assert len(listed.json()["results"]) == 17


def test_api_other_clients_key_is_a_404(register, client, pack_factory, api_key_for, beta):
    pack = pack_factory()
    beta_key = auth_header(api_key_for(beta, ["read"])[1])
    assert client.get(f"/c/beta/api/v1/audit-packs/{pack.pk}/", **beta_key).status_code == 404
    assert client.get(f"{API}{pack.pk}/", **beta_key).status_code == 404
