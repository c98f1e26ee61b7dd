package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/crossbuild/crossbuild/local/localaws"
)

// GetObject reads an object as p, authorized as a GetObject request of p would be. It is
// how other stand-ins (Step Functions' ItemReader) read objects without going over HTTP;
// there is no signing Region, so the bucket's Region is not checked. Errors are *Error.
func (s *Service) GetObject(ctx context.Context, p localaws.Principal, bucket, key string) ([]byte, error) {
	b := s.lookup(bucket)
	if b == nil {
		return nil, noSuchBucket(bucket)
	}
	cond := s.requestContext(nil, b, "")
	if e := s.check(ctx, p, b, "s3:GetObject", resourceARN(b.Partition, bucket, key), cond); e != nil {
		return nil, e
	}
	obj, err := s.store.GetObject(bucket, key, nil)
	if err != nil {
		e := fromBackend(err, key)
		if e.Code == "NoSuchKey" {
			// Without s3:ListBucket a caller may not learn that a key is absent.
			if d := s.authorize(p, b, "s3:ListBucket", resourceARN(b.Partition, bucket, ""), cond); !d.Allowed {
				return nil, accessDenied(d.Message)
			}
		}
		return nil, e
	}
	defer obj.Contents.Close()
	body, err := io.ReadAll(obj.Contents)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return body, nil
}

// PutObject writes an object as p, authorized as a PutObject request of p would be.
func (s *Service) PutObject(ctx context.Context, p localaws.Principal, bucket, key string, body []byte) error {
	b := s.lookup(bucket)
	if b == nil {
		return noSuchBucket(bucket)
	}
	switch {
	case key == "":
		return invalidArgument("An object key is required")
	case len(key) > 1024:
		return &Error{Status: http.StatusBadRequest, Code: "KeyTooLongError", Message: "Your key is too long", Resource: key}
	}
	if e := s.check(ctx, p, b, "s3:PutObject", resourceARN(b.Partition, bucket, key), s.requestContext(nil, b, "")); e != nil {
		return e
	}
	if _, err := s.store.PutObject(bucket, key, nil, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		return fromBackend(err, key)
	}
	return nil
}
