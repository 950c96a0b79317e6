package creds

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestAppendArgs(t *testing.T) {
	args := []string{"-y", "pkg@1", "--api-key=", "--token", ""}
	got, err := AppendArgs(args, []string{"2=sk-1", "4=ghp_2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"-y", "pkg@1", "--api-key=sk-1", "--token", "ghp_2"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if args[2] != "--api-key=" {
		t.Errorf("the caller's args changed: %q", args)
	}
	_, err = AppendArgs(args, []string{"5=sk-secret-value"})
	if err == nil || !strings.Contains(err.Error(), "--secret-arg 5") || strings.Contains(err.Error(), "sk-secret-value") {
		t.Errorf("out of range: %v", err)
	}
}

func TestFillURL(t *testing.T) {
	got, err := FillURL("https://mcp.example.com/v1?region=eu&api_key=&x=1#f", []string{"api_key=sk%2Fv=1"}, "bob:pw")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://bob:pw@mcp.example.com/v1?region=eu&api_key=sk%2Fv=1&x=1#f"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	for _, c := range []struct {
		url, query, want string
	}{
		{"https://h/mcp", "k=secret-value", "--secret-query k: the URL has no query"},
		{"https://h/mcp?k=already", "k=secret-value", "--secret-query k: the URL has no empty k= parameter"},
	} {
		_, err := FillURL(c.url, []string{c.query}, "")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "secret-value") {
			t.Errorf("%s: %v", c.url, err)
		}
	}
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://MCP.Example.com/mcp?api_key=": "https://mcp.example.com:443",
		"HTTPS://mcp.example.com:443":          "https://mcp.example.com:443",
		"http://127.0.0.1:8080/x":              "http://127.0.0.1:8080",
		"http://bob:pw@h/mcp":                  "http://h:80",
		"https://[::1]:9/mcp":                  "https://[::1]:9",
	} {
		if got, err := Origin(in); err != nil || got != want {
			t.Errorf("Origin(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"ftp://h/x", "https:///mcp", "mcp.example.com/mcp", "%zz"} {
		if got, err := Origin(in); err == nil {
			t.Errorf("Origin(%s) = %q, want an error", in, got)
		}
	}
	for _, in := range []string{"https://h:443/mcp", "https://u:p@h:443", "https://h:443?x=1"} {
		if err := ValidOrigin(in); err == nil {
			t.Errorf("ValidOrigin(%s): no error", in)
		}
	}
	if err := ValidOrigin("https://h:443/"); err != nil {
		t.Errorf("ValidOrigin: %v", err)
	}
}

func TestCheckOrigin(t *testing.T) {
	if err := CheckOrigin("", "https://anywhere.example/mcp"); err != nil {
		t.Errorf("no recorded origin (wrapped before origins were recorded): %v", err)
	}
	if err := CheckOrigin("https://mcp.example.com:443", "https://MCP.example.com/mcp?api_key="); err != nil {
		t.Errorf("same origin: %v", err)
	}
	for _, target := range []string{"https://mcp.example.org/mcp", "http://mcp.example.com/mcp", "https://mcp.example.com:8443/mcp", "https://evil.example@mcp.example.co/mcp"} {
		err := CheckOrigin("https://mcp.example.com:443", target)
		if !errors.Is(err, ErrOrigin) || !strings.Contains(err.Error(), "taken from https://mcp.example.com:443") {
			t.Errorf("%s: %v, want ErrOrigin naming both origins", target, err)
		}
	}
}
