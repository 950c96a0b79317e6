// Command mcp-bearer is an MCP server over Streamable HTTP that requires
// bearer tokens issued by an OAuth authorization server (go-sdk's
// RequireBearerToken), with RFC 9728 protected-resource metadata: the
// upstream of the per-user OAuth tests, runnable as its own process, as a
// remote server a shim or gateway fronts.
//
//	mcp-bearer -issuer http://127.0.0.1:5556/dex -audience mcp-upstream [-addr 127.0.0.1:0] [-introspect]
//
// It prints its MCP endpoint URL on stdout once it listens.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"

	"github.com/mcpgov/mcpgov/login/oauthuser/oauthusertest"
)

func main() {
	issuer := flag.String("issuer", "", "the authorization server whose tokens are accepted")
	audience := flag.String("audience", "", "the aud the tokens must carry (the client id at the authorization server)")
	addr := flag.String("addr", "127.0.0.1:0", "the loopback address to listen on")
	introspect := flag.Bool("introspect", false, "also present each token to the issuer's userinfo endpoint (refuses tokens the issuer no longer honours)")
	flag.Parse()
	if *issuer == "" || *audience == "" {
		fmt.Fprintln(os.Stderr, "mcp-bearer: error: -issuer and -audience are required")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mcp-bearer: error: listen on %s: %v\n", *addr, err)
		os.Exit(1)
	}
	base := "http://" + ln.Addr().String()
	rs, err := oauthusertest.NewResourceServer(context.Background(), *issuer, *audience, base+"/mcp", base+"/.well-known/oauth-protected-resource/mcp")
	if err != nil {
		fmt.Fprintf(os.Stderr, "mcp-bearer: error: %v\n", err)
		os.Exit(1)
	}
	rs.Introspect.Store(*introspect)
	fmt.Println(base + "/mcp")
	if err := http.Serve(ln, rs.Handler); err != nil {
		fmt.Fprintf(os.Stderr, "mcp-bearer: error: %v\n", err)
		os.Exit(1)
	}
}
