// Package localaws is the shared plumbing of crossbuild's local stand-ins for AWS: who
// is calling (accounts, principals and the credentials that stand for them), how a request
// reaches the right service, and the wire protocols: JSONProtocol and QueryProtocol
// dispatch an operation and write its result or its Error as AWS does.
//
// The stand-ins trust the access key id in a request's SigV4 Authorization header to say
// who is calling and do not verify signatures: everything runs on 127.0.0.1 for one user.
// The key id maps to a principal (an account and an ARN), so requests are routed and
// authorised by account, as AWS would.
package localaws
