// Package engine is tier 0: the program driven through the real Pulumi
// CLI and engine (the Automation API's local workspace with the program
// inline, so no Go language host is needed) on a local file backend, with
// the repository's own Pulumi.yaml and stack files. The CLI's config
// validation, previews, the engine's ordering, delete-before-replace,
// replaceOnChanges/ignoreChanges and parallelism are the real ones.
//
// Providers: ENGINE_PROVIDERS=test (the default) installs the project's
// test provider plugin (tests/internal/testprovider) as docker 4.11.2,
// tls 5.5.1 and random 4.21.1 in a PULUMI_HOME of its own; it makes every
// resource real on the local Docker engine and follows the real providers'
// replace/update/read-back behaviour property by property.
// ENGINE_PROVIDERS=real uses the plugins installed in PULUMI_HOME (default
// ~/.pulumi) instead, for the hand checks against the real plugins. The
// tier prints which it used.
//
// The CLI is the one scripts/build-pulumi caches under .cache/pulumi/, or
// PULUMI_CLI. Without it, or without a Docker engine, the tests skip,
// except under CI=true where that is a failure; they also skip under
// -short.
//
//	CI=true go test ./tests/engine -count=1 -v -timeout 40m
package engine
