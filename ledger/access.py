"""Who may open a page: one decorator per role that guards pages of its own.

Out of reach is not found (404), never "forbidden": a person learns nothing about pages that
are not theirs (docs/administration.md).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse


def _role_required(test: Callable) -> Callable:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not test(request.user):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


supervisor_required = _role_required(lambda user: user.is_supervisor)
supervisor_required.__doc__ = "404 for anyone signed in who is not a supervisor."


def administrator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (else the sign-in page), and an administrator (else 404)."""
    return login_required(_role_required(lambda user: user.is_administrator)(view))


def auditor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (else the sign-in page), and the auditor (else 404): the audit trail is
    read by the auditor alone (docs/audit.md)."""
    return login_required(_role_required(lambda user: user.is_auditor)(view))


works_on_items_required = _role_required(lambda user: user.works_on_items)
works_on_items_required.__doc__ = (
    "404 for anyone signed in who takes no part in the ledger: the administrator and the "
    "auditor (三员), and an account without a role."
)
