"""Rectify settings, read from the environment.

Every setting that differs between a laptop and a server comes from an environment
variable; nothing outside this file reads the environment. With no variables set, a
checkout runs on SQLite in ``db.sqlite3`` beside ``manage.py``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envlist(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.getenv(name, default).split(",") if part.strip()]


DEBUG = envbool("DEBUG", "false")

SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string, or set DEBUG=true "
            "for a development server."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-deploy"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = os.getenv("SITE_NAME", "Rectify")
# Links in emails are absolute: they are read outside any request, so built from this.
SITE_URL = os.getenv("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "ledger.admin_config.RectifyAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "axes",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "ledger",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ledger.middleware.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Before anything reads the body or the session: 413 for a body larger than any
    # upload, 400 for a NUL anywhere (ledger/guards.py).
    "ledger.guards.RequestBodyLimitMiddleware",
    "ledger.guards.NulRefusedMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle and absolute session limits (it says which ended a session: after the
    # messages), and no-store on signed-in pages.
    "ledger.middleware.SessionLimitsMiddleware",
    # A one-time password leads to the password page and nowhere else.
    "ledger.middleware.PasswordChangeRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout raised by the backend into a page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rectify.urls"
WSGI_APPLICATION = "rectify.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ledger.context_processors.site",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
        # behind busy_timeout instead of one failing with "database is locked" on upgrade.
        "transaction_mode": "IMMEDIATE",
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        ),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The planner over-estimates the visibility filter's cost past jit_above_cost and then
    # JIT-compiles it on every request: 100–250 ms a page for nothing (bench/README.md).
    # random_page_cost 1.1 rather than the default 4 (which models a spinning disk): with 4
    # the planner scans the whole table rather than follow the keyword's trigram index for
    # a word in many items (乱停乱放 alone: 58 ms → 12 ms for its first 5,000 matches at
    # 100,000 items, the page 135 → 51 ms). 1.1 is PostgreSQL's usual figure for SSDs and
    # for data that fits in memory, as a ledger's does.
    DATABASES["default"]["OPTIONS"] = {"options": "-c jit=off -c random_page_cost=1.1"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "ledger.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "ledger.auth.RectifyBackend",
]
# Argon2id first (OWASP's first choice): as hard to guess against as PBKDF2's million
# rounds, at a fraction of a sign-in's CPU, which two cores share among every request.
# PBKDF2 stays to check the passwords stored before; each is rehashed at its next sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "ledger.administration.passwords.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # 等保 2.0 asks for complexity: three of lower, upper, digit and symbol.
    {"NAME": "ledger.administration.passwords.CharacterClassesValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "ledger:home"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes): five failures for one user name from one address lock
# that pair out for 15 minutes. Locking by the pair, not the address alone, keeps one
# person's typos from locking out a whole office behind one NAT address.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind a proxy every request comes from the proxy: ledger.auth.client_ip reads the client
# from X-Forwarded-For, trusting only the entries the AXES_PROXY_COUNT proxies appended.
AXES_CLIENT_IP_CALLABLE = "ledger.auth.client_ip"
CLIENT_IP_PROXY_COUNT = envint("AXES_PROXY_COUNT", "0")
AXES_VERBOSE = False
# Unlocking is the administrator's, on the accounts page; the attempts stay out of the admin.
AXES_ENABLE_ADMIN = False

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.getenv("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.getenv("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", BASE_DIR / "media"))


def media_storage(kind: str) -> dict:
    """The default storage: evidence, imports waiting for confirmation, published PDFs and
    Excel annexes, job files. "local" keeps them under MEDIA_ROOT, "s3" in a bucket of
    S3-compatible object storage (django-storages). Either way they are private: the app
    reads them and sends them through its own views, which check who may have them; no URL
    of the folder or the bucket ever reaches a browser."""
    if kind == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(f"MEDIA_STORAGE must be local or s3, not {kind!r}")
    bucket = os.getenv("S3_BUCKET", "").strip()
    if not bucket:
        raise ImproperlyConfigured(
            "MEDIA_STORAGE=s3 needs S3_BUCKET: the name of the bucket that keeps uploaded "
            "and published files."
        )
    key_id = os.getenv("S3_ACCESS_KEY_ID", "").strip()
    secret = os.getenv("S3_SECRET_ACCESS_KEY", "").strip()
    if bool(key_id) != bool(secret):
        raise ImproperlyConfigured(
            "Set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together, or neither (boto3 then "
            "finds credentials itself: AWS_* variables, ~/.aws, the machine's role)."
        )
    addressing = os.getenv("S3_ADDRESSING_STYLE", "auto").strip().lower()
    if addressing not in {"auto", "path", "virtual"}:
        raise ImproperlyConfigured(
            f"S3_ADDRESSING_STYLE must be auto, path or virtual, not {addressing!r}"
        )
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": os.getenv("S3_ENDPOINT_URL", "").strip() or None,
            "region_name": os.getenv("S3_REGION", "").strip() or None,
            "access_key": key_id or None,
            "secret_key": secret or None,
            # No ACL is sent: objects are as private as the bucket (private unless made
            # public). Nothing builds a URL of the bucket; if something did, it would be
            # signed and expire.
            "default_acl": None,
            "querystring_auth": True,
            # A name in use gets another, as on disk: two uploads of one file in a month
            # share a name, and deleting one must not take the other's file.
            "file_overwrite": False,
            # A file read for a download is held in memory up to this size, on disk beyond.
            "max_memory_size": 5 * 1024 * 1024,
            "client_config": Config(
                s3={"addressing_style": addressing},
                # An unreachable endpoint fails a request (and /health/) in seconds, not
                # minutes.
                connect_timeout=5,
                retries={"mode": "standard", "max_attempts": 3},
                # As boto3 before 1.36: many S3-compatible services refuse the checksummed
                # uploads it now sends by default.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        },
    }


# local (files under MEDIA_ROOT) or s3 (S3_BUCKET and the S3_* settings).
MEDIA_STORAGE = os.getenv("MEDIA_STORAGE", "local").strip().lower()
# Evidence files are never served from MEDIA_URL directly: a view checks the right to see
# the item first. No MEDIA_URL route exists.
STORAGES = {
    "default": media_storage(MEDIA_STORAGE),
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "rectify@localhost")

# Security. Off only on a development server (DEBUG), where there is no TLS.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", str(not DEBUG))
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# A session ends after SESSION_IDLE_SECONDS without a request, and SESSION_ABSOLUTE_SECONDS
# after its sign-in however busy (ledger.middleware.SessionLimitsMiddleware); the cookie
# and the stored session last as long as the absolute limit.
SESSION_IDLE_SECONDS = envint("SESSION_IDLE_SECONDS", str(30 * 60))
SESSION_ABSOLUTE_SECONDS = envint("SESSION_ABSOLUTE_SECONDS", str(8 * 3600))  # a working day
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
# The browser features no page of the app uses, refused to every page and every frame.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", str(not DEBUG))
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", str(not DEBUG))
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if envbool("BEHIND_TLS_PROXY", "false"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A monitor may poll a web host's gunicorn directly, over plain HTTP; the answer holds no
# secret.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]

# Content-Security-Policy (django-csp): no inline script or style anywhere, so templates
# carry only static files and a text that reaches a page can never run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Evidence uploads (整改进展的佐证材料).
EVIDENCE_MAX_BYTES = envint("EVIDENCE_MAX_MB", "20") * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Deadline light (红黄绿灯): yellow when the deadline falls within this many working days
# (ledger/supervision/workdays.py); also the daily digest's horizon.
DUE_SOON_DAYS = envint("DUE_SOON_DAYS", "5")
LEDGER_PAGE_SIZE = envint("LEDGER_PAGE_SIZE", "20")

# Intake (导入): spreadsheets refused before they are read when larger than this, and
# refused when they hold more rows than this.
IMPORT_MAX_BYTES = envint("IMPORT_MAX_MB", "20") * 1024 * 1024
IMPORT_MAX_ROWS = envint("IMPORT_MAX_ROWS", "200000")

# Background work (publishing, long exports): django-tasks with its database backend; the
# worker is `manage.py run_worker` (ledger/worker.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# A worker whose heartbeat is older than this is dead, and the work it held is failed.
WORKER_LEASE_SECONDS = envint("WORKER_LEASE_SECONDS", "90")

# Group robots (ledger/supervision/robots.py): the only hosts a department's webhook may
# point at, so that an administrator's address cannot make the server call anything else
# (a private WeCom deployment adds its own); and the seconds a department's notices are
# gathered into one message before it goes.
ROBOT_ALLOWED_HOSTS = envlist("ROBOT_ALLOWED_HOSTS", "qyapi.weixin.qq.com,oapi.dingtalk.com")
ROBOT_GATHER_SECONDS = envint("ROBOT_GATHER_SECONDS", "60")

# /health/ (ledger/health.py) fails below this much free space for uploaded and published
# files, and when tasks have waited this long while no worker has beaten this recently.
HEALTH_MIN_FREE_MB = envint("HEALTH_MIN_FREE_MB", "500")
HEALTH_WORKER_MAX_AGE = envint("HEALTH_WORKER_MAX_AGE", "120")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # WeasyPrint logs every step of a render at INFO, fontTools every font it subsets.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
