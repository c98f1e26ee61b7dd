// Package iam parses IAM policy documents and decides requests against them the way AWS
// does: role trust policies (STS), resource-based policies such as an event bus's, and
// identity-based policies. The local stand-ins decide requests with it, and `crossbuild
// doctor` uses the same evaluator to check a deployment's trust and bus policies.
//
// Documents are read as CloudFormation templates carry them after intrinsic functions are
// resolved: plain JSON, Statement an object or a list, element values a string or a list.
// Parse rejects anything it cannot evaluate exactly (an unknown condition operator, a
// misspelt element, a malformed value) with an error naming the field, so a policy is never
// silently read as broader than it is.
//
// Evaluation follows the IAM policy evaluation logic for a single policy: a statement
// applies when its principal (resource-based policies only), action, resource and every
// condition match; an applicable Deny wins over any Allow; with no applicable statement the
// request is implicitly denied. Condition semantics follow the IAM "Condition element"
// reference: operators AND, keys under an operator AND, values of a key OR (NOR for negated
// operators); a key missing from the request fails the condition except for negated
// operators, ...IfExists, Null and ForAllValues.
//
// A statement without Resource or NotResource applies to any resource, which is the form
// of role trust policies; a resource-based policy statement without Principal or
// NotPrincipal applies to nobody, and an identity-based one with a Principal to nothing.
//
// Principals match as in resource-based and trust policies: "*" anyone; an account id or
// arn:aws:iam::<account>:root any principal of that account; a role ARN the role and its
// sessions (Request.Principal.RoleARN); a user or session ARN exactly that principal; a
// service principal the acting service (Request.Service). Federated and CanonicalUser
// principals are accepted but match no request: the local world has no identity providers.
//
// Policy variables (${aws:username}, ${*}, ${?}, ${$}, ${key, 'default'}) are resolved from
// the request context in Resource, NotResource and string and ARN condition values of
// documents with Version 2012-10-17, as in AWS; older documents read them literally.
package iam
