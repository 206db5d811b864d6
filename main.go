// Command postgres-ha is the Pulumi program that deploys a PostgreSQL HA
// cluster (Patroni, Consul, HAProxy, PMM, mutual TLS) on Docker.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/postgres-ha/postgres-ha/cluster"
)

func main() {
	pulumi.Run(cluster.Program)
}
