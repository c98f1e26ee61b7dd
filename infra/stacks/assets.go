package stacks

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// StaleAsset is a Lambda asset built before a source file of its function changed.
type StaleAsset struct {
	Asset      string // <dist>/<function>/bootstrap
	Source     string // the newest source file, relative to the module
	AssetTime  time.Time
	SourceTime time.Time
}

// StaleAssetsError refuses assets that would ship old code: `make build` writes them anew.
type StaleAssetsError struct{ Assets []StaleAsset }

func (e *StaleAssetsError) Error() string {
	var b strings.Builder
	for _, a := range e.Assets {
		fmt.Fprintf(&b, "Lambda asset %s (built %s) is older than %s (changed %s)\n",
			a.Asset, a.AssetTime.Format(time.RFC3339), a.Source, a.SourceTime.Format(time.RFC3339))
	}
	b.WriteString("run `make build` first, or use `make synth` / `make deploy-source` / `make deploy-account`, which build before synthesizing")
	return b.String()
}

// CheckAssetsCurrent refuses assets under dir that are older than a source they are built
// from: the non-test Go and embedded files of the module's packages each function imports,
// as `make build` builds it (linux/arm64, tag lambda.norpc), and go.mod and go.sum. A
// missing asset is left to CheckAssets.
func CheckAssetsCurrent(dir, root string) error {
	sources, err := functionSources(root)
	if err != nil {
		return err
	}
	var stale []StaleAsset
	for _, fn := range Functions {
		asset := filepath.Join(dir, fn, "bootstrap")
		info, err := os.Stat(asset)
		if err != nil {
			continue
		}
		newest, at, err := newestFile(root, append(sources[fn], "go.mod", "go.sum"))
		if err != nil {
			return err
		}
		if info.ModTime().Before(at) {
			stale = append(stale, StaleAsset{Asset: asset, Source: newest, AssetTime: info.ModTime(), SourceTime: at})
		}
	}
	if stale != nil {
		return &StaleAssetsError{Assets: stale}
	}
	return nil
}

// functionSources lists each function's source files (relative to root) with one `go list`.
func functionSources(root string) (map[string][]string, error) {
	args := []string{"list", "-deps", "-tags", "lambda.norpc", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.ImportPath}}{{"\t"}}{{.Dir}}{{"\t"}}{{join .GoFiles ","}},{{join .EmbedFiles ","}}{{"\t"}}{{join .Deps ","}}{{end}}{{end}}`}
	for _, fn := range Functions {
		args = append(args, "./functions/"+fn)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("list the sources of the Lambda functions (go list in %s): %w: %s", root, err, strings.TrimSpace(stderr.String()))
	}
	type pkg struct {
		files []string
		deps  []string
	}
	pkgs := map[string]pkg{}
	var module string // the main module's path, from the functions' import paths
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 4 {
			continue
		}
		var files []string
		for _, name := range strings.Split(f[2], ",") {
			if name != "" {
				rel, err := filepath.Rel(root, filepath.Join(f[1], name))
				if err != nil {
					return nil, err
				}
				files = append(files, rel)
			}
		}
		pkgs[f[0]] = pkg{files: files, deps: strings.Split(f[3], ",")}
		if p, ok := strings.CutSuffix(f[0], "/functions/"+Functions[0]); ok {
			module = p
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out2 := map[string][]string{}
	for _, fn := range Functions {
		main, ok := pkgs[module+"/functions/"+fn]
		if !ok {
			return nil, fmt.Errorf("go list in %s did not list functions/%s", root, fn)
		}
		files := main.files
		for _, d := range main.deps {
			files = append(files, pkgs[d].files...) // packages outside the module are not listed
		}
		out2[fn] = files
	}
	return out2, nil
}

// newestFile returns the most recently modified of files (relative to root).
func newestFile(root string, files []string) (string, time.Time, error) {
	var newest string
	var at time.Time
	for _, f := range files {
		info, err := os.Stat(filepath.Join(root, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // go.sum of a module without requirements
		}
		if err != nil {
			return "", time.Time{}, fmt.Errorf("a source of the Lambda assets: %w", err)
		}
		if info.ModTime().After(at) {
			newest, at = f, info.ModTime()
		}
	}
	return newest, at, nil
}
