"""Queues `count` jobs through the API (POST /api/agent-execution/queue) on 8 keep-alive
connections; prints how long it took."""
import http.client
import json
import sys
import threading
import time

host, port, token, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
body = json.dumps({"taskId": 1, "agentId": 1})
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
left = iter(range(count))
lock = threading.Lock()
failures = []


def post_some():
    conn = http.client.HTTPConnection(host, port)
    while True:
        with lock:
            if next(left, None) is None:
                return
        conn.request("POST", "/api/agent-execution/queue", body, headers)
        reply = conn.getresponse()
        reply.read()
        if reply.status != 201:
            failures.append(reply.status)


started = time.monotonic()
threads = [threading.Thread(target=post_some) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    sys.exit(f"{len(failures)} POSTs failed: {failures[:5]}")
print(f"queued {count} jobs in {time.monotonic() - started:.2f}s", file=sys.stderr)
