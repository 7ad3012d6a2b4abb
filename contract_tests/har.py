"""``--record FILE``: every exchange of a run as a HAR 1.2 archive, for a browser's dev tools.

:class:`Archive` is handed to the :class:`~contract_tests.client.Client`, which adds each
POST it sends (with its answer) and each image download; :meth:`Archive.write` saves the
archive (Chrome and Firefox import it in the Network panel, "Import HAR"). The API key
is written as ``$T2I_KEY`` wherever it appears in a request, as in the curl reproducers,
so an archive can be shared. Image bodies are kept base64-encoded, as HAR writes binary
content.
"""
from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    import requests

    from .client import Exchange

__all__ = ["Archive", "KEY_PLACEHOLDER"]

KEY_PLACEHOLDER = "$T2I_KEY"


def _headers(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _content(data: bytes, mime: str) -> dict[str, Any]:
    if mime.startswith(("application/json", "text/")):
        try:
            return {"size": len(data), "mimeType": mime, "text": data.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"size": len(data), "mimeType": mime, "text": base64.b64encode(data).decode("ascii"),
            "encoding": "base64"}


class Archive:
    """The entries of one run (thread-safe: ``--workers`` send from several threads)."""

    def __init__(self, tool: str, key: str | None) -> None:
        self.tool, self.key = tool, key
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def _hide(self, text: str) -> str:
        """A header value with the key in it written as ``$T2I_KEY``."""
        return text.replace(self.key, KEY_PLACEHOLDER) if self.key and len(self.key) >= 4 else text

    def _body(self, data: bytes) -> str:
        """A JSON body with its ``key`` field (the key, or the key and a suffix) written as ``$T2I_KEY``."""
        text = data.decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            return text
        if self.key and isinstance(body, dict) and isinstance(body.get("key"), str) and body["key"].startswith(self.key):
            body["key"] = KEY_PLACEHOLDER + body["key"][len(self.key):]
            return json.dumps(body, ensure_ascii=False)
        return text

    def _add(self, seconds: float, request: dict[str, Any], response: dict[str, Any]) -> None:
        started = datetime.now(timezone.utc) - timedelta(seconds=seconds)
        entry = {"startedDateTime": started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                 "time": round(seconds * 1000, 3), "request": request, "response": response, "cache": {},
                 "timings": {"send": 0, "wait": round(seconds * 1000, 3), "receive": 0}}
        with self._lock:
            self.entries.append(entry)

    def add_exchange(self, exchange: Exchange, data: bytes) -> None:
        """A POST the client sent (``data``, its bytes) and what came back (status 0: no answer)."""
        text = self._body(data)
        headers = {"Content-Type": "application/json"} | {k: self._hide(v) for k, v in exchange.headers.items()}
        request = {"method": exchange.method, "url": exchange.url, "httpVersion": "HTTP/1.1",
                   "headers": _headers(headers), "queryString": [], "cookies": [], "headersSize": -1,
                   "bodySize": len(data), "postData": {"mimeType": "application/json", "text": text}}
        self._add(exchange.elapsed, request, self._response(exchange.status, exchange.content_type,
                                                            exchange.content, exchange.error))

    def add_download(self, url: str, headers: Mapping[str, str], response: requests.Response | None,
                     seconds: float) -> None:
        """An image download (``response`` None: nothing answered)."""
        request = {"method": "GET", "url": url, "httpVersion": "HTTP/1.1",
                   "headers": _headers({k: self._hide(v) for k, v in headers.items()}), "queryString": [],
                   "cookies": [], "headersSize": -1, "bodySize": 0}
        if response is None:
            self._add(seconds, request, self._response(0, "", b"", "no answer"))
        else:
            self._add(seconds, request, self._response(response.status_code,
                                                       response.headers.get("Content-Type", ""), response.content))

    @staticmethod
    def _response(status: int, mime: str, content: bytes, error: str | None = None) -> dict[str, Any]:
        answer = {"status": status, "statusText": "" if status else (error or "no answer"), "httpVersion": "HTTP/1.1",
                  "headers": _headers({"Content-Type": mime} if mime else {}), "cookies": [],
                  "content": _content(content, mime or "application/octet-stream"), "redirectURL": "",
                  "headersSize": -1, "bodySize": len(content)}
        if error:
            answer["_error"] = error
        return answer

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            entries = sorted(self.entries, key=lambda e: e["startedDateTime"])
        return {"log": {"version": "1.2", "creator": {"name": self.tool, "version": "1"}, "entries": entries}}

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
