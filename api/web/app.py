"""Mounts the web inbox on the API's application: its pages at `/`, its own styles and script
at `/static/` (nothing from a CDN), and what a page does when its session is gone or a form
was not sent by one of its own pages."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api.web import new_case, pages, signin, tasks
from api.web.base import (
    HERE,
    ForgedForm,
    NoSuchCase,
    SignInNeeded,
    go,
    page,
    refused,
    session_of,
    sessions,
)
from api.web.client import ApiError
from api.web.sessions import WebSessions


def install_web(app: FastAPI) -> None:
    app.state.web_sessions = WebSessions()
    app.include_router(signin.router)
    for routes in (pages, tasks, new_case):
        app.include_router(routes.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="web-static")

    async def sign_in_again(request: Request, _: Exception) -> Response:
        session = session_of(request)
        if session.signed_in:  # the API no longer takes the session's token
            sessions(request).end(session)
            session = sessions(request).new()
        return go(request, session, "/log-ind", "Log ind for at fortsætte.")

    async def forged(request: Request, _: Exception) -> Response:
        return page(
            request,
            session_of(request),
            "refused.html",
            status=403,
            title="Formularen er udløbet",
            error=ApiError(
                403,
                "Formularen er udløbet eller ikke sendt fra sagsflow. Åbn siden igen og prøv "
                "igen / The form has expired or was not sent from sagsflow. Open the page again "
                "and retry",
            ),
        )

    async def no_such_case(request: Request, _: Exception) -> Response:
        return refused(
            request, session_of(request), ApiError(404, "Sagen findes ikke / No such case")
        )

    app.add_exception_handler(SignInNeeded, sign_in_again)
    app.add_exception_handler(NoSuchCase, no_such_case)
    app.add_exception_handler(ForgedForm, forged)
