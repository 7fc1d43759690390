"""The one place routers are mounted."""

from fastapi import APIRouter

from server.auth.views import router as users_router
from server.grid.views import assignments_router
from server.grid.views import router as grids_router

api_router = APIRouter(prefix="/api")
api_router.include_router(grids_router)
api_router.include_router(assignments_router)
api_router.include_router(users_router)
