// Package e2e is the end-to-end tier: it runs the real program
// (cluster.Program) in-process under pulumi.WithMocks with a test-only
// "realizer" mock that makes every registered resource real on the local
// Docker engine — pulumi-tls resources become real keys and certificates
// (crypto/x509), pulumi-random resources real random values (crypto/rand),
// and pulumi-docker networks, volumes, images and containers real Docker
// objects created through the Engine API, in the order the program's
// dependencies give. An input field the realizer does not implement fails the
// run, naming the field.
//
// The tests then check the running cluster: bootstrap (one leader, streaming
// replicas, Consul members, role tags, the ACL job), routing through HAProxy,
// TLS and ACL enforcement, and a stop/start through the program's
// cluster.running switch that keeps the data.
//
// Everything the realizer creates carries the label postgres-ha.e2e=<run id>
// and is removed when the tests end, also on failure and on SIGINT/SIGTERM;
// leftovers of crashed runs are removed at start.
//
// Run it with
//
//	CI=true go test ./tests/e2e -count=1 -v -timeout 30m
//
// It needs the lab images of scripts/lab-images. Without a reachable Docker
// engine the tests skip, except under CI=true where that is a failure; they
// also skip under -short.
package e2e
