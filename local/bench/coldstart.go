package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/crossbuild/crossbuild/local/lambda"
	"github.com/crossbuild/crossbuild/local/world"
)

// ColdStart is one function's cold start under the Runtime Interface Emulator.
type ColdStart struct {
	Function string
	// Init is the runtime's initialisation in a fresh execution environment, from the
	// invocation that starts it to the runtime asking for its first event (Lambda's Init
	// Duration); First the handler's time on that first event; Warm its time on the
	// second. Medians over the samples, as the local runtime measures them.
	Init, First, Warm time.Duration
	Ratio             float64 // Init against the minimal function's Init
	Bytes, ArmBytes   int64   // this machine's build and the deployed linux/arm64 build
}

// MeasureColdStarts starts `samples` fresh environments of each function of the world
// (with the environment its template gives it) and of a minimal aws-lambda-go function
// built the same way, and times their first two invocations with an empty event (every
// function answers one quickly, with a result or an error). armDist is where the deployed builds
// are (dist), for their sizes.
func MeasureColdStarts(ctx context.Context, w *world.World, functions, moduleRoot, armDist string, samples int) ([]ColdStart, error) {
	scratch, err := os.MkdirTemp("", "crossbuild-coldstart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	minimal, err := build(ctx, moduleRoot, "./local/bench/minimal", scratch)
	if err != nil {
		return nil, err
	}
	type fn struct {
		name, bootstrap string
		env             map[string]string
		account, region string
	}
	fns := []fn{}
	for _, s := range w.Stacks {
		for _, id := range s.ResourcesOfType("AWS::Lambda::Function") {
			props, err := s.Properties(id)
			if err != nil {
				return nil, err
			}
			name, _ := props["FunctionName"].(string)
			short, ok := strings.CutPrefix(name, "crossbuild-")
			if !ok {
				continue
			}
			env := map[string]string{"AWS_ENDPOINT_URL": w.Endpoint, "AWS_ACCESS_KEY_ID": "cold", "AWS_SECRET_ACCESS_KEY": "cold"}
			e, _ := props["Environment"].(map[string]any)
			vars, _ := e["Variables"].(map[string]any)
			for k, v := range vars {
				if s, ok := v.(string); ok {
					env[k] = s
				}
			}
			fns = append(fns, fn{short, filepath.Join(functions, short, "bootstrap"), env, s.Account, s.Region})
		}
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("no crossbuild function in the assembly")
	}
	sort.Slice(fns, func(a, b int) bool { return fns[a].name < fns[b].name })
	fns = append([]fn{{"minimal", minimal, map[string]string{}, fns[0].account, fns[0].region}}, fns...)
	var out []ColdStart
	for _, f := range fns {
		var inits, firsts, warms []time.Duration
		for i := range samples {
			name := fmt.Sprintf("cold-%s-%d", f.name, i)
			if err := w.Lambda.Add(ctx, lambda.Function{Name: name, Account: f.account, Region: f.region, Bootstrap: f.bootstrap,
				Env: f.env, Timeout: 10 * time.Second, MemoryMB: 256, Concurrency: 1}); err != nil {
				return nil, fmt.Errorf("add %s: %w", name, err)
			}
			arn := lambda.FunctionARN(f.region, f.account, name)
			for j := range 2 {
				_, _, t, err := w.Lambda.InvokeTimed(ctx, arn, []byte("{}"))
				if err != nil {
					return nil, fmt.Errorf("invoke %s: %w", name, err)
				}
				if j == 0 {
					if t.Init <= 0 {
						return nil, fmt.Errorf("invoke %s: the first invocation reported no initialisation", name)
					}
					inits, firsts = append(inits, t.Init), append(firsts, t.Duration)
				} else {
					warms = append(warms, t.Duration)
				}
			}
		}
		c := ColdStart{Function: f.name, Init: median(inits), First: median(firsts), Warm: median(warms)}
		if info, err := os.Stat(f.bootstrap); err == nil {
			c.Bytes = info.Size()
		}
		if info, err := os.Stat(filepath.Join(armDist, f.name, "bootstrap")); err == nil {
			c.ArmBytes = info.Size()
		}
		out = append(out, c)
	}
	for i := range out {
		out[i].Ratio = float64(out[i].Init) / float64(out[0].Init)
	}
	return out, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(a, b int) bool { return s[a] < s[b] })
	return s[len(s)/2]
}

// ColdStartTable renders cold starts as docs/performance.md shows them.
func ColdStartTable(cs []ColdStart) string {
	var b strings.Builder
	b.WriteString("| function | init, ms | init / minimal | first invocation, ms | warm invocation, ms | binary, this machine | binary, linux/arm64 (deployed) |\n|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		arm := "–"
		if c.ArmBytes > 0 {
			arm = fmt.Sprintf("%.1f MB", float64(c.ArmBytes)/1e6)
		}
		fmt.Fprintf(&b, "| %s | %.1f | %.2f× | %.1f | %.1f | %.1f MB | %s |\n", c.Function, ms(c.Init), c.Ratio, ms(c.First), ms(c.Warm), float64(c.Bytes)/1e6, arm)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
