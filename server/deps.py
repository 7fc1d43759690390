"""Typed dependency aliases shared by every router."""

from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from server.database import get_db

DB = Annotated[Session, Depends(get_db)]
