# PMM of cluster pgha: read-only, for Consul's metrics and catalog.
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "read"
}
