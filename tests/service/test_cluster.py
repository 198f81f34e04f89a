"""Several replicas on PostgreSQL behind nginx (deploy/cluster.py, as `make cluster` runs them), one cluster
for the module: its own PostgreSQL server, three replicas and nginx on free loopback ports, the seed KB
published into its database.

Each client comes from a loopback address of its own (127.0.0.x), as agents behind nginx would; the edge
limit is per address. Every figure the drills measure is printed (`-s`) for docs/performance.md.
"""
from __future__ import annotations

import random
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from deploy.cluster import Cluster, Layout
from tests.service.test_answers_during_reindexes import _passage_ids, _quoted_ids
from tests.support.service import (ADMIN_TOKEN, NEW_DOC_NAME, NEW_DOC_QUESTION, NEW_DOC_TEXT, OOS_QUESTION,
                                   SEED_QUESTION, free_port, wait_job)

pytestmark = pytest.mark.cluster

QUESTIONS = [SEED_QUESTION, OOS_QUESTION, "客户投诉服务态度差，怎么安抚？", "快递丢了客户要求赔偿怎么办",
             NEW_DOC_QUESTION]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def cluster(seed_settings, seed_build, model_dir):
    root = Path(tempfile.mkdtemp(prefix="kb-test-cluster-"))
    root.chmod(0o755)  # PostgreSQL runs as its own user inside it
    layout = Layout(root=root, pg_port=free_port(), replica_ports=[free_port() for _ in range(3)],
                    nginx_port=free_port(), rate_per_second=200, burst=100, model=model_dir,
                    replica_env={"KB_ADMIN_TOKEN": ADMIN_TOKEN, "KB_RATE_LIMIT_PER_MINUTE": "0",
                                 "KB_ADMIN_LOCKOUT_FAILURES": "0", "KB_KEEP_VERSIONS": "10"})
    running = Cluster(layout, fast_database=True)
    try:
        running.start_database()
        running.publish_versions_of(seed_settings)
        running.start(build=False)
        yield running
    finally:
        running.stop()
        shutil.rmtree(root, ignore_errors=True)


def _client(n: int, base_url: str) -> httpx.Client:
    """A client from loopback address 127.0.0.<n>."""
    return httpx.Client(base_url=base_url, timeout=60, transport=httpx.HTTPTransport(local_address=f"127.0.0.{n}"))


class Load:
    """`clients` threads asking through nginx until stopped; every outcome counted."""

    def __init__(self, url: str, clients: int, first_address: int = 10, feedback_every: int = 0):
        self.url = url
        self.stopped = threading.Event()
        self.outcomes: Counter = Counter()
        self.answers: list[dict] = []
        self.feedback_stored = 0
        self.feedback_refused: list[str] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()
        self.feedback_every = feedback_every
        self.threads = [threading.Thread(target=self._run, args=(first_address + i,), daemon=True)
                        for i in range(clients)]

    def _run(self, address: int) -> None:
        rng = random.Random(address)
        with _client(address, self.url) as client:
            n = 0
            while not self.stopped.is_set():
                n += 1
                try:
                    r = client.post("/v1/ask", json={"question": rng.choice(QUESTIONS)})
                    with self._lock:
                        self.outcomes[r.status_code] += 1
                        if r.status_code == 200:
                            self.answers.append(r.json())
                        else:
                            self.failures.append(f"{r.status_code} {r.text[:200]}")
                    if self.feedback_every and n % self.feedback_every == 0:
                        self._feedback(client, n)
                except httpx.HTTPError as e:
                    with self._lock:
                        self.outcomes["error"] += 1
                        self.failures.append(f"{type(e).__name__}: {e}")

    def _feedback(self, client: httpx.Client, n: int) -> None:
        r = client.post("/v1/feedback", json={"question": f"演练反馈{n}", "helpful": False, "comment": "drill"})
        with self._lock:
            if r.status_code == 201:
                self.feedback_stored += 1
            elif r.status_code == 503:
                self.feedback_refused.append(r.json()["detail"])
            else:
                self.failures.append(f"feedback {r.status_code} {r.text[:200]}")

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        for t in self.threads:
            t.join(timeout=90)


def _counts(cluster: Cluster) -> dict:
    import psycopg

    with psycopg.connect(cluster.database_url) as conn:
        asks = conn.execute("SELECT count(*) FROM asks").fetchone()[0]
        feedback = conn.execute("SELECT count(*) FROM feedback").fetchone()[0]
    return {"asks": asks, "feedback": feedback}


def _version(url: str) -> str | None:
    try:
        r = httpx.get(f"{url}/readyz", timeout=2)
    except httpx.HTTPError:
        return None
    return r.json().get("version") if r.status_code == 200 else None


# --- conversations ------------------------------------------------------------------------------

def test_a_follow_up_answered_by_another_replica_keeps_its_context(cluster):
    first_port, second_port = cluster.layout.replica_ports[:2]
    first = httpx.post(f"{cluster.replica_url(first_port)}/v1/ask", json={"question": SEED_QUESTION}).json()
    follow = httpx.post(f"{cluster.replica_url(second_port)}/v1/ask",
                        json={"question": "那如果客户还是不接受呢？", "session_id": first["session_id"]}).json()
    assert follow["session_id"] == first["session_id"]
    assert follow["resolved_question"] and SEED_QUESTION[:6] in follow["resolved_question"]


# --- one build, every replica swaps -------------------------------------------------------------

def test_a_reindex_through_nginx_is_served_by_every_replica_within_5_s(cluster, tmp_path):
    import psycopg

    urls = [cluster.replica_url(p) for p in cluster.layout.replica_ports]
    before = {_version(u) for u in urls}
    assert len(before) == 1 and None not in before
    with httpx.Client(base_url=cluster.nginx.url, timeout=60) as admin:
        r = admin.post("/v1/admin/documents", headers=ADMIN, files={"file": (NEW_DOC_NAME, NEW_DOC_TEXT.encode())})
        assert r.status_code == 201, r.text
        with Load(cluster.nginx.url, clients=4, first_address=40) as load:
            job = admin.post("/v1/admin/reindex", headers=ADMIN).json()
            swapped: dict[str, float] = {}
            deadline = time.monotonic() + 300
            while len(swapped) < len(urls) and time.monotonic() < deadline:
                for u in urls:
                    if u not in swapped and _version(u) not in before | {None}:
                        swapped[u] = time.time()
                time.sleep(0.05)
            done = wait_job(admin, job["id"], ADMIN)
            time.sleep(1)
    assert done["state"] == "succeeded", done
    new = done["report"]["version_id"]
    assert {_version(u) for u in urls} == {new}
    with psycopg.connect(cluster.database_url) as conn:
        published = conn.execute("SELECT extract(epoch FROM published_at) FROM versions WHERE id = %s",
                                 (new,)).fetchone()[0]
    lags = sorted(t - float(published) for t in swapped.values())
    print(f"\nre-index: replicas serving the new version {', '.join(f'{s:.2f}' for s in lags)} s after it was published")
    assert lags[-1] <= 5.0, lags

    # every answer came from one complete version, and said which
    from kb.settings import Settings
    from kb.state import open_content

    content = open_content(Settings(data_dir=tmp_path, database_url=cluster.database_url))
    try:
        ids = {v: _passage_ids(content.versions.root, v) for v in (*before, new)
               if content.versions.fetch(v)}
    finally:
        content.close()
    assert load.failures == [] and load.outcomes[200] > 0
    versions = Counter(a["version"] for a in load.answers)
    assert set(versions) <= set(ids), versions
    for answer in load.answers:
        assert _quoted_ids(answer) <= ids[answer["version"]], answer["version"]
    print(f"re-index under load: {load.outcomes[200]} answers, by version {dict(versions)}")


# --- a replica killed under load ----------------------------------------------------------------

def test_a_replica_killed_and_restarted_under_load_fails_no_request(cluster):
    victim = cluster.layout.replica_ports[0]
    with Load(cluster.nginx.url, clients=16) as load:
        time.sleep(10)
        cluster.stop_replica(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        cluster.start_replica(victim)
        ready_after = cluster.wait_ready(victim)
        time.sleep(max(0.0, 60 - 10 - (time.monotonic() - killed_at)))
    total = sum(load.outcomes.values())
    print(f"\nSIGKILL drill: {total} requests in 60 s by 16 clients, outcomes {dict(load.outcomes)}; "
          f"the killed replica was ready again {ready_after:.1f} s after its restart")
    assert load.failures == [], load.failures[:5]
    assert load.outcomes[200] == total > 0


# --- the edge rate limit ------------------------------------------------------------------------

def test_the_edge_limits_each_client_address(cluster):
    codes: Counter = Counter()
    with _client(99, cluster.nginx.url) as client:
        for _ in range(400):  # invalid feedback: nginx's limit applies before any replica works on it
            codes[client.post("/v1/feedback", json={}).status_code] += 1
    with _client(98, cluster.nginx.url) as other:
        assert other.post("/v1/feedback", json={}).status_code == 422  # another address is not limited
    assert codes[429] > 0 and codes[422] >= cluster.layout.burst, codes


# --- PostgreSQL restarted under load ------------------------------------------------------------

def test_questions_are_answered_through_a_database_restart_and_nothing_is_lost(cluster):
    before = _counts(cluster)
    with Load(cluster.nginx.url, clients=6, first_address=60, feedback_every=5) as load:
        time.sleep(5)
        cluster.pg.stop("fast")
        time.sleep(6)
        cluster.pg.start()
        time.sleep(8)
    answered = load.outcomes[200]
    assert load.failures == [], load.failures[:5]  # every question answered; feedback 201 or a clear 503
    assert all("数据库暂时不可用" in m and "database is unavailable" in m for m in load.feedback_refused)
    deadline = time.monotonic() + 30  # the ask logs buffered during the outage are written when it is back
    while time.monotonic() < deadline:
        after = _counts(cluster)
        if after["asks"] - before["asks"] >= answered:
            break
        time.sleep(0.5)
    print(f"\nPostgreSQL restart: {answered} questions answered, ask-log rows written "
          f"{after['asks'] - before['asks']}; feedback stored {load.feedback_stored}, refused (503) "
          f"{len(load.feedback_refused)}, rows written {after['feedback'] - before['feedback']}")
    assert after["asks"] - before["asks"] == answered
    assert after["feedback"] - before["feedback"] == load.feedback_stored
    assert load.feedback_refused, "the outage refused no feedback: was the database down?"


# --- a version embedded with a tuned model (last: the cluster then serves the small KB) ------------------

def test_a_version_embedded_with_a_tuned_model_is_served_by_every_replica(cluster, tmp_path, small_settings,
                                                                          tuned_model):
    """Built on another machine (a data folder of its own holding the model), published into the database:
    every replica fetches the version and the model with it, and serves it with that model."""
    from pydantic import SecretStr

    from ingest.pipeline import build_version
    from tests.support.paths import make_settings
    from tests.support.tuning import NAME

    urls = [cluster.replica_url(p) for p in cluster.layout.replica_ports]
    builder = make_settings(tmp_path / "data", Path(small_settings.model_name_or_path), list(small_settings.docs_dirs),
                            database_url=SecretStr(cluster.database_url))
    builder.models_dir.mkdir(parents=True)
    (builder.models_dir / NAME).symlink_to(tuned_model)
    report = build_version(builder, tuned_model=NAME, force=True)
    published = time.monotonic()
    served: dict[str, float] = {}
    while len(served) < len(urls) and time.monotonic() < published + 120:
        for u in urls:
            if u not in served and _version(u) == report.version_id:
                served[u] = time.monotonic() - published
        time.sleep(0.1)
    assert len(served) == len(urls), served
    for u in urls:
        status = httpx.get(f"{u}/v1/admin/status", headers=ADMIN, timeout=10).json()
        assert status["stats"]["tuned_model"] == NAME, status["stats"]
        r = httpx.post(f"{u}/v1/ask", json={"question": "客户投诉时先做什么"}, timeout=30)
        assert r.status_code == 200 and r.json()["version"] == report.version_id
    size = sum(p.stat().st_size for p in tuned_model.rglob("*") if p.is_file()) >> 20
    lags = ", ".join(f"{s:.1f}" for s in sorted(served.values()))
    print(f"\ntuned version ({size} MB model): replicas serving it {lags} s after it was published")
