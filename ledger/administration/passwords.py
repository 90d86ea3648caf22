"""Password rules (等保 2.0 asks for complexity) and one-time passwords."""

from __future__ import annotations

import secrets
import string

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

CLASSES = (
    (string.ascii_lowercase, "lower"),
    (string.ascii_uppercase, "upper"),
    (string.digits, "digit"),
)


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and symbols the password uses."""
    used = sum(any(c in chars for c in password) for chars, _name in CLASSES)
    symbols = any(not c.isascii() or not c.isalnum() for c in password if not c.isspace())
    return used + symbols


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's, with its message in this project's catalogue: Django 5.2 reworded it and
    its own Simplified Chinese catalogue still holds only the old wording."""

    def get_error_message(self) -> str:
        return (
            ngettext(
                "This password is too short. It must contain at least %d character.",
                "This password is too short. It must contain at least %d characters.",
                self.min_length,
            )
            % self.min_length
        )


class CharacterClassesValidator:
    """At least ``min_classes`` of: lower-case letters, upper-case letters, digits, symbols."""

    def __init__(self, min_classes: int = 3) -> None:
        self.min_classes = min_classes

    def validate(self, password: str, user=None) -> None:
        if character_classes(password) < self.min_classes:
            raise ValidationError(
                ngettext(
                    "The password must mix at least %(n)d kind of character: lower-case "
                    "letters, upper-case letters, digits and symbols.",
                    "The password must mix at least %(n)d kinds of character: lower-case "
                    "letters, upper-case letters, digits and symbols.",
                    self.min_classes,
                )
                % {"n": self.min_classes},
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _(
            "Use at least %(n)d of: lower-case letters, upper-case letters, digits, symbols."
        ) % {"n": self.min_classes}


# No 0/O, 1/l/I: a one-time password is read off a screen or a sheet and typed by hand.
_LOWER = "abcdefghijkmnopqrstuvwxyz"
_UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "23456789"
ONE_TIME_LENGTH = 12


def one_time_password() -> str:
    """A random password with lower, upper and digits, for an administrator to hand out;
    its owner must choose their own at the first sign-in."""
    alphabet = _LOWER + _UPPER + _DIGITS
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(ONE_TIME_LENGTH))
        if character_classes(password) >= 3:
            return password
