# Patroni of cluster orders: its DCS keys, sessions on its own agents' nodes,
# and the service it registers. No node, ACL or operator rights.
key_prefix "service/orders/" {
  policy = "write"
}
session_prefix "orders-pg-" {
  policy = "write"
}
service "orders" {
  policy = "write"
}
