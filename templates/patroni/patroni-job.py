#!/usr/bin/env python3
"""postgres-ha's Patroni jobs, run by `pulumi up` in one-shot containers.

apply-config   Bring Patroni's dynamic configuration to settings.json's
               "config" with PATCH /config (keys set to null are removed),
               then restart the members PostgreSQL marks pending_restart:
               replicas first, one at a time, each streaming again before the
               next; the leader last, by a switchover to a standby that no
               longer needs a restart (one short write gap), or in place when
               none can take over (a lowered value such as max_connections,
               which replicas keep at the primary's value until it restarts).
hand-over NODE Run before NODE's containers are replaced: if NODE leads, switch
               over to a healthy synchronous standby (any healthy replica when
               synchronous mode is off) and wait until it leads, so the
               replacement costs one switchover instead of a failover.

Every call is HTTPS with the job's client certificate (Patroni's REST API
requires one); changes authenticate with the REST password read from a
root-only file, never from the command line or the environment.
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
PORT = 8008
HEALTHY = ("running", "streaming")
LEADER = ("leader", "primary")


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def load():
    with open(os.path.join(DIR, "settings.json")) as f:
        settings = json.load(f)
    with open(os.path.join(DIR, "rest.password")) as f:
        password = f.read().strip()
    tls = ssl.create_default_context(cafile=os.path.join(DIR, "ca.crt"))
    tls.load_cert_chain(os.path.join(DIR, "client.crt"), os.path.join(DIR, "client.key"))
    return settings, password, tls


class Patroni:
    def __init__(self, settings, password, tls):
        self.settings = settings
        self.tls = tls
        self.auth = "Basic " + base64.b64encode(("patroni:" + password).encode()).decode()
        self.timeout = settings.get("timeoutSeconds", 300)

    def call(self, node, method, path, body=None, timeout=10):
        """Returns (status, decoded JSON or text); status 0 when unreachable."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request("https://%s:%d%s" % (node, PORT, path), data=data, method=method)
        if method != "GET":
            req.add_header("Authorization", self.auth)
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

    def wait(self, what, check, interval=1):
        """Polls check() until it reports ok, or fails after timeoutSeconds."""
        deadline = time.time() + self.timeout
        while True:
            ok, last = check()
            if ok:
                return last
            if time.time() > deadline:
                sys.exit("timed out waiting for %s: %s" % (what, last))
            time.sleep(interval)

    def cluster(self, nodes):
        """GET /cluster from the first node that answers, or None."""
        for n in nodes:
            status, body = self.call(n, "GET", "/cluster")
            if status == 200 and isinstance(body, dict):
                return body
        return None

    def full_strength(self, nodes):
        """(True, cluster) when one leader runs and every other node streams."""
        c = self.cluster(nodes)
        if c is None:
            return False, "no member answers GET /cluster"
        members = {m["name"]: m for m in c.get("members", [])}
        leaders = [n for n, m in members.items() if m.get("role") in LEADER and m.get("state") in HEALTHY]
        if len(leaders) != 1:
            return False, "leaders: %s" % leaders
        for n in nodes:
            m = members.get(n)
            if m is None or m.get("state") not in HEALTHY:
                return False, "%s is %s" % (n, m and m.get("state"))
            if n != leaders[0]:
                status, _ = self.call(n, "GET", "/replica?lag=16MB")
                if status != 200:
                    return False, "%s is not a streaming replica (GET /replica?lag=16MB: %s)" % (n, status)
        return True, c

    def leader(self, c):
        for m in c.get("members", []):
            if m.get("role") in LEADER:
                return m["name"]
        return None

    def switchover(self, nodes, leader, candidate):
        log("switchover %s -> %s" % (leader, candidate))
        status, body = self.call(leader, "POST", "/switchover", {"leader": leader, "candidate": candidate}, timeout=60)
        if status != 200:
            sys.exit("switchover %s -> %s failed: %s %s" % (leader, candidate, status, body))
        self.wait("%s to lead" % candidate,
                  lambda: (lambda c: (c is not None and self.leader(c) == candidate, c))(self.cluster(nodes)))


def same(current, desired):
    """Patroni keeps what it was given; compare as PostgreSQL would read it."""
    def norm(v):
        if isinstance(v, bool):
            return "on" if v else "off"
        return str(v)
    return norm(current) == norm(desired)


def patch_for(current, desired):
    """The smallest PATCH /config body taking current to desired."""
    patch = {}
    for k, v in desired.items():
        if k == "postgresql":
            continue
        if k not in current or current[k] != v:
            patch[k] = v
    pg_cur = current.get("postgresql") or {}
    pg = {}
    for k in ("use_pg_rewind", "use_slots"):
        if pg_cur.get(k) != desired["postgresql"][k]:
            pg[k] = desired["postgresql"][k]
    params_cur = pg_cur.get("parameters") or {}
    params = {}
    for k, v in desired["postgresql"]["parameters"].items():
        if k not in params_cur or not same(params_cur[k], v):
            params[k] = v
    for k in params_cur:
        if k not in desired["postgresql"]["parameters"]:
            params[k] = None
    if params:
        pg["parameters"] = params
    if pg:
        patch["postgresql"] = pg
    return patch


def apply_config(p):
    nodes = p.settings["nodes"]
    desired = p.settings["config"]
    c = p.wait("the cluster at full strength", lambda: p.full_strength(nodes))
    leader = p.leader(c)
    status, current = p.call(leader, "GET", "/config")
    if status != 200 or not isinstance(current, dict):
        sys.exit("GET /config on %s: %s %s" % (leader, status, current))
    patch = patch_for(current, desired)
    if patch:
        log("PATCH /config " + json.dumps(patch, sort_keys=True))
        status, body = p.call(leader, "PATCH", "/config", patch)
        if status != 200:
            sys.exit("PATCH /config on %s: %s %s" % (leader, status, body))
        # Every member reads the new configuration on its next cycle and
        # only then knows whether PostgreSQL needs a restart.
        time.sleep(2 * desired["loop_wait"] + 2)
    else:
        log("the dynamic configuration is already as set")
    roll(p, nodes, desired["loop_wait"])


def roll(p, nodes, loop_wait):
    for _ in range(4):
        c = p.wait("the cluster at full strength", lambda: p.full_strength(nodes))
        leader = p.leader(c)
        pending = [m["name"] for m in c["members"] if m.get("pending_restart")]
        if not pending:
            log("no member needs a restart")
            return
        for n in pending:
            if n == leader:
                continue
            log("restart %s (pending restart)" % n)
            status, body = p.call(n, "POST", "/restart", {}, timeout=p.timeout)
            if status != 200:
                sys.exit("restart of %s failed: %s %s" % (n, status, body))
            p.wait("the cluster at full strength after restarting " + n, lambda: p.full_strength(nodes))
        if leader in pending:
            time.sleep(2 * loop_wait + 2)
            c = p.wait("the cluster at full strength", lambda: p.full_strength(nodes))
            candidates = standbys(c, leader, desired_sync(p), lambda m: not m.get("pending_restart"))
            if candidates:
                p.switchover(nodes, leader, candidates[0])
            else:
                log("restart %s in place (no standby can take over)" % leader)
                status, body = p.call(leader, "POST", "/restart", {}, timeout=p.timeout)
                if status != 200:
                    sys.exit("restart of %s failed: %s %s" % (leader, status, body))
        time.sleep(2 * loop_wait + 2)
    c = p.wait("the cluster at full strength", lambda: p.full_strength(nodes))
    pending = [m["name"] for m in c["members"] if m.get("pending_restart")]
    if pending:
        sys.exit("still pending a restart after 4 rounds: %s" % pending)


def desired_sync(p):
    return bool(p.settings["config"]["synchronous_mode"])


SYNC_ROLES = ("sync_standby", "quorum_standby")


def standbys(c, leader, sync_mode, ok=lambda m: True):
    """The members a switchover from leader may go to, best first: healthy
    synchronous (or, in quorum mode, quorum) standbys; plain replicas too
    only when commits do not wait for a standby (a replica outside the
    synchronous set may lack acknowledged commits)."""
    healthy = [m for m in c["members"] if m["name"] != leader and m.get("state") in HEALTHY
               and m.get("role") in SYNC_ROLES + ("replica",) and ok(m)]
    candidates = [m["name"] for m in healthy if m.get("role") in SYNC_ROLES]
    if not sync_mode:
        candidates += [m["name"] for m in healthy if m.get("role") == "replica"]
    return candidates


def hand_over(p, node):
    c = p.cluster([node])
    if c is None or p.leader(c) != node:
        log("%s does not lead: nothing to hand over" % node)
        return
    status, cfg = p.call(node, "GET", "/config")
    sync_mode = status == 200 and isinstance(cfg, dict) and bool(cfg.get("synchronous_mode"))
    candidates = standbys(c, node, sync_mode)
    if not candidates:
        log("%s leads and no standby can take over: its replacement will cost a failover" % node)
        return
    p.switchover([node] + candidates, node, candidates[0])


def main():
    settings, password, tls = load()
    p = Patroni(settings, password, tls)
    if sys.argv[1:2] == ["apply-config"]:
        apply_config(p)
    elif sys.argv[1:2] == ["hand-over"] and len(sys.argv) == 3:
        hand_over(p, sys.argv[2])
    else:
        sys.exit("usage: patroni-job.py apply-config | hand-over NODE")


if __name__ == "__main__":
    main()
