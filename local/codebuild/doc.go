// Package codebuild is crossbuild's local stand-in for AWS CodeBuild.
//
// It serves the CodeBuild JSON 1.1 API (StartBuild, BatchGetBuilds, StopBuild,
// BatchGetProjects) to real SDK clients, scoped by the caller's account and Region as
// localaws resolves them, and really runs each build: the buildspec's install, pre_build,
// build and post_build commands are executed with the host's shell in a fresh temporary
// directory, with the environment CodeBuild would give them and none of the host's.
// Every build walks CodeBuild's phases and publishes "CodeBuild Build State Change" and
// "CodeBuild Build Phase Change" events, shaped as AWS shapes them, to its account's and
// Region's default event bus through a Publisher.
//
// A build whose buildspec runs nothing (no commands, or only `true` and `:`) walks the
// same phases and sends the same events without a folder, a log or a process, so that
// thousands of builds cost little more than their events. Options can set CodeBuild's
// concurrent-build quota: builds beyond it wait in QUEUED, and beyond the queue StartBuild
// fails with AccountLimitExceededException, as CodeBuild does.
//
// A build is not isolated the way a CodeBuild container is: its commands run as the user
// running the stand-in, on the host's file system and network. It is meant for the local
// demo and tests, on buildspecs one trusts.
package codebuild
