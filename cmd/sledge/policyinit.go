package main

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
)

// The files `sledge policy init` writes, as templates: a policy module of
// its own, outside this repository, that builds against a gosledge
// checkout through a replace directive (gosledge is on no public proxy).
//
//go:embed scaffold/*.tmpl
var scaffold embed.FS

// scaffoldFiles maps each template to the file it becomes.
var scaffoldFiles = []struct{ tmpl, out string }{
	{"go.mod.tmpl", "go.mod"},
	{"policy.go.tmpl", "policy.go"},
	{"policy_test.go.tmpl", "policy_test.go"},
	{"main.go.tmpl", "cmd/{{.Name}}-policy/main.go"},
	{"gosledge.toml.tmpl", "gosledge.toml"},
	{"README.md.tmpl", "README.md"},
}

// policyName is what a policy name may be: it becomes a Go package name,
// a module path element and a binary name.
var policyName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

func policyCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		fmt.Fprintln(stderr, "usage: sledge policy init DIR [--name N] [--gosledge PATH]")
		return errUsage
	}
	fs := newFlags("policy init", "policy init DIR [--name N] [--gosledge PATH]", stderr)
	name := fs.String("name", "", "the policy's name: lowercase letters and digits (default: DIR's base name)")
	repo := fs.String("gosledge", "", "the gosledge checkout the policy builds against (default: the one holding the current directory)")
	// DIR first, then flags, as the usage line shows.
	rest := args[1:]
	var dir string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		dir, rest = rest[0], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	if dir == "" {
		fmt.Fprintln(stderr, "policy init: DIR is required")
		fs.Usage()
		return errUsage
	}
	if *name == "" {
		*name = filepath.Base(filepath.Clean(dir))
	}
	if !policyName.MatchString(*name) {
		return fmt.Errorf("policy init: name %q: use lowercase letters and digits, starting with a letter (--name)", *name)
	}
	root := *repo
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if root = findGosledge(wd); root == "" {
			return errors.New("policy init: not inside a gosledge checkout: pass --gosledge PATH (a checkout of github.com/gosledge/gosledge)")
		}
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	goVersion, ok := moduleGoVersion(filepath.Join(root, "go.mod"))
	if !ok {
		return fmt.Errorf("policy init: %s is not a gosledge checkout (no go.mod of github.com/gosledge/gosledge)", root)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("policy init: %s exists and is not empty", dir)
	}
	data := struct{ Name, Package, Gosledge, GoVersion string }{*name, *name, filepath.ToSlash(root), goVersion}
	for _, f := range scaffoldFiles {
		if err := writeTemplate(dir, f.tmpl, f.out, data); err != nil {
			return fmt.Errorf("policy init: %w", err)
		}
	}
	fmt.Fprintf(stdout, "wrote policy %q in %s (builds against %s); next: cd %s && go mod tidy && go test ./...\n", *name, dir, root, dir)
	return nil
}

func writeTemplate(dir, tmpl, out string, data any) error {
	src, err := scaffold.ReadFile("scaffold/" + tmpl)
	if err != nil {
		return err
	}
	var name strings.Builder
	if err := template.Must(template.New("").Parse(out)).Execute(&name, data); err != nil {
		return err
	}
	path := filepath.Join(dir, filepath.FromSlash(name.String()))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return template.Must(template.New(tmpl).Parse(string(src))).Execute(f, data)
}

// findGosledge walks up from dir to the checkout of gosledge holding it.
func findGosledge(dir string) string {
	for {
		if _, ok := moduleGoVersion(filepath.Join(dir, "go.mod")); ok {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// moduleGoVersion reads a go.mod and reports its go version if it is
// gosledge's.
func moduleGoVersion(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	mod, version := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if v, ok := strings.CutPrefix(line, "module "); ok {
			mod = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "go "); ok {
			version = strings.TrimSpace(v)
		}
	}
	return version, mod == "github.com/gosledge/gosledge" && version != ""
}
