"""One typed configuration object, built from the environment."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(RuntimeError):
    """A required setting is missing or malformed."""


# Where the development server leaves the base URL it runs with, for commands run beside it.
SERVER_BASE_URL_FILE = "server_base_url"
MIN_SECRET_KEY_BYTES = 32


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def parse_networks(raw: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks, as networks (ValueError on a bad one)."""
    import ipaddress

    return tuple(str(ipaddress.ip_network(p.strip(), strict=False)) for p in raw.split(",") if p.strip())


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    try:
        return parse_networks(env.get(name, ""))
    except ValueError as exc:
        raise ConfigError(f"{name} must list IP addresses or networks: {exc}") from exc


def normalise_database_url(url: str) -> str:
    """Accept plain postgresql:// URLs and drive them with psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Config:
    """Every setting Masthead reads; see README for each variable."""

    env: str = "development"
    instance_path: Path = Path("instance")
    database_url: str = ""
    reports_database_url: str | None = None  # a read replica for the reports; None: the primary
    redis_url: str | None = None
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5000"
    publication_name: str = "Masthead"
    publication_address: str = ""
    publication_logo_url: str = ""
    brand_color: str = "#c2410c"
    mail_backend: str = "outbox"
    outbox_dir: Path = Path("instance/outbox")
    mail_from: str = "Masthead <newsletter@localhost>"
    sendgrid_api_key: str | None = None
    sendgrid_api_host: str = "https://api.sendgrid.com"
    sendgrid_webhook_public_key: str | None = None
    trusted_proxy_count: int = 0
    signup_rate_limit: str = "10/minute"
    cors_origins: tuple[str, ...] = ()
    confirm_token_max_age: int = 7 * 24 * 3600
    confirmation_resend_seconds: int = 600
    disposable_emails: str = "refuse"  # signups from throwaway domains: refuse or allow
    queue_async: bool = True
    # engagement
    engaged_window_days: int = 30
    nurture_min_value: int = 3
    # Readers whose only opens are Apple Mail's may be presumed nurtured (growth.stages).
    presume_nurtured: bool = True
    lapsed_after_days: int = 90
    sunset_days: int = 180
    sunset_grace_days: int = 14
    soft_bounce_threshold: int = 3
    scanner_click_seconds: int = 10
    # referrals
    referral_max_per_ip_per_day: int = 3
    referral_hold_days: int = 0
    referral_horizon_days: int = 30
    # Rings of fake accounts under one referrer: how many make a ring, what happens to its
    # referrals (flag: shown for review; hold: held until an operator decides), and how close
    # confirmations under one referrer must be to count as one burst.
    referral_ring_min: int = 5
    referral_ring_action: str = "flag"
    referral_ring_minutes: int = 10
    # billing
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    stripe_automatic_tax: bool = False
    # content
    pitch_cooldown_days: int = 7
    # Domains on Google Workspace: like Gmail, they report complaints only in aggregate.
    google_hosted_domains: tuple[str, ...] = ()
    send_batch_size: int = 1000
    sponsor_slots_per_send: int = 1  # sponsored slots one send may carry (each slot once)
    image_max_bytes: int = 10 * 1024 * 1024
    image_max_pixels: int = 40_000_000
    # An S3-compatible store for uploaded images; unset, images live in the database.
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    # sequences and scheduled work
    publication_timezone: str = "UTC"
    sequence_emails_per_day: int = 1
    scheduler: str = "on"
    # How a deferred signup's second half is started: `sweep` (no enqueue in the request; the
    # worker finishes new signups every second) or `job` (one RQ job per signup).
    signup_finish: str = "sweep"
    webhooks_allow_private: bool = (
        False  # outgoing webhooks may reach private addresses (never in production)
    )
    # serving
    metrics_allow_from: tuple[str, ...] = ()
    metrics_token: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Config:
        """Build the config from environment variables; overrides win."""
        env = dict(os.environ if environ is None else environ)
        instance = Path(env.get("MASTHEAD_INSTANCE", "instance")).resolve()
        mode = env.get("MASTHEAD_ENV", "development")
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'masthead.db'}"
        base_url = env.get("BASE_URL") or ""
        base_url_missing = not base_url and "base_url" not in overrides
        if base_url_missing and mode != "production":
            base_url = development_base_url(env, instance)
        values: dict[str, object] = dict(
            env=mode,
            instance_path=instance,
            database_url=normalise_database_url(database_url),
            reports_database_url=normalise_database_url(env["REPORTS_DATABASE_URL"])
            if env.get("REPORTS_DATABASE_URL")
            else None,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("SECRET_KEY", ""),
            base_url=base_url.rstrip("/"),
            publication_name=env.get("PUBLICATION_NAME", "Masthead"),
            publication_address=env.get("PUBLICATION_ADDRESS", ""),
            publication_logo_url=env.get("PUBLICATION_LOGO_URL", ""),
            brand_color=env.get("BRAND_COLOR", "#c2410c"),
            mail_backend=env.get("MAIL_BACKEND", "outbox"),
            outbox_dir=Path(env.get("OUTBOX_DIR") or instance / "outbox"),
            # Unset, the sender is the publication itself.
            mail_from=env.get("MAIL_FROM")
            or f"{env.get('PUBLICATION_NAME', 'Masthead')} <newsletter@localhost>",
            sendgrid_api_key=env.get("SENDGRID_API_KEY") or None,
            sendgrid_api_host=env.get("SENDGRID_API_HOST", "https://api.sendgrid.com"),
            sendgrid_webhook_public_key=env.get("SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
            trusted_proxy_count=_int(env, "TRUSTED_PROXY_COUNT", 0),
            signup_rate_limit=env.get("SIGNUP_RATE_LIMIT", "10/minute"),
            cors_origins=tuple(
                o.strip().rstrip("/") for o in env.get("CORS_ORIGINS", "").split(",") if o.strip()
            ),
            queue_async=_bool(env.get("QUEUE_ASYNC"), True),
            disposable_emails=env.get("DISPOSABLE_EMAILS", "refuse").strip().lower(),
            engaged_window_days=_int(env, "ENGAGED_WINDOW_DAYS", 30),
            nurture_min_value=_int(env, "NURTURE_MIN_VALUE", 3),
            presume_nurtured=_bool(env.get("PRESUME_NURTURED"), True),
            lapsed_after_days=_int(env, "LAPSED_AFTER_DAYS", 90),
            sunset_days=_int(env, "SUNSET_DAYS", 180),
            sunset_grace_days=_int(env, "SUNSET_GRACE_DAYS", 14),
            soft_bounce_threshold=_int(env, "SOFT_BOUNCE_THRESHOLD", 3),
            scanner_click_seconds=_int(env, "SCANNER_CLICK_SECONDS", 10),
            referral_max_per_ip_per_day=_int(env, "REFERRAL_MAX_PER_IP_PER_DAY", 3),
            referral_hold_days=_int(env, "REFERRAL_HOLD_DAYS", 0),
            referral_horizon_days=_int(env, "REFERRAL_HORIZON_DAYS", 30),
            referral_ring_min=_int(env, "REFERRAL_RING_MIN", 5),
            referral_ring_action=env.get("REFERRAL_RING_ACTION", "flag").strip().lower(),
            referral_ring_minutes=_int(env, "REFERRAL_RING_MINUTES", 10),
            stripe_secret_key=env.get("STRIPE_SECRET_KEY") or None,
            stripe_webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
            stripe_api_base=env.get("STRIPE_API_BASE") or None,
            stripe_automatic_tax=_bool(env.get("STRIPE_AUTOMATIC_TAX")),
            pitch_cooldown_days=_int(env, "PITCH_COOLDOWN_DAYS", 7),
            google_hosted_domains=tuple(
                d.strip().lower() for d in env.get("GOOGLE_HOSTED_DOMAINS", "").split(",") if d.strip()
            ),
            send_batch_size=_int(env, "SEND_BATCH_SIZE", 1000),
            sponsor_slots_per_send=_int(env, "SPONSOR_SLOTS_PER_SEND", 1),
            image_max_bytes=_int(env, "IMAGE_MAX_BYTES", 10 * 1024 * 1024),
            image_max_pixels=_int(env, "IMAGE_MAX_PIXELS", 40_000_000),
            s3_bucket=env.get("S3_BUCKET") or None,
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            s3_region=env.get("S3_REGION") or None,
            s3_access_key_id=env.get("S3_ACCESS_KEY_ID") or None,
            s3_secret_access_key=env.get("S3_SECRET_ACCESS_KEY") or None,
            publication_timezone=env.get("PUBLICATION_TIMEZONE") or "UTC",
            sequence_emails_per_day=_int(env, "SEQUENCE_EMAILS_PER_DAY", 1),
            scheduler=(env.get("SCHEDULER") or "on").strip().lower(),
            signup_finish=(env.get("SIGNUP_FINISH") or "sweep").strip().lower(),
            webhooks_allow_private=_bool(env.get("WEBHOOKS_ALLOW_PRIVATE")),
            metrics_allow_from=_networks(env, "METRICS_ALLOW_FROM"),
            metrics_token=env.get("METRICS_TOKEN") or None,
        )
        values.update(overrides)
        config = cls(**values).with_secret_key()  # type: ignore[arg-type]
        if base_url_missing and config.is_production:
            raise ConfigError("BASE_URL must be set in production")
        return config

    def replace(self, **changes: object) -> Config:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def with_secret_key(self) -> Config:
        """Fail loudly in production without SECRET_KEY; elsewhere keep one in instance/."""
        if self.secret_key:
            return self
        if self.is_production:
            raise ConfigError("SECRET_KEY is required when MASTHEAD_ENV=production")
        key_file = self.instance_path / "secret_key"
        if key_file.exists():
            key = key_file.read_text().strip()
        else:
            self.instance_path.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            key_file.write_text(key)
            key_file.chmod(0o600)
        return dataclasses.replace(self, secret_key=key)

    def validate(self) -> None:
        """Check combinations that cannot work."""
        if self.disposable_emails not in {"refuse", "allow"}:
            raise ConfigError("DISPOSABLE_EMAILS must be 'refuse' or 'allow'")
        if self.mail_backend not in {"outbox", "sendgrid"}:
            raise ConfigError("MAIL_BACKEND must be 'outbox' or 'sendgrid'")
        if self.mail_backend == "sendgrid" and not self.sendgrid_api_key:
            raise ConfigError("MAIL_BACKEND=sendgrid needs SENDGRID_API_KEY")
        if self.referral_ring_action not in {"flag", "hold"}:
            raise ConfigError("REFERRAL_RING_ACTION must be 'flag' or 'hold'")
        if self.referral_ring_min < 2 or self.referral_ring_minutes < 1:
            raise ConfigError("REFERRAL_RING_MIN must be 2 or more and REFERRAL_RING_MINUTES 1 or more")
        if self.scheduler not in {"on", "off"}:
            raise ConfigError("SCHEDULER must be 'on' or 'off'")
        replica = self.reports_database_url
        if replica is not None and replica.split(":", 1)[0] != self.database_url.split(":", 1)[0]:
            raise ConfigError(
                "REPORTS_DATABASE_URL must be a replica of DATABASE_URL's kind "
                f"({self.database_url.split(':', 1)[0]}), got {replica.split(':', 1)[0]}"
            )
        if self.signup_finish not in {"job", "sweep"}:
            raise ConfigError("SIGNUP_FINISH must be 'job' or 'sweep'")
        if self.image_max_bytes < 1 or self.image_max_pixels < 1:
            raise ConfigError("IMAGE_MAX_BYTES and IMAGE_MAX_PIXELS must be positive")
        if self.sequence_emails_per_day < 0:
            raise ConfigError("SEQUENCE_EMAILS_PER_DAY must be 0 (no cap) or more")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.publication_timezone)
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                f"PUBLICATION_TIMEZONE is not a time zone: {self.publication_timezone!r}"
            ) from exc
        if self.is_production:
            if self.webhooks_allow_private:
                raise ConfigError(
                    "WEBHOOKS_ALLOW_PRIVATE=true is for development and tests, never production"
                )
            if not self.base_url.startswith("https://"):
                raise ConfigError(f"BASE_URL must start with https:// in production, got {self.base_url}")
            key_bytes = len(self.secret_key.encode())
            if key_bytes < MIN_SECRET_KEY_BYTES:
                raise ConfigError(
                    f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes in production, got {key_bytes}"
                )

    def production_warnings(self) -> list[str]:
        """What works in production but should not stay so (warned about, never refused)."""
        warnings = []
        if self.database_url.startswith("sqlite"):
            warnings.append(
                "DATABASE_URL is SQLite: fine to try, but use PostgreSQL for readers (one writer at a time)"
            )
        if not self.redis_url:
            warnings.append(
                "REDIS_URL is not set: emails are sent inside the web requests, rate limits count per process"
            )
        if self.mail_backend == "outbox":
            warnings.append(
                f"MAIL_BACKEND is outbox: emails are written to {self.outbox_dir}, not sent "
                "(and confirmation links are logged)"
            )
        return warnings

    def remember_base_url(self) -> None:
        """Leave the server's base URL in the instance folder for commands run without BASE_URL."""
        self.instance_path.mkdir(parents=True, exist_ok=True)
        (self.instance_path / SERVER_BASE_URL_FILE).write_text(self.base_url + "\n")


def development_base_url(env: Mapping[str, str], instance: Path) -> str:
    """Without BASE_URL: PORT when given, else the URL the server last ran with, else port 5000.

    `make run` records its URL (Config.remember_base_url), so a command run in another terminal,
    or by cron, links to the server on whatever PORT it was started with.
    """
    if env.get("PORT"):
        return f"http://127.0.0.1:{env['PORT']}"
    remembered = instance / SERVER_BASE_URL_FILE
    if remembered.exists() and remembered.read_text().strip():
        return remembered.read_text().strip()
    return "http://127.0.0.1:5000"
