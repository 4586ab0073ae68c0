"""SMS through an HTTP gateway: the operator's JSON template (``DMP_SMS_TEMPLATE``) filled with the
number, the text and the message's reference, posted with a bearer token or basic authentication,
with timeouts. Only a 2xx answer is a delivery.

A failure before the request was written whole (no connection, a refused certificate) is
``DeliveryFailed``; once it was, a missing answer is ``DeliveryUncertain``: the gateway may have
taken the SMS (the reference lets a gateway that supports it discard a duplicate).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from dmp.adapters.notify.base import SMS, DeliveryFailed, DeliveryUncertain, Message
from dmp.settings import SmsSettings

_PLACEHOLDER = re.compile(r"\{(number|text|reference)\}")
# Raised before the gateway can have read the whole request.
_NOT_SENT: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
    httpx.LocalProtocolError,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
)


class SmsGateway:
    channels = frozenset({SMS})

    def __init__(self, settings: SmsSettings, timeout: float) -> None:
        self.settings, self.timeout = settings, timeout

    def send(self, message: Message) -> None:
        values = {"number": message.address, "text": message.body, "reference": message.reference}
        body = render(self.settings.template, values)
        try:
            # trust_env off: the settings are the whole configuration (no proxy from the
            # environment).
            with httpx.Client(timeout=self.timeout, auth=self._auth(), trust_env=False) as client:
                response = client.post(self.settings.url, content=body, headers=self._headers())
        except _NOT_SENT as error:
            reason = f"passerelle SMS injoignable ({type(error).__name__})"
            raise DeliveryFailed(reason) from None
        except httpx.HTTPError as error:
            reason = f"aucune réponse de la passerelle SMS ({type(error).__name__})"
            raise DeliveryUncertain(reason) from None
        if not response.is_success:
            raise DeliveryFailed(f"réponse HTTP {response.status_code} de la passerelle SMS")

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        return headers

    def _auth(self) -> httpx.BasicAuth | None:
        s = self.settings
        return httpx.BasicAuth(s.username, s.password) if s.username and s.password else None


def render(template: str, values: dict[str, str]) -> bytes:
    """The template's JSON with each placeholder of its strings replaced, in one pass (a text
    containing ``{reference}`` stays as it is), and re-encoded: a quote or a newline in the
    text cannot break the JSON."""

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], node)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        return node

    return json.dumps(fill(json.loads(template)), ensure_ascii=False).encode("utf-8")
