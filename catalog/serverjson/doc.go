// Package serverjson is the catalog's interop with the official MCP
// registry's server.json (schema 2025-12-11). Import turns each document
// into a pending catalog entry and keeps the document itself, verbatim, in
// a catalog.RegistryRecord, so export gives the publisher's document back
// with only one _meta key added or replaced: GovernanceMetaKey, which
// carries what the catalog knows and the document does not (status, owner,
// risk, pins, review, …).
//
// Everything the catalog derives from a document (title, description,
// launch, match) is recomputed on import; the governance block stores a
// derived field only when the catalog's value differs from what the
// document would give, so import(export(s)) restores s exactly. The install
// plan (PlanInstall) reads the inputs a document's package asks for.
//
// It imports catalog; catalog does not import it. What both need is below
// them: the RegistryRecord type in catalog, the schema check in
// catalog/serverjson/schema.
package serverjson
