package target

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Whoever may start an execution chooses the names and values of a build's PLAINTEXT
// variables, and the build runs with the project's service role. Some names change what
// the tools of any buildspec do rather than what they work on: the dynamic loader, shell
// start-up files, language runtimes' preloads, the git transport, proxies, TLS trust and the
// AWS SDKs' credential and endpoint settings. Those are refused unless a deployment allows
// one by its exact name (docs/security.md, "Environment variable names").

// deniedName is one entry of the default deny-list: an exact name, or a prefix when it ends
// in "_" and prefix is set. Names compare case-insensitively: lower-case proxy variables
// are read as often as upper-case ones, and nothing legitimate needs "Ld_Preload".
type deniedName struct {
	name   string
	prefix bool
	why    string
}

const (
	whyLoader     = "it changes which code the dynamic loader or a language runtime loads into every process"
	whyShell      = "it makes shells run code of its choosing before each command"
	whyGit        = "it makes git run a command of its choosing or use other configuration"
	whyPath       = "it changes which programs the buildspec's commands run"
	whyProxy      = "it routes the build's network traffic through a proxy of its choosing"
	whyTLS        = "it changes which certificates the build's TLS connections trust"
	whyCredential = "it changes which AWS credentials, profile or endpoint the build's AWS SDKs and CLI use"
)

// deniedNames is the default deny-list. Keep docs/security.md's list in step with it.
var deniedNames = []deniedName{
	// Dynamic loader and language runtimes.
	{name: "LD_", prefix: true, why: whyLoader}, // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...
	{name: "DYLD_", prefix: true, why: whyLoader},
	{name: "NODE_OPTIONS", why: whyLoader},
	{name: "NODE_PATH", why: whyLoader},
	{name: "PYTHONPATH", why: whyLoader},
	{name: "PYTHONSTARTUP", why: whyLoader},
	{name: "PYTHONHOME", why: whyLoader},
	{name: "PYTHONINSPECT", why: whyLoader},
	{name: "PERL5OPT", why: whyLoader},
	{name: "PERL5LIB", why: whyLoader},
	{name: "PERLLIB", why: whyLoader},
	{name: "RUBYOPT", why: whyLoader},
	{name: "RUBYLIB", why: whyLoader},
	{name: "JAVA_TOOL_OPTIONS", why: whyLoader},
	{name: "_JAVA_OPTIONS", why: whyLoader},
	{name: "JDK_JAVA_OPTIONS", why: whyLoader},
	// Shells.
	{name: "BASH_ENV", why: whyShell},
	{name: "ENV", why: whyShell},
	{name: "SHELLOPTS", why: whyShell},
	{name: "BASHOPTS", why: whyShell},
	{name: "PROMPT_COMMAND", why: whyShell},
	{name: "PS4", why: whyShell},
	{name: "IFS", why: whyShell},
	// git.
	{name: "GIT_SSH", why: whyGit},
	{name: "GIT_SSH_COMMAND", why: whyGit},
	{name: "GIT_PROXY_COMMAND", why: whyGit},
	{name: "GIT_ASKPASS", why: whyGit},
	{name: "GIT_EXEC_PATH", why: whyGit},
	{name: "GIT_CONFIG_", prefix: true, why: whyGit}, // GIT_CONFIG_GLOBAL, GIT_CONFIG_COUNT, GIT_CONFIG_KEY_0, ...
	{name: "SSH_ASKPASS", why: whyGit},
	// Programs.
	{name: "PATH", why: whyPath},
	// Proxies, in both cases (case-insensitive comparison).
	{name: "HTTP_PROXY", why: whyProxy},
	{name: "HTTPS_PROXY", why: whyProxy},
	{name: "NO_PROXY", why: whyProxy},
	{name: "ALL_PROXY", why: whyProxy},
	{name: "FTP_PROXY", why: whyProxy},
	// TLS trust.
	{name: "SSL_CERT_FILE", why: whyTLS},
	{name: "SSL_CERT_DIR", why: whyTLS},
	{name: "CURL_CA_BUNDLE", why: whyTLS},
	{name: "REQUESTS_CA_BUNDLE", why: whyTLS},
	{name: "NODE_EXTRA_CA_CERTS", why: whyTLS},
	{name: "AWS_CA_BUNDLE", why: whyTLS},
	// AWS credentials, profiles and endpoints.
	{name: "AWS_ACCESS_KEY_ID", why: whyCredential},
	{name: "AWS_SECRET_ACCESS_KEY", why: whyCredential},
	{name: "AWS_SESSION_TOKEN", why: whyCredential},
	{name: "AWS_SECURITY_TOKEN", why: whyCredential},
	{name: "AWS_PROFILE", why: whyCredential},
	{name: "AWS_DEFAULT_PROFILE", why: whyCredential},
	{name: "AWS_CONFIG_FILE", why: whyCredential},
	{name: "AWS_SHARED_CREDENTIALS_FILE", why: whyCredential},
	{name: "AWS_WEB_IDENTITY_TOKEN_FILE", why: whyCredential},
	{name: "AWS_ROLE_ARN", why: whyCredential},
	{name: "AWS_ROLE_SESSION_NAME", why: whyCredential},
	{name: "AWS_CONTAINER_", prefix: true, why: whyCredential}, // ..._CREDENTIALS_RELATIVE_URI, ..._FULL_URI, ..._AUTHORIZATION_TOKEN
	{name: "AWS_EC2_METADATA_", prefix: true, why: whyCredential},
	{name: "AWS_ENDPOINT_URL", prefix: true, why: whyCredential}, // and AWS_ENDPOINT_URL_<SERVICE>
}

// DeniedNames lists the default deny-list for documentation and tests: exact names, and
// prefixes written with a trailing "*".
func DeniedNames() []string {
	out := make([]string, len(deniedNames))
	for i, d := range deniedNames {
		out[i] = d.name
		if d.prefix {
			out[i] += "*"
		}
	}
	return out
}

// denied returns why name is on the deny-list, or "".
func denied(name string) string {
	upper := strings.ToUpper(name)
	for _, d := range deniedNames {
		if upper == d.name || (d.prefix && strings.HasPrefix(upper, d.name)) {
			return d.why
		}
	}
	return ""
}

// NamePolicy decides which variable names a target may set. The zero value applies the
// default deny-list and allows every other valid name.
type NamePolicy struct {
	exact    map[string]bool
	prefixes []string
	entries  []string
}

var allowEntryRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`)

// NewNamePolicy builds a policy from a deployment's allow-list: exact names, or prefixes
// ending in "*" ("DEPLOY_*"). With a list, a target may set only names on it; a name on the
// deny-list passes only when the list names it exactly, so no prefix re-admits LD_PRELOAD
// by accident. reservedPrefix is the correlation prefix, which no entry may claim.
func NewNamePolicy(allow []string, reservedPrefix string) (NamePolicy, error) {
	p := NamePolicy{exact: map[string]bool{}}
	for _, e := range allow {
		name := strings.TrimSuffix(e, "*")
		switch {
		case !allowEntryRe.MatchString(e) || name == "":
			return NamePolicy{}, fmt.Errorf("allowed name %q is not a variable name or a prefix ending in *", e)
		case len(name) > MaxEnvNameLen:
			return NamePolicy{}, fmt.Errorf("allowed name %q is longer than %d characters", e, MaxEnvNameLen)
		case strings.HasPrefix(strings.ToUpper(name), reservedEnvPrefix):
			return NamePolicy{}, fmt.Errorf("allowed name %q starts with CODEBUILD_, which CodeBuild reserves", e)
		case reservedPrefix != "" && strings.HasPrefix(name, reservedPrefix):
			return NamePolicy{}, fmt.Errorf("allowed name %q starts with %s, which is reserved for correlation variables", e, reservedPrefix)
		case slices.Contains(p.entries, e):
			return NamePolicy{}, fmt.Errorf("allowed name %q is given twice", e)
		}
		if strings.HasSuffix(e, "*") {
			p.prefixes = append(p.prefixes, name)
		} else {
			p.exact[e] = true
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// Restricted reports whether the policy has an allow-list.
func (p NamePolicy) Restricted() bool { return len(p.entries) > 0 }

// Entries returns the allow-list as given.
func (p NamePolicy) Entries() []string { return append([]string(nil), p.entries...) }

// Check returns "" when a target may set name, or the rule it breaks.
func (p NamePolicy) Check(name string) string {
	if p.exact[name] {
		return ""
	}
	if why := denied(name); why != "" {
		return "is refused: " + why + "; a deployment that needs it allows it by its exact name (crossbuild:envNamesAllowed)"
	}
	if !p.Restricted() {
		return ""
	}
	for _, pre := range p.prefixes {
		if strings.HasPrefix(name, pre) {
			return ""
		}
	}
	return "is not in this deployment's allowed names " + strings.Join(p.entries, ", ")
}
