"""The FastAPI application: `create_app(settings, service, store)`.

Given a CaseService and a Store (as `sagsflow dev` and the tests do), the app uses them; else
its lifespan connects to Temporal and the store from the environment and closes them again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from api.access import AccessLog
from api.auth import Authenticator, StaffDirectory, build_authenticator
from api.codec import CODEC_PREFIX, install_codec
from api.codec import MAX_BODY_BYTES as CODEC_MAX_BODY_BYTES
from api.docs_page import install_docs_page
from api.errors import install_error_handlers
from api.headers import SecurityHeaders
from api.limits import BodyLimit
from api.metrics import install_metrics
from api.openapi import install_openapi
from api.paging import PageTokens
from api.routes import cases, health, records, tasks
from api.tokens import TokenFileAuthenticator
from api.web.app import install_web
from core.connection import connect_client
from core.settings import ApiSettings, Settings
from service.cases import CaseService
from store import Store

API_VERSION = "1.0.0"
DESCRIPTION = """\
The municipal platform's backend for **digital violations among school students**: the
action card as durable Temporal workflows.

- **Authentication**: `Authorization: Bearer <token>` — a token from the tokens file (embedded
  default) or an OIDC access token from the municipality's identity provider.
- **Access control**: staff see and act on cases of their own schools, tasks only in their
  own roles; the communications department handles press tasks; operators see all.
- **Access log**: every read of a case and every action is logged (who, when, what and why:
  send the purpose in the header `X-Purpose`, default `sagsbehandling`) before it happens; if
  the log cannot be written, the request fails with 503 and nothing is done.
- **Errors** are JSON `{"detail": "dansk / English"}`.
- **Limits**: every text and list has a maximum (`maxLength`/`maxItems` in the schemas; over
  it: 422 naming the field and the limit). A request body over 256 KiB is refused with 413
  before it is read. A case takes at most 30 notes, 10 new incidents and 10 press inquiries
  per hour (then 429 with `Retry-After`) and 5,000, 200 and 200 in all (then 422).

Børn omtales med pseudonymer (P1, P2 …); navne findes kun i sagsflows database.
"""


def create_app(
    settings: ApiSettings | None = None,
    *,
    service: CaseService | None = None,
    store: Store | None = None,
    worker_settings: Settings | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    settings = settings or ApiSettings.from_env()
    # Fails fast here (a missing tokens file, bad OIDC settings), not on the first request.
    authenticator = authenticator or build_authenticator(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            config = worker_settings or Settings.from_env()
            own_store = store
            if own_store is None:
                own_store = Store.from_url(config.database_url)
                stack.push_async_callback(own_store.dispose)
                await own_store.create_schema()
            own_service = service
            if own_service is None:
                client = await connect_client(config)
                own_service = CaseService(client, own_store, config.task_queue)
            app.state.store = own_store
            app.state.service = own_service
            app.state.access_log = AccessLog(own_store)
            app.state.staff_directory = StaffDirectory(own_store)
            if isinstance(authenticator, TokenFileAuthenticator):
                # The file lists everyone: tasks may go to staff who have not signed in yet.
                for member in authenticator.all_staff():
                    await app.state.staff_directory.seen(member)
            yield

    app = FastAPI(
        title="sagsflow API",
        version=API_VERSION,
        summary="Digitale krænkelser blandt elever – handlekortet som sagsforløb.",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        # The docs page is sagsflow's own (api.docs_page): Swagger UI's comes from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.authenticator = authenticator
    secret = settings.page_token_secret
    app.state.page_tokens = PageTokens(secret.encode("utf-8") if secret else None)
    if store is not None:
        app.state.store = store
        app.state.access_log = AccessLog(store)
    if service is not None:
        app.state.service = service
    install_error_handlers(app)
    # Inside the codec's CORS and the metrics (added later, so outside): a refusal is counted
    # and a browser can read it.
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, prefixes={CODEC_PREFIX: CODEC_MAX_BODY_BYTES}
    )
    for routes in (health, cases, tasks, records):
        app.include_router(routes.router)
    install_codec(app, settings)
    install_metrics(app)
    install_openapi(app)
    install_docs_page(app)
    install_web(app)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included
    return app
