package main

import (
	"crypto/x509"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpgov/mcpgov/policy/state/statetest"
)

// TestGatewayReplicaCertWithoutClientAuth: a replica advertising its
// https:// URL whose certificate does not allow client authentication
// (serverAuth only, as public CAs now issue them) is refused at start,
// naming the setting and the file and what to do, before it reaches
// its store; so is such a replica_cert, and a replica_cert without
// tls_cert or replica_key. (One that allows it serves:
// TestGatewayRetryOnAnotherReplicaTLS.)
func TestGatewayReplicaCertWithoutClientAuth(t *testing.T) {
	bundle := writeBundle(t)
	certFile, keyFile, _ := selfSigned(t, t.TempDir())
	replicaCert, replicaKey, _ := selfSigned(t, t.TempDir(), x509.ExtKeyUsageClientAuth)
	serverOnly, serverOnlyKey, _ := selfSigned(t, t.TempDir())
	run := func(config string) (int, string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "config.toml")
		writeFile(t, path, config)
		cmd := exec.Command("mcpgov", "gateway", "serve", "--bundle", bundle, "--allow-anonymous", "--listen", freeAddr(t))
		cmd.Env = sandboxEnv(t, "MCPGOV_CONFIG="+path)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("mcpgov gateway serve: %v\n%s", err, out)
		}
		return ee.ExitCode(), string(out)
	}
	const replicas = "advertise_url = \"https://127.0.0.1:8443\"\nstore = \"redis://127.0.0.1:1/0\"\n"
	code, out := run("[gateway]\ntls_cert = " + strconv.Quote(certFile) + "\ntls_key = " + strconv.Quote(keyFile) + "\n" + replicas)
	if code != 1 || !strings.Contains(out, "tls_cert "+certFile+": the replica certificate does not allow client authentication") ||
		!strings.Contains(out, "hint: set [gateway] replica_cert and replica_key") {
		t.Errorf("tls_cert without clientAuth on a replica: exit %d\n%s", code, out)
	}
	code, out = run("[gateway]\ntls_cert = " + strconv.Quote(certFile) + "\ntls_key = " + strconv.Quote(keyFile) + "\nreplica_cert = " + strconv.Quote(serverOnly) + "\nreplica_key = " + strconv.Quote(serverOnlyKey) + "\n")
	if code != 1 || !strings.Contains(out, "replica_cert "+serverOnly+": the replica certificate does not allow client authentication") {
		t.Errorf("replica_cert without clientAuth: exit %d\n%s", code, out)
	}
	code, out = run("[gateway]\nreplica_cert = " + strconv.Quote(replicaCert) + "\nreplica_key = " + strconv.Quote(replicaKey) + "\n")
	if code != 1 || !strings.Contains(out, "replica certificate "+replicaCert+" is set, but this replica serves plain HTTP (no tls_cert)") {
		t.Errorf("replica_cert without tls_cert: exit %d\n%s", code, out)
	}
	code, out = run("[gateway]\nreplica_cert = " + strconv.Quote(replicaCert) + "\n")
	if code != 1 || !strings.Contains(out, "sets only one of replica_cert and replica_key") {
		t.Errorf("replica_cert without replica_key: exit %d\n%s", code, out)
	}
}

// TestGatewayRetryOnAnotherReplicaReplicaCert: replicas whose tls_cert
// allows server authentication only (as a public CA's) present a
// replica_cert of their own CA to each other: the retry is forwarded
// over mutual TLS and answered.
func TestGatewayRetryOnAnotherReplicaReplicaCert(t *testing.T) {
	bundle := everythingBundle(t)
	redis := statetest.Start(t)
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	replicaCert, replicaKey, _ := selfSigned(t, t.TempDir(), x509.ExtKeyUsageClientAuth)
	retryOnAnotherReplicaTLS(t, bundle, redis.URL(), pool, "--tls-cert", certFile, "--tls-key", keyFile, "--replica-cert", replicaCert, "--replica-key", replicaKey)
}
