# postgres-ha: deploy with `make up`, test with `make test`.
STACK ?= dev

.PHONY: up preview stop start destroy deps test engine e2e lab lab-down test-failover bench-haproxy stack-outputs bench

## Deploy the stack with pulumi up on a local file backend.
up:
	scripts/deploy $(STACK)

## Show what would change.
preview:
	scripts/deploy $(STACK) preview

## Stop every container and keep the data (the old `make stop`).
stop:
	scripts/deploy $(STACK) stop

## Start it again with the same data.
start:
	scripts/deploy $(STACK) start

## Remove everything, data included (the old `make destroy`).
destroy:
	scripts/deploy $(STACK) destroy

## Everything the test tiers need: Debian packages, Consul v1.16.1, the
## Pulumi CLI at the SDK's version, lab images.
deps:
	scripts/install-deps
	scripts/build-consul
	scripts/build-pulumi
	scripts/lab-images

## The whole test suite, as CI runs it.
test: deps
	go vet ./...
	go test -p 1 -count=1 -timeout 45m ./...

## The real-engine tier: the program through the Pulumi CLI with the test
## provider plugin (ENGINE_PROVIDERS=real: the installed real plugins).
engine: deps
	go test -count=1 -timeout 40m -v ./tests/engine

## The end-to-end lab: deploy the lab stack on the local Docker engine and test it.
e2e: deps
	go test -count=1 -timeout 30m -v ./tests/e2e

## The lab: the same program deployed onto the local Docker engine without
## Pulumi's provider plugins (the e2e harness), left running. Its outputs,
## secrets included, go to .cache/lab-outputs.json.
lab: deps
	E2E_LAB=1 go test -count=1 -timeout 15m -v -run '^TestLab$$' ./tests/e2e

## Remove the lab, data included.
lab-down:
	E2E_LAB=down go test -count=1 -timeout 5m -v -run '^TestLab$$' ./tests/e2e

## The failover suite against the live stack (it kills, stops and partitions
## its containers). OUTPUTS=.cache/lab-outputs.json runs it against the lab.
OUTPUTS ?=
test-failover: stack-outputs
	FAILOVER_OUTPUTS=.cache/outputs.json go test -count=1 ./tests/failover -run '^TestFailoverLive$$' -v -timeout 60m

## What HAProxy costs on the live stack: pgbench through :5000 against
## direct to the leader, at 4 and 16 clients (FAILOVER_PGBENCH_CLIENTS).
bench-haproxy: stack-outputs
	FAILOVER_OUTPUTS=.cache/outputs.json go test -count=1 ./tests/failover -run '^TestThroughputStack$$' -v -timeout 30m

# The stack's outputs, secrets included, for the two targets above.
stack-outputs:
	mkdir -p .cache
	if [ -n "$(OUTPUTS)" ]; then cp "$(OUTPUTS)" .cache/outputs.json; else \
	  scripts/deploy $(STACK) outputs .cache/outputs.json; fi

## Failover timings on the e2e lab: 10 rounds of node-loss and 3 of every
## other scenario (E2E_BENCH_NODELOSS, E2E_BENCH_ROUNDS override), written to BENCHMARKS.md.
bench: deps
	E2E_BENCH=1 go test -count=1 -timeout 180m -v -run 'TestFailover' ./tests/e2e
