"""The one place routers are mounted."""

from fastapi import APIRouter

from server.address.views import router as addresses_router
from server.anticipate.views import router as forecasts_router
from server.auth.views import auth_router
from server.case.views import photos_router, special_router, sync_router
from server.case.views import router as cases_router
from server.category.views import router as categories_router
from server.city.views import router as cities_router
from server.events.views import router as events_router
from server.grid.views import assignments_router
from server.grid.views import router as grids_router
from server.knowledge.views import router as answers_router
from server.patrol.views import router as patrol_router
from server.public.views import router as public_router
from server.report.views import router as reports_router
from server.review.views import router as review_router
from server.source.views import router as sources_router
from server.stats.views import router as stats_router
from server.triage.views import cases_router as case_triage_router
from server.triage.views import public_router as public_triage_router
from server.triage.views import router as triage_router
from server.users.views import router as users_router
from server.warning.views import router as warnings_router
from server.worktime.views import router as calendar_router

api_router = APIRouter(prefix="/api")
api_router.include_router(cities_router)
api_router.include_router(grids_router)
api_router.include_router(addresses_router)
api_router.include_router(sources_router)
api_router.include_router(assignments_router)
api_router.include_router(users_router)
api_router.include_router(auth_router)
api_router.include_router(categories_router)
api_router.include_router(calendar_router)
api_router.include_router(cases_router)
api_router.include_router(photos_router)
api_router.include_router(sync_router)
api_router.include_router(special_router)
api_router.include_router(events_router)
api_router.include_router(patrol_router)
api_router.include_router(review_router)
api_router.include_router(stats_router)
api_router.include_router(forecasts_router)
api_router.include_router(reports_router)
api_router.include_router(warnings_router)
api_router.include_router(public_router)
api_router.include_router(answers_router)
api_router.include_router(triage_router)
api_router.include_router(public_triage_router)
api_router.include_router(case_triage_router)
