"""Clients nobody here wrote, against a real `acacia serve`: a one-shot `socat` pipe, a
plain shell script (bash + socat) and a Node.js script that uses only `node:net`
(docs/protocol.md is all they know).

socat is required: `make test` installs it with the other system packages (Makefile,
QT_SYSTEM_PACKAGES), so a missing socat fails these tests instead of skipping them. Node
is optional: its test is skipped where `node` is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap

import pytest

from acacia_gui.ipc.protocol import PROTOCOL_VERSION

from .serve_process import served_app

# socat waits this long after its input ends for the server to close. The server closes as
# soon as it has answered, so this only bounds a failure (socat's default is 0.5 s).
SOCAT_WAIT = "30"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "foreign") as app:
        yield app


def socat() -> str:
    path = shutil.which("socat")
    if path is None:
        pytest.fail("socat is not installed: `make test` installs it (Makefile, QT_SYSTEM_PACKAGES), "
                    "or install it with `apt-get install socat`")  # fmt: skip
    return path


def pipe_through_socat(box, data: bytes, timeout: float = 60) -> subprocess.CompletedProcess:
    """`printf DATA | socat - UNIX-CONNECT:$SOCK`: the input ends, socat shuts down its write side."""
    return subprocess.run([socat(), "-t", SOCAT_WAIT, "-", f"UNIX-CONNECT:{box.address}"], input=data,
                          capture_output=True, timeout=timeout)  # fmt: skip


def test_a_one_shot_socat_pipe_gets_every_reply(served):
    box, serve = served
    data = (b'{"id":1,"op":"enqueue","params":{"type":"demo.sleep","payload":{"seconds":0},"queue":"socat"}}\n'
            b'{"id":2,"op":"hello"}\n')  # fmt: skip
    proc = pipe_through_socat(box, data)
    assert proc.returncode == 0, proc.stderr
    enqueued, hello = (json.loads(line) for line in proc.stdout.splitlines())
    assert enqueued["id"] == 1 and enqueued["ok"] is True and enqueued["result"]["queue"] == "socat"
    assert hello["id"] == 2 and hello["ok"] is True and hello["result"]["pid"] == serve.proc.pid
    with box.client() as client:
        assert client.get(enqueued["result"]["id"])["type"] == "demo.sleep"


def test_socat_with_a_last_line_without_newline(served):
    box, _ = served
    proc = pipe_through_socat(box, b'{"id":"only","op":"stats"}')
    assert proc.returncode == 0, proc.stderr
    (reply,) = (json.loads(line) for line in proc.stdout.splitlines())
    assert reply["id"] == "only" and reply["ok"] is True and "counts" in reply["result"]


SHELL_SCRIPT = r"""
set -euo pipefail
ask() { printf '%s\n' "$1" | socat -t "$SOCAT_WAIT" - UNIX-CONNECT:"$SOCK"; }

reply=$(ask '{"id":1,"op":"enqueue","params":{"type":"demo.sleep","payload":{"seconds":0.3},"queue":"shell"}}')
job=$(printf '%s' "$reply" | sed -n 's/.*"result":{"id":\([0-9]*\).*/\1/p')
[ -n "$job" ] || { echo "enqueue failed: $reply" >&2; exit 1; }
echo "enqueued $job"
polls=0
while :; do
  polls=$((polls + 1))
  state=$(ask "{\"id\":2,\"op\":\"get\",\"params\":{\"id\":$job}}" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p')
  case $state in
    succeeded) echo "job $job succeeded after $polls polls"; exit 0 ;;
    failed|cancelled|interrupted) echo "job $job $state" >&2; exit 1 ;;
    queued|scheduled|running) ;;
    *) echo "unexpected state '$state'" >&2; exit 1 ;;
  esac
  [ "$polls" -lt 600 ] || { echo "gave up after $polls polls" >&2; exit 1; }
  sleep 0.1
done
"""


def test_a_shell_script_enqueues_and_polls_until_the_job_succeeds(served, tmp_path):
    box, _ = served
    socat()
    script = tmp_path / "poll.sh"
    script.write_text(SHELL_SCRIPT)
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120,
                          env={**box.env, "SOCK": box.address, "SOCAT_WAIT": SOCAT_WAIT})  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first, last = proc.stdout.splitlines()
    job_id = int(first.split()[1])
    assert last.startswith(f"job {job_id} succeeded after ")
    with box.client() as client:
        job = client.get(job_id)
    assert (job["state"], job["queue"], job["result"]) == ("succeeded", "shell", {"slept": 0.3})


NODE_SCRIPT = textwrap.dedent(r"""
    // Only node:net: hello, enqueue, then watch that job until its end message.
    const net = require("node:net");
    const sock = net.createConnection(process.env.SOCK);
    let buffer = "";
    const seen = [];
    const send = (msg) => sock.write(JSON.stringify(msg) + "\n");
    const fail = (why) => { console.error(why); process.exit(1); };
    sock.setEncoding("utf8");
    sock.on("error", (err) => fail("socket error: " + err.message));
    sock.on("close", () => fail("the server closed the connection before the watch ended"));
    sock.on("data", (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        if (msg.ok === false) fail(JSON.stringify(msg.error));
        if (msg.id === 1) seen.push({hello: msg.result.protocol});
        else if (msg.id === 2) {
          seen.push({enqueued: msg.result.id});
          send({id: 3, op: "watch", params: {job: msg.result.id}});
        } else if (msg.id === 3 && msg.ok) seen.push({watching: msg.result.watching.job});
        else if (msg.id === 3 && msg.event) seen.push({event: msg.event.kind, state: msg.event.state});
        else if (msg.id === 3 && msg.end) {
          seen.push({end: msg.end.job.state});
          console.log(JSON.stringify(seen));
          sock.removeAllListeners("close");
          sock.end();
        }
      }
    });
    send({id: 1, op: "hello", params: {version: "1.1", client: "node-test"}});
    send({id: 2, op: "enqueue", params: {type: "demo.sleep", payload: {seconds: 0.5}, queue: "node"}});
""")


def test_a_node_script_enqueues_and_watches_until_the_end(served, tmp_path):
    box, _ = served
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node.js client test needs `node` on PATH")
    script = tmp_path / "watch.js"
    script.write_text(NODE_SCRIPT)
    proc = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=120,
                          env={**box.env, "SOCK": box.address})  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    seen = json.loads(proc.stdout)
    assert seen[0] == {"hello": PROTOCOL_VERSION}
    job_id = seen[1]["enqueued"]
    assert seen[2] == {"watching": job_id}
    assert seen[-1] == {"end": "succeeded"}
    events = seen[3:-1]
    assert {"event": "state", "state": "succeeded"} in events
    assert any(e["event"] == "progress" for e in events)
    with box.client() as client:
        assert client.get(job_id)["state"] == "succeeded"
