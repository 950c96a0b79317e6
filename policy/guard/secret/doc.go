// Package secret is mcpgov's one secret detector and its masks: scan's
// plaintext-secret findings, the secrets guardrail, and the masking of
// launch lines and audit records all ask it, so a token is found and
// masked alike whatever a bundle's guardrails are.
//
// Find is the guardrail's detector (its own anchored rules, the table of
// known formats that scan and the masks use, gitleaks' default ruleset,
// connection strings, assignments). Detect classifies one value as scan
// reports it; Mask, MaskValue, MaskArgs and MaskCommandLine hide what the
// known formats and credential-named flags, headers and variables hold.
//
// It lives beside guard because its rules are measured there (the eval's
// precision and recall floors), and it imports nothing of mcpgov, so scan,
// guard and policy/enforce all import it without a cycle.
package secret
