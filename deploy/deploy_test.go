package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	mainGo    = "../cmd/edgeplay/main.go"
	metricsGo = "../internal/metrics/metrics.go"
)

var roles = []string{"up", "gateway", "matchmaker", "host", "turn"}

// flagSpec is one flag of `edgeplay`, read from the source of cmd/edgeplay.
type flagSpec struct {
	kind  string   // String, Int, Bool, Duration
	roles []string // roles its usage text names, e.g. "(up, host)"; empty: every role
}

// roleGroup matches a parenthesised group of role names in a usage text: "(up, host)", or
// "(host, matchmaker, turn; the gateway serves them on --addr)".
var roleGroup = regexp.MustCompile(`\(((?:up|gateway|matchmaker|host|turn)(?:, (?:up|gateway|matchmaker|host|turn))*)[;)]`)

// knownFlags parses cmd/edgeplay/main.go and returns every flag defined with
// fs.String/Int/Bool/Duration("name", default, "usage").
func knownFlags(t *testing.T) map[string]flagSpec {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), mainGo, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", mainGo, err)
	}
	flags := map[string]flagSpec{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 3 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "fs" {
			return true
		}
		switch sel.Sel.Name {
		case "String", "Int", "Bool", "Duration":
		default:
			return true
		}
		name, ok := stringLit(call.Args[0])
		if !ok {
			t.Errorf("%s: fs.%s with a non-literal name", mainGo, sel.Sel.Name)
			return true
		}
		spec := flagSpec{kind: sel.Sel.Name}
		if usage, ok := stringLit(call.Args[2]); ok {
			for _, m := range roleGroup.FindAllStringSubmatch(usage, -1) {
				spec.roles = append(spec.roles, strings.Split(m[1], ", ")...)
			}
		}
		flags[name] = spec
		return true
	})
	return flags
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func TestKnownFlagsFromSource(t *testing.T) {
	flags := knownFlags(t)
	for name, kind := range map[string]string{
		"nats": "String", "drain-grace": "Duration", "region": "String", "udp": "String",
		"public-ip": "String", "peers": "String", "jetstream-replicas": "Int", "id": "String", "join-tokens": "String",
		"exit-when-drained": "Bool", "addr": "String", "log-format": "String",
		"resume-grace": "Duration", "resume-secret-file": "String", "turn-addr": "String", "turn-url": "String",
		"turn-public-ip": "String", "turn-relay-ports": "String", "turn-peers": "String", "turn-max-allocations": "Int",
	} {
		if got := flags[name].kind; got != kind {
			t.Errorf("flag --%s: kind %q from %s, want %q (is the flag parser still right?)", name, got, mainGo, kind)
		}
	}
	for name, want := range map[string][]string{
		"peers":              {"gateway"},
		"turn-url":           {"gateway"},
		"resume-secret-file": {"gateway"},
		"turn-secret":        {"turn", "gateway"},
		"turn-peers":         {"turn"},
		"metrics-addr":       {"host", "matchmaker", "turn", "gateway"},
		"nats":               {"gateway", "matchmaker", "host"},
	} {
		if r := flags[name].roles; !slices.Equal(r, want) {
			t.Errorf("--%s roles = %v, want %v", name, r, want)
		}
	}
	if r := flags["log-level"].roles; len(r) != 0 {
		t.Errorf("--log-level roles = %v, want none (every role)", r)
	}
}

// checkArgs checks an edgeplay argument list (after the binary name: ROLE --flag value …)
// the way the binary's flag package would parse it, plus the role each flag is meant for.
// It returns the role and the flag values.
func checkArgs(args []string, flags map[string]flagSpec) (string, map[string]string, []error) {
	var errs []error
	if len(args) == 0 {
		return "", nil, []error{errors.New("no role: want edgeplay up|gateway|matchmaker|host|turn")}
	}
	role := args[0]
	if !slices.Contains(roles, role) {
		errs = append(errs, fmt.Errorf("unknown role %q: want one of %v", role, roles))
	}
	vals := map[string]string{}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") {
			errs = append(errs, fmt.Errorf("unexpected argument %q: edgeplay takes only flags after the role", a))
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		spec, ok := flags[name]
		if !ok {
			errs = append(errs, fmt.Errorf("flag --%s does not exist in %s", name, mainGo))
			continue
		}
		if spec.kind == "Bool" {
			if hasVal {
				if _, err := strconv.ParseBool(val); err != nil {
					errs = append(errs, fmt.Errorf("--%s=%q: not a bool", name, val))
				}
			} else {
				val = "true"
			}
		} else if !hasVal {
			if i+1 == len(args) {
				errs = append(errs, fmt.Errorf("flag --%s needs a value", name))
				continue
			}
			i++
			val = args[i]
		}
		if _, dup := vals[name]; dup {
			errs = append(errs, fmt.Errorf("flag --%s given twice", name))
		}
		vals[name] = val
		if len(spec.roles) > 0 && !slices.Contains(spec.roles, role) {
			errs = append(errs, fmt.Errorf("flag --%s is for %v, not %q (the binary would ignore it)", name, spec.roles, role))
		}
		if strings.Contains(val, "${") || strings.Contains(val, "$(") {
			continue // filled in by compose or Kubernetes
		}
		switch spec.kind {
		case "Int":
			if _, err := strconv.Atoi(val); err != nil {
				errs = append(errs, fmt.Errorf("--%s %q: not an integer", name, val))
			}
		case "Duration":
			if _, err := time.ParseDuration(val); err != nil {
				errs = append(errs, fmt.Errorf("--%s %q: not a duration", name, val))
			}
		}
	}
	if role != "up" && role != "turn" { // a TURN server needs no NATS
		if _, ok := vals["nats"]; !ok {
			errs = append(errs, fmt.Errorf("role %s needs --nats", role))
		}
	}
	return role, vals, errs
}

// TestCheckArgsCatchesMistakes shows that the checks below fail on the mistakes they exist for.
func TestCheckArgsCatchesMistakes(t *testing.T) {
	flags := knownFlags(t)
	nats := []string{"--nats", "nats://n:4222"}
	for _, tc := range []struct {
		name string
		args []string
		want string // substring of an error; "" = valid
	}{
		{"valid host", append([]string{"host", "--drain-grace", "10m", "--exit-when-drained", "--udp=:8443"}, nats...), ""},
		{"valid gateway", append([]string{"gateway", "--peers", "dxb-2=http://x:8080"}, nats...), ""},
		{"typo in flag", append([]string{"host", "--drian-grace", "10m"}, nats...), "--drian-grace does not exist"},
		{"unknown role", append([]string{"hots"}, nats...), `unknown role "hots"`},
		{"missing value", []string{"host", "--nats"}, "needs a value"},
		{"bad duration", append([]string{"host", "--drain-grace", "10"}, nats...), "not a duration"},
		{"bad int", append([]string{"matchmaker", "--jetstream-replicas", "three"}, nats...), "not an integer"},
		{"flag of another role", append([]string{"host", "--peers", "a=http://b"}, nats...), "not \"host\""},
		{"positional argument", append([]string{"host", "extra"}, nats...), "unexpected argument"},
		{"no nats", []string{"matchmaker"}, "needs --nats"},
		{"valid turn", []string{"turn", "--turn-public-ip", "203.0.113.9", "--turn-relay-ports", "49160-49200", "--turn-max-allocations", "41"}, ""},
		{"turn with nats", append([]string{"turn"}, nats...), "not \"turn\""},
		{"gateway flag on turn", []string{"turn", "--turn-url", "turn:x:3478"}, "not \"turn\""},
		{"turn flag on gateway", append([]string{"gateway", "--turn-peers", "10.0.0.0/8"}, nats...), "not \"gateway\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, errs := checkArgs(tc.args, flags)
			err := errors.Join(errs...)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("%q: unexpected error: %v", tc.args, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// decodeYAML returns every document of a (multi-document) YAML file.
func decodeYAML(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// get walks maps by key; nil when a step is missing or not a map.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, len(l))
	for i, x := range l {
		out[i] = str(x)
	}
	return out
}

// edgeplayArgs returns the arguments after "edgeplay" when cmd runs edgeplay; ok false when it
// runs something else. entrypointIsEdgeplay: cmd only passes arguments to the image's
// entrypoint, which is edgeplay.
func edgeplayArgs(cmd []string, entrypointIsEdgeplay bool) ([]string, bool) {
	if len(cmd) > 0 && (cmd[0] == "edgeplay" || strings.HasSuffix(cmd[0], "/edgeplay")) {
		return cmd[1:], true
	}
	return cmd, entrypointIsEdgeplay
}

// ---- docker compose ----

// composePort is one published port, or a range of n ports from host and container.
type composePort struct {
	host, container, n int
	proto              string
}

// has reports whether p publishes port over proto as the same port inside the container.
func (p composePort) has(port int, proto string) bool {
	return p.proto == proto && p.container == p.host && port >= p.host && port < p.host+p.n
}

// composePorts parses the short ("[IP:]HOST[-END]:CONTAINER[-END][/PROTO]") and long port
// syntaxes.
func composePorts(v any) ([]composePort, error) {
	var out []composePort
	l, _ := v.([]any)
	for _, p := range l {
		if m, ok := p.(map[string]any); ok {
			c, err1 := strconv.Atoi(str(m["target"]))
			h, err2 := strconv.Atoi(str(m["published"]))
			if err := errors.Join(err1, err2); err != nil {
				return nil, fmt.Errorf("port %v: %w", m, err)
			}
			proto := str(m["protocol"])
			if proto == "" {
				proto = "tcp"
			}
			out = append(out, composePort{h, c, 1, proto})
			continue
		}
		s, proto, _ := strings.Cut(str(p), "/")
		if proto == "" {
			proto = "tcp"
		}
		parts := strings.Split(s, ":")
		if len(parts) < 2 {
			return nil, fmt.Errorf("port %q: want HOST:CONTAINER (an unpublished port is useless here)", str(p))
		}
		h, hEnd, err1 := portRange(parts[len(parts)-2])
		c, cEnd, err2 := portRange(parts[len(parts)-1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("port %q: %w", str(p), err)
		}
		if hEnd-h != cEnd-c {
			return nil, fmt.Errorf("port %q: host and container ranges differ in length", str(p))
		}
		out = append(out, composePort{h, c, hEnd - h + 1, proto})
	}
	return out, nil
}

// portRange parses "PORT" or "MIN-MAX" (a compose port range, or --turn-relay-ports).
func portRange(s string) (int, int, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	minPort, err := strconv.Atoi(lo)
	if err != nil {
		return 0, 0, err
	}
	maxPort := minPort
	if isRange {
		if maxPort, err = strconv.Atoi(hi); err != nil {
			return 0, 0, err
		}
	}
	if minPort < 1 || maxPort < minPort || maxPort > 65535 {
		return 0, 0, fmt.Errorf("port range %q: want 1 ≤ MIN ≤ MAX ≤ 65535", s)
	}
	return minPort, maxPort, nil
}

// turnURLPort returns the port and transport ("udp", "tcp") a TURN URI names (RFC 7065):
// turn:HOST[:PORT][?transport=udp|tcp] (default 3478, udp) or turns:HOST[:PORT][?transport=tcp]
// (default 5349). HOST may hold a compose ${…} or Kubernetes $(…) reference.
func turnURLPort(u string) (int, string, error) {
	u = composeVar.ReplaceAllString(k8sVar.ReplaceAllString(u, "HOST"), "HOST")
	scheme, rest, _ := strings.Cut(u, ":")
	hostPort, query, _ := strings.Cut(rest, "?")
	port, proto := 3478, "udp"
	switch scheme {
	case "turn":
	case "turns":
		port, proto = 5349, "tcp"
	default:
		return 0, "", fmt.Errorf("TURN URL %q: want turn: or turns:", u)
	}
	if i := strings.LastIndexByte(hostPort, ':'); i >= 0 {
		p, err := strconv.Atoi(hostPort[i+1:])
		if err != nil {
			return 0, "", fmt.Errorf("TURN URL %q: port: %w", u, err)
		}
		port = p
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return 0, "", fmt.Errorf("TURN URL %q: %w", u, err)
	}
	if tr := q.Get("transport"); tr != "" {
		proto = tr
	}
	if proto != "udp" && proto != "tcp" || scheme == "turns" && proto != "tcp" {
		return 0, "", fmt.Errorf("TURN URL %q: transport %q", u, proto)
	}
	return port, proto, nil
}

// turnURLsReach checks that every URL of a gateway's --turn-url reaches the TURN server:
// its port and transport are among the ports players reach that server at.
func turnURLsReach(urls string, ports []composePort) []error {
	var errs []error
	for u := range strings.SplitSeq(urls, ",") {
		if u = strings.TrimSpace(u); u == "" {
			continue
		}
		port, proto, err := turnURLPort(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !slices.ContainsFunc(ports, func(p composePort) bool { return p.has(port, proto) }) {
			errs = append(errs, fmt.Errorf("--turn-url %q: the TURN server takes no %d/%s (it has %v)", u, port, proto, ports))
		}
	}
	return errs
}

var composeVar = regexp.MustCompile(`\$\{[^}]*\}`)

// maxComposeRelayPorts bounds the TURN relay port range in docker-compose.yml: docker
// publishes every port of a range on its own, so thousands take minutes and much memory.
const maxComposeRelayPorts = 200

func listenPort(addr string) (int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return 0, fmt.Errorf("%q has no port", addr)
	}
	return strconv.Atoi(addr[i+1:])
}

func TestCompose(t *testing.T) {
	flags := knownFlags(t)
	docs := decodeYAML(t, "docker-compose.yml")
	if len(docs) != 1 {
		t.Fatalf("docker-compose.yml: %d documents, want 1", len(docs))
	}
	services, _ := docs[0]["services"].(map[string]any)
	if len(services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	volumes, _ := docs[0]["volumes"].(map[string]any)
	count := map[string]int{}
	regions := map[string]int{}
	natsVolumes := map[string]bool{}
	udpPorts := map[int]string{}
	gatewayTURN := map[string]string{} // gateway service → --turn-url
	var turnPorts []composePort        // what the turn service publishes
	for _, name := range sortedKeys(services) {
		svc := services[name]
		t.Run(name, func(t *testing.T) {
			image := str(get(svc, "image"))
			if strings.HasPrefix(image, "nats:") {
				count["nats"]++
				cmd := strings.Join(strs(get(svc, "command")), " ")
				for _, want := range []string{"--js", "--cluster ", "--routes ", "--cluster_name "} {
					if !strings.Contains(cmd, want) {
						t.Errorf("NATS node %s: command lacks %q: %s", name, want, cmd)
					}
				}
				for _, v := range strs(get(svc, "volumes")) {
					vol, _, _ := strings.Cut(v, ":")
					if _, ok := volumes[vol]; !ok {
						t.Errorf("NATS node %s: volume %q is not a named volume", name, vol)
					}
					if natsVolumes[vol] {
						t.Errorf("NATS node %s: volume %q shared with another node", name, vol)
					}
					natsVolumes[vol] = true
				}
				return
			}
			// edgeplay services: the image the repository's Dockerfile builds.
			ctx := str(get(svc, "build", "context"))
			if ctx == "" {
				ctx = str(get(svc, "build"))
			}
			df := str(get(svc, "build", "dockerfile"))
			if df == "" {
				df = "Dockerfile"
			}
			if ctx == "" {
				t.Fatalf("service %s: no build (image %q); every edgeplay service builds the repository's Dockerfile", name, image)
			}
			if abs, _ := filepath.Abs(ctx); abs != mustAbs(t, "..") {
				t.Errorf("service %s: build context %q is not the repository root (..)", name, ctx)
			}
			if _, err := os.Stat(filepath.Join(ctx, df)); err != nil {
				t.Errorf("service %s: dockerfile: %v", name, err)
			}
			if !strings.Contains(str(get(svc, "restart")), "unless-stopped") && !strings.Contains(str(get(svc, "restart")), "always") && !strings.Contains(str(get(svc, "restart")), "on-failure") {
				t.Errorf("service %s: restart %q, want a restart policy", name, str(get(svc, "restart")))
			}
			args, ok := edgeplayArgs(strs(get(svc, "command")), true)
			if !ok || len(args) == 0 {
				t.Fatalf("service %s: command %v must be a list starting with the edgeplay role", name, get(svc, "command"))
			}
			role, vals, errs := checkArgs(args, flags)
			for _, err := range errs {
				t.Errorf("service %s: %v", name, err)
			}
			count[role]++
			env, _ := get(svc, "environment").(map[string]any)
			needEnv := func(k string) {
				if v, ok := env[k]; !ok {
					t.Errorf("service %s (%s): environment lacks %s", name, role, k)
				} else if s := str(v); s != "" && !strings.HasPrefix(s, "${"+k) {
					t.Errorf("service %s: %s = %q; take it from the environment (${%s…}), never a literal secret", name, k, s, k)
				}
			}
			ports, err := composePorts(get(svc, "ports"))
			if err != nil {
				t.Errorf("service %s: %v", name, err)
			}
			hc := strings.Join(strs(get(svc, "healthcheck", "test")), " ")
			if (role == "host" || role == "matchmaker" || role == "turn") && vals["metrics-addr"] == "" {
				t.Errorf("service %s: %s without --metrics-addr: its metrics cannot be scraped", name, role)
			}
			if hc != "" {
				port, ok, err := httpPort(role, vals)
				switch {
				case err != nil || !ok:
					t.Errorf("service %s: healthcheck %q, but the %s has no HTTP listener (%v)", name, hc, role, err)
				case !checksHealth(hc):
					t.Errorf("service %s: healthcheck %q does not check /readyz or /healthz", name, hc)
				default:
					m := localURLPort.FindStringSubmatch(hc)
					if m == nil || m[1] != strconv.Itoa(port) {
						t.Errorf("service %s: healthcheck %q does not hit the process's HTTP port %d", name, hc, port)
					}
				}
			}
			switch role {
			case "gateway":
				needEnv("EDGEPLAY_PROBE_KEY")
				needEnv("EDGEPLAY_ADMIN_TOKEN")
				needEnv("EDGEPLAY_TURN_SECRET")   // shared with the turn service
				needEnv("EDGEPLAY_RESUME_SECRET") // shared by the gateways: a player resumes through either
				if vals["turn-url"] == "" {
					t.Errorf("service %s: gateway without --turn-url: players whose network blocks UDP get no relay", name)
				}
				gatewayTURN[name] = vals["turn-url"]
				if vals["jetstream-replicas"] != "3" {
					t.Errorf("service %s: --jetstream-replicas %q, want 3: the gateway creates the studio buckets", name, vals["jetstream-replicas"])
				}
				want, err := listenPort(valueOr(vals, "addr", ":8080"))
				if err != nil || want != 8080 {
					t.Errorf("service %s: --addr %q, want port 8080", name, vals["addr"])
				}
				if !slices.ContainsFunc(ports, func(p composePort) bool { return p.container == 8080 && p.proto == "tcp" }) {
					t.Errorf("service %s: gateway does not publish 8080/tcp (ports %v)", name, ports)
				}
				if hc == "" {
					t.Errorf("service %s: gateway without a healthcheck", name)
				}
				regions["gateway "+vals["region"]]++
				if vals["peers"] == "" {
					t.Errorf("service %s: gateway without --peers", name)
				}
			case "matchmaker":
				needEnv("EDGEPLAY_PROBE_KEY")
				if vals["jetstream-replicas"] != "3" {
					t.Errorf("service %s: --jetstream-replicas %q, want 3 on the 3-node NATS cluster", name, vals["jetstream-replicas"])
				}
				if hc == "" {
					t.Errorf("service %s: matchmaker without a healthcheck", name)
				}
			case "host":
				regions["host "+vals["region"]]++
				udp, err := listenPort(valueOr(vals, "udp", ":8443"))
				if err != nil {
					t.Errorf("service %s: --udp: %v", name, err)
				}
				i := slices.IndexFunc(ports, func(p composePort) bool { return p.proto == "udp" })
				switch {
				case i < 0:
					t.Errorf("service %s: host publishes no UDP port (ports %v)", name, ports)
				case ports[i].container != udp || ports[i].host != udp:
					t.Errorf("service %s: publishes %d:%d/udp but --udp is :%d; with --public-ip the host advertises its own port, so all three must match",
						name, ports[i].host, ports[i].container, udp)
				}
				if other, dup := udpPorts[udp]; dup {
					t.Errorf("service %s: UDP port %d also used by %s", name, udp, other)
				}
				udpPorts[udp] = name
				if vals["id"] == "" || vals["public-ip"] == "" {
					t.Errorf("service %s: host needs --id and --public-ip", name)
				}
				grace, err := time.ParseDuration(vals["drain-grace"])
				if err != nil {
					t.Fatalf("service %s: pass --drain-grace explicitly (it sets stop_grace_period): %v", name, err)
				}
				stop, err := time.ParseDuration(str(get(svc, "stop_grace_period")))
				if err != nil || stop <= grace {
					t.Errorf("service %s: stop_grace_period %q must exceed --drain-grace %s, or docker kills a draining host",
						name, str(get(svc, "stop_grace_period")), grace)
				}
			case "turn":
				needEnv("EDGEPLAY_TURN_SECRET")
				turnPorts = ports
				if hc == "" {
					t.Errorf("service %s: turn without a healthcheck", name)
				}
				listen, err := listenPort(valueOr(vals, "turn-addr", ":3478"))
				if err != nil {
					t.Errorf("service %s: --turn-addr: %v", name, err)
				}
				for _, proto := range []string{"udp", "tcp"} {
					if !slices.ContainsFunc(ports, func(p composePort) bool { return p.has(listen, proto) }) {
						t.Errorf("service %s: TURN listens on %d over UDP and TCP; publish %d:%d/%s (ports %v)", name, listen, listen, listen, proto, ports)
					}
				}
				if vals["turn-public-ip"] == "" {
					t.Errorf("service %s: turn needs --turn-public-ip, the address its relays are advertised at", name)
				}
				if vals["turn-peers"] == "" {
					t.Errorf("service %s: turn without --turn-peers: its relays could reach anything this machine reaches; name the hosts' address", name)
				}
				lo, hi, err := portRange(vals["turn-relay-ports"])
				if err != nil {
					t.Fatalf("service %s: pass --turn-relay-ports explicitly (the default 49152-65535 is too many ports to publish): %v", name, err)
				}
				relays := hi - lo + 1
				if !slices.ContainsFunc(ports, func(p composePort) bool {
					return p.proto == "udp" && p.host == lo && p.container == lo && p.n == relays
				}) {
					t.Errorf("service %s: publish the relay ports as %d-%d:%d-%d/udp: a relay is advertised at --turn-public-ip with its own port (ports %v)",
						name, lo, hi, lo, hi, ports)
				}
				if relays > maxComposeRelayPorts {
					t.Errorf("service %s: %d relay ports; docker publishes each port of a range on its own (iptables rules, a docker-proxy), keep it ≤ %d",
						name, relays, maxComposeRelayPorts)
				}
				if n, err := strconv.Atoi(valueOr(vals, "turn-max-allocations", "1000")); err != nil || n > relays {
					t.Errorf("service %s: --turn-max-allocations %q exceeds the %d relay ports: set it below them, so it is the limit that holds",
						name, valueOr(vals, "turn-max-allocations", "1000"), relays)
				}
				tlsPort := -1 // TURN over TLS listens only with a certificate
				if vals["turn-cert"] != "" {
					if tlsPort, err = listenPort(valueOr(vals, "turn-tls-addr", ":443")); err != nil {
						t.Errorf("service %s: --turn-tls-addr: %v", name, err)
					}
				}
				for _, p := range ports {
					if p.proto == "tcp" && !p.has(listen, "tcp") && !p.has(tlsPort, "tcp") {
						t.Errorf("service %s: publishes %v, which is not a TURN port (keep --metrics-addr on the compose network)", name, p)
					}
					for port := p.host; p.proto == "udp" && port < p.host+p.n; port++ {
						if other, dup := udpPorts[port]; dup {
							t.Errorf("service %s: UDP port %d also used by %s", name, port, other)
						}
						udpPorts[port] = name
					}
				}
			}
			if role != "gateway" && role != "turn" && slices.ContainsFunc(ports, func(p composePort) bool { return p.proto == "tcp" }) {
				t.Errorf("service %s (%s): publishes TCP ports %v; only gateways (HTTP) and turn (TURN over TCP) do", name, role, ports)
			}
		})
	}
	// Every gateway hands players TURN URLs the turn service answers on.
	for _, name := range sortedKeys(gatewayTURN) {
		for _, err := range turnURLsReach(gatewayTURN[name], turnPorts) {
			t.Errorf("service %s: %v", name, err)
		}
	}
	for what, want := range map[string]int{
		"nats": 3, "matchmaker": 2, "gateway": 2, "host": 4, "turn": 1,
		"host dxb-1": 2, "host dxb-2": 2, "gateway dxb-1": 1, "gateway dxb-2": 1,
	} {
		got := count[what]
		if strings.Contains(what, " ") {
			got = regions[what]
		}
		if got != want {
			t.Errorf("docker-compose.yml: %d × %s, want %d", got, what, want)
		}
	}
}

// httpPort is the port of the HTTP listener (/healthz, /readyz, /metrics) of an edgeplay
// process: --addr for a gateway (and up), --metrics-addr for a host or matchmaker; ok false
// when it has none.
func httpPort(role string, vals map[string]string) (int, bool, error) {
	addr, ok := vals["metrics-addr"]
	if role == "gateway" || role == "up" {
		addr, ok = valueOr(vals, "addr", ":8080"), true
	}
	if !ok || addr == "" {
		return 0, false, nil
	}
	p, err := listenPort(addr)
	return p, err == nil, err
}

var localURLPort = regexp.MustCompile(`(?:127\.0\.0\.1|localhost):(\d+)`)

func valueOr(m map[string]string, k, def string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return def
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ---- Kubernetes ----

var k8sVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

func TestKubernetes(t *testing.T) {
	flags := knownFlags(t)
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no k8s/*.yaml: %v", err)
	}
	type obj struct {
		file string
		doc  map[string]any
	}
	var objs []obj
	configKeys := map[string]bool{}     // "ConfigMap/name/key", "Secret/name/key"
	configValues := map[string]string{} // "ConfigMap/name/key" → value
	for _, f := range files {
		for _, doc := range decodeYAML(t, f) {
			if str(doc["kind"]) == "Kustomization" {
				for _, r := range strs(doc["resources"]) {
					if _, err := os.Stat(filepath.Join("k8s", r)); err != nil {
						t.Errorf("%s: resource %v", f, err)
					}
				}
				continue
			}
			objs = append(objs, obj{f, doc})
			kind := str(doc["kind"])
			for _, field := range []string{"data", "stringData"} {
				m, _ := doc[field].(map[string]any)
				for k, v := range m {
					key := kind + "/" + str(get(doc, "metadata", "name")) + "/" + k
					configKeys[key] = true
					if kind == "ConfigMap" {
						configValues[key] = str(v)
					}
				}
			}
		}
	}
	roleCount := map[string]int{}
	podLabels := map[string]map[string]any{} // component → pod template labels
	turnSecret := map[string]string{}        // role → the Secret key its EDGEPLAY_TURN_SECRET comes from
	var gatewayTURN string                   // the gateway's --turn-url, ConfigMap values filled in
	var turnPorts []composePort              // the ports the turn pods take on their nodes
	for _, o := range objs {
		kind, name := str(o.doc["kind"]), str(get(o.doc, "metadata", "name"))
		where := fmt.Sprintf("%s: %s/%s", o.file, kind, name)
		t.Run(kind+"/"+name, func(t *testing.T) {
			if str(o.doc["apiVersion"]) == "" || kind == "" || name == "" {
				t.Fatalf("%s: needs apiVersion, kind and metadata.name", where)
			}
			if kind != "Namespace" && str(get(o.doc, "metadata", "namespace")) != "edgeplay" {
				t.Errorf("%s: namespace %q, want edgeplay", where, str(get(o.doc, "metadata", "namespace")))
			}
			if kind != "Deployment" && kind != "StatefulSet" {
				return
			}
			tmplLabels, _ := get(o.doc, "spec", "template", "metadata", "labels").(map[string]any)
			sel, _ := get(o.doc, "spec", "selector", "matchLabels").(map[string]any)
			for k, v := range sel {
				if str(tmplLabels[k]) != str(v) {
					t.Errorf("%s: selector %s=%v does not match the pod template labels %v", where, k, v, tmplLabels)
				}
			}
			spec := get(o.doc, "spec", "template", "spec")
			containers, _ := get(spec, "containers").([]any)
			for _, c := range containers {
				cname := str(get(c, "name"))
				image := str(get(c, "image"))
				repo, _, _ := strings.Cut(image[strings.LastIndexByte(image, '/')+1:], ":")
				if repo != "edgeplay" {
					t.Errorf("%s/%s: image %q is not the edgeplay image built from the repository's Dockerfile", where, cname, image)
				}
				cmd := append(strs(get(c, "command")), strs(get(c, "args"))...)
				args, ok := edgeplayArgs(cmd, len(strs(get(c, "command"))) == 0)
				if !ok {
					continue
				}
				role, vals, errs := checkArgs(args, flags)
				for _, err := range errs {
					t.Errorf("%s/%s: %v", where, cname, err)
				}
				roleCount[role]++
				podLabels[role] = tmplLabels
				// Every $(VAR) must be defined in env, or Kubernetes passes it literally.
				env := map[string]any{}
				envList, _ := get(c, "env").([]any)
				for _, e := range envList {
					env[str(get(e, "name"))] = e
					for _, ref := range []struct{ kind, path string }{{"ConfigMap", "configMapKeyRef"}, {"Secret", "secretKeyRef"}} {
						if r := get(e, "valueFrom", ref.path); r != nil {
							key := ref.kind + "/" + str(get(r, "name")) + "/" + str(get(r, "key"))
							if !configKeys[key] {
								t.Errorf("%s/%s: env %s refers to %s, which no manifest defines", where, cname, str(get(e, "name")), key)
							}
						}
					}
				}
				for _, a := range args {
					for _, m := range k8sVar.FindAllStringSubmatch(a, -1) {
						if _, ok := env[m[1]]; !ok {
							t.Errorf("%s/%s: argument %q uses $(%s), which is not in env", where, cname, a, m[1])
						}
					}
				}
				if get(c, "resources", "requests") == nil || get(c, "resources", "limits") == nil {
					t.Errorf("%s/%s: set resources.requests and resources.limits", where, cname)
				}
				ports, _ := get(c, "ports").([]any)
				if (role == "host" || role == "matchmaker" || role == "turn") && vals["metrics-addr"] == "" {
					t.Errorf("%s/%s: %s without --metrics-addr: no probes, no metrics", where, cname, role)
				}
				if r := get(env["EDGEPLAY_TURN_SECRET"], "valueFrom", "secretKeyRef"); r != nil {
					turnSecret[role] = str(get(r, "name")) + "/" + str(get(r, "key"))
				}
				listen, hasHTTP, err := httpPort(role, vals)
				if err != nil {
					t.Errorf("%s/%s: %v", where, cname, err)
				}
				for _, pr := range []struct{ field, path string }{{"readinessProbe", "/readyz"}, {"livenessProbe", "/healthz"}} {
					probe := get(c, pr.field)
					if !hasHTTP {
						if probe != nil {
							t.Errorf("%s/%s: %s on a %s without an HTTP listener: it could never pass", where, cname, pr.field, role)
						}
						continue
					}
					if p := str(get(probe, "httpGet", "path")); p != pr.path {
						t.Errorf("%s/%s: %s httpGet path %q, want %s", where, cname, pr.field, p, pr.path)
					}
					port := str(get(probe, "httpGet", "port"))
					for _, cp := range ports {
						if str(get(cp, "name")) == port {
							port = str(get(cp, "containerPort"))
						}
					}
					if port != strconv.Itoa(listen) {
						t.Errorf("%s/%s: %s port %s, but the process listens on %d", where, cname, pr.field, port, listen)
					}
				}
				if hasHTTP && !slices.ContainsFunc(ports, func(p any) bool {
					proto := str(get(p, "protocol"))
					return str(get(p, "containerPort")) == strconv.Itoa(listen) && (proto == "" || proto == "TCP")
				}) {
					t.Errorf("%s/%s: HTTP port %d is not in ports (TCP)", where, cname, listen)
				}
				switch role {
				case "gateway":
					for _, k := range []string{"EDGEPLAY_PROBE_KEY", "EDGEPLAY_ADMIN_TOKEN", "EDGEPLAY_TURN_SECRET", "EDGEPLAY_RESUME_SECRET"} {
						if get(env[k], "valueFrom", "secretKeyRef") == nil {
							t.Errorf("%s/%s: %s must come from a Secret", where, cname, k)
						}
					}
					if vals["turn-url"] == "" {
						t.Errorf("%s/%s: gateway without --turn-url: players whose network blocks UDP get no relay", where, cname)
					}
					if vals["jetstream-replicas"] != "3" || vals["join-tokens"] != "required" {
						t.Errorf("%s/%s: --jetstream-replicas %q --join-tokens %q, want 3 and required (production)", where, cname,
							vals["jetstream-replicas"], vals["join-tokens"])
					}
					gatewayTURN = k8sVar.ReplaceAllStringFunc(vals["turn-url"], func(ref string) string {
						r := get(env[k8sVar.FindStringSubmatch(ref)[1]], "valueFrom", "configMapKeyRef")
						if v, ok := configValues["ConfigMap/"+str(get(r, "name"))+"/"+str(get(r, "key"))]; ok {
							return v
						}
						return ref
					})
					if p, err := listenPort(valueOr(vals, "addr", ":8080")); err != nil || p != 8080 {
						t.Errorf("%s/%s: --addr %q, want port 8080", where, cname, vals["addr"])
					}
				case "matchmaker":
					if get(env["EDGEPLAY_PROBE_KEY"], "valueFrom", "secretKeyRef") == nil {
						t.Errorf("%s/%s: EDGEPLAY_PROBE_KEY must come from a Secret", where, cname)
					}
					if vals["jetstream-replicas"] != "3" {
						t.Errorf("%s/%s: --jetstream-replicas %q, want 3", where, cname, vals["jetstream-replicas"])
					}
					if n := str(get(o.doc, "spec", "replicas")); n != "2" {
						t.Errorf("%s: replicas %s, want 2", where, n)
					}
				case "host":
					if kind != "StatefulSet" {
						t.Errorf("%s: hosts run as a StatefulSet (stable ids)", where)
					}
					if vals["id"] != "$(POD_NAME)" || str(get(env["POD_NAME"], "valueFrom", "fieldRef", "fieldPath")) != "metadata.name" {
						t.Errorf("%s/%s: want --id $(POD_NAME) with POD_NAME from the downward API (metadata.name)", where, cname)
					}
					if vals["public-ip"] == "" {
						t.Errorf("%s/%s: host needs --public-ip", where, cname)
					}
					udp, err := listenPort(valueOr(vals, "udp", ":8443"))
					if err != nil {
						t.Errorf("%s/%s: --udp: %v", where, cname, err)
					}
					hostNet := get(spec, "hostNetwork") == true
					if !hostNet && !slices.ContainsFunc(ports, func(p any) bool {
						return str(get(p, "protocol")) == "UDP" && str(get(p, "containerPort")) == strconv.Itoa(udp) && str(get(p, "hostPort")) == strconv.Itoa(udp)
					}) {
						t.Errorf("%s/%s: host needs hostNetwork or a UDP hostPort equal to --udp (%d)", where, cname, udp)
					}
					grace, err := time.ParseDuration(vals["drain-grace"])
					if err != nil {
						t.Fatalf("%s/%s: pass --drain-grace explicitly: %v", where, cname, err)
					}
					tgp, err := strconv.Atoi(str(get(spec, "terminationGracePeriodSeconds")))
					if err != nil || time.Duration(tgp)*time.Second <= grace {
						t.Errorf("%s: terminationGracePeriodSeconds %q must exceed --drain-grace %s, or the kubelet kills a draining host",
							where, str(get(spec, "terminationGracePeriodSeconds")), grace)
					}
				case "turn":
					if kind != "Deployment" {
						t.Errorf("%s: turn runs as a Deployment", where)
					}
					if get(env["EDGEPLAY_TURN_SECRET"], "valueFrom", "secretKeyRef") == nil {
						t.Errorf("%s/%s: EDGEPLAY_TURN_SECRET must come from a Secret", where, cname)
					}
					// Thousands of relay ports cannot be hostPorts, and a relay is advertised at
					// --turn-public-ip with its own port: the pod uses the node's network.
					if get(spec, "hostNetwork") != true {
						t.Errorf("%s: turn needs hostNetwork: true (its relay port range cannot be hostPorts)", where)
					}
					if vals["turn-public-ip"] == "" {
						t.Errorf("%s/%s: turn needs --turn-public-ip, the address its relays are advertised at", where, cname)
					}
					if vals["turn-peers"] == "" {
						t.Errorf("%s/%s: turn without --turn-peers: on the node's network its relays could reach the whole cluster", where, cname)
					}
					if _, _, err := portRange(valueOr(vals, "turn-relay-ports", "49152-65535")); err != nil {
						t.Errorf("%s/%s: --turn-relay-ports: %v", where, cname, err)
					}
					listen, err := listenPort(valueOr(vals, "turn-addr", ":3478"))
					if err != nil {
						t.Errorf("%s/%s: --turn-addr: %v", where, cname, err)
					}
					for _, cp := range ports {
						n, err := strconv.Atoi(str(get(cp, "containerPort")))
						if err != nil {
							t.Errorf("%s/%s: containerPort %v: %v", where, cname, get(cp, "containerPort"), err)
						}
						proto := strings.ToLower(str(get(cp, "protocol")))
						if proto == "" {
							proto = "tcp"
						}
						turnPorts = append(turnPorts, composePort{n, n, 1, proto})
					}
					// Declared ports also keep two TURN pods off one node.
					for _, proto := range []string{"udp", "tcp"} {
						if !slices.ContainsFunc(turnPorts, func(p composePort) bool { return p.has(listen, proto) }) {
							t.Errorf("%s/%s: declare containerPort %d/%s (TURN listens on UDP and TCP)", where, cname, listen, strings.ToUpper(proto))
						}
					}
				}
			}
		})
	}
	for _, r := range []string{"gateway", "matchmaker", "host", "turn"} {
		if roleCount[r] != 1 {
			t.Errorf("k8s: %d workloads run edgeplay %s, want 1", roleCount[r], r)
		}
	}
	// Gateways mint TURN credentials with the secret the TURN servers check them with, and
	// hand out URLs those servers answer on.
	if turnSecret["gateway"] != turnSecret["turn"] {
		t.Errorf("k8s: the gateway's EDGEPLAY_TURN_SECRET comes from %q, the TURN server's from %q: they must share one", turnSecret["gateway"], turnSecret["turn"])
	}
	for _, err := range turnURLsReach(gatewayTURN, turnPorts) {
		t.Errorf("k8s: gateway: %v", err)
	}
	// The gateway Service selects the gateway pods and forwards to 8080.
	for _, o := range objs {
		if str(o.doc["kind"]) != "Service" || str(get(o.doc, "spec", "clusterIP")) == "None" {
			continue
		}
		sel, _ := get(o.doc, "spec", "selector").(map[string]any)
		for k, v := range sel {
			if str(podLabels["gateway"][k]) != str(v) {
				t.Errorf("%s: Service selector %s=%v does not select the gateway pods", o.file, k, v)
			}
		}
		ports, _ := get(o.doc, "spec", "ports").([]any)
		if !slices.ContainsFunc(ports, func(p any) bool {
			tp := str(get(p, "targetPort"))
			return tp == "8080" || tp == "http"
		}) {
			t.Errorf("%s: Service does not forward to the gateway's 8080", o.file)
		}
	}
}

// ---- Grafana ----

// knownMetrics parses internal/metrics/metrics.go: every prometheus.XxxOpts{Name: "…"}.
func knownMetrics(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), metricsGo, nil, 0)
	if err != nil {
		t.Fatalf("parse %s: %v", metricsGo, err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		sel, ok := lit.Type.(*ast.SelectorExpr)
		if !ok || !strings.HasSuffix(sel.Sel.Name, "Opts") {
			return true
		}
		for _, el := range lit.Elts {
			kv, ok := el.(*ast.KeyValueExpr)
			if k, _ := kv.Key.(*ast.Ident); !ok || k == nil || k.Name != "Name" {
				continue
			}
			if name, ok := stringLit(kv.Value); ok {
				out[name] = strings.TrimSuffix(sel.Sel.Name, "Opts")
			}
		}
		return true
	})
	return out
}

var metricName = regexp.MustCompile(`\bedgeplay_[a-z0-9_]+`)

func TestGrafanaDashboard(t *testing.T) {
	metrics := knownMetrics(t)
	for _, m := range []string{"edgeplay_sessions_active", "edgeplay_encode_seconds", "edgeplay_placements_total"} {
		if metrics[m] == "" {
			t.Fatalf("%s: metric %s not found (is the metrics parser still right?): %v", metricsGo, m, metrics)
		}
	}
	b, err := os.ReadFile("grafana/edgeplay.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/edgeplay.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatalf("grafana/edgeplay.json: needs a title, a uid and panels")
	}
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: duplicate id %d", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no queries", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced brackets in %q", p.Title, tg.Expr)
			}
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q uses no edgeplay metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				base, kind := n, metrics[n]
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(n, suf); ok && metrics[b] == "Histogram" {
						base, kind = b, "Histogram"
					}
				}
				switch {
				case kind == "":
					t.Errorf("panel %q: metric %s is not defined in %s", p.Title, n, metricsGo)
				case kind == "Histogram" && base == n:
					t.Errorf("panel %q: histogram %s used without _bucket/_sum/_count", p.Title, n)
				case strings.Contains(tg.Expr, "histogram_quantile") && kind == "Histogram" && !strings.HasSuffix(n, "_bucket"):
					t.Errorf("panel %q: histogram_quantile over %s, want %s_bucket", p.Title, n, base)
				case kind == "Counter" && !strings.Contains(tg.Expr, "rate("+n) && !strings.Contains(tg.Expr, "increase("+n):
					t.Errorf("panel %q: counter %s shown without rate() or increase()", p.Title, n)
				}
				used[base] = true
			}
		}
	}
	// Not an error (others add metrics): say which metrics the dashboard does not show yet.
	for _, m := range sortedKeys(metrics) {
		if !used[m] {
			t.Logf("note: metric %s is not on the dashboard", m)
		}
	}
}

// checksHealth: a healthcheck command hits /readyz or /healthz, or runs `edgectl status`.
func checksHealth(hc string) bool {
	return strings.Contains(hc, "/readyz") || strings.Contains(hc, "/healthz") ||
		strings.Contains(hc, "edgectl") && strings.HasSuffix(hc, " status")
}
