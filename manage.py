#!/usr/bin/env python
import os
import sys

# Commands that only read the code (new migrations, the translation catalogue) sign nothing
# and serve nothing: they run without a SECRET_KEY, as a fresh clone or a CI hook runs
# them. Every other command, and the server, still refuses to start without one.
CODE_ONLY_COMMANDS = {"makemigrations", "makemessages", "compilemessages"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rectify.settings")
    if len(sys.argv) > 1 and sys.argv[1] in CODE_ONLY_COMMANDS:
        os.environ.setdefault("SECRET_KEY", "code-only-command-signs-nothing")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
