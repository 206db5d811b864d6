// Package validate is the real-software validation tier: it renders every
// file of several stacks and feeds each one to the program that reads it in
// a container — `haproxy -c`, `patroni --validate-config`, `consul validate`,
// a real PostgreSQL 15 started with the rendered parameters and pg_hba, and
// /bin/sh for the rendered scripts — with a real PKI from tests/internal/realpki.
//
// The rendered files name absolute container paths (/etc/postgres-ha,
// /run/postgres-ha, data directories). The tests rewrite those prefixes to a
// temporary directory before validating; that substitution is test-only and
// is the one change made to a rendered file (see [containerPaths]).
//
// Missing tools are skipped with the install step to run, except under
// CI=true, where they fail the test: this tier must not pass by not running.
package validate
