package lambda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Function is one deployed Lambda function.
type Function struct {
	Name, ARN, Account, Region string // ARN may be left empty: it is derived from the others
	Bootstrap                  string // path to the host-architecture binary
	// Env is the function's environment from its template; the wiring adds
	// AWS_ENDPOINT_URL and the execution role's credentials (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN). Other keys Lambda reserves are refused.
	Env         map[string]string
	Timeout     time.Duration // whole seconds, 1 s to 900 s; default 3 s as in Lambda
	MemoryMB    int           // 128 to 10240; default 128
	Concurrency int           // instances to run; default 1
	// ActiveTracing marks new trace headers sampled, as Lambda's Active tracing mode does;
	// a caller's trace header is always passed on with its own sampling decision.
	ActiveTracing bool
}

const (
	defaultTimeout  = 3 * time.Second
	defaultMemoryMB = 128
	maxConcurrency  = 64
	version         = "$LATEST"
)

var (
	functionNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	accountRE      = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE       = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// reservedEnv are keys Lambda sets itself and refuses in a function's configuration
// (credentials excepted: they stand for the execution role's), plus the emulator's
// own controls, which would change how it runs the function.
var reservedEnv = map[string]string{
	"_HANDLER": "Lambda", "_X_AMZN_TRACE_ID": "Lambda", "AWS_DEFAULT_REGION": "Lambda",
	"AWS_REGION": "Lambda", "AWS_EXECUTION_ENV": "Lambda", "AWS_LAMBDA_FUNCTION_NAME": "Lambda",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "Lambda", "AWS_LAMBDA_FUNCTION_VERSION": "Lambda",
	"AWS_LAMBDA_INITIALIZATION_TYPE": "Lambda", "AWS_LAMBDA_LOG_GROUP_NAME": "Lambda",
	"AWS_LAMBDA_LOG_STREAM_NAME": "Lambda", "AWS_ACCESS_KEY": "Lambda",
	"AWS_LAMBDA_RUNTIME_API": "Lambda", "LAMBDA_TASK_ROOT": "Lambda", "LAMBDA_RUNTIME_DIR": "Lambda",
	"AWS_LAMBDA_FUNCTION_TIMEOUT": "the emulator", "AWS_LAMBDA_FUNCTION_HANDLER": "the emulator",
	"AWS_LAMBDA_MAX_CONCURRENCY": "the emulator", "AWS_ACCOUNT_ID": "the emulator", "LOG_LEVEL": "the emulator",
}

// FunctionARN is the unqualified ARN of a function.
func FunctionARN(region, account, name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:" + name
}

// normalize checks f and fills in its defaults, as CreateFunction would.
func (f Function) normalize() (Function, error) {
	var errs []error
	if !functionNameRE.MatchString(f.Name) {
		errs = append(errs, fmt.Errorf("name %q: 1 to 64 letters, digits, hyphens or underscores", f.Name))
	}
	if !accountRE.MatchString(f.Account) {
		errs = append(errs, fmt.Errorf("account %q: 12 digits", f.Account))
	}
	if !regionRE.MatchString(f.Region) {
		errs = append(errs, fmt.Errorf("region %q is not a Region name", f.Region))
	}
	want := FunctionARN(f.Region, f.Account, f.Name)
	if f.ARN == "" {
		f.ARN = want
	} else if f.ARN != want {
		errs = append(errs, fmt.Errorf("ARN %q does not match name, account and Region (%s)", f.ARN, want))
	}
	if f.Timeout == 0 {
		f.Timeout = defaultTimeout
	}
	if f.Timeout < time.Second || f.Timeout > 900*time.Second || f.Timeout%time.Second != 0 {
		errs = append(errs, fmt.Errorf("timeout %s: whole seconds from 1 to 900", f.Timeout))
	}
	if f.MemoryMB == 0 {
		f.MemoryMB = defaultMemoryMB
	}
	if f.MemoryMB < 128 || f.MemoryMB > 10240 {
		errs = append(errs, fmt.Errorf("memory %d MB: 128 to 10240", f.MemoryMB))
	}
	if f.Concurrency == 0 {
		f.Concurrency = 1
	}
	if f.Concurrency < 1 || f.Concurrency > maxConcurrency {
		errs = append(errs, fmt.Errorf("concurrency %d: 1 to %d", f.Concurrency, maxConcurrency))
	}
	if err := checkExecutable("bootstrap", f.Bootstrap); err != nil {
		errs = append(errs, err)
	} else if abs, err := filepath.Abs(f.Bootstrap); err == nil {
		f.Bootstrap = abs
	}
	if bad := reservedKeys(f.Env); len(bad) > 0 {
		errs = append(errs, fmt.Errorf("environment variables use reserved keys: %s", strings.Join(bad, ", ")))
	}
	env := make(map[string]string, len(f.Env))
	for k, v := range f.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			errs = append(errs, fmt.Errorf("environment variable %q is not a valid name and value", k))
			continue
		}
		env[k] = v
	}
	f.Env = env
	if err := errors.Join(errs...); err != nil {
		return Function{}, fmt.Errorf("function %s: %w", f.Name, err)
	}
	return f, nil
}

func checkExecutable(what, path string) error {
	if path == "" {
		return fmt.Errorf("%s: no path given", what)
	}
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s %s: not an executable file", what, path)
	}
	return nil
}

func reservedKeys(env map[string]string) []string {
	var bad []string
	for k := range env {
		if by, ok := reservedEnv[k]; ok {
			bad = append(bad, k+" (set by "+by+")")
		}
	}
	sort.Strings(bad)
	return bad
}

// processEnv is the environment of one instance's emulator process, which passes it on to
// the runtime. Defaults come first, then the function's variables, then what Lambda
// itself sets, so the function cannot override Lambda's values.
func (f Function) processEnv(logStream string) []string {
	m := map[string]string{
		"PATH": "/usr/local/bin:/usr/bin:/bin",
		"LANG": "en_US.UTF-8",
		"TZ":   ":UTC",
		// Lambda has no instance metadata service; without this an SDK lacking credentials
		// would probe a link-local address.
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_LAMBDA_LOG_FORMAT":     "JSON",
	}
	for k, v := range f.Env {
		m[k] = v
	}
	dir := filepath.Dir(f.Bootstrap)
	for k, v := range map[string]string{
		"AWS_REGION":                      f.Region,
		"AWS_DEFAULT_REGION":              f.Region,
		"AWS_LAMBDA_FUNCTION_NAME":        f.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     version,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + f.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME":      logStream,
		"LAMBDA_TASK_ROOT":                dir,
		"LAMBDA_RUNTIME_DIR":              dir,
		// Read by the emulator only; the runtime wrapper removes it again.
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(int(f.Timeout / time.Second)),
	} {
		m[k] = v
	}
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// functionRef is a parsed FunctionName of the Invoke API: a name, a partial ARN
// (account:function:name) or a full ARN, each optionally qualified.
type functionRef struct {
	Name, Account, Region, Qualifier string
}

func parseFunctionRef(s string) (functionRef, error) {
	parts := strings.Split(s, ":")
	var r functionRef
	a, err := arn.Parse(s)
	resource := strings.Split(a.Resource, ":")
	switch {
	case err == nil && a.Service == "lambda" && len(resource) >= 2 && len(resource) <= 3 && resource[0] == "function":
		if a.Partition != "aws" {
			return r, fmt.Errorf("function ARN %q: partition %q is not emulated", s, a.Partition)
		}
		r = functionRef{Region: a.Region, Account: a.AccountID, Name: resource[1]}
		if len(resource) == 3 {
			r.Qualifier = resource[2]
		}
	case (len(parts) == 3 || len(parts) == 4) && parts[1] == "function":
		r = functionRef{Account: parts[0], Name: parts[2]}
		if len(parts) == 4 {
			r.Qualifier = parts[3]
		}
	case len(parts) <= 2:
		r.Name = parts[0]
		if len(parts) == 2 {
			r.Qualifier = parts[1]
		}
	default:
		return r, fmt.Errorf("%q is not a function name or ARN", s)
	}
	if !functionNameRE.MatchString(r.Name) {
		return r, fmt.Errorf("%q is not a function name or ARN", s)
	}
	if r.Account != "" && !accountRE.MatchString(r.Account) {
		return r, fmt.Errorf("%q: account %q is not 12 digits", s, r.Account)
	}
	return r, nil
}
