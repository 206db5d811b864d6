# Patroni of cluster pgha: its DCS keys, sessions on its own agents' nodes,
# and the service it registers. No node, ACL or operator rights.
key_prefix "service/pgha/" {
  policy = "write"
}
session_prefix "pgha-pg-" {
  policy = "write"
}
service "pgha" {
  policy = "write"
}
