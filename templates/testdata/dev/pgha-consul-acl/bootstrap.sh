#!/bin/sh
# One-shot Consul ACL setup for cluster pgha. Rendered by postgres-ha; do not edit.
# Idempotent: policies are created or updated by name, tokens by their fixed
# AccessorID, so rerunning it converges. Secrets are read from files only, never
# from the command line or the environment.
set -eu
ACL="/etc/postgres-ha/acl"
export CONSUL_HTTP_ADDR="https://pgha-consul-1:8501"
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

policy "patroni-pgha" "Patroni DCS keys, sessions and service" "$ACL/policies/patroni-pgha.hcl"
policy "pmm-pgha" "PMM read-only metrics and catalog" "$ACL/policies/pmm-pgha.hcl"

token "c8712cec-07fb-4d43-9e6c-56471e04390d" "$ACL/tokens/agent-pgha-consul-1.json"
token "f958cd85-bf0d-4c70-af51-55d2179794ef" "$ACL/tokens/agent-pgha-consul-2.json"
token "a6b1cbf9-5d82-47b5-a894-23cf78609c58" "$ACL/tokens/agent-pgha-consul-3.json"
token "b3f8a539-8147-4899-b6aa-1ecea5891777" "$ACL/tokens/agent-pgha-pg-1.json"
token "8793beac-b916-4fef-9c9d-26fe15d77701" "$ACL/tokens/patroni-pgha-pg-1.json"
token "4dc7cc33-65f3-48f3-a15e-012ceed19420" "$ACL/tokens/agent-pgha-pg-2.json"
token "099c079b-8c9c-42d7-a92c-e7bc10a563af" "$ACL/tokens/patroni-pgha-pg-2.json"
token "ca3006c8-438f-43fa-addb-aa34e01410e0" "$ACL/tokens/agent-pgha-pg-3.json"
token "110d0a67-3afc-48f5-bcb8-947b3ae6ad80" "$ACL/tokens/patroni-pgha-pg-3.json"
token "b886fa08-3a32-4c7c-8ecc-d4b869a42ec3" "$ACL/tokens/pmm.json"

echo "acl: done"
