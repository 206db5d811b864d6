#!/bin/sh
# One-shot Consul ACL setup for cluster orders. Rendered by postgres-ha; do not edit.
# Idempotent: policies are created or updated by name, tokens by their fixed
# AccessorID, so rerunning it converges. Secrets are read from files only, never
# from the command line or the environment.
set -eu
ACL="/etc/postgres-ha/acl"
export CONSUL_HTTP_ADDR="https://orders-consul-1:8501"
export CONSUL_CACERT="/etc/postgres-ha/tls/ca.crt"
export CONSUL_CLIENT_CERT="/etc/postgres-ha/tls/consul.crt"
export CONSUL_CLIENT_KEY="/etc/postgres-ha/tls/consul.key"
export CONSUL_HTTP_TOKEN_FILE="$ACL/management.token"

api() {
  curl -sS --fail --cacert "$CONSUL_CACERT" --cert "$CONSUL_CLIENT_CERT" --key "$CONSUL_CLIENT_KEY" \
    -H "@$ACL/management.header" "$@"
}

deadline=$(( $(date +%s) + 300 ))
wait_for() {
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "acl: gave up after 300s waiting for: $*" >&2
      exit 1
    fi
    sleep 1
  done
}

has_leader() {
  leader=$(api "$CONSUL_HTTP_ADDR/v1/status/leader") && [ -n "$leader" ] && [ "$leader" != '""' ]
}

echo "acl: waiting for a Consul leader at $CONSUL_HTTP_ADDR"
wait_for has_leader
echo "acl: waiting for the management token to be accepted"
wait_for consul acl token read -self

policy() { # name description rules-file
  id=$(consul acl policy read -name "$1" -format json 2>/dev/null | sed -n 's/^ *"ID": "\([^"]*\)".*/\1/p' | head -n 1)
  if [ -n "$id" ]; then
    consul acl policy update -id "$id" -name "$1" -description "$2" -rules "@$3" -no-merge >/dev/null
    echo "acl: policy $1 updated"
  else
    consul acl policy create -name "$1" -description "$2" -rules "@$3" >/dev/null
    echo "acl: policy $1 created"
  fi
}

token() { # accessor-id description-file
  if api -o /dev/null -X PUT --data "@$2" "$CONSUL_HTTP_ADDR/v1/acl/token/$1" 2>/dev/null; then
    echo "acl: token $1 updated"
  else
    api -o /dev/null -X PUT --data "@$2" "$CONSUL_HTTP_ADDR/v1/acl/token"
    echo "acl: token $1 created"
  fi
}

policy "patroni-orders" "Patroni DCS keys, sessions and service" "$ACL/policies/patroni-orders.hcl"

token "c6d9a90c-502e-4c60-86b8-799f20759e09" "$ACL/tokens/agent-orders-consul-1.json"
token "0acfbca1-8994-49e7-9686-0e8097813297" "$ACL/tokens/agent-orders-consul-2.json"
token "e6eaf01f-8d8d-4d35-9b7e-6608d99e4ea1" "$ACL/tokens/agent-orders-consul-3.json"
token "07bcb1df-2087-4903-8adb-5e63e9429311" "$ACL/tokens/agent-orders-consul-4.json"
token "b20755bc-e3dc-4bc8-a15f-7417b51da5ea" "$ACL/tokens/agent-orders-consul-5.json"
token "65fdbcd7-2aca-4a35-9f48-e42a9fc65b79" "$ACL/tokens/agent-orders-pg-1.json"
token "11fb3891-489a-40ed-87e8-cc2d01accf65" "$ACL/tokens/patroni-orders-pg-1.json"
token "1b6d7e69-c0ab-4ad4-ad06-0e494ad5fe47" "$ACL/tokens/agent-orders-pg-2.json"
token "b63ddb05-d900-4178-a704-3f136c8c617b" "$ACL/tokens/patroni-orders-pg-2.json"
token "7e42293f-8286-4ad7-aba8-2ae279de8299" "$ACL/tokens/agent-orders-pg-3.json"
token "b0b173bf-5803-463d-9ca9-793a2420d60f" "$ACL/tokens/patroni-orders-pg-3.json"
token "6f4213cc-bd26-4be2-9adb-56cf61b41e2f" "$ACL/tokens/agent-orders-pg-4.json"
token "e18010fa-938a-4c9d-8cca-6f22778ce8b5" "$ACL/tokens/patroni-orders-pg-4.json"
token "31a8a143-250c-43eb-85dd-cacbd87e5747" "$ACL/tokens/agent-orders-pg-5.json"
token "8c8e9fff-9c81-4f2e-aab2-e9c182492e9e" "$ACL/tokens/patroni-orders-pg-5.json"

echo "acl: done"
