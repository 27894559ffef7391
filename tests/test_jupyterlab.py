"""`make notebook`: JupyterLab on 127.0.0.1 over notebooks/, on the project's kernel, running a task notebook
cell by cell with the local target's widget defaults, driven through JupyterLab's own REST and kernel
websocket API, as the browser does."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from job_helpers import own_store_env
from net_helpers import free_port

from credit_risk.bundle.loader import load_bundle

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("jupyterlab", reason="JupyterLab is a development extra: `make install` installs it")
websocket = pytest.importorskip("websocket", reason="websocket-client comes with jupyter_server")


def _get(url: str, token: str) -> Any:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def _post(url: str, token: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.load(resp)


def _execute(ws: Any, code: str, timeout: float = 300) -> list[dict[str, Any]]:
    """One execute_request on the kernel's channels; its iopub messages until the kernel is idle again."""
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": "t",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": True, "allow_stdin": False},
                "channel": "shell",
            }
        )
    )
    outputs: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ws.settimeout(max(1.0, deadline - time.monotonic()))
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id or msg["channel"] != "iopub":
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return outputs
        if msg["msg_type"] in ("execute_result", "stream", "error", "display_data"):
            outputs.append(msg)
    raise TimeoutError(f"the kernel did not finish within {timeout} s: {code[:80]!r}")


def _errors(outputs: list[dict[str, Any]]) -> list[str]:
    return [f"{o['content']['ename']}: {o['content']['evalue']}" for o in outputs if o["msg_type"] == "error"]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """`make notebook` on a free port with a token, its project home a temporary folder; stopped afterwards."""
    home = tmp_path_factory.mktemp("jupyter-home")
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **own_store_env(),
        "CREDIT_RISK_HOME": str(home),
        "CREDIT_RISK_ROWS": "400",  # set as a user would: the environment wins over a widget at its default
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
    }
    env.pop("CREDIT_RISK_WIDGETS", None)
    log = (home / "jupyterlab.log").open("w")
    proc = subprocess.Popen(
        ["make", "-s", "notebook", f"NOTEBOOK_PORT={port}", f"NOTEBOOK_TOKEN={token}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180  # a loaded 2-core machine starts JupyterLab slowly
    while True:
        try:
            _get(f"{base}/api/status", token)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                raise RuntimeError(
                    f"`make notebook` did not serve on {base}: {(home / 'jupyterlab.log').read_text()[-2000:]}"
                ) from None
            time.sleep(0.5)
    yield base, token, home
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def test_make_notebook_serves_the_notebooks_on_the_project_kernel(jupyterlab):
    base, token, _ = jupyterlab
    listed = {item["name"] for item in _get(f"{base}/api/contents", token)["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= listed
    specs = _get(f"{base}/api/kernelspecs", token)
    assert specs["default"] == "python3"
    # "python" is the server's own interpreter (jupyter_client launches it as sys.executable): .venv's
    assert specs["kernelspecs"]["python3"]["spec"]["argv"][:3] == ["python", "-m", "ipykernel_launcher"]
    with pytest.raises(urllib.error.HTTPError, match="403"):  # no token, no notebooks
        _get(f"{base}/api/contents", "wrong-token")


def test_bronze_notebook_runs_cell_by_cell_with_the_local_targets_widget_defaults(jupyterlab):
    base, token, home = jupyterlab
    session = _post(
        f"{base}/api/sessions",
        token,
        {"path": "01_bronze_ingest.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}},
    )
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{base.rsplit(':', 1)[1]}/api/kernels/{session['kernel']['id']}/channels?token={token}",
        timeout=60,
    )
    try:
        notebook = nbformat.read(ROOT / "notebooks" / "01_bronze_ingest.ipynb", as_version=4)
        results = []
        for cell in (c for c in notebook.cells if c.cell_type == "code"):
            outputs = _execute(ws, cell.source)
            assert not _errors(outputs), (cell.source, _errors(outputs))
            results.append(outputs)
        probe = _execute(
            ws,
            "import json, os\nfrom credit_risk.runtime.config import widget_defaults\n"
            "import sys\nprint(json.dumps({'python': sys.executable, 'cwd': os.getcwd(), 'defaults': widget_defaults(), 'rows': cfg.rows,"
            " 'catalog': cfg.catalog, 'lake': str(cfg.lake_path)}))",
        )
    finally:
        ws.close()
    seen = json.loads("".join(o["content"]["text"] for o in probe if o["msg_type"] == "stream"))
    local = load_bundle(ROOT, "local").variables
    assert Path(seen["python"]).parent == Path(sys.executable).parent  # the project's .venv
    assert Path(seen["cwd"]) == ROOT / "notebooks"
    assert seen["defaults"]["rows"] == str(local["rows"]) and seen["defaults"]["catalog"] == local["catalog"]
    assert (seen["rows"], seen["catalog"]) == (400, local["catalog"])
    assert Path(seen["lake"]) == home / local["lake_root"]
    shown = "".join(json.dumps(o["content"].get("data", {})) for o in results[-1])
    assert "bronze" in shown, shown
    assert (home / local["lake_root"] / local["catalog"] / "bronze").is_dir()
