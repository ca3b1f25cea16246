package netlab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// tools maps "ip", "tc" and "nft" to their paths. /usr/sbin is searched too because a
// non-login PATH often lacks it.
var tools = sync.OnceValues(func() (map[string]string, error) {
	m := map[string]string{}
	for _, name := range []string{"ip", "tc", "nft"} {
		p, err := exec.LookPath(name)
		if err != nil {
			for _, dir := range []string{"/usr/sbin", "/sbin"} {
				if fi, serr := os.Stat(filepath.Join(dir, name)); serr == nil && fi.Mode()&0o111 != 0 {
					p, err = filepath.Join(dir, name), nil
					break
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s not found", ErrMissingTool, name)
		}
		m[name] = p
	}
	return m, nil
})

// unsupportedMarks are stderr texts of ip, tc and nft that mean the kernel lacks a feature.
var unsupportedMarks = []string{
	"not supported",         // EOPNOTSUPP, EPROTONOSUPPORT: nf_tables, numgen, nat missing
	"Unknown device type",   // no veth
	"qdisc kind is unknown", // no sch_tbf
}

// run runs tool ("ip", "tc" or "nft") with args in the named network namespace ("" is the
// root namespace) and returns its stdout. stdin, when not empty, is fed to it.
func run(ctx context.Context, ns, stdin, tool string, args ...string) ([]byte, error) {
	paths, err := tools()
	if err != nil {
		return nil, err
	}
	argv := append([]string{paths[tool]}, args...)
	if ns != "" {
		argv = append([]string{paths["ip"], "netns", "exec", ns}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		where := ""
		if ns != "" {
			where = " (netns " + ns + ")"
		}
		for _, m := range unsupportedMarks {
			if strings.Contains(msg, m) {
				return nil, fmt.Errorf("%w: %s %s%s: %s", ErrUnsupported, tool, strings.Join(args, " "), where, msg)
			}
		}
		return nil, fmt.Errorf("%s %s%s: %w: %s", tool, strings.Join(args, " "), where, err, msg)
	}
	return stdout.Bytes(), nil
}

// notFound reports whether err says the object to delete is already gone.
func notFound(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	for _, m := range []string{"Cannot find device", "does not exist", "No such file or directory", "Cannot open network namespace"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}
