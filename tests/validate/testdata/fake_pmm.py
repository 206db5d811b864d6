#!/usr/bin/env python3
"""A stand-in for the parts of PMM 3's server the PMM job calls (PMM's
images cannot be pulled here): /v1/server/readyz and Grafana's user,
service-account and token API, over HTTPS with the stack's PMM certificate.

Usage: fake_pmm.py PORT CERT KEY STATE
STATE is a JSON file holding the server's state across runs:
  {"password": "...", "accounts": {"name": id}, "tokens": {"key": account id},
   "notReady": N, "log": [...]}
readyz answers 503 while notReady > 0 (counting down), then 200.
"""
import base64
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, CERT, KEY, STATE = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


def load():
    with open(STATE) as f:
        return json.load(f)


def save(s):
    with open(STATE, "w") as f:
        json.dump(s, f)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body):
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def auth(self, s):
        """'admin' for the admin password, 'token' for a known token, else None."""
        h = self.headers.get("Authorization", "")
        if h.startswith("Basic "):
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
            return "admin" if user == "admin" and pw == s["password"] else None
        if h.startswith("Bearer "):
            return "token" if h[7:] in s["tokens"] else None
        return None

    def handle_one(self, method):
        s = load()
        n = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(n)) if n else None
        s["log"].append("%s %s" % (method, self.path))
        path = self.path
        who = self.auth(s)
        try:
            if path == "/v1/server/readyz":
                if s["notReady"] > 0:
                    s["notReady"] -= 1
                    return self.reply(503, {"error": "starting"})
                return self.reply(200, {})
            if path == "/graph/api/user" and method == "GET":
                return self.reply(200, {"login": "admin"}) if who == "admin" else self.reply(401, {})
            if path == "/graph/api/user/password" and method == "PUT":
                if who != "admin" or body.get("oldPassword") != s["password"] or body["newPassword"] != body["confirmNew"]:
                    return self.reply(401, {})
                s["password"] = body["newPassword"]
                return self.reply(200, {"message": "User password changed"})
            if path == "/graph/api/org" and method == "GET":
                return self.reply(200, {"id": 1}) if who == "token" else self.reply(401, {})
            if who != "admin":
                return self.reply(401, {})
            if path.startswith("/graph/api/serviceaccounts/search") and method == "GET":
                q = path.partition("query=")[2]
                return self.reply(200, {"serviceAccounts": [{"id": i, "name": n} for n, i in s["accounts"].items() if q in n]})
            if path == "/graph/api/serviceaccounts" and method == "POST":
                if body.get("role") != "Admin":
                    return self.reply(400, {"message": "role"})
                i = len(s["accounts"]) + 1
                s["accounts"][body["name"]] = i
                return self.reply(201, {"id": i, "name": body["name"]})
            if path.startswith("/graph/api/serviceaccounts/") and path.endswith("/tokens") and method == "POST":
                i = int(path.split("/")[4])
                key = "glsa_fake_%d_%d" % (i, len(s["log"]))
                s["tokens"][key] = i
                return self.reply(200, {"id": len(s["tokens"]), "name": body["name"], "key": key})
            return self.reply(404, {})
        finally:
            save(s)

    def do_GET(self):
        self.handle_one("GET")

    def do_POST(self):
        self.handle_one("POST")

    def do_PUT(self):
        self.handle_one("PUT")


srv = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
