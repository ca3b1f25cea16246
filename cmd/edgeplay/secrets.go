package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Secrets fail closed (issue 12): a secret that is set must be long enough and must not be a
// placeholder left from an example (REPLACE-ME…); a role that needs one refuses to start
// without it. Each comes from a file (--…-file: Kubernetes and Docker secrets are files), or
// else from its environment variable (or flag).

// placeholders are the marks of a secret copied from an example and never filled in.
var placeholders = []string{"replace", "change-me", "changeme", "change_me", "example", "your-", "<", ">", "xxxxxxxx", "todo"}

// secret returns the secret named what: the content (trimmed) of file, given with the flag
// fileFlag, when it is set, else value; it is refused when set but shorter than min bytes or a
// placeholder.
func secret(what, fileFlag, file, value string, min int) ([]byte, error) {
	s := []byte(value)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fileFlag, err)
		}
		s = bytes.TrimSpace(b)
		if len(s) == 0 {
			return nil, fmt.Errorf("%s: the file %s is empty", fileFlag, file)
		}
	}
	if len(s) == 0 {
		return nil, nil
	}
	if len(s) < min {
		return nil, fmt.Errorf("%s is %d bytes: it must be at least %d (random: openssl rand -hex %d)", what, len(s), min, min)
	}
	low := strings.ToLower(string(s))
	for _, p := range placeholders {
		if strings.Contains(low, p) {
			return nil, fmt.Errorf("%s looks like a placeholder (it contains %q): set a random secret (openssl rand -hex %d)", what, p, min)
		}
	}
	return s, nil
}
