"""Settings, read from the environment (prefix ``GRIDOPS_``) and an optional ``.env`` file.

``DATABASE_URL`` (no prefix) points the product at any PostgreSQL/PostGIS; without it the embedded
cluster under ``<var_dir>/pg`` is used.
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grids.levels import LevelScheme
from grids.topology import Thresholds

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOPS_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GRIDOPS_DATABASE_URL")
    )
    # With DATABASE_URL (the application's role, which owns nothing): the role that owns the schema, for
    # the migrations and maintenance (`gridops migrate`, `gridops stats rebuild`). The migrations grant the
    # application the user of DATABASE_URL. The embedded cluster has both roles and needs neither setting.
    owner_database_url: str | None = None
    # A streaming replica of DATABASE_URL's database, as the application's role: the read-only work
    # (dashboards, forecasts, tiles) reads it (server.deps.ReadDB); unset or empty: the primary.
    database_replica_url: str | None = None
    var_dir: Path = PROJECT_DIR / "var"
    admin_token: str | None = None
    # While the database or the media store is down, requests are answered 503 with this Retry-After.
    retry_after_seconds: int = 5
    # A city's own wording of the messages people read (server/messages): a YAML file of code -> sentence.
    messages_file: Path | None = None
    level_scheme: str = "city:6:4,district:6,street:9,village:12,unit:15"
    # The deployment's own city (its code, such as 370100): the one the command line, the daily jobs and the
    # public pages work in unless told otherwise; empty: the first city registered (server.tenant).
    city: str = Field(default="", pattern=r"^([0-9]{6})?$")
    # The levels of level_scheme every grid layer shares (the administrative tree, grids without a layer);
    # the levels after them belong to the default layer (城市管理网格), other layers name their own
    # (server.grid.layers).
    shared_levels: str = "city,district,street,village"

    # Grid import thresholds (see docs: errors stop an import, warnings do not).
    outside_parent_m: float = 1.0
    overlap_m2: float = 1.0
    gap_m2: float = 1.0

    # Largest bounding box and batch the grid API answers.
    bbox_max_features: int = 5000
    locate_batch_max: int = 10000

    # Request bodies (server/limits.py), refused with 413 before they are read: any body (JSON, forms) up to
    # body_max_bytes (10,000 points to locate are about 400 KB), file imports (grids, taxonomy) up to
    # import_max_bytes; the photo routes allow their photos' own limits.
    body_max_bytes: int = 1024 * 1024
    import_max_bytes: int = 200 * 1024 * 1024

    # Vector tiles: the most features in one tile (case points: the most urgent and soonest due first), the
    # zoom below which cases come as clusters with counts instead of points, and the most cases a tile from
    # there up to zoom 15 shows as points (a denser one comes as clusters; zoom 16 on always as points).
    tile_max_features: int = 10000
    tile_cluster_below_zoom: int = 14
    tile_point_limit: int = 5000

    # Login: short access tokens, long refresh tokens bound to a device, throttled attempts.
    secret_key: str | None = None  # signs access tokens; else kept in <var_dir>/secret-key
    access_token_minutes: int = 15
    refresh_token_days: int = 90
    # Failed logins are remembered for the window. One account from one address: a few free failures, then
    # a wait that doubles with each further one, up to a cap. One address, whatever the account: a limit
    # (password spraying). One account from everywhere: past a high limit, addresses the owner has no
    # session from get one attempt per spacing (a botnet is slowed; nobody can lock the owner out).
    login_window_minutes: int = 60
    login_free_failures: int = 5  # per account and address, before the back-off starts
    login_backoff_seconds: int = 30  # the first wait, doubled with each further failure...
    login_backoff_max_seconds: int = 900  # ...up to this
    login_ip_max_failures: int = 50  # per client address within the window, then 429 until they age
    login_account_max_failures: int = 200  # per account from every address within the window, then...
    login_account_spacing_seconds: int = 10  # ...one attempt per this many seconds from a new address

    # Client addresses (login throttling, public reports): X-Forwarded-For and Forwarded are believed only
    # from these proxies, a comma-separated list of addresses or CIDR networks (e.g. "127.0.0.1,10.0.0.0/8");
    # empty: no proxy, the connection's own address is the client's.
    trusted_proxies: str = ""

    # The live event stream re-checks its caller (token, session, account, scope) this often, and at once
    # when a session ends (logout, revocation, password change, account disabled).
    events_recheck_seconds: float = Field(default=15.0, gt=0)

    # Working time: the local time zone, the daily working periods, and the holiday file that covers
    # years the calendar package does not know yet (default <var_dir>/holidays.yaml).
    timezone: str = "Asia/Shanghai"
    work_periods: str = "08:30-12:00,13:30-17:30"
    holiday_file: Path | None = None

    # Case workflow: step limits in working time by urgency (m, h or d), the light thresholds, duplicates.
    verify_limits: str = "urgent:30m,important:60m,normal:120m"
    dispatch_limits: str = "urgent:10m,important:30m,normal:30m"
    check_limit_urban: str = "1h"
    check_limit_rural: str = "2h"
    yellow_fraction: float = Field(default=0.25, ge=0, le=1)  # yellow in the last quarter of a step's time
    duplicate_radius_m: float = 50.0
    duplicate_hours: float = 72.0
    # A caller's report repeats (重复投诉) their case of the same category received within these days, in the
    # same unit grid or within these metres (server.case.callers).
    repeat_complaint_days: float = Field(default=30, ge=0)
    repeat_complaint_radius_m: float = Field(default=200.0, ge=0)
    # The triage suggester (server/triage): a case's weight in training halves every half-life (newer
    # cases say more of the city today) and is doubled when it was reclassified (the first choice was
    # wrong: the words the model must learn); at most max_cases (the newest) and max_features are read; a
    # training keeps keep_versions versions for rolling back; the day's jobs retrain a city whose model is
    # retrain_days old (0: only by hand). Duplicates: recent cases (duplicate_days) within
    # duplicate_radius_m whose descriptions are at least duplicate_similarity alike.
    triage_half_life_days: float = Field(default=365.0, gt=0)
    triage_reclassified_weight: float = Field(default=2.0, ge=1)
    triage_max_cases: int = Field(default=2_000_000, ge=1000)
    triage_max_features: int = Field(default=300_000, ge=1000)
    triage_keep_versions: int = Field(default=5, ge=2, le=50)
    triage_retrain_days: float = Field(default=7.0, ge=0)
    triage_duplicate_days: float = Field(default=7.0, gt=0, le=90)
    triage_duplicate_radius_m: float = Field(default=300.0, gt=0, le=2000)
    triage_duplicate_similarity: float = Field(default=0.25, gt=0, le=1)
    supervision_sweep_seconds: float = 60.0  # how often the server flags overdue cases (0: never)
    # A supervision (督办) left unanswered this long (on the case's clock) goes one level up.
    supervision_answer_limit: str = "1d"
    extension_max_factor: float = Field(default=1.0, gt=0)  # an extension: at most this x handling limit
    # Which clock a case's limits run on: natural time (24 h) for these urgencies (comma-separated; a
    # category's own ``clock`` in the taxonomy wins), working time for the others.
    natural_clock_urgencies: str = "urgent"
    # The department's receipt (签收) of a dispatched case: within this limit, unless the request type has
    # its own response limit (投诉 within 1h).
    receipt_limit: str = "30m"

    # The category taxonomy (server/category): the form of a category code (a regular expression, checked by
    # the loader; a child's code starts with its parent's code) and how deep the tree may be (1: top only).
    # The default takes the starter taxonomy's E06 / E06010 and three-level codes like E0100101.
    category_code_pattern: str = r"^[CE][0-9]{2,20}$"
    category_max_depth: int = Field(default=3, ge=1, le=10)

    # Photos: limits, the geotag check, and where content-addressed files are kept (<var_dir>/media).
    photo_max_bytes: int = 15 * 1024 * 1024
    photo_max_pixels: int = 50_000_000
    photo_geotag_max_m: float = 200.0
    photo_thumbnail_px: int = 320
    photo_public_px: int = 1600
    # Pixel work (decoding, shrinking) on at most this many photos at once per process; a photo that finds
    # no slot within the wait is answered 503 with Retry-After rather than queued.
    photo_work_slots: int = 2
    photo_work_wait_seconds: float = 3.0
    media_dir: Path | None = None
    # Where photos are kept: "local" (files under media_dir) or "s3", an S3-compatible object store
    # (server.photo.storage.S3Storage): its endpoint (empty: AWS itself), bucket, region, optional folder
    # in the bucket (e.g. "gridops/"), and its keys (empty: boto3's own, e.g. AWS_ACCESS_KEY_ID or an
    # instance role). The secret is never shown or logged.
    photo_storage: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str = Field(default="", validate_default=True)
    s3_region: str = "us-east-1"
    s3_prefix: str = ""
    s3_access_key: str | None = None
    s3_secret_key: SecretStr | None = None
    # The media sweep deletes stored files no photo row names (left by failed transactions) once they are
    # this old (longer than any transaction that writes photos), every media_sweep_seconds (0: never).
    media_orphan_minutes: float = 60.0
    media_sweep_seconds: float = 3600.0

    # The day's jobs (server/main.py ``daily_jobs``): how often the server looks whether they are due (0:
    # never): the anticipation (server/proactive/daily.py: forecasts, warnings, proactive patrol tasks, once
    # a day), then the due reports (server/report, 日报/周报/月报: yesterday's, last week's, last month's),
    # for each district too, besides the city, when ``report_districts``.
    daily_jobs_seconds: float = 600.0
    report_districts: bool = False

    # The address register (server/address): a case is said to be near the register address nearest to its
    # point within this distance (none farther: "near" a place 500 m away misleads).
    address_near_radius_m: float = 150.0

    # The pollution-source register (server/source): a source and a case are near each other within this
    # distance; a source lists the cases near it received in the last source_near_days days.
    source_near_radius_m: float = Field(default=300.0, gt=0, le=5000)
    source_near_days: int = Field(default=90, ge=1, le=3650)

    # The grid heads' review: the share of a grid within this distance of its inspectors' tracks counts as
    # patrolled; the levels inspectors are assigned at (a grid of these levels with nobody is listed, up to
    # the most the review lists).
    review_coverage_m: float = 30.0
    review_levels: str = "village,unit"
    review_unstaffed_max: int = 500
    # Proactive patrol tasks (server/patrol/tasks.py): the minutes of track inside its grid that make a task
    # done, and the most days a task may last and may start ahead of today.
    patrol_task_minutes: float = Field(default=30.0, gt=0)
    patrol_task_max_days: int = Field(default=14, gt=0)
    # The system's rule for them (server/proactive/plan.py), each day: tasks of ``plan_days`` days from
    # the open warnings of communities and the forecast's community x category cells expecting at least
    # ``plan_forecast_min`` reports next week, at most ``plan_max`` tasks a day (0: the rule makes none).
    patrol_plan_days: int = Field(default=3, ge=1, le=14)
    patrol_plan_forecast_min: float = Field(default=5.0, gt=0)
    patrol_plan_max: int = Field(default=20, ge=0, le=500)

    # The maps' base layers (server/basemaps): a TOML file listing them (天地图 or a city's own tile service,
    # a city's MapLibre style, local PMTiles/MBTiles packages served by GridOps), checked whole at start;
    # none draws the grids on a plain background (nothing is fetched from elsewhere). ``gridops basemaps
    # pack`` downloads at most ``basemaps_pack_max_tiles`` tiles in one run.
    basemaps: Path | None = None
    basemaps_pack_max_tiles: int = Field(default=50_000, gt=0)

    # Dashboards (server/stats): score weights per group (each summing to 1; a rate without cases is left
    # out and its weight spread over the others), the lowest score of each grade (below the last: E), the
    # longest period.
    stats_area_weights: dict[str, float] = {
        "closure": 0.3, "on_time_closure": 0.3, "on_time_handling": 0.2, "no_rework": 0.2,
    }  # fmt: skip
    stats_department_weights: dict[str, float] = {
        "volume": 0.1, "closure": 0.3, "on_time_handling": 0.3, "no_rework": 0.3,
    }  # fmt: skip
    stats_inspector_weights: dict[str, float] = {
        "valid": 0.4, "no_miss": 0.2, "verification": 0.2, "check": 0.2,
    }  # fmt: skip
    # Beijing's three rates from the call-backs (接诉即办): response = reached / called back, resolution =
    # solved / reached, satisfaction = (satisfied + basically x basically_satisfied) / reached.
    stats_three_rate_weights: dict[str, float] = {"response": 0.1, "resolution": 0.45, "satisfaction": 0.45}
    stats_basically_satisfied: float = 0.9
    # Which three rates the dashboards rank by (docs/DOMAIN.md section 8): beijing (响应率, 解决率,
    # 满意率 from the call-backs) or pingshan (投诉率 per 10,000 residents, 办结率, 满意率; the score weighs
    # the last two).
    stats_rates: Literal["beijing", "pingshan"] = "beijing"
    stats_pingshan_weights: dict[str, float] = {"completion": 0.5, "satisfaction": 0.5}
    stats_grades: dict[str, float] = {"A": 90, "B": 75, "C": 60, "D": 40}
    stats_max_days: int = 366
    # Warnings (server/warning): the working days a reminder letter (提醒函) gives its addressee to check
    # and answer.
    warning_reply_days: int = Field(default=5, gt=0, le=60)
    # Anticipation (server/anticipate, docs/ANTICIPATION.md): the forecasts' interval level; 突增高频 when a
    # week's count has a chance below ``warning_false_alarm_rate`` under its expected count (per area x
    # category x week) and at least ``warning_min_count`` reports; 长期高频 when the last
    # ``warning_persistent_weeks`` weeks are as unlikely against the area's peers and at least
    # ``warning_persistent_ratio`` times their count.
    forecast_interval: float = Field(default=0.8, gt=0, lt=1)
    warning_false_alarm_rate: float = Field(default=0.001, gt=0, lt=0.5)
    warning_min_count: int = Field(default=5, ge=1)
    warning_persistent_weeks: int = Field(default=12, ge=2, le=52)
    warning_persistent_ratio: float = Field(default=2.0, gt=1)

    # The citizens' public pages (server/public): the friendly category list (label: taxonomy code), the
    # limits of one report, and the reports allowed per client address and per phone number in the window.
    public_categories: dict[str, str] = {
        "垃圾堆放": "E06010", "垃圾箱满溢破损": "E03006", "道路坑洼破损": "E02030", "井盖缺失破损": "E01002",
        "路灯不亮": "E01037", "道路积水": "E06025", "树木倒伏断枝": "E04002", "占道经营摊贩": "E09006",
        "违规小广告": "E09008", "施工扰民": "E08001",
    }  # fmt: skip
    public_max_photos: int = 4
    public_max_photo_bytes: int = 8 * 1024 * 1024
    # Far below the staff's photo_max_pixels: a phone's ordinary photo is 12 MP, the copy kept for display
    # is 1600 px, a WebP or PNG decodes in full (about 16 bytes a pixel for a WebP), and the report page
    # shrinks a larger photo to 4000 px before sending it.
    public_photo_max_pixels: int = 16_000_000
    public_max_description: int = 500
    public_reports_per_ip: int = 10
    public_reports_per_phone: int = 5
    public_window_minutes: int = 60

    # Open311 GeoReport v2 (server/open311): this city's jurisdiction_id, the contact discovery shows, and
    # the spec's defaults for GET requests (the last ``days`` days, at most ``max_requests`` results).
    open311_jurisdiction_id: str = "jinan.gridops"
    open311_contact: str = "The city's grid management command center (12345)"
    open311_days: int = 90
    open311_max_requests: int = 1000
    # A request posted without service_code is taken in the cities listed here (codes, comma separated; "*"
    # every city; empty none) when the triage model's best category for its description scores at least
    # ``open311_triage_min_score``; otherwise service_code is required.
    open311_triage_cities: str = ""
    open311_triage_min_score: float = Field(default=0.5, ge=0, le=1)

    # The dispatch form's advice (server/triage/advice.py): each department's returns (回退) of the case's
    # category over the last ``dispatch_advice_days`` days; a warning from 3 returns and this return rate.
    dispatch_advice_days: int = Field(default=180, ge=1, le=3660)
    dispatch_advice_return_warn: float = Field(default=0.2, gt=0, le=1)

    @field_validator(
        "stats_area_weights",
        "stats_department_weights",
        "stats_inspector_weights",
        "stats_three_rate_weights",
        "stats_pingshan_weights",
    )
    @classmethod
    def _weights_sum_to_one(cls, weights: dict[str, float]) -> dict[str, float]:
        if abs(sum(weights.values()) - 1) > 1e-9:
            raise ValueError(f"score weights must sum to 1, these sum to {sum(weights.values())}")
        return weights

    @field_validator("category_code_pattern")
    @classmethod
    def _code_pattern_compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(
                f"分类编号格式（GRIDOPS_CATEGORY_CODE_PATTERN）不是有效的正则表达式：{exc}，请改正后重新启动"
            ) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        _networks(value)  # a wrong entry stops the start, named in the error
        return value

    @field_validator("s3_bucket")
    @classmethod
    def _bucket_for_s3(cls, value: str, info) -> str:
        if info.data.get("photo_storage") == "s3" and not value:
            raise ValueError("照片存放在对象存储（s3）时必须设置存储桶：请设置 GRIDOPS_S3_BUCKET")
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return _networks(self.trusted_proxies)

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            outside_parent_m=self.outside_parent_m, overlap_m2=self.overlap_m2, gap_m2=self.gap_m2
        )

    @property
    def scheme(self) -> LevelScheme:
        return LevelScheme.from_spec(self.level_scheme)

    @property
    def pg_dir(self) -> Path:
        return self.var_dir / "pg"

    @property
    def media_root(self) -> Path:
        return self.media_dir or self.var_dir / "media"

    @property
    def holiday_path(self) -> Path:
        return self.holiday_file or self.var_dir / "holidays.yaml"

    def resolved_admin_token(self) -> str:
        """The admin token: from the environment, else the one kept in ``<var_dir>/admin-token``."""
        return self.admin_token or _kept_secret(self.var_dir / "admin-token")

    def resolved_secret_key(self) -> str:
        """The key that signs access tokens: from the environment, else kept in ``<var_dir>/secret-key``."""
        return self.secret_key or _kept_secret(self.var_dir / "secret-key")


@lru_cache
def _networks(spec: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A comma-separated list of addresses and CIDR networks."""
    return tuple(ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


@lru_cache
def _kept_secret(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600), made on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
