"""Demo data for apps.shadow_ai: the real scan over each demo client's ledger and usage events, and one decision
per client that has an obvious one, so the history is not empty. Idempotent: the scan updates the same items, and
a decision is taken only while its item is still open.

What the scan finds in the demo (apps.demo.finops_demo, inventory_demo, allocation_demo):
- Acme: Claude Sonnet 4.5 and Titan embeddings on Bedrock (resource ids; no asset routes them), and the OpenAI
  projects that allocation rules send to a department only (underwriting copilot, document triage, risk review)
  or nowhere (it-ops-assistant, which the account manager dismisses as a trial).
- Maple: the Azure OpenAI account aoai-maple-triage, and the intake assistant's usage events, reported as
  "patient-intake-assistant" while the inventory calls it "Patient intake assistant" (map it).
- Harbor: the fraud-score endpoint and Gemini calls on Vertex AI, the customer-service and data-analytics
  Anthropic workspaces, and the default workspace (dismissed: console experiments).
"""

from __future__ import annotations

from django_tenants.utils import tenant_context

from apps.core.context import acting_as

from .fixtures_finops import ACME_PROJECTS

DECIDER = "am@northwind.example"  # the demo account manager takes the decisions
_IT_OPS_PROJECT = next(pid for pid, (name, _dept) in ACME_PROJECTS.items() if name == "it-ops-assistant")

# slug → (identity kind, identity value, service, reason) of the items dismissed in the demo
DISMISSALS = {
    "acme": [
        (
            "account",
            _IT_OPS_PROJECT,
            "OpenAI API",
            "IT's ticket-summary trial on gpt-4o-mini, about 20 USD a month; it ends with the pilot on 31 December "
            "and IT will register it if it goes live.",
        )
    ],
    "harbor": [
        (
            "account",
            "default",
            "Claude API",
            "Anthropic's default workspace: console experiments by the data team, no application behind it.",
        )
    ],
}


def demo_shadow_ai(clients) -> None:
    """Scan every demo client, then take the demo decisions that are still open."""
    from apps.shadow_ai.models import ShadowItem, Status
    from apps.shadow_ai.services import item_dismiss, shadow_scan

    for slug in ("acme", "maple", "harbor"):
        client = clients.get(slug)
        if client is None:
            continue
        with tenant_context(client):
            with acting_as(source="command", user_email="demo-loader"):
                shadow_scan(trigger="demo")
            for kind, value, service, reason in DISMISSALS.get(slug, []):
                item = ShadowItem.objects.filter(
                    origin="ledger", identity_kind=kind, identity_value=value, service=service, status=Status.OPEN
                ).first()
                if item is not None:
                    with acting_as(source="command", user_email=DECIDER):
                        item_dismiss(item=item, reason=reason)
