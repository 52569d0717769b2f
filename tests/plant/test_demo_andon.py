"""The demo's andon: a ladder to the demo's webhook sink, which receives the notices as a chat robot
would (a real process on loopback), each step once."""

from __future__ import annotations

import io
import json
import urllib.request

import pytest
import time_machine
from django.core.management import call_command

from shopfloor.andon.services import AndonRequest, andon_escalate, andon_ladder_put, andon_notices_due, andon_raise
from shopfloor.models import AndonLadder
from simulators.child_process import child_start
from simulators.management.commands.webhook_sink import READY_MARKER


@pytest.mark.django_db
def test_the_demo_has_a_ladder_to_its_webhook_sink():
    call_command("seed_demo", stdout=io.StringIO())
    ladder = AndonLadder.objects.get()
    assert ladder.code == "demo" and [step["after_seconds"] for step in ladder.steps] == [0, 120, 600]
    assert all(step["channel"]["url"].startswith("http://127.0.0.1:8110/") for step in ladder.steps)


@pytest.mark.subprocess
@pytest.mark.django_db
def test_the_webhook_sink_receives_each_step_of_a_call_nobody_answers(plant, tmp_path):
    process, output, ready = child_start(
        arguments=["webhook_sink", "--ledger", str(tmp_path / "ledger.jsonl")], ready_marker=READY_MARKER, name="webhook sink", error=RuntimeError,
    )
    try:
        base = f"http://127.0.0.1:{ready['port']}"
        andon_ladder_put(code="demo", data={"steps": [
            {"after_seconds": 0, "when": "unacknowledged", "channel": {"type": "webhook", "url": f"{base}/line-lead", "secret": "s"}},
            {"after_seconds": 120, "when": "unacknowledged", "channel": {"type": "dingtalk", "url": f"{base}/robot/send?access_token=demo", "secret": "SECdemo"}},
        ]})
        with time_machine.travel("2026-12-07T02:00:00Z", tick=False) as clock:
            call = andon_raise(request=AndonRequest(kind="equipment", severity="high", work_center="WC-CUT", note="spindle alarm")).call
            andon_notices_due()
            clock.shift(121)
            andon_escalate()
            andon_escalate()
        with urllib.request.urlopen(f"{base}/__sim__/received", timeout=5) as answer:
            received = json.load(answer)["received"]
        assert [entry["path"] for entry in received] == ["/line-lead", "/robot/send"]
        assert received[0]["body"]["call"]["id"] == str(call.uuid) and received[0]["headers"]["x-mes-signature"].startswith("sha256=")
        assert "timestamp=" in received[1]["query"] and "sign=" in received[1]["query"] and "WC-CUT" in received[1]["body"]["text"]["content"]
        assert len((tmp_path / "ledger.jsonl").read_text().splitlines()) == 2
    finally:
        process.terminate()
        process.wait(timeout=10)
        output.unlink(missing_ok=True)
