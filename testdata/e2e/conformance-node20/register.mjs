// Node 20 loader for @modelcontextprotocol/conformance 0.1.16, which imports
// fs.globSync (Node >= 22). Use: node --import ./register.mjs .../conformance/dist/index.js
import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);
