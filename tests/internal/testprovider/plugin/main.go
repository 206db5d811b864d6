// Command plugin is the test provider plugin. One binary serves the docker,
// tls and random packages: the engine starts it as pulumi-resource-<pkg>
// (the name it is installed under), and that name says which.
package main

import (
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/postgres-ha/postgres-ha/tests/internal/testprovider"
)

func main() {
	pkg := testprovider.PackageOf(os.Args[0])
	root, _ := os.Getwd()
	err := provider.Main(pkg, func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return testprovider.NewServer(pkg, root)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
