"""The register over the API: enable and scope a framework, adopt a version, requirement status and readiness,
controls and mappings, evidence by multipart upload and JSON link, revisions, approval, verified download,
generation; read scope reads, write scope changes; other clients 404; lists that do not grow."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.compliance.models import ClientFramework, ControlMapping, Evidence
from apps.compliance.services import mapping_add
from tests.conftest import auth_header

from .conftest import AI_ACT_NODES, PDF, approved_evidence, enable, make_control, make_framework, node, pdf_file, urn

API = "/c/alpha/api/v1/"


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    import time

    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: time.time()))


def send(client, method, url, body, headers):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", **headers)


def test_enable_scope_and_read_status_and_readiness(library, assets, media, clock, client, writer, reader):
    created = send(
        client,
        "post",
        f"{API}client-frameworks/",
        {
            "framework": "tf-ai-act",
            "roles": ["deployer"],
            "assets": [assets["scorer"].pk],
            "owner_email": "ciso@alpha.test",
        },
        writer,
    )
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["framework"] == "tf-ai-act" and data["version"] == 1 and data["roles"] == ["deployer"]
    assert data["upgrade_available"] is None and data["latest_score"] == "0.0"
    cf_id = data["id"]
    bad = send(client, "post", f"{API}client-frameworks/", {"framework": "tf-iso", "roles": ["nope"]}, writer)
    assert bad.status_code == 400 and "nope: not a role" in json.dumps(bad.json())

    control = make_control()
    mapping_add(control=control, urn=urn("tf-ai-act", "ART26-6"))
    approved_evidence(control)
    statuses = client.get(f"{API}client-frameworks/{cf_id}/requirements/", **reader).json()
    by_ref = {r["ref_id"]: r for r in statuses}
    assert by_ref["ART26-6"]["status"] == "met" and by_ref["ART26-6"]["controls"][0]["code"] == "AI-LOG-01"
    assert by_ref["ART9"]["status"] == "not_applicable"
    only = client.get(f"{API}client-frameworks/{cf_id}/requirements/?status=no_control", **reader).json()
    assert [r["ref_id"] for r in only] == ["ART26-1", "ART4"]

    ready = client.get(f"{API}client-frameworks/{cf_id}/readiness/", **reader).json()
    assert ready["score"] == "33.3" and ready["counts"]["met"] == 1 and ready["assessable"] == 3
    assert [g["ref_id"] for g in ready["gaps"]["no_control"]] == ["ART26-1", "ART4"]
    assert ready["trend"][-1] == {"day": "2026-11-20", "score": "33.3"}

    assessed = send(
        client,
        "post",
        f"{API}client-frameworks/{cf_id}/assess/",
        {"urn": urn("tf-ai-act", "ART4"), "not_applicable": True, "justification": "Group programme covers literacy."},
        writer,
    )
    assert assessed.status_code == 200 and assessed.json()["status"] == "not_applicable"
    patched = send(client, "patch", f"{API}client-frameworks/{cf_id}/", {"assets": []}, writer)
    assert patched.status_code == 200 and patched.json()["assets"] == []


def test_adopt_a_new_version_lists_orphans(library, clock, client, writer):
    cf = enable(library["ai_act"], roles=["deployer"])
    control = make_control()
    mapping_add(control=control, urn=urn("tf-ai-act", "ART4"))
    make_framework(
        "tf-ai-act",
        [n for n in AI_ACT_NODES if n["ref_id"] != "ART4"] + [node("ART27", "FRIA")],
        version=2,
        roles=["provider", "deployer"],
    )
    listed = client.get(f"{API}client-frameworks/{cf.pk}/", **writer).json()
    assert listed["upgrade_available"] == 2
    adopted = send(client, "post", f"{API}client-frameworks/{cf.pk}/adopt/", {}, writer)
    assert adopted.status_code == 200
    assert adopted.json() == {
        "version": 2,
        "orphaned_mappings": [
            {"id": ControlMapping.objects.get().pk, "control": "AI-LOG-01", "urn": urn("tf-ai-act", "ART4")}
        ],
    }
    again = send(client, "post", f"{API}client-frameworks/{cf.pk}/adopt/", {"version": 1}, writer)
    assert again.status_code == 400


def test_controls_and_mappings(library, clock, client, writer, reader):
    created = send(
        client, "post", f"{API}controls/", {"code": "ai-log-01", "name": "Logging", "status": "active"}, writer
    )
    assert created.status_code == 201, created.content
    control_id = created.json()["id"]
    assert created.json()["code"] == "AI-LOG-01" and created.json()["next_review_on"] == "2027-11-20"
    mapped = send(
        client,
        "post",
        f"{API}control-mappings/",
        {"control": control_id, "urn": urn("tf-iso", "A.6.2.8"), "coverage": "partial"},
        writer,
    )
    assert mapped.status_code == 201 and mapped.json()["framework"] == "tf-iso"
    repeat = send(
        client, "post", f"{API}control-mappings/", {"control": control_id, "urn": urn("tf-iso", "A.6.2.8")}, writer
    )
    assert repeat.status_code == 400
    detail = client.get(f"{API}controls/{control_id}/", **reader).json()
    assert detail["mappings"] == [
        {"id": mapped.json()["id"], "urn": urn("tf-iso", "A.6.2.8"), "framework": "tf-iso", "coverage": "partial"}
    ]
    assert (
        send(client, "patch", f"{API}control-mappings/{mapped.json()['id']}/", {"coverage": "full"}, writer).json()[
            "coverage"
        ]
        == "full"
    )
    assert client.delete(f"{API}control-mappings/{mapped.json()['id']}/", **writer).status_code == 204
    assert (
        send(client, "patch", f"{API}controls/{control_id}/", {"status": "retired"}, writer).json()["status"]
        == "retired"
    )


def test_evidence_upload_revisions_approval_and_download(in_alpha, media, clock, client, writer, reader):
    control = make_control()
    upload = client.post(
        f"{API}evidence/",
        {
            "title": "Retention config",
            "file": pdf_file("retention.pdf"),
            "effective_date": "2026-11-18",
            "controls": [control.pk],
            "expires_on": "2027-11-18",
        },
        **writer,
    )
    assert upload.status_code == 201, upload.content
    data = upload.json()
    assert data["kind"] == "upload" and data["status"] == "draft" and not data["valid"]
    assert data["current_revision"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert data["current_revision"]["effective_date"] == "2026-11-18"
    evidence_id = data["id"]

    approved = client.post(f"{API}evidence/{evidence_id}/approve/", **writer)
    assert approved.status_code == 200 and approved.json()["status"] == "approved" and approved.json()["valid"]

    second = client.post(
        f"{API}evidence/{evidence_id}/revisions/",
        {"file": pdf_file("retention-2.pdf", PDF + b"% v2\n"), "effective_date": "2026-11-20", "note": "v2"},
        **writer,
    )
    assert second.status_code == 201 and second.json()["number"] == 2
    revisions = client.get(f"{API}evidence/{evidence_id}/revisions/", **reader).json()
    assert [r["number"] for r in revisions] == [2, 1]
    assert client.get(f"{API}evidence/{evidence_id}/", **reader).json()["status"] == "draft"

    download = client.get(f"{API}evidence/{evidence_id}/download/?revision=1", **reader)
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="retention.pdf"'
    assert download["X-Content-Type-Options"] == "nosniff"
    assert b"".join(download.streaming_content) == PDF
    stored = Evidence.objects.get(pk=evidence_id).revisions.get(number=2)
    (media / stored.file_name).write_bytes(b"%PDF-1.4 evil")
    tampered = client.get(f"{API}evidence/{evidence_id}/download/", **reader)
    assert tampered.status_code == 409 and tampered["Content-Type"] == "application/problem+json"

    rejected = send(client, "post", f"{API}evidence/{evidence_id}/reject/", {"reason": "x"}, writer)
    assert rejected.status_code == 400


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("x.pdf", b"MZ\x90\x00", "Windows executable"),
        ("x.svg", b"<svg/>", ".svg files are not accepted"),
        ("x.pdf", b"not a pdf", "a PDF starts with %PDF-"),
    ],
)
def test_bad_uploads_answer_400_on_the_file_field(in_alpha, media, client, writer, name, body, message):
    response = client.post(
        f"{API}evidence/",
        {"title": "Bad", "file": SimpleUploadedFile(name, body), "effective_date": "2026-11-18"},
        **writer,
    )
    assert response.status_code == 400
    assert message in json.dumps(response.json())


def test_link_evidence_by_json_and_metadata_patch(in_alpha, client, writer):
    created = send(
        client,
        "post",
        f"{API}evidence/",
        {"title": "Policy wiki", "url": "https://wiki.example/p", "effective_date": "2026-01-01"},
        writer,
    )
    assert created.status_code == 201 and created.json()["kind"] == "link"
    patched = send(client, "patch", f"{API}evidence/{created.json()['id']}/", {"title": "AI policy wiki"}, writer)
    assert patched.status_code == 200 and patched.json()["title"] == "AI policy wiki"
    refused = send(client, "patch", f"{API}evidence/{created.json()['id']}/", {"url": "https://other"}, writer)
    assert refused.status_code == 400


def test_generate_action(in_alpha, media, clock, client, writer):
    response = send(client, "post", f"{API}evidence/generate/", {"generators": ["budgets", "staff_mfa"]}, writer)
    assert response.status_code == 200
    assert [r["generator"] for r in response.json()["results"]] == ["budgets", "staff_mfa"]
    again = send(client, "post", f"{API}evidence/generate/", {"generators": ["budgets"]}, writer)
    assert again.json()["results"][0]["changed"] is False
    listed = client.get(f"{API}evidence/?kind=generated", **writer).json()["results"]
    assert {e["generator"] for e in listed} == {"budgets", "staff_mfa"}


def test_read_scope_reads_and_cannot_write(library, media, clock, client, reader):
    cf = enable(library["iso"])
    control = make_control()
    evidence = approved_evidence(control)
    for url in (
        f"{API}client-frameworks/",
        f"{API}client-frameworks/{cf.pk}/readiness/",
        f"{API}controls/",
        f"{API}control-mappings/",
        f"{API}evidence/",
        f"{API}evidence/{evidence.pk}/revisions/",
    ):
        assert client.get(url, **reader).status_code == 200, url
    for url, body in (
        (f"{API}client-frameworks/", {"framework": "tf-nist"}),
        (f"{API}controls/", {"code": "X", "name": "X"}),
        (f"{API}evidence/{evidence.pk}/reject/", {"reason": "no good at all"}),
        (f"{API}evidence/generate/", {}),
        (f"{API}client-frameworks/{cf.pk}/adopt/", {}),
        (f"{API}evidence/{evidence.pk}/revisions/", {"effective_date": "2026-11-20"}),
    ):
        assert send(client, "post", url, body, reader).status_code == 403, url
    assert not ClientFramework.objects.filter(framework__ref="tf-nist").exists()


def test_auditor_session_reads_the_api_but_cannot_write(library, alpha, media, clock, login_as):
    from datetime import timedelta

    from django.utils import timezone

    from apps.accounts.roles import Role
    from tests.conftest import make_user

    enable(library["iso"])
    auditor = login_as(
        make_user("aud@x.test", role=Role.AUDITOR, client=alpha, expires_at=timezone.now() + timedelta(days=5))
    )
    assert auditor.get(f"{API}client-frameworks/").status_code == 200
    assert auditor.get(f"{API}evidence/").status_code == 200
    assert (
        auditor.post(f"{API}controls/", {"code": "X", "name": "X"}, content_type="application/json").status_code == 403
    )
    assert auditor.get(f"{API}budgets/").status_code == 403  # nothing outside the register


def test_other_clients_objects_are_404(library, media, clock, client, beta, api_key_for):
    cf = enable(library["iso"])
    evidence = approved_evidence(make_control())
    beta_key = auth_header(api_key_for(beta, ["read", "write"])[1])
    for url in (f"/c/beta/api/v1/client-frameworks/{cf.pk + 999}/", f"/c/beta/api/v1/evidence/{evidence.pk + 999}/"):
        assert client.get(url, **beta_key).status_code == 404


def _grow(n: int, start: int):
    from apps.compliance.services import evidence_create

    for i in range(start, start + n):
        control = make_control(f"Q-{i:02d}", f"Control {i}")
        mapping_add(control=control, urn=urn("tf-iso", "A.2.2"))
        mapping_add(control=control, urn=urn("tf-nist", "GV-1.1"))
        evidence_create(title=f"Evidence {i}", file=pdf_file(), effective_date=dt.date(2026, 11, 1), controls=[control])


@pytest.mark.parametrize("path", ["client-frameworks/", "controls/", "control-mappings/", "evidence/"])
def test_lists_do_not_grow_with_rows(library, media, clock, client, reader, path, django_assert_max_num_queries):
    enable(library["iso"])
    enable(library["nist"])
    _grow(2, 0)
    client.get(f"{API}{path}", **reader)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{API}{path}", **reader).status_code == 200
    _grow(8, 10)
    enable(library["ai_act"], roles=["deployer"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(f"{API}{path}", **reader)
    assert response.status_code == 200 and len(response.json()["results"]) >= 3
