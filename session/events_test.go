package session

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/edgeplay/edgeplay/internal/natsd"
)

// The event kinds this package publishes are exactly those a host's NATS user may publish
// (natsd.HostEvents): a kind missing there would be refused by the server at run time.
func TestEventKindsMatchHostPermissions(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	kind := regexp.MustCompile(`Event\{Kind: "([a-z_]+)"`)
	var kinds []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range kind.FindAllSubmatch(b, -1) {
			if k := string(m[1]); !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	slices.Sort(kinds)
	allowed := slices.Sorted(slices.Values(natsd.HostEvents))
	if !slices.Equal(kinds, allowed) {
		t.Fatalf("the host publishes %v; its NATS user may publish %v", kinds, allowed)
	}
}
