"""``openai:MODEL``: any OpenAI-compatible chat-completions server, asynchronously.

Requests run with bounded concurrency; a 429, a 5xx, a timeout or a connection error is retried
with exponential backoff (``Retry-After`` honoured); when retries run out the item is a backend
failure, never an answer. Images go as base64 data URLs in the order the question numbers them,
each preceded by its label ("Image 1:"). The API key is read from the environment and is never
logged, recorded or put in an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections.abc import Sequence
from typing import Any

from crossview.errors import require
from crossview.eval.backends import register
from crossview.eval.backends.base import Backend, BackendSettings, ResultCallback
from crossview.eval.items import Prompt, Response

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_S = 60.0


def build_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """The chat-completions ``messages`` of a prompt: labelled images in order, then the text."""
    content: list[dict[str, Any]] = []
    for k, img in enumerate(prompt.images):
        if len(prompt.images) > 1:
            content.append({"type": "text", "text": f"Image {k + 1}:"})
        url = f"data:{img.mime()};base64,{img.as_base64()}"
        content.append({"type": "image_url", "image_url": {"url": url}})
    content.append({"type": "text", "text": prompt.text})
    return [{"role": "user", "content": content}]


def _content_text(data: Any) -> str | None:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(content, list):  # some servers return content parts
        parts = [c.get("text", "") for c in content if isinstance(c, dict)]
        return "".join(parts)
    return content if isinstance(content, str) else None


@register("openai")
class OpenAIBackend(Backend):
    """Chat completions over HTTP with httpx (the ``api`` extra)."""

    def __init__(self, arg: str, settings: BackendSettings) -> None:
        super().__init__(arg, settings)
        self._httpx = require("httpx", "api", "the openai backend")
        if not arg:
            from crossview.errors import BadInputError

            raise BadInputError("give the model name: --model openai:MODEL")
        self.base_url = (
            settings.base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        ).rstrip("/")

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {
            **super().describe(),
            "base_url": self.base_url,
            "concurrency": s.concurrency,
            "timeout_s": s.timeout_s,
            "retries": s.retries,
            "max_tokens": s.max_tokens,
            "api_key_env": s.api_key_env,
            "temperature": 0.0,
        }

    async def run(self, prompts: Sequence[Prompt], on_result: ResultCallback) -> None:
        httpx = self._httpx
        s = self.settings
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(s.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        sem = asyncio.Semaphore(max(1, s.concurrency))
        limits = httpx.Limits(
            max_connections=s.concurrency, max_keepalive_connections=s.concurrency
        )
        async with httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(s.timeout_s), limits=limits
        ) as client:

            async def one(p: Prompt) -> None:
                async with sem:
                    response = await self._request(client, p)
                on_result(p, response)

            await asyncio.gather(*(one(p) for p in prompts))

    def _payload(self, prompt: Prompt) -> bytes:
        body = {
            "model": self.arg,
            "messages": build_messages(prompt),
            "temperature": 0.0,
            "max_tokens": self.settings.max_tokens,
        }
        return json.dumps(body).encode("utf-8")

    async def _request(self, client: Any, prompt: Prompt) -> Response:
        httpx = self._httpx
        s = self.settings
        # Encoding images is the harness's heaviest work per item: keep it off the event loop.
        payload = await asyncio.to_thread(self._payload, prompt)
        url = f"{self.base_url}/chat/completions"
        start = time.perf_counter()
        error = "no attempt made"
        for attempt in range(s.retries + 1):
            delay = s.backoff_s * (2**attempt) * (0.75 + 0.5 * random.random())
            try:
                r = await client.post(url, content=payload)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                error = f"{type(exc).__name__}: connection or timeout error"
            else:
                if r.status_code == 200:
                    try:
                        text = _content_text(r.json())
                    except ValueError:
                        text = None
                    if text is None:
                        return Response(
                            None,
                            "response without message content",
                            attempt + 1,
                            time.perf_counter() - start,
                        )
                    return Response(text, None, attempt + 1, time.perf_counter() - start)
                error = f"HTTP {r.status_code}: {r.text[:200]}"
                if r.status_code not in RETRY_STATUS:
                    return Response(None, error, attempt + 1, time.perf_counter() - start)
                retry_after = r.headers.get("retry-after")
                if retry_after:
                    with contextlib.suppress(ValueError):
                        delay = min(MAX_RETRY_AFTER_S, max(delay, float(retry_after)))
            if attempt < s.retries:
                await asyncio.sleep(delay)
        return Response(
            None,
            f"gave up after {s.retries + 1} attempts: {error}",
            s.retries + 1,
            time.perf_counter() - start,
        )
