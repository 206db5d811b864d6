# Consul client agent beside PostgreSQL node pgha-pg-3 of cluster pgha. Rendered by postgres-ha; do not edit.
# It shares the node's network namespace: Patroni reaches it on https://127.0.0.1:8501
# and binds its leader session to this agent's serfHealth check.
node_name            = "pgha-pg-3"
node_id              = "4734207e-c639-48b9-be40-accd55eeb922"
datacenter           = "dc1"
domain               = "consul"
data_dir             = "/var/lib/postgres-ha/consul"
server               = false
retry_join           = ["pgha-consul-1", "pgha-consul-2", "pgha-consul-3"]
bind_addr            = "0.0.0.0"
client_addr          = "127.0.0.1"
disable_update_check = true
leave_on_terminate   = false
skip_leave_on_interrupt = true
log_level            = "INFO"
encrypt              = "dpVDJdp6TJ0DG4UPKvQY3JjpnCnWn13+gbpLkc+70Eo="
encrypt_verify_incoming = true
encrypt_verify_outgoing = true
enable_agent_tls_for_checks = true

ports {
  http     = -1
  https    = 8501
  grpc     = -1
  grpc_tls = -1
  dns      = 8600
}

tls {
  defaults {
    ca_file         = "/etc/postgres-ha/tls/ca.crt"
    cert_file       = "/etc/postgres-ha/tls/consul.crt"
    key_file        = "/etc/postgres-ha/tls/consul.key"
    verify_incoming = true
    verify_outgoing = true
    tls_min_version = "TLSv1_2"
  }
  internal_rpc {
    verify_server_hostname = true
  }
}

acl {
  enabled                  = true
  default_policy           = "deny"
  down_policy              = "extend-cache"
  enable_token_persistence = false
  tokens {
    agent = "59fe2ba2-4fae-4514-8994-89d1098128b6"
  }
}

gossip_lan {
  probe_interval = "500ms"
  probe_timeout  = "250ms"
  suspicion_mult = 3
}

telemetry {
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
