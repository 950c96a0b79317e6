#!/usr/bin/env node
// A loopback OAuth authorization server that lets clients register
// themselves (RFC 7591 dynamic client registration), for the gateway
// replica tests: node oidc-provider with open registration. The test runs
// it from a directory whose node_modules is .cache/oidc-provider's.
//
// It prints "issuer URL" on stdout once listening and "registered N"
// after every client it registered, and runs until killed.
import http from 'node:http';
import Provider from 'oidc-provider';

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    scopes: ['openid', 'offline_access', 'notes:read'],
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
    },
  });
  let registered = 0;
  provider.on('registration_create.success', () => { registered++; console.log(`registered ${registered}`); });
  server.on('request', provider.callback());
  console.log(`issuer ${issuer}`);
});
