# Consul client agent beside PostgreSQL node orders-pg-5 of cluster orders. Rendered by postgres-ha; do not edit.
# It shares the node's network namespace: Patroni reaches it on https://127.0.0.1:8501
# and binds its leader session to this agent's serfHealth check.
node_name            = "orders-pg-5"
node_id              = "71d98c3d-a204-4598-9c21-b67a4740f911"
datacenter           = "eu1"
domain               = "consul"
data_dir             = "/var/lib/postgres-ha/consul"
server               = false
retry_join           = ["orders-consul-1", "orders-consul-2", "orders-consul-3", "orders-consul-4", "orders-consul-5"]
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
    agent = "86c78b30-5f6c-4ac8-b04e-18330a08dc1d"
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
