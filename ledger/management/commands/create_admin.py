"""The office's first administrator (系统管理员), from the shell: the one thing that needs it.

Everything after, other administrators included, is done on the system administration
pages. Without ``--no-input`` it asks for a password and checks it against the password
rules; with it, it prints a one-time password to be replaced at the first sign-in.
"""

from __future__ import annotations

import getpass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.translation import gettext_lazy

from ledger import audit
from ledger.administration.accounts import create_account
from ledger.models import User


class Command(BaseCommand):
    help = "Create an administrator (系统管理员) who manages accounts, departments and leaders."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="系统管理员", help="full name shown in the header")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--no-input",
            action="store_true",
            help="ask nothing: print a one-time password to be changed at the first sign-in",
        )

    def handle(self, *args, username: str, name: str, email: str, no_input: bool, **options):
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} exists already.")
        fields = {
            "username": username,
            "first_name": name,
            "email": email,
            "role": User.Role.ADMINISTRATOR,
        }
        try:
            with transaction.atomic():
                user, one_time = create_account(**fields)
                if not no_input:
                    password = self._ask_password(user)
                    user.set_password(password)
                    user.must_change_password = False
                    user.save(update_fields=["password", "must_change_password"])
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        audit.record(
            audit.Kind.ACCOUNT,
            gettext_lazy("Created the administrator %(account)s from the command line"),
            {"account": username},
            actor=None,
            target=audit.account_target(user),
            detail={"account": user.pk, "command": "create_admin"},
        )
        self.stdout.write(f"Administrator {username} created. Sign in at /login/.")
        if no_input:
            self.stdout.write(f"One-time password (to be changed at the first sign-in): {one_time}")

    def _ask_password(self, user: User) -> str:
        for _attempt in range(3):
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The two passwords differ.")
                continue
            try:
                validate_password(password, user)
            except ValidationError as error:
                self.stderr.write("\n".join(error.messages))
                continue
            return password
        raise CommandError("No password set; nothing was created.")
