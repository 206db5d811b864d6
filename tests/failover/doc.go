// Package failover is the failover suite of postgres-ha: a library that
// injects faults into a deployed cluster and measures what clients see, and
// a runner (TestFailoverLive) that uses it against a live stack.
//
// It works on a Target: the program's stack outputs (LoadOutputs reads the
// JSON of `pulumi stack output --json --show-secrets`; FromExports takes the
// same values as a map, as the e2e harness captures them). Faults is the
// Docker control surface (kill, stop, start, pause, exec, partition); Docker
// implements it with the Engine API.
//
// While a fault runs, a Writer inserts numbered rows through the write
// endpoint (one short transaction each) and records every acknowledged
// commit and every failed attempt; a WriterWatch polls every node's Patroni
// REST API (GET /primary, through `docker exec`) for split brain, and checks
// through the write endpoint that it always reaches a primary. After the
// fault, every acknowledged row must be on the new leader, and the cluster
// must come back to full strength: one leader and N-1 streaming replicas, a
// synchronous standby in synchronous mode, and no member still holding a
// failsafe record (either would slow the next failover).
//
// Scenarios (NodeLoss, PostgresCrash, Switchover, Partition,
// ConsulServerLoss, ConsulLeaderLoss, AgentBlip, AgentLost,
// AgentLostFailsafeOff, ConsulDown) each return a Result; Report formats
// results over rounds as a Markdown table. Throughput compares pgbench
// through HAProxy with pgbench direct to the leader.
//
// Traffic goes only to the published ports on 127.0.0.1 and, through
// `docker exec`, to the cluster's own containers.
//
// From the e2e harness, with its captured exports and Docker client:
//
//	tg, err := failover.FromExports(h.exports)
//	f := failover.NewDockerFromClient(h.cli)
//	for _, sc := range failover.Scenarios() {
//		res, err := sc.Run(ctx, tg, f, failover.Options{Logf: logf})
//		// err: the scenario could not run to its end
//		for _, p := range failover.Check(sc, res, true) { t.Error(p) }
//	}
//	logf("\n%s", failover.Report(results))
//
// Run against a live stack with
//
//	pulumi stack output --json --show-secrets > outputs.json
//	FAILOVER_OUTPUTS=outputs.json go test ./tests/failover -run Live -v -timeout 60m
package failover
