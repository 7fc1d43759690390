"""Settings, read from the environment (prefix ``GRIDOPS_``) and an optional ``.env`` file.

``DATABASE_URL`` (no prefix) points the product at any PostgreSQL/PostGIS; without it the embedded
cluster under ``<var_dir>/pg`` is used.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from grids.levels import LevelScheme
from grids.topology import Thresholds

PROJECT_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOPS_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "GRIDOPS_DATABASE_URL")
    )
    var_dir: Path = PROJECT_DIR / "var"
    admin_token: str | None = None
    level_scheme: str = "city:6:4,district:6,street:9,village:12,unit:15"

    # Grid import thresholds (see docs: errors stop an import, warnings do not).
    outside_parent_m: float = 1.0
    overlap_m2: float = 1.0
    gap_m2: float = 1.0

    # Largest bounding box and batch the grid API answers.
    bbox_max_features: int = 5000
    locate_batch_max: int = 10000

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

    def resolved_admin_token(self) -> str:
        """The admin token: from the environment, else the one kept in ``<var_dir>/admin-token``."""
        if self.admin_token:
            return self.admin_token
        path = self.var_dir / "admin-token"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(24) + "\n")
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
