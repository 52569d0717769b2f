"""Where an andon notice goes: a generic JSON webhook, a WeCom (企业微信) group robot, a DingTalk
(钉钉) group robot, or e-mail. Plain data in (the channel's settings, the text, the call as JSON),
nothing or a ``ChannelError`` out; no models. The caller records the attempt and retries.

- ``webhook``: ``POST url`` with ``{"event": "andon", "step", "text", "call": {...}}``; with a
  ``secret``, the header ``X-MES-Signature: sha256=<hex HMAC-SHA256 of the body>``. Any 2xx is taken.
- ``wecom``: the group robot's webhook URL (``…/cgi-bin/webhook/send?key=…``) with
  ``{"msgtype": "text", "text": {"content": text}}``; the answer's ``errcode`` must be 0.
- ``dingtalk``: the robot's URL (``…/robot/send?access_token=…``) with the same text message; with a
  ``secret`` (the robot's "加签"), ``timestamp`` (ms) and ``sign`` = URL-encoded base64 of
  HMAC-SHA256(key=secret, message="<timestamp>\\n<secret>") are added to the URL, as DingTalk
  documents; the answer's ``errcode`` must be 0.
- ``email``: Django's mail backend (``EMAIL_*`` settings) to ``to`` (addresses separated by commas).

The daily report (``report_send``) goes the same ways: a webhook gets ``{"event": "daily_report",
"text", "report": {...}}``, a robot the text with the report's link, an e-mail the PDF attached.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import EmailValidator, URLValidator

TYPES = ("webhook", "wecom", "dingtalk", "email")
TIMEOUT_SECONDS = 5


class ChannelError(Exception):
    """The channel did not take the notice (the text says why, for the notice's record)."""


def channel_problems(channel: Any) -> dict[str, str]:
    """What is wrong with a channel's settings, by field (empty: nothing)."""
    if not isinstance(channel, dict):
        return {"channel": "Must be an object with a type."}
    problems = {}
    kind = channel.get("type")
    if kind not in TYPES:
        return {"type": f"Must be one of {', '.join(TYPES)}."}
    unknown = set(channel) - {"type", "url", "secret", "to"}
    if unknown:
        problems["channel"] = f"Unknown fields: {', '.join(sorted(map(str, unknown)))}."
    if kind == "email":
        addresses = [address.strip() for address in str(channel.get("to") or "").split(",") if address.strip()]
        if not addresses:
            problems["to"] = "An e-mail channel needs the addresses to write to."
        for address in addresses:
            try:
                EmailValidator()(address)
            except ValidationError:
                problems["to"] = f"{address[:80]!r} is not an e-mail address."
    else:
        url = channel.get("url")
        try:
            URLValidator(schemes=["http", "https"])(url if isinstance(url, str) else "")
        except ValidationError:
            problems["url"] = f"A {kind} channel needs an http(s) URL."
    if "secret" in channel and not isinstance(channel["secret"], str):
        problems["secret"] = "Must be text."
    return problems


def channel_send(*, channel: dict[str, Any], subject: str, text: str, call: dict[str, Any], step: int) -> None:
    """Send one notice; raise ``ChannelError`` when the channel did not take it."""
    if channel["type"] == "email":
        _mail(channel, EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL))
        return
    _post(channel, text=text, webhook_body={"event": "andon", "step": step, "text": text, "call": call})


def report_send(
    *, channel: dict[str, Any], subject: str, text: str, summary: dict[str, Any], attachment: tuple[str, bytes, str] | None
) -> None:
    """Send a report: by e-mail with ``attachment`` (name, content, type) attached; to a webhook as
    ``{"event": "daily_report", "text", "report": summary}``; to a chat robot as the text (which
    carries the link). Raise ``ChannelError`` when the channel did not take it."""
    if channel["type"] == "email":
        message = EmailMessage(subject, text, settings.DEFAULT_FROM_EMAIL)
        if attachment is not None:
            message.attach(*attachment)
        _mail(channel, message)
        return
    _post(channel, text=text, webhook_body={"event": "daily_report", "text": text, "report": summary})


def _mail(channel: dict[str, Any], message: EmailMessage) -> None:
    message.to = [address.strip() for address in channel["to"].split(",") if address.strip()]
    try:
        message.send()
    except Exception as error:  # the mail backend's errors are many (SMTP, socket, …)
        raise ChannelError(f"e-mail not sent: {error}"[:500]) from error


def _post(channel: dict[str, Any], *, text: str, webhook_body: dict[str, Any]) -> None:
    kind = channel["type"]
    url = channel["url"]
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if kind == "webhook":
        body = json.dumps(webhook_body, ensure_ascii=False, cls=DjangoJSONEncoder).encode()
        if channel.get("secret"):
            signature = hmac.new(channel["secret"].encode(), body, hashlib.sha256).hexdigest()
            headers["X-MES-Signature"] = f"sha256={signature}"
    else:
        body = json.dumps({"msgtype": "text", "text": {"content": text}}, ensure_ascii=False).encode()
        if kind == "dingtalk" and channel.get("secret"):
            url = dingtalk_signed_url(url=url, secret=channel["secret"], timestamp_ms=int(time.time() * 1000))
    try:
        response = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise ChannelError(f"{kind} not reached: {type(error).__name__}") from error
    if not 200 <= response.status_code < 300:
        raise ChannelError(f"{kind} answered HTTP {response.status_code}: {response.text[:200]}")
    if kind in ("wecom", "dingtalk"):
        try:
            answer = response.json()
        except ValueError:
            raise ChannelError(f"{kind} answered no JSON: {response.text[:200]}") from None
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            errcode = answer.get("errcode") if isinstance(answer, dict) else None
            errmsg = answer.get("errmsg") if isinstance(answer, dict) else None
            raise ChannelError(f"{kind} refused: errcode {errcode}, {errmsg}"[:500])


def dingtalk_signed_url(*, url: str, secret: str, timestamp_ms: int) -> str:
    """DingTalk's signed robot URL: ``&timestamp=<ms>&sign=<urlencoded base64 HMAC-SHA256>``."""
    string_to_sign = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest))
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}timestamp={timestamp_ms}&sign={sign}"
