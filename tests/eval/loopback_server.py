"""A scripted OpenAI-compatible chat-completions server on loopback, for tests only.

It binds 127.0.0.1 on a free port, answers at most ``max_requests`` requests, and shuts down
when the test ends. A script maps a substring of the prompt text to a list of actions used in
turn (the last repeats): ``"ok:TEXT"``, ``"slow:SECONDS:TEXT"``, ``"429"``, ``"500"``,
``"nocontent"``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedServer:
    def __init__(self, script: dict[str, list[str]], max_requests: int = 500) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.max_requests = max_requests
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    over = len(server.requests) > server.max_requests
                    action = "500" if over else server._next_action(body)
                try:
                    server._respond(self, action, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _next_action(self, body: dict[str, Any]) -> str:
        text = body["messages"][-1]["content"][-1]["text"]
        for key, actions in self.script.items():
            if key in text:
                return actions.pop(0) if len(actions) > 1 else actions[0]
        return "ok:I cannot determine."

    def _respond(self, h: BaseHTTPRequestHandler, action: str, body: dict[str, Any]) -> None:
        if action.startswith("slow:"):
            _, secs, text = action.split(":", 2)
            time.sleep(float(secs))
            action = "ok:" + text
        if action in ("429", "500"):
            payload = json.dumps({"error": {"message": "try later"}}).encode()
            h.send_response(int(action))
            if action == "429":
                h.send_header("Retry-After", "0")
        else:
            message: dict[str, Any] = {"role": "assistant"}
            message["content"] = None if action == "nocontent" else action[3:]
            payload = json.dumps(
                {
                    "id": "x",
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }
            ).encode()
            h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
