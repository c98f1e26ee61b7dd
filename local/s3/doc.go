// Package s3 is crossbuild's local stand-in for Amazon S3: the REST API of
// github.com/johannesboyne/gofakes3 over an in-memory backend, behind an authorization layer
// that decides every request the way S3 does for IAM principals.
//
// Serve it through localaws.Router under the signing name "s3": the router resolves the
// caller from the SigV4 access key and passes the credential scope's Region. Buckets are
// addressed path-style (http://127.0.0.1:port/bucket/key), which the AWS SDKs use on their
// own against an IP-address endpoint; against a host name, clients must set path-style
// addressing (UsePathStyle in aws-sdk-go-v2).
//
// Each request is classified into its S3 API operation and the IAM action S3 authorizes it
// with (GetObject and HeadObject need s3:GetObject, ListObjectsV2 and HeadBucket
// s3:ListBucket, CopyObject s3:PutObject on the target and s3:GetObject on the source, ...).
// The decision follows IAM's policy evaluation logic for S3:
//
//   - an explicit Deny in the caller's identity-based policies or in the bucket policy denies;
//   - a caller in the bucket owner's account is allowed when either its identity-based
//     policies or the bucket policy allow the action (a bucket policy that names only the
//     account delegates to the identity-based policies, as AWS documents);
//   - a caller in another account needs both: its own identity-based policies and the
//     bucket policy must allow the action;
//   - the account's root user has every identity-based permission in its own account.
//
// Refusals are S3's 403 AccessDenied, with the enhanced message S3 gives callers of the
// owner's account and a bare "Access Denied" for others; the full policy explanation goes
// to the logger. As on S3, GetObject or HeadObject of a missing key is AccessDenied, not
// NoSuchKey, when the caller may not s3:ListBucket the bucket.
//
// The endpoint is plain HTTP on loopback standing in for S3's HTTPS endpoint, so requests
// carry aws:SecureTransport "true" (and s3:TlsVersion 1.3): a bucket policy that denies
// insecure transport, as the CDK's enforceSSL writes, behaves as it does on AWS for SDK
// clients. Service.InsecureTransport reports requests as they are on the wire instead.
//
// Buckets are created by the deployer with their owner account, Region, versioning,
// encryption and lifecycle (the last two are kept as given and readable through
// GetBucketEncryption and GetBucketLifecycleConfiguration, not applied), or by CreateBucket
// requests that identity-based policies allow. A request signed for another Region than
// the bucket's is refused with AuthorizationHeaderMalformed naming the bucket's Region.
// Subresources the stand-in does not implement (ACLs, tagging, CORS, website, object lock,
// ...) are refused with NotImplemented rather than misread as another operation.
package s3
