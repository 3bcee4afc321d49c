from allauth.account.adapter import DefaultAccountAdapter


class KeelAccountAdapter(DefaultAccountAdapter):
    """Keel accounts come from invitations; nobody signs themselves up."""

    def is_open_for_signup(self, request):
        return False
