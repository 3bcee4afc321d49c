"""Portal pages: the overview, the framework page (tree, filters, changes banner), requirement and control pages,
the crosswalk, evidence upload (bad files refused where the user sees it), downloads as verified attachments;
who may read and who may change; other clients' objects 404; list pages that do not grow with their rows."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.compliance.models import Control, ControlMapping, Evidence, RequirementAssessment
from apps.compliance.services import mapping_add
from tests.conftest import make_user

from .conftest import AI_ACT_NODES, PDF, approved_evidence, enable, make_control, make_framework, pdf_file, urn

BASE = "/c/alpha/compliance/"


@pytest.fixture
def register(library, assets, media, clock):
    """Alpha: the test AI Act as deployer with the scorer in scope, ISO enabled too, one control mapped to both
    and evidenced, one without evidence."""
    cf = enable(library["ai_act"], roles=["deployer"], assets=[assets["scorer"]])
    iso = enable(library["iso"])
    logging = make_control("AI-LOG-01", "Central AI logging")
    mapping_add(control=logging, urn=urn("tf-ai-act", "ART26-6"))
    mapping_add(control=logging, urn=urn("tf-iso", "A.6.2.8"))
    literacy = make_control("AI-LIT-01", "AI literacy training")
    mapping_add(control=literacy, urn=urn("tf-ai-act", "ART4"))
    evidence = approved_evidence(logging, title="Log retention settings", expires_on=dt.date(2026, 12, 5))
    return {"cf": cf, "iso": iso, "logging": logging, "literacy": literacy, "evidence": evidence}


@pytest.fixture
def manager(alpha_manager, login_as):
    return login_as(alpha_manager)


@pytest.fixture
def auditor(alpha, login_as):
    user = make_user(
        "auditor@audit.test", role=Role.AUDITOR, client=alpha, expires_at=timezone.now() + timedelta(days=30)
    )
    return login_as(user)


def test_overview_shows_readiness_gaps_and_expiring_evidence(register, manager):
    page = manager.get(BASE)
    assert page.status_code == 200
    body = page.content.decode()
    assert "TF-AI-ACT" in body and "TF-ISO" in body
    assert 'data-readiness="tf-ai-act">33.3 %' in body  # ART26-6 met of ART26-1, ART26-6, ART4
    assert "AI-LIT-01" in body and "no evidence attached" in body  # a top gap
    assert "Log retention settings" in body  # expires in 15 days
    assert "Enable a framework" in body and "Generate now" in body


def test_framework_page_tree_filters_and_scope(register, manager):
    cf = register["cf"]
    page = manager.get(f"{BASE}frameworks/{cf.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "<details open>" in body and "High-risk AI systems" in body
    assert 'data-status="met"' in body and 'data-status="not_applicable"' in body
    assert "Applies to provider; the client is deployer." in body
    assert "Credit scorer" in body
    filtered = manager.get(f"{BASE}frameworks/{cf.pk}/?status=missing_evidence")
    rows = filtered.context["keep"]
    assert urn("tf-ai-act", "ART4") in rows and urn("tf-ai-act", "ART26-6") not in rows
    searched = manager.get(f"{BASE}frameworks/{cf.pk}/?q=logs")
    assert searched.context["keep"] == {urn("tf-ai-act", "CH3"), urn("tf-ai-act", "ART26-6")}  # with its group


def test_a_new_library_version_shows_the_banner_and_is_adopted_keeping_mappings(register, manager):
    cf = register["cf"]
    nodes = [n for n in AI_ACT_NODES if n["ref_id"] != "ART4"]  # ART4 removed
    nodes = [dict(n, title="Keep the logs for six months") if n["ref_id"] == "ART26-6" else n for n in nodes]
    from .conftest import node

    nodes.append(node("ART27", "Fundamental rights impact assessment", roles=["deployer"], tiers=["high"]))
    make_framework("tf-ai-act", nodes, version=2, roles=["provider", "deployer"], tiers=["high", "limited"])
    page = manager.get(f"{BASE}frameworks/{cf.pk}/")
    assert "v2 available:</strong> 1 added, 1 removed, 1 changed" in page.content.decode()
    preview = manager.get(f"{BASE}frameworks/{cf.pk}/adopt/")
    assert [r.ref_id for r in preview.context["would_orphan"]] == ["ART4"]
    response = manager.post(f"{BASE}frameworks/{cf.pk}/adopt/")
    assert response.status_code == 302
    cf.refresh_from_db()
    assert cf.version.version == 2 and cf.roles == ["deployer"]
    page = manager.get(f"{BASE}frameworks/{cf.pk}/")
    assert [m.urn for m in page.context["orphans"]] == [urn("tf-ai-act", "ART4")]
    assert "Orphaned mappings (1)" in page.content.decode()
    result = page.context["r"]
    assert result.row(urn("tf-ai-act", "ART26-6")).status == "met"  # mapping and evidence carried over
    assert result.row(urn("tf-ai-act", "ART27")).status == "no_control"


def test_requirement_page_marks_not_applicable_and_maps_a_control(register, manager):
    cf = register["cf"]
    with schema_context("public"):
        from apps.frameworks.models import Requirement

        art4 = Requirement.objects.get(version=cf.version, ref_id="ART4")
        art26 = Requirement.objects.get(version=cf.version, ref_id="ART26-1")
    url = f"{BASE}frameworks/{cf.pk}/requirements/{art4.pk}/"
    page = manager.get(url)
    assert page.status_code == 200 and "AI-LIT-01" in page.content.decode()
    refused = manager.post(f"{url}assess/", {"not_applicable": "on", "justification": ""}, follow=True)
    assert "Say why it does not apply" in refused.content.decode()
    manager.post(f"{url}assess/", {"not_applicable": "on", "justification": "No staff use AI at this client."})
    assert RequirementAssessment.objects.get(urn=art4.urn).not_applicable
    mapped = manager.post(
        f"{BASE}frameworks/{cf.pk}/requirements/{art26.pk}/map/",
        {"control": register["logging"].pk, "coverage": "partial"},
    )
    assert mapped.status_code == 302
    assert ControlMapping.objects.get(urn=art26.urn).coverage == "partial"


def test_control_pages_crosswalk_and_suggestions(register, library, manager):
    enable(library["nist"])
    logging = register["logging"]
    page = manager.get(f"{BASE}controls/{logging.pk}/")
    body = page.content.decode()
    assert page.status_code == 200 and "TF-AI-ACT" in body and "TF-ISO" in body
    assert [s.requirement.ref_id for s in page.context["suggestions"]] == ["MS-2.4"]  # via ISO A.6.2.8
    manager.post(f"{BASE}controls/{logging.pk}/map/", {"urn": urn("tf-nist", "MS-2.4"), "coverage": "partial"})
    assert logging.mappings.count() == 3
    crosswalk = manager.get(f"{BASE}crosswalk/")
    assert crosswalk.status_code == 200
    [(control, columns)] = [(c, cols) for c, cols in crosswalk.context["table"] if c == logging]
    assert [[cell.requirement.ref_id for cell in cells] for cells in columns] == [["ART26-6"], ["A.6.2.8"], ["MS-2.4"]]
    mapping = ControlMapping.objects.get(urn=urn("tf-nist", "MS-2.4"))
    manager.post(f"{BASE}mappings/{mapping.pk}/remove/")
    assert logging.mappings.count() == 2


def test_a_manager_creates_and_reviews_a_control(in_alpha, manager, clock):
    response = manager.post(
        f"{BASE}controls/new/",
        {"code": "ai-ovs-01", "name": "Human oversight", "status": "active", "review_frequency": "P3M"},
    )
    control = Control.objects.get(code="AI-OVS-01")
    assert response.status_code == 302 and control.next_review_on == dt.date(2027, 2, 20)
    duplicate = manager.post(
        f"{BASE}controls/new/", {"code": "AI-OVS-01", "name": "Again", "status": "active", "review_frequency": "P1Y"}
    )
    assert "Another control already has the code AI-OVS-01." in duplicate.content.decode()
    manager.post(f"{BASE}controls/{control.pk}/review/")
    control.refresh_from_db()
    assert control.last_reviewed_on == dt.date(2026, 11, 20)


def test_uploading_evidence_through_the_form(register, manager):
    response = manager.post(
        f"{BASE}evidence/new/",
        {
            "title": "AI literacy attendance",
            "kind": "upload",
            "file": pdf_file("attendance.pdf"),
            "effective_date": "2026-11-15",
            "controls": [register["literacy"].pk],
            "approve": "on",
        },
    )
    evidence = Evidence.objects.get(title="AI literacy attendance")
    assert response.status_code == 302 and response["Location"] == f"{BASE}evidence/{evidence.pk}/"
    assert evidence.status == "approved" and evidence.self_approved
    page = manager.get(f"{BASE}frameworks/{register['cf'].pk}/")
    assert page.context["r"].score == Decimal("66.7")


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("report.pdf", b"MZ\x90\x00", "is a Windows executable, not a .pdf file"),
        ("../../etc/passwd.pdf", b"", "is empty (0 bytes)"),  # the path is stripped by Django's parser
        ("page.html", b"<html></html>", ".html files are not accepted"),
    ],
)
def test_a_bad_file_gets_a_clear_error_on_the_form(register, manager, name, body, message):
    response = manager.post(
        f"{BASE}evidence/new/",
        {"title": "Bad", "kind": "upload", "file": SimpleUploadedFile(name, body), "effective_date": "2026-11-15"},
    )
    assert response.status_code == 200
    body_text = response.content.decode()
    assert "The file was not accepted" in body_text and message in body_text
    assert not Evidence.objects.filter(title="Bad").exists()


def test_a_path_in_an_uploaded_name_never_reaches_the_storage(register, manager, media):
    manager.post(
        f"{BASE}evidence/new/",
        {
            "title": "Sneaky",
            "kind": "upload",
            "file": SimpleUploadedFile("../../etc/passwd.pdf", PDF),
            "effective_date": "2026-11-15",
        },
    )
    revision = Evidence.objects.get(title="Sneaky").current_revision
    assert revision.display_name == "passwd.pdf"
    assert revision.file_name.startswith("evidence/c_alpha/") and ".." not in revision.file_name
    assert (media / revision.file_name).exists()


def test_downloads_are_verified_attachments(register, auditor, media):
    evidence = register["evidence"]
    response = auditor.get(f"{BASE}evidence/{evidence.pk}/revisions/1/download/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="policy.pdf"'
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == PDF
    (media / evidence.current_revision.file_name).write_bytes(b"%PDF-1.4 swapped")
    tampered = auditor.get(f"{BASE}evidence/{evidence.pk}/revisions/1/download/")
    assert tampered.status_code == 409 and b"failed its integrity check" in tampered.content
    assert auditor.get(f"{BASE}evidence/{evidence.pk}/revisions/9/download/").status_code == 404


def test_approve_and_reject_from_the_evidence_page(register, manager):
    from apps.compliance.services import evidence_create

    draft = evidence_create(title="Draft policy", file=pdf_file(), effective_date=dt.date(2026, 11, 1))
    page = manager.get(f"{BASE}evidence/{draft.pk}/")
    assert "Approve revision 1" in page.content.decode()
    manager.post(f"{BASE}evidence/{draft.pk}/reject/", {"reason": "Unsigned; upload the signed copy."})
    draft.refresh_from_db()
    assert draft.status == "rejected"
    manager.post(f"{BASE}evidence/{draft.pk}/revise/", {"file": pdf_file(), "effective_date": "2026-11-18"})
    draft.refresh_from_db()
    assert draft.status == "draft" and draft.revisions.count() == 2
    manager.post(f"{BASE}evidence/{draft.pk}/approve/")
    draft.refresh_from_db()
    assert draft.status == "approved"


def test_evidence_list_filters(register, manager):
    from apps.compliance.services import evidence_create

    evidence_create(title="Wiki", url="https://wiki.example/x", effective_date=dt.date(2026, 11, 1))
    assert [s.evidence.title for s in manager.get(f"{BASE}evidence/?kind=link").context["rows"]] == ["Wiki"]
    assert [s.evidence.title for s in manager.get(f"{BASE}evidence/?status=draft").context["rows"]] == ["Wiki"]
    expiring = manager.get(f"{BASE}evidence/?expiring=1").context["rows"]
    assert [s.evidence.title for s in expiring] == ["Log retention settings"]


def test_generate_now_from_the_portal(register, manager):
    response = manager.post(f"{BASE}evidence/generate/", follow=True)
    assert "Generated 6 evidence files: 6 changed" in response.content.decode()
    assert Evidence.objects.filter(kind="generated").count() == 6


# --- who may do what --------------------------------------------------------------------------------------------


def read_urls(register):
    cf, logging, evidence = register["cf"], register["logging"], register["evidence"]
    from apps.frameworks.models import Requirement

    req = Requirement.objects.get(version=cf.version, ref_id="ART26-6")
    return [
        BASE,
        f"{BASE}frameworks/{cf.pk}/",
        f"{BASE}frameworks/{cf.pk}/requirements/{req.pk}/",
        f"{BASE}controls/",
        f"{BASE}controls/{logging.pk}/",
        f"{BASE}crosswalk/",
        f"{BASE}evidence/",
        f"{BASE}evidence/{evidence.pk}/",
    ]


def write_requests(register):
    cf, logging, evidence = register["cf"], register["logging"], register["evidence"]
    return [
        ("get", f"{BASE}frameworks/enable/"),
        ("get", f"{BASE}frameworks/{cf.pk}/edit/"),
        ("post", f"{BASE}frameworks/{cf.pk}/disable/"),
        ("get", f"{BASE}controls/new/"),
        ("post", f"{BASE}controls/{logging.pk}/edit/"),
        ("post", f"{BASE}controls/{logging.pk}/review/"),
        ("post", f"{BASE}controls/{logging.pk}/map/"),
        ("get", f"{BASE}evidence/new/"),
        ("post", f"{BASE}evidence/{evidence.pk}/approve/"),
        ("post", f"{BASE}evidence/{evidence.pk}/reject/"),
        ("post", f"{BASE}evidence/{evidence.pk}/revise/"),
        ("post", f"{BASE}evidence/generate/"),
    ]


def test_an_auditor_reads_the_register_without_write_buttons(register, auditor):
    for url in read_urls(register):
        page = auditor.get(url)
        assert page.status_code == 200, url
        body = page.content.decode()
        assert 'method="post"' not in body.split('<main id="main">')[1], url
        assert "Upload evidence" not in body and "Add a control" not in body, url
    for method, url in write_requests(register):
        assert getattr(auditor, method)(url).status_code == 403, (method, url)
    register["evidence"].refresh_from_db()
    assert register["evidence"].status == "approved"


def test_an_auditor_gets_nothing_else(register, auditor):
    for url in ("/c/alpha/", "/c/alpha/inventory/", "/c/alpha/finops/budgets/", "/c/alpha/alerts/"):
        assert auditor.get(url).status_code == 403, url
    assert auditor.get("/c/alpha/audit/").status_code == 200  # the audit trail is theirs to read too


def test_an_expired_auditor_gets_nothing(register, alpha, login_as):
    from apps.accounts.models import Membership

    user = make_user("late@audit.test", role=Role.AUDITOR, client=alpha, expires_at=timezone.now() + timedelta(days=1))
    Membership.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(minutes=1))
    http = login_as(user)
    for url in read_urls(register):
        assert http.get(url).status_code == 404, url


def test_client_executives_do_not_see_the_register(register, alpha_executive, login_as):
    assert login_as(alpha_executive).get(BASE).status_code == 403


def test_other_clients_objects_are_404(register, manager, beta):
    with schema_context(beta.schema_name):
        from apps.compliance.services import control_save

        other = control_save(code="BETA-01", name="Beta's control")
    assert manager.get(f"{BASE}controls/{other.pk + 1000}/").status_code == 404
    assert manager.get(f"{BASE}evidence/{register['evidence'].pk + 1000}/").status_code == 404


# --- query counts -----------------------------------------------------------------------------------------------


def _grow(register, n: int):
    from apps.compliance.services import evidence_create

    for i in range(n):
        control = make_control(f"X-{i:02d}", f"Extra control {i}")
        mapping_add(control=control, urn=urn("tf-ai-act", "ART26-1"))
        mapping_add(control=control, urn=urn("tf-iso", "A.2.2"))
        evidence_create(
            title=f"Extra evidence {i}",
            file=pdf_file(),
            effective_date=dt.date(2026, 11, 1),
            controls=[control, register["logging"]],
        )


@pytest.mark.parametrize(
    "path",
    ["", "frameworks/{cf}/", "controls/", "controls/{logging}/", "crosswalk/", "evidence/"],
)
def test_pages_do_not_grow_with_controls_and_evidence(register, manager, django_assert_max_num_queries, path):
    url = BASE + path.format(cf=register["cf"].pk, logging=register["logging"].pk)
    manager.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert manager.get(url).status_code == 200
    _grow(register, 6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert manager.get(url).status_code == 200
