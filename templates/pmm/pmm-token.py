#!/usr/bin/env python3
"""postgres-ha's PMM job, run by `pulumi up` in a one-shot container.

PMM 3 registers clients with a Grafana service-account token, not the admin
password: this job gets one for the cluster's pmm-clients.

1. Waits until the PMM server answers /v1/server/readyz (HTTPS, verified
   against the cluster CA).
2. Makes sure the admin password is the stack's: it is set at the server's
   first start from the uploaded file (GF_SECURITY_ADMIN_PASSWORD__FILE); a
   server still on Grafana's default admin/admin is changed to it through
   PUT /graph/api/user/password.
3. Keeps one token for the clients in the token volume: a token already
   there that the server still accepts is kept (the clients registered with
   it); otherwise the service account SERVICE_ACCOUNT (role Admin, as PMM's
   client documentation asks) is found or created, a new token is issued and
   written owner-only for the pmm-agent user.

The admin password is read from a root-only file and sent only in the
Authorization header; the token is written only to the volume, never
printed.
"""
import base64
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

DIR = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


class Grafana:
    def __init__(self, settings, tls):
        self.base = "https://%s:%d" % (settings["server"], settings["port"])
        self.tls = tls

    def call(self, method, path, auth, body=None, timeout=10):
        """Returns (status, decoded JSON or text); status 0 when unreachable."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if auth:
            req.add_header("Authorization", auth)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=timeout) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (OSError, ValueError) as e:
            return 0, str(e)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def bearer(token):
    return "Bearer " + token


def wait_ready(g, timeout):
    deadline = time.time() + timeout
    while True:
        status, body = g.call("GET", "/v1/server/readyz", None)
        if status == 200:
            return
        if time.time() > deadline:
            sys.exit("PMM server not ready after %ds: %s %s" % (timeout, status, body))
        time.sleep(2)


def ensure_admin_password(g, password):
    status, _ = g.call("GET", "/graph/api/user", basic("admin", password))
    if status == 200:
        log("admin password is the stack's")
        return
    status, body = g.call("GET", "/graph/api/user", basic("admin", "admin"))
    if status != 200:
        sys.exit("neither the stack's admin password nor Grafana's default is accepted: %s %s" % (status, body))
    status, body = g.call("PUT", "/graph/api/user/password", basic("admin", "admin"),
                          {"oldPassword": "admin", "newPassword": password, "confirmNew": password})
    if status != 200:
        sys.exit("changing the default admin password failed: %s %s" % (status, body))
    log("admin password changed from Grafana's default to the stack's")


def service_account(g, auth, name):
    status, body = g.call("GET", "/graph/api/serviceaccounts/search?query=" + name, auth)
    if status != 200:
        sys.exit("listing service accounts failed: %s %s" % (status, body))
    for sa in body.get("serviceAccounts") or []:
        if sa.get("name") == name:
            return sa["id"]
    status, body = g.call("POST", "/graph/api/serviceaccounts", auth, {"name": name, "role": "Admin"})
    if status not in (200, 201):
        sys.exit("creating service account %s failed: %s %s" % (name, status, body))
    log("created service account %s" % name)
    return body["id"]


def write_token(path, token, uid):
    tmp = path + ".new"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    os.chown(tmp, uid, uid)
    os.rename(tmp, path)


def main():
    with open(os.path.join(DIR, "settings.json")) as f:
        settings = json.load(f)
    with open(os.path.join(DIR, "admin.password")) as f:
        password = f.read().strip()
    tls = ssl.create_default_context(cafile=os.path.join(DIR, "ca.crt"))
    g = Grafana(settings, tls)
    path = settings["tokenFile"]

    wait_ready(g, settings.get("timeoutSeconds", 600))
    log("PMM server ready")
    ensure_admin_password(g, password)

    if os.path.exists(path):
        with open(path) as f:
            token = f.read().strip()
        status, _ = g.call("GET", "/graph/api/org", bearer(token))
        if status == 200:
            log("the clients' token is still valid: kept")
            return
        log("the clients' token is refused (%s): issuing a new one" % status)

    auth = basic("admin", password)
    sa = service_account(g, auth, settings["serviceAccount"])
    name = "%s-%d" % (settings["serviceAccount"], int(time.time()))
    status, body = g.call("POST", "/graph/api/serviceaccounts/%d/tokens" % sa, auth, {"name": name})
    if status != 200 or not body.get("key"):
        sys.exit("creating token %s failed: %s" % (name, status))
    write_token(path, body["key"], settings["tokenUid"])
    log("issued token %s for the clients" % name)


if __name__ == "__main__":
    main()
