// Package e2e holds the end-to-end scenarios of the local runtime: each test deploys the
// synthesized app (cdk.out) into a local world, runs the real state machine with the real
// Lambda binaries, and asserts the execution's output or cause, how each target completed,
// the Map Run and its child executions (one per target), their histories and the results
// the Map Run wrote to S3, as an operator would read them through the AWS SDK.
//
// The scenarios need what `make test` prepares: host builds of the functions, the
// synthesized assembly and the npm tools (CROSSBUILD_LOCAL_FUNCTIONS, CROSSBUILD_ASSEMBLY,
// CROSSBUILD_NPM_BIN; unset, dist/local, cdk.out and tools/npm of the module). A missing
// one fails every scenario with a line naming it and the make target that provides it.
// Each world logs to its test's artifact folder; `go test -artifacts` keeps the logs.
package e2e
