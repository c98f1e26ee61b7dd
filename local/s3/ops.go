package s3

import (
	"net/http"
	"net/url"
	"strings"
)

// Operation is one S3 REST request as S3 authorizes it: the API operation and the IAM
// action it needs on the bucket or object.
type Operation struct {
	Name   string // the API operation, e.g. "ListObjectsV2"
	Action string // the IAM action, e.g. "s3:ListBucket"
	Bucket string // empty for ListBuckets
	Key    string // empty for bucket operations

	// SourceBucket and SourceKey are the copy source of CopyObject and UploadPartCopy, which
	// the caller must also be allowed to read (s3:GetObject, or s3:GetObjectVersion with
	// SourceVersion).
	SourceBucket, SourceKey, SourceVersion string
}

// Resource is the ARN the action is authorized on: the bucket's, the object's, or "*" for
// ListBuckets.
func (o Operation) Resource(partition string) string {
	return resourceARN(partition, o.Bucket, o.Key)
}

func resourceARN(partition, bucket, key string) string {
	switch {
	case bucket == "":
		return "*"
	case key == "":
		return "arn:" + partition + ":s3:::" + bucket
	}
	return "arn:" + partition + ":s3:::" + bucket + "/" + key
}

// unsupported are S3 subresources the stand-in does not implement. They are refused by
// name: passed on, gofakes3 would read GET /bucket?acl as a listing.
var unsupported = map[string]string{
	"acl": "ACLs", "accelerate": "Transfer Acceleration", "analytics": "analytics configurations",
	"attributes": "GetObjectAttributes", "cors": "CORS", "intelligent-tiering": "Intelligent-Tiering configurations",
	"inventory": "inventory configurations", "legal-hold": "object legal holds", "logging": "server access logging",
	"metadataTable": "metadata tables", "metadataConfiguration": "metadata configurations", "metrics": "metrics configurations",
	"notification": "event notifications", "object-lock": "Object Lock", "ownershipControls": "Object Ownership",
	"policyStatus": "GetBucketPolicyStatus", "publicAccessBlock": "Block Public Access", "replication": "replication",
	"requestPayment": "Requester Pays", "restore": "RestoreObject", "retention": "object retention",
	"select": "SelectObjectContent", "tagging": "tagging", "torrent": "GetObjectTorrent", "website": "website hosting",
	"session": "CreateSession", "renameObject": "RenameObject", "abac": "attribute-based access control",
}

// Classify maps a path-style REST request to its operation. bucket and key come from the
// path (/bucket/key); query and header are the request's. An operation the stand-in does
// not serve is an *Error (NotImplemented or MethodNotAllowed).
func Classify(method, bucket, key string, query url.Values, header http.Header) (Operation, error) {
	for name := range query {
		if what, ok := unsupported[name]; ok {
			return Operation{}, notImplemented(what)
		}
	}
	op := Operation{Bucket: bucket, Key: key}
	set := func(name, action string) (Operation, error) {
		op.Name, op.Action = name, action
		return op, nil
	}
	has := func(name string) bool { _, ok := query[name]; return ok }

	if bucket == "" {
		if method == http.MethodGet {
			return set("ListBuckets", "s3:ListAllMyBuckets")
		}
		return Operation{}, methodNotAllowed(method, "SERVICE")
	}

	if key == "" {
		switch {
		case has("policy"):
			switch method {
			case http.MethodGet:
				return set("GetBucketPolicy", "s3:GetBucketPolicy")
			case http.MethodPut:
				return set("PutBucketPolicy", "s3:PutBucketPolicy")
			case http.MethodDelete:
				return set("DeleteBucketPolicy", "s3:DeleteBucketPolicy")
			}
		case has("location"):
			if method == http.MethodGet {
				return set("GetBucketLocation", "s3:GetBucketLocation")
			}
		case has("encryption"):
			if method == http.MethodGet {
				return set("GetBucketEncryption", "s3:GetEncryptionConfiguration")
			}
			return Operation{}, notImplemented("changing a bucket's encryption")
		case has("lifecycle"):
			if method == http.MethodGet {
				return set("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration")
			}
			return Operation{}, notImplemented("changing a bucket's lifecycle configuration")
		case has("versioning"):
			switch method {
			case http.MethodGet:
				return set("GetBucketVersioning", "s3:GetBucketVersioning")
			case http.MethodPut:
				return set("PutBucketVersioning", "s3:PutBucketVersioning")
			}
		case has("versions"):
			if method == http.MethodGet {
				return set("ListObjectVersions", "s3:ListBucketVersions")
			}
		case has("uploads"):
			if method == http.MethodGet {
				return set("ListMultipartUploads", "s3:ListBucketMultipartUploads")
			}
		case has("delete"):
			if method == http.MethodPost {
				// Authorized per key (s3:DeleteObject) once the body is read.
				return set("DeleteObjects", "s3:DeleteObject")
			}
		default:
			switch method {
			case http.MethodGet:
				if query.Get("list-type") == "2" {
					return set("ListObjectsV2", "s3:ListBucket")
				}
				return set("ListObjects", "s3:ListBucket")
			case http.MethodHead:
				return set("HeadBucket", "s3:ListBucket")
			case http.MethodPut:
				return set("CreateBucket", "s3:CreateBucket")
			case http.MethodDelete:
				return set("DeleteBucket", "s3:DeleteBucket")
			case http.MethodPost:
				return Operation{}, notImplemented("POST Object (browser-based uploads)")
			}
		}
		return Operation{}, methodNotAllowed(method, "BUCKET")
	}

	source := header.Get("x-amz-copy-source")
	if source != "" {
		var err error
		if op.SourceBucket, op.SourceKey, op.SourceVersion, err = parseCopySource(source); err != nil {
			return Operation{}, err
		}
	}
	switch {
	case has("uploads"):
		if method == http.MethodPost {
			return set("CreateMultipartUpload", "s3:PutObject")
		}
	case has("uploadId"):
		switch method {
		case http.MethodGet:
			return set("ListParts", "s3:ListMultipartUploadParts")
		case http.MethodPut:
			if source != "" {
				return set("UploadPartCopy", "s3:PutObject")
			}
			return set("UploadPart", "s3:PutObject")
		case http.MethodPost:
			return set("CompleteMultipartUpload", "s3:PutObject")
		case http.MethodDelete:
			return set("AbortMultipartUpload", "s3:AbortMultipartUpload")
		}
	case has("versionId"):
		switch method {
		case http.MethodGet:
			return set("GetObject", "s3:GetObjectVersion")
		case http.MethodHead:
			return set("HeadObject", "s3:GetObjectVersion")
		case http.MethodDelete:
			return set("DeleteObject", "s3:DeleteObjectVersion")
		}
	default:
		switch method {
		case http.MethodGet:
			return set("GetObject", "s3:GetObject")
		case http.MethodHead:
			return set("HeadObject", "s3:GetObject")
		case http.MethodPut:
			if source != "" {
				return set("CopyObject", "s3:PutObject")
			}
			return set("PutObject", "s3:PutObject")
		case http.MethodDelete:
			return set("DeleteObject", "s3:DeleteObject")
		case http.MethodPost:
			return Operation{}, notImplemented("POST on an object")
		}
	}
	return Operation{}, methodNotAllowed(method, "OBJECT")
}

// parseCopySource reads x-amz-copy-source: "[/]bucket/key[?versionId=id]", URL-encoded.
func parseCopySource(v string) (bucket, key, version string, err error) {
	path, rawQuery, _ := strings.Cut(v, "?")
	if rawQuery != "" {
		q, qerr := url.ParseQuery(rawQuery)
		if qerr != nil {
			return "", "", "", invalidArgument("Invalid copy source: " + v)
		}
		version = q.Get("versionId")
	}
	decoded, derr := url.PathUnescape(path)
	if derr != nil {
		return "", "", "", invalidArgument("Invalid copy source encoding: " + v)
	}
	bucket, key, ok := strings.Cut(strings.TrimPrefix(decoded, "/"), "/")
	if !ok || bucket == "" || key == "" {
		return "", "", "", invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, version, nil
}
