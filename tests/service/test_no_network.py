"""No network at run time: `kb ingest`, `kb serve` (answering, feedback, metrics, a normal stop), `kb search`
and tuning (training, the tuned model's ONNX / OpenVINO export, loading it) run in a network namespace of
their own (loopback only) with every connect() and sendto() traced; none tries to reach anything but
loopback, none looks a name up, and nothing is written into the home folder (OpenVINO's telemetry would add
~/intel with a client id)."""
from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO, SEEDS
from tests.support.service import NEW_DOC_NAME, NEW_DOC_TEXT, SEED_QUESTION, copy_seed_data
from tests.support.system_tools import require_root_and

# Runs inside the namespace, under strace: everything the product does there.
DRIVER = r'''
import json, signal, subprocess, sys, time, urllib.request

KB = [sys.executable, "-m", "bot.cli"]
url = "http://127.0.0.1:8000"
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, whatever the environment says

def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"})
    with http.open(req, timeout=60) as r:
        return r.status, r.read()

subprocess.run([*KB, "ingest"], check=True, stdout=subprocess.DEVNULL)
server = subprocess.Popen([*KB, "serve", "--port", "8000"], stderr=subprocess.DEVNULL)
deadline = time.time() + 240
while True:
    try:
        if call("/readyz")[0] == 200:
            break
    except OSError:
        pass
    if server.poll() is not None or time.time() > deadline:
        sys.exit("kb serve did not become ready")
    time.sleep(0.3)
assert call("/v1/ask", {"question": sys.argv[1]})[0] == 200
assert call("/v1/feedback", {"question": sys.argv[1], "helpful": False})[0] == 201
assert call("/metrics")[0] == 200
server.send_signal(signal.SIGTERM)
assert server.wait(timeout=120) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a clean stop
subprocess.run([*KB, "search", sys.argv[1], "-k", "3"], check=True, stdout=subprocess.DEVNULL)
print("driver done")
'''

# Tuning as `kb tune` does it after its gate, on a small KB (a few steps: the import paths are what matters).
TUNE_DRIVER = r'''
import sys
from pathlib import Path
import kb  # what every product process imports first
from ingest.pipeline import build_version
from kb.encoders import Encoder
from kb.settings import Settings
from tests.support.tuning import tiny_tune
from ingest.tune.folder import write_model

settings = Settings()
build_version(settings)
trained = tiny_tune(settings, None, seed=0)
folder = write_model(trained, Path(settings.model_name_or_path), settings.models_dir, "tuned-nonet", {}, export=True)
encoder = Encoder(str(folder))
assert encoder.engine == "openvino", encoder.engine
encoder.encode_query(sys.argv[1])
print("driver done")
'''

ADDRESS = re.compile(r'sa_family=(AF_INET6?)[^}]*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)")')
PORT = re.compile(r"sin6?_port=htons\((\d+)\)")


def outside_loopback(trace: str) -> list[str]:
    """The traced calls that reach for something other than loopback, or look a name up."""
    bad = []
    for line in trace.splitlines():
        if "nscd" in line or any(port == "53" for port in PORT.findall(line)):
            bad.append(line)  # a name lookup (glibc asks nscd, then the DNS server)
            continue
        for _, v4, v6 in ADDRESS.findall(line):
            address = ipaddress.ip_address(v4 or v6)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            if not address.is_loopback:
                bad.append(line)
    return bad


def test_the_trace_parser_sees_what_telemetry_would_do():
    trace = "\n".join([
        '7 connect(8, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT',
        '7 connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("127.0.0.53")}, 16) = 0',
        '7 connect(9, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr("142.250.1.1")}, 16) = 0',
        '7 connect(9, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2a00:1450::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
    ])
    fine = "\n".join([
        '7 connect(5, {sa_family=AF_INET, sin_port=htons(8000), sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
        '7 connect(5, {sa_family=AF_INET6, sin6_port=htons(8000), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0',
        '7 connect(6, {sa_family=AF_UNIX, sun_path="/tmp/x.sock"}, 110) = 0',
        '7 sendto(6, "x", 1, 0, NULL, 0) = 1',
    ])
    assert len(outside_loopback(trace)) == 4
    assert outside_loopback(fine) == []


def _traced(tmp_path, driver_source: str, model_dir, **env_extra) -> tuple[str, Path]:
    """`driver_source` run with SEED_QUESTION under strace (connect, sendto, sendmsg) in a network namespace of
    its own, loopback up: no KB_/HF_/... variables but the model and `env_extra`, a HOME of its own. Returns
    the trace and that HOME."""
    home = tmp_path / "home"
    home.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(driver_source, "utf-8")
    trace = tmp_path / "trace.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KB_", "HF_", "TRANSFORMERS_", "DO_NOT", "ORT_"))}
    env.update(HOME=str(home), KB_MODEL=str(model_dir), PYTHONPATH=str(REPO), **env_extra)
    script = ('ip link set lo up && exec strace -f --seccomp-bpf -qq -e trace=connect,sendto,sendmsg '
              '-e signal=none -o "$1" "$2" "$3" "$4"')
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script, "sh", str(trace), sys.executable, str(driver),
                           SEED_QUESTION], env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and "driver done" in proc.stdout, proc.stderr[-3000:]
    return trace.read_text(), home


def test_ingest_serve_and_search_reach_nothing_but_loopback(tmp_path, seed_settings, seed_build, model_dir):
    require_root_and("unshare", "strace", "ip")
    data = copy_seed_data(seed_settings, tmp_path / "data")
    (data / "documents").mkdir()
    (data / "documents" / NEW_DOC_NAME).write_text(NEW_DOC_TEXT, "utf-8")  # something to embed
    trace, home = _traced(tmp_path, DRIVER, model_dir, KB_DATA_DIR=str(data), KB_DOCS_DIRS=json.dumps([str(SEEDS)]),
                          KB_ADMIN_TOKEN="")
    assert outside_loopback(trace) == []
    assert "127.0.0.1" in trace  # the trace did see the driver talking to the service
    assert not (home / "intel").exists(), sorted(p.name for p in (home / "intel").iterdir())


def test_tuning_reaches_nothing_but_loopback(tmp_path, model_dir):
    require_root_and("unshare", "strace", "ip")
    from tests.support.tuning import SMALL_DOCS

    docs = tmp_path / "docs"
    docs.mkdir()
    for name in SMALL_DOCS:
        (docs / name).write_bytes((SEEDS / name).read_bytes())
    # USER as a login or a systemd service sets it: without, torch's export asks the passwd database for the
    # user name (getpass), a local lookup the trace could not tell from a host name's
    trace, home = _traced(tmp_path, TUNE_DRIVER, model_dir, KB_DATA_DIR=str(tmp_path / "data"),
                          KB_DOCS_DIRS=json.dumps([str(docs)]), USER="kb")
    assert outside_loopback(trace) == []
    assert not (home / "intel").exists(), sorted(p.name for p in (home / "intel").iterdir())
