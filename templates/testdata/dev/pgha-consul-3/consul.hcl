# Consul server pgha-consul-3 of cluster pgha. Rendered by postgres-ha; do not edit.
node_name            = "pgha-consul-3"
node_id              = "ba92e115-d808-4253-a153-0317bd7371da"
datacenter           = "dc1"
domain               = "consul"
data_dir             = "/var/lib/postgres-ha/consul"
server               = true
bootstrap_expect     = 3
retry_join           = ["pgha-consul-1", "pgha-consul-2", "pgha-consul-3"]
bind_addr            = "0.0.0.0"
client_addr          = "0.0.0.0"
disable_update_check = true
leave_on_terminate   = false
skip_leave_on_interrupt = true
log_level            = "INFO"
encrypt              = "dpVDJdp6TJ0DG4UPKvQY3JjpnCnWn13+gbpLkc+70Eo="
encrypt_verify_incoming = true
encrypt_verify_outgoing = true

ui_config {
  enabled = true
}

ports {
  http     = -1
  https    = 8501
  grpc     = -1
  grpc_tls = 8503
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
    initial_management = "f0090ed5-aeaf-438d-88ea-2dc0742046c7"
    agent              = "48942280-b780-4b09-ac91-be97275a5d12"
  }
}

gossip_lan {
  probe_interval = "500ms"
  probe_timeout  = "250ms"
  suspicion_mult = 3
}

performance {
  raft_multiplier = 1
}

telemetry {
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
