package s3

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"
)

const (
	xmlns     = "http://s3.amazonaws.com/doc/2006-03-01/"
	isoMillis = "2006-01-02T15:04:05.000Z"
)

type locationConstraint struct {
	XMLName xml.Name `xml:"LocationConstraint"`
	Xmlns   string   `xml:"xmlns,attr"`
	Value   string   `xml:",chardata"`
}

type owner struct {
	ID string `xml:"ID"`
}

type bucketEntry struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
	BucketRegion string `xml:"BucketRegion"`
}

type listAllMyBuckets struct {
	XMLName xml.Name      `xml:"ListAllMyBucketsResult"`
	Xmlns   string        `xml:"xmlns,attr"`
	Owner   owner         `xml:"Owner"`
	Buckets []bucketEntry `xml:"Buckets>Bucket"`
}

// canonicalID is a stable stand-in for an account's S3 canonical user id (64 hex digits).
func canonicalID(account string) string {
	sum := sha256.Sum256([]byte("s3-canonical-user/" + account))
	return hex.EncodeToString(sum[:])
}

// cfnInt reads a CloudFormation integer, which templates may give as a number or a string.
type cfnInt int

func (n *cfnInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.Atoi(s)
	if err != nil {
		return err
	}
	*n = cfnInt(v)
	return nil
}

// cfnBool reads a CloudFormation boolean: true, false, "true" or "false".
type cfnBool bool

func (v *cfnBool) UnmarshalJSON(b []byte) error {
	x, err := strconv.ParseBool(strings.Trim(string(b), `"`))
	*v = cfnBool(x)
	return err
}

// cfnEncryption is CloudFormation's BucketEncryption.
type cfnEncryption struct {
	ServerSideEncryptionConfiguration []struct {
		ServerSideEncryptionByDefault struct {
			SSEAlgorithm   string
			KMSMasterKeyID string
		}
		BucketKeyEnabled cfnBool
	}
}

type encryptionConfig struct {
	XMLName xml.Name         `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string           `xml:"xmlns,attr"`
	Rules   []encryptionRule `xml:"Rule"`
}

type encryptionRule struct {
	Algorithm        string `xml:"ApplyServerSideEncryptionByDefault>SSEAlgorithm"`
	KMSMasterKeyID   string `xml:"ApplyServerSideEncryptionByDefault>KMSMasterKeyID,omitempty"`
	BucketKeyEnabled bool   `xml:"BucketKeyEnabled"`
}

// encryptionXML is GetBucketEncryption's answer. Every S3 bucket has default encryption:
// SSE-S3 (AES256) unless the template chose another.
func encryptionXML(raw json.RawMessage) encryptionConfig {
	out := encryptionConfig{Xmlns: xmlns}
	var cfg cfnEncryption
	if len(raw) > 0 && json.Unmarshal(raw, &cfg) == nil {
		for _, r := range cfg.ServerSideEncryptionConfiguration {
			out.Rules = append(out.Rules, encryptionRule{Algorithm: r.ServerSideEncryptionByDefault.SSEAlgorithm,
				KMSMasterKeyID: r.ServerSideEncryptionByDefault.KMSMasterKeyID, BucketKeyEnabled: bool(r.BucketKeyEnabled)})
		}
	}
	if len(out.Rules) == 0 {
		out.Rules = []encryptionRule{{Algorithm: "AES256"}}
	}
	return out
}

// defaultEncryption is the algorithm (and KMS key) objects are reported encrypted with.
func defaultEncryption(raw json.RawMessage) (alg, key string) {
	r := encryptionXML(raw).Rules[0]
	if r.Algorithm == "" {
		return "AES256", ""
	}
	return r.Algorithm, r.KMSMasterKeyID
}

// cfnLifecycle is CloudFormation's LifecycleConfiguration, in the fields rendered.
type cfnLifecycle struct {
	Rules []struct {
		Id                                string
		Status                            string
		Prefix                            string
		ExpirationInDays                  cfnInt
		ExpirationDate                    string
		ExpiredObjectDeleteMarker         cfnBool
		NoncurrentVersionExpirationInDays cfnInt
		NoncurrentVersionExpiration       *struct {
			NoncurrentDays          cfnInt
			NewerNoncurrentVersions cfnInt
		}
		AbortIncompleteMultipartUpload *struct{ DaysAfterInitiation cfnInt }
		Transitions                    []struct {
			StorageClass     string
			TransitionInDays cfnInt
			TransitionDate   string
		}
		TagFilters            []struct{ Key, Value string }
		ObjectSizeGreaterThan cfnInt
		ObjectSizeLessThan    cfnInt
	}
}

type lifecycleConfig struct {
	XMLName xml.Name        `xml:"LifecycleConfiguration"`
	Xmlns   string          `xml:"xmlns,attr"`
	Rules   []lifecycleRule `xml:"Rule"`
}

type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

type lifecycleFilter struct {
	Prefix                *string       `xml:"Prefix"`
	Tag                   *tag          `xml:"Tag"`
	ObjectSizeGreaterThan int           `xml:"ObjectSizeGreaterThan,omitempty"`
	ObjectSizeLessThan    int           `xml:"ObjectSizeLessThan,omitempty"`
	And                   *lifecycleAnd `xml:"And"`
}

type lifecycleAnd struct {
	Prefix                string `xml:"Prefix,omitempty"`
	Tags                  []tag  `xml:"Tag"`
	ObjectSizeGreaterThan int    `xml:"ObjectSizeGreaterThan,omitempty"`
	ObjectSizeLessThan    int    `xml:"ObjectSizeLessThan,omitempty"`
}

type transition struct {
	Date         string `xml:"Date,omitempty"`
	Days         int    `xml:"Days,omitempty"`
	StorageClass string `xml:"StorageClass"`
}

type expiration struct {
	Date                      string `xml:"Date,omitempty"`
	Days                      int    `xml:"Days,omitempty"`
	ExpiredObjectDeleteMarker bool   `xml:"ExpiredObjectDeleteMarker,omitempty"`
}

type noncurrentExpiration struct {
	NoncurrentDays          int `xml:"NoncurrentDays,omitempty"`
	NewerNoncurrentVersions int `xml:"NewerNoncurrentVersions,omitempty"`
}

type abortIncomplete struct {
	DaysAfterInitiation int `xml:"DaysAfterInitiation"`
}

type lifecycleRule struct {
	ID                             string                `xml:"ID"`
	Filter                         lifecycleFilter       `xml:"Filter"`
	Status                         string                `xml:"Status"`
	Transition                     []transition          `xml:"Transition"`
	Expiration                     *expiration           `xml:"Expiration"`
	NoncurrentVersionExpiration    *noncurrentExpiration `xml:"NoncurrentVersionExpiration"`
	AbortIncompleteMultipartUpload *abortIncomplete      `xml:"AbortIncompleteMultipartUpload"`
}

// lifecycleXML is GetBucketLifecycleConfiguration's answer for the configuration the
// template gave; NoSuchLifecycleConfiguration when it gave none.
func lifecycleXML(raw json.RawMessage) (lifecycleConfig, *Error) {
	var cfg cfnLifecycle
	if len(raw) == 0 || json.Unmarshal(raw, &cfg) != nil || len(cfg.Rules) == 0 {
		return lifecycleConfig{}, &Error{Status: http.StatusNotFound, Code: "NoSuchLifecycleConfiguration",
			Message: "The lifecycle configuration does not exist"}
	}
	out := lifecycleConfig{Xmlns: xmlns}
	for i, r := range cfg.Rules {
		lr := lifecycleRule{ID: r.Id, Status: r.Status}
		if lr.ID == "" {
			// S3 names a rule given without an id; a stable name serves as well here.
			sum := sha256.Sum256([]byte(strconv.Itoa(i) + "/" + string(raw)))
			lr.ID = hex.EncodeToString(sum[:12])
		}
		conditions := len(r.TagFilters)
		if r.Prefix != "" {
			conditions++
		}
		if r.ObjectSizeGreaterThan > 0 {
			conditions++
		}
		if r.ObjectSizeLessThan > 0 {
			conditions++
		}
		switch {
		case conditions > 1:
			lr.Filter.And = &lifecycleAnd{Prefix: r.Prefix, ObjectSizeGreaterThan: int(r.ObjectSizeGreaterThan), ObjectSizeLessThan: int(r.ObjectSizeLessThan)}
			for _, t := range r.TagFilters {
				lr.Filter.And.Tags = append(lr.Filter.And.Tags, tag(t))
			}
		case len(r.TagFilters) == 1:
			t := tag(r.TagFilters[0])
			lr.Filter.Tag = &t
		case r.ObjectSizeGreaterThan > 0 || r.ObjectSizeLessThan > 0:
			lr.Filter.ObjectSizeGreaterThan, lr.Filter.ObjectSizeLessThan = int(r.ObjectSizeGreaterThan), int(r.ObjectSizeLessThan)
		default:
			prefix := r.Prefix
			lr.Filter.Prefix = &prefix
		}
		for _, t := range r.Transitions {
			lr.Transition = append(lr.Transition, transition{t.TransitionDate, int(t.TransitionInDays), t.StorageClass})
		}
		if r.ExpirationInDays > 0 || r.ExpirationDate != "" || r.ExpiredObjectDeleteMarker {
			lr.Expiration = &expiration{r.ExpirationDate, int(r.ExpirationInDays), bool(r.ExpiredObjectDeleteMarker)}
		}
		days, newer := int(r.NoncurrentVersionExpirationInDays), 0
		if r.NoncurrentVersionExpiration != nil {
			days, newer = int(r.NoncurrentVersionExpiration.NoncurrentDays), int(r.NoncurrentVersionExpiration.NewerNoncurrentVersions)
		}
		if days > 0 || newer > 0 {
			lr.NoncurrentVersionExpiration = &noncurrentExpiration{days, newer}
		}
		if r.AbortIncompleteMultipartUpload != nil {
			lr.AbortIncompleteMultipartUpload = &abortIncomplete{int(r.AbortIncompleteMultipartUpload.DaysAfterInitiation)}
		}
		out.Rules = append(out.Rules, lr)
	}
	return out, nil
}
