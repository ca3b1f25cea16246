package protocol

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseClient(t *testing.T) {
	long := strings.Repeat("a", MaxNameSize+1)
	tests := []struct {
		name string
		in   string
		want Code // "" = valid
	}{
		{"join", `{"type":"join","game":"demo"}`, ""},
		{"join with token", `{"type":"join","game":"demo","token":"abc"}`, ""},
		{"answer", `{"type":"answer","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}`, ""},
		{"candidate", `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`, ""},
		{"end of candidates", `{"type":"candidate","candidate":{"candidate":""}}`, ""},
		{"leave", `{"type":"leave"}`, ""},
		{"unknown fields are ignored", `{"type":"leave","x":1}`, ""},
		{"not json", `hello`, CodeBadMessage},
		{"truncated", `{"type":"join"`, CodeBadMessage},
		{"array", `[1,2]`, CodeBadMessage},
		{"wrong field type", `{"type":"join","game":7}`, CodeBadMessage},
		{"trailing data", `{"type":"leave"}{"type":"leave"}`, CodeBadMessage},
		{"invalid utf8", "{\"type\":\"join\",\"game\":\"\xff\"}", CodeBadMessage},
		{"no type", `{"game":"demo"}`, CodeUnknownType},
		{"unknown type", `{"type":"explode"}`, CodeUnknownType},
		{"server type from client", `{"type":"offer","sdp":"v=0"}`, CodeUnknownType},
		{"internal start from client", `{"type":"start"}`, CodeUnknownType},
		{"join without game", `{"type":"join"}`, CodeBadField},
		{"join bad game", `{"type":"join","game":"../etc"}`, CodeBadField},
		{"join game too long", `{"type":"join","game":"` + long + `"}`, CodeBadField},
		{"join token too long", `{"type":"join","game":"demo","token":"` + strings.Repeat("t", MaxTokenSize+1) + `"}`, CodeBadField},
		{"answer without sdp", `{"type":"answer"}`, CodeBadField},
		{"answer garbage sdp", `{"type":"answer","sdp":"garbage"}`, CodeBadSDP},
		{"answer sdp too long", `{"type":"answer","sdp":"v=0` + strings.Repeat("x", MaxSDPSize) + `"}`, CodeBadField},
		{"candidate missing", `{"type":"candidate"}`, CodeBadField},
		{"candidate garbage", `{"type":"candidate","candidate":{"candidate":"garbage"}}`, CodeBadCandidate},
		{"candidate too long", `{"type":"candidate","candidate":{"candidate":"candidate:` + strings.Repeat("1", MaxCandidateSize) + `"}}`, CodeBadCandidate},
		{"too large", `{"type":"leave","pad":"` + strings.Repeat("x", MaxMessageSize) + `"}`, CodeMessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseClient([]byte(tt.in))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *protocol.Error", err)
			}
			if pe.Code != tt.want {
				t.Fatalf("code %s, want %s (%v)", pe.Code, tt.want, err)
			}
			if m := ErrorMessage(err); m.Message == "" || len(m.Message) > 200 {
				t.Fatalf("client message %q is empty or too long", m.Message)
			}
		})
	}
}

func TestErrorMessageHidesInternalErrors(t *testing.T) {
	m := ErrorMessage(errors.New("open /secret/path: permission denied"))
	if m.Code != CodeInternal || strings.Contains(m.Message, "secret") {
		t.Fatalf("internal error leaked: %+v", m)
	}
}

// TestCodesDocumented keeps the error-code table in docs/PROTOCOL.md equal to the code.
func TestCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	begin, end := strings.Index(s, "<!-- codes:begin -->"), strings.Index(s, "<!-- codes:end -->")
	if begin < 0 || end < begin {
		t.Fatal("docs/PROTOCOL.md lacks the codes:begin/codes:end markers")
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllStringSubmatch(s[begin:end], -1) {
		documented = append(documented, m[1])
	}
	var defined []string
	for _, c := range Codes() {
		defined = append(defined, string(c))
	}
	slices.Sort(documented)
	slices.Sort(defined)
	if !slices.Equal(documented, defined) {
		t.Fatalf("docs/PROTOCOL.md codes %v\ncode defines %v", documented, defined)
	}
}

func TestSubjectsAreTokens(t *testing.T) {
	id := NewSessionID()
	if !ValidName(id) || len(id) != 16 {
		t.Fatalf("session id %q", id)
	}
	if got := SubjectToHost("h1", id); got != "edgeplay.host.h1.session."+id {
		t.Fatalf("subject %q", got)
	}
}

func FuzzParseClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","game":"demo"}`,
		`{"type":"answer","sdp":"v=0\r\n"}`,
		`{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0"}}`,
		`{"type":"leave"}`, `{}`, `[]`, `null`, `{"type":"join","game":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseClient(b)
		if err != nil {
			if CodeOf(err) == CodeInternal {
				t.Fatalf("parser returned an internal error for %q: %v", b, err)
			}
			return
		}
		switch m.Type {
		case TypeJoin, TypeAnswer, TypeCandidate, TypeLeave:
		default:
			t.Fatalf("accepted type %q", m.Type)
		}
		if len(m.SDP) > MaxSDPSize || len(m.Game) > MaxNameSize {
			t.Fatal("accepted an oversized field")
		}
	})
}

// placed carries ice_servers in the shape of the browser's RTCIceServer, and only when set.
func TestPlacedICEServers(t *testing.T) {
	m := Message{Type: TypePlaced, Session: "s1", ICEServers: []ICEServer{{
		URLs:     []string{"turn:turn.example:3478?transport=udp", "turn:turn.example:3478?transport=tcp"},
		Username: "1800003600:s1", Credential: "c2VjcmV0",
	}}}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"placed","session":"s1","ice_servers":[{"urls":["turn:turn.example:3478?transport=udp","turn:turn.example:3478?transport=tcp"],"username":"1800003600:s1","credential":"c2VjcmV0"}]}`
	if string(b) != want {
		t.Errorf("placed:\n got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(Message{Type: TypePlaced, Session: "s1"})
	if strings.Contains(string(b), "ice_servers") {
		t.Errorf("placed without TURN: %s has ice_servers", b)
	}
}
