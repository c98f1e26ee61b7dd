package s3

import (
	"bytes"
	"io"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// store is gofakes3's in-memory backend with S3's overwrite semantics. The backend carries
// an overwritten object's metadata over to the new one; S3 replaces it, and a stale
// x-amz-checksum-* header would make the SDKs reject the new body. So an overwrite in an
// unversioned bucket removes the old object first, under a lock that keeps readers from
// seeing the key missing in between.
type store struct {
	*s3mem.Backend
	now func() time.Time
	mu  sync.RWMutex
}

var _ gofakes3.Backend = (*store)(nil)

func (st *store) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	// Read the body before locking: a slow upload must not hold up other requests.
	body, err := gofakes3.ReadAll(input, size)
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	if meta == nil {
		meta = map[string]string{}
	}
	if _, ok := meta["Last-Modified"]; !ok {
		meta["Last-Modified"] = st.now().UTC().Format(http1123)
	}
	if _, ok := meta["Content-Type"]; !ok {
		meta["Content-Type"] = "binary/octet-stream" // what S3 reports for an object stored without one
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if cond != nil {
		// Checked here, before the old object goes.
		info := &gofakes3.ConditionalObjectInfo{}
		if obj, err := st.Backend.HeadObject(bucket, key); err == nil {
			info.Exists, info.Hash = true, obj.Hash
			_ = obj.Contents.Close()
		}
		if err := gofakes3.CheckPutConditions(cond, info); err != nil {
			return gofakes3.PutObjectResult{}, err
		}
	}
	if v, err := st.Backend.VersioningConfiguration(bucket); err == nil && v.Status != gofakes3.VersioningEnabled {
		if _, err := st.Backend.DeleteObject(bucket, key); err != nil {
			return gofakes3.PutObjectResult{}, err
		}
	}
	return st.Backend.PutObject(bucket, key, meta, bytes.NewReader(body), int64(len(body)), nil)
}

func (st *store) GetObject(bucket, key string, rng *gofakes3.ObjectRangeRequest) (*gofakes3.Object, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.Backend.GetObject(bucket, key, rng)
}

func (st *store) HeadObject(bucket, key string) (*gofakes3.Object, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.Backend.HeadObject(bucket, key)
}

// CopyObject goes through PutObject above, not the backend's own.
func (st *store) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	return gofakes3.CopyObject(st, srcBucket, srcKey, dstBucket, dstKey, meta)
}

// exists reports whether an object is there.
func (st *store) exists(bucket, key string) bool {
	obj, err := st.HeadObject(bucket, key)
	if err != nil {
		return false
	}
	_ = obj.Contents.Close()
	return true
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
