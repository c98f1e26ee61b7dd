// Package eventbridge is the local stand-in for Amazon EventBridge used by
// crossbuild's demo and end-to-end tests; no Lambda function imports it.
//
// It keeps event buses (each account and Region has its implicit "default"
// bus), their resource policies, rules with their event patterns and targets,
// and archives. Events enter through PutEvents (the Go API or the JSON 1.1
// wire protocol behind localaws.Router) or PublishDefault (what an AWS
// service stand-in calls to emit its events on an account's default bus).
// Every enabled rule whose pattern matches the event delivers it to each of
// its targets independently and asynchronously:
//
//   - Lambda function targets through a LambdaInvoker, with the target's
//     retry policy (attempts and maximum event age) and dead-letter queue;
//   - event bus targets, in the same or another account and Region. A bus in
//     another account admits the event only when its resource policy allows
//     events:PutEvents for the sending principal (the rule's account, or the
//     target's role), evaluated by a PolicyEvaluator.
//
// As in EventBridge, an event that reached a bus through a bus target is not
// forwarded to a further bus (THIRD_ACCOUNT_HOP_DETECTED or
// THIRD_REGION_HOP_DETECTED), permission errors and missing resources go to
// the dead-letter queue without retries, and events that exhaust their
// retries without a dead-letter queue are dropped (and logged). Delivery is
// at least once and unordered.
package eventbridge
