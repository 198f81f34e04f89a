"""Shared objects reached by routes through `Depends` aliases."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request

from bot.auth.principal import Principal, authorize
from bot.auth.sessions import LoginGuard
from bot.auth.widget_token import widget_identity
from bot.holder import KBHolder, KBNotReady
from bot.jobs import JobRunner
from bot.metrics import Metrics
from bot.security import RateLimiter
from bot.state import AppState, FeedbackStore
from bot.state.base import AskerIdentity
from kb.settings import Settings
from kb.state import Content, DictionaryStore, DocumentStore

if TYPE_CHECKING:  # pragma: no cover
    from kb.knowledge_base import KnowledgeBase
else:
    KnowledgeBase = Any


@dataclass
class ServiceState:
    settings: Settings
    holder: KBHolder
    jobs: JobRunner
    app_state: AppState  # the service's own records: ask log, feedback, jobs (bot/state)
    content: Content  # the KB's shared state: documents, dictionary, versions, conversations (kb/state)
    metrics: Metrics
    limiter: RateLimiter
    login_guard: LoginGuard  # sign-ins and bearer tokens: rate limit and lockouts
    # Questions are answered on these threads: a plain executor hands a call over and back ~25 us faster
    # than anyio's thread pool, whose capacity (40) it keeps (a question waits on the model, not the CPU).
    ask_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(40, thread_name_prefix="ask"))
    extra: dict[str, Any] = field(default_factory=dict)


# Dependencies are `async def`: they only look things up, and a sync one would cost every request a
# hop to the thread pool and back (measured: ~15% of the event loop's time under load).
async def get_state(request: Request) -> ServiceState:
    return request.app.state.service


State = Annotated[ServiceState, Depends(get_state)]


async def get_settings(state: State) -> Settings:
    return state.settings


AppSettings = Annotated[Settings, Depends(get_settings)]


async def get_app_state(state: State) -> AppState:
    return state.app_state


Records = Annotated[AppState, Depends(get_app_state)]


async def get_feedback(state: State) -> FeedbackStore:
    return state.app_state.feedback


Feedback = Annotated[FeedbackStore, Depends(get_feedback)]


async def get_documents(state: State) -> DocumentStore:
    return state.content.documents


Documents = Annotated[DocumentStore, Depends(get_documents)]


async def get_dictionary(state: State) -> DictionaryStore:
    return state.content.dictionary


Dictionary = Annotated[DictionaryStore, Depends(get_dictionary)]


@contextmanager
def leased_kb(state: ServiceState) -> Iterator[KnowledgeBase]:
    """The KB a request uses, leased so that a re-index swap cannot close it under the request; 503 when
    none is loaded."""
    try:
        lease = state.holder.lease()
        kb = lease.__enter__()
    except KBNotReady as e:
        raise HTTPException(503, detail=f"知识库未就绪 / knowledge base not ready: {e}") from None
    try:
        yield kb
    finally:
        lease.__exit__(None, None, None)


async def get_kb(state: State) -> AsyncIterator[KnowledgeBase]:
    with leased_kb(state) as kb:
        yield kb


CurrentKB = Annotated[KnowledgeBase, Depends(get_kb)]


async def get_asker(request: Request) -> AskerIdentity | None:
    return await widget_identity(request)


# Who is asking, when the widget passed a site's signed token (None: anonymous); 401 for a refused token.
Asker = Annotated[AskerIdentity | None, Depends(get_asker)]


async def rate_limited(request: Request, state: State, who: Asker) -> None:
    """A bucket per agent when the widget says who is asking (a contact centre behind one address), else per
    client address."""
    client = f"agent:{who.site}:{who.agent}" if who else (request.client.host if request.client else "unknown")
    ok, wait = state.limiter.allow(client)
    if not ok:
        raise HTTPException(
            429,
            detail=f"请求太频繁，请稍后再试 / too many requests, retry in {wait:.0f}s",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )


RateLimited = Depends(rate_limited)


# Every admin route: who the request is, and whether their role may use the route (bot/auth/roles.py).
AdminOnly = Depends(authorize)
# The signed-in user, token or admin token an admin route acts for (its audit and `created_by` name).
Who = Annotated[Principal, Depends(authorize)]
