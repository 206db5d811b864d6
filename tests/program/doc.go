// Package program tests the postgres-ha Pulumi program (cluster.Program) under
// the SDK's mocks: what it registers, with which inputs, parents and
// dependencies, which values are secrets, and what it exports. Nothing here
// needs Docker or a network; the mocks stand in for the docker, tls and random
// providers with deterministic outputs derived from each resource's name.
package program
