"""Framework library pages (/frameworks/, MSP staff): the list, one framework's tree with filters, search and
crosswalk links, older versions, the version history; who may open them; query counts."""

from __future__ import annotations

from django_tenants.utils import schema_context

from apps.accounts.roles import Role
from apps.frameworks.library import framework_load
from tests.conftest import make_user

from .conftest import SMALL_V2


def test_the_list_shows_every_framework_with_its_version(library, staff):
    page = staff.get("/frameworks/")
    assert page.status_code == 200
    body = page.content.decode()
    for name in ("EU AI Act", "ISO/IEC 42001", "NIST AI RMF", "NIS2", "DORA", "OWASP LLM Top 10", "PIPEDA"):
        assert name in body, name
    assert "MSP itself" in body  # NIS2's audience
    assert "CC BY-SA 4.0" in body and 'href="/frameworks/eu-ai-act/"' in body
    rows = {fw.ref: fw for fw in page.context["frameworks"]}
    assert rows["nist-ai-rmf"].current.requirement_count == 95


def test_list_queries_do_not_grow_with_frameworks(small, staff, django_assert_max_num_queries):
    staff.get("/frameworks/")
    with django_assert_max_num_queries(20) as few:
        staff.get("/frameworks/")
    with schema_context("public"):
        from apps.frameworks.library import frameworks_load_bundled

        frameworks_load_bundled(loaded_by="test")
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff.get("/frameworks/")


def test_the_detail_shows_the_tree_hints_evidence_and_crosswalk(library, staff, selects, write_framework):
    mapped = write_framework(
        replace={
            "evidence_types: [policy]": (
                "evidence_types: [policy]\n    mappings: [{target: 'urn:keel:fw:eu-ai-act:art-9', relation: intersect}]"
            )
        }
    )
    framework_load(mapped, loaded_by="test")
    staff.get("/frameworks/small/")
    with selects() as four_nodes:
        staff.get("/frameworks/small/")  # 4 nodes, 1 mapping
    with selects() as many_nodes:
        staff.get("/frameworks/nist-ai-rmf/")  # 95 nodes, 14 mappings
    assert many_nodes.count == four_nodes.count <= 12
    page = staff.get("/frameworks/iso-42001/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="a-6-2-8"' in body and "Recording of event logs" in body
    assert "Typical evidence:</span> Logging configuration, retention setting and a sample extract." in body
    assert "P6M" in body and "configuration, log_extract" in body
    assert page.context["assessable_count"] == 65  # 38 Annex A controls and 27 clauses
    assert 'href="/frameworks/eu-ai-act/#art-12"' in body  # crosswalk link
    assert "<details" in body and 'data-tree="open"' in body
    roots = page.context["tree"]
    assert [r.ref_id for r in roots][:2] == ["4", "5"] and roots[-1].ref_id == "Annex A"


def test_incoming_crosswalk_links_show_on_the_target(library, staff):
    body = staff.get("/frameworks/eu-ai-act/").content.decode()
    assert 'href="/frameworks/iso-42001/#a-6-2-8"' in body and 'href="/frameworks/nist-ai-rmf/#measure-2-4"' in body
    assert 'Applies from <span class="fw-ink">2 December 2027</span>' in body  # dates as people read them


def test_filters_and_search_narrow_the_tree(library, staff):
    page = staff.get("/frameworks/eu-ai-act/?role=deployer&risk_tier=high&q=logs")
    assert page.status_code == 200
    shown = {}

    def walk(nodes):
        for node in nodes:
            shown[node.ref_id] = node.matched
            walk(node.children)

    walk(page.context["tree"])
    assert shown["Art 26(6)"] is True and shown["Art 26"] is False and shown["Ch III"] is False
    assert "Art 19" not in shown  # a provider's duty
    assert page.context["match_count"] == sum(shown.values())
    empty = staff.get("/frameworks/eu-ai-act/?asset_type=dataset&q=zzz-nothing")
    assert "No requirement matches these filters." in empty.content.decode()


def test_an_older_version_can_be_browsed_and_the_history_says_what_changed(small, staff):
    framework_load(SMALL_V2, loaded_by="test")
    current = staff.get("/frameworks/small/").content.decode()
    assert "Event logs" in current and "Transparency" not in current
    older = staff.get("/frameworks/small/?version=1").content.decode()
    assert "Transparency" in older and "older version — current is v2" in older
    assert "There is no version" in staff.get("/frameworks/small/?version=7").content.decode()
    history = staff.get("/frameworks/small/history/")
    body = history.content.decode()
    assert history.status_code == 200
    assert "1 added · 1 removed · 1 changed" in body and "First version loaded: 4 nodes." in body
    assert "Human oversight" in body and "Transparency" in body and "review_frequency" in body


def test_unknown_frameworks_are_404(staff, db):
    assert staff.get("/frameworks/nope/").status_code == 404
    assert staff.get("/frameworks/nope/history/").status_code == 404


def test_only_msp_staff_open_the_pages(small, alpha, login_as, client):
    executive = login_as(make_user("fw-exec@alpha.test", role=Role.CLIENT_EXECUTIVE, client=alpha))
    for url in ("/frameworks/", "/frameworks/small/", "/frameworks/small/history/"):
        assert executive.get(url).status_code in (302, 404), url
        assert b"Small test framework" not in executive.get(url, follow=True).content
        assert client.get(url).status_code == 302  # signed out: to sign-in
