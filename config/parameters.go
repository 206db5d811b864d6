package config

import (
	"strings"
	"unicode"
)

// ParameterOwner names what in postgres-ha owns the PostgreSQL parameter
// name, or "" when a stack may set it. The program's own parameters (the
// dynamic ones the patroni-config job sets and patroni.yml's local ones)
// are all owned; a templates test checks that every one it renders is.
// shared_preload_libraries is not owned: a stack's list extends the
// program's; max_connections is postgres.maxConnections.
func ParameterOwner(name string) string {
	if owner, ok := ownedParameters[name]; ok {
		return owner
	}
	for _, p := range ownedPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.owner
		}
	}
	return ""
}

var ownedParameters = map[string]string{
	// Included files would bypass every check here.
	"include": "config files", "include_dir": "config files", "include_if_exists": "config files",
	// Where PostgreSQL keeps its files: Patroni and the image decide.
	"data_directory": "file locations", "config_file": "file locations", "hba_file": "file locations",
	"ident_file": "file locations", "external_pid_file": "file locations",
	// How clients reach and authenticate to the node.
	"listen_addresses": "listen settings", "port": "listen settings",
	"unix_socket_directories": "listen settings", "unix_socket_group": "listen settings",
	"unix_socket_permissions": "listen settings",
	"password_encryption":     "authentication", "krb_server_keyfile": "authentication",
	"krb_caseins_users": "authentication", "db_user_namespace": "authentication",
	// Replication and recovery: Patroni sets them per role.
	"wal_level": "replication", "hot_standby": "replication", "wal_log_hints": "replication",
	"max_wal_senders": "replication", "max_replication_slots": "replication", "wal_keep_size": "replication",
	"primary_conninfo": "replication", "primary_slot_name": "replication",
	"synchronous_standby_names": "replication (postgres.synchronousMode)",
	"restore_command":           "recovery", "archive_cleanup_command": "recovery",
	"recovery_end_command": "recovery", "promote_trigger_file": "recovery",
	// The cluster's identity is its Patroni scope.
	"cluster_name": "cluster identity (cluster.name)",
}

var ownedPrefixes = []struct{ prefix, owner string }{
	{"ssl", "TLS"},
	{"recovery_target", "recovery"},
}

// singleLine reports whether a parameter value is one line without
// control characters: PostgreSQL refuses a configuration file otherwise.
func singleLine(v string) bool {
	return !strings.ContainsFunc(v, unicode.IsControl)
}
