package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mcpgov/mcpgov/scan/fleet"
)

// InventoryPath is where machines upload their scans (`mcpgov scan
// --upload`, POST) and where the fleet inventory is read (GET, by the
// groups in Options.InventoryReaders).
const InventoryPath = "/inventory"

// serveInventory is the fleet endpoint. Every request is authenticated
// like an MCP request; an upload is recorded under the caller the gateway
// authenticated, never a name the machine claims, and an anonymous caller
// may neither upload nor read.
func (h *Handler) serveInventory(w http.ResponseWriter, r *http.Request) {
	ep := endpoint{kind: kindInventory, path: InventoryPath}
	if h.Draining() {
		httpError(w, http.StatusServiceUnavailable, "the gateway is shutting down")
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed, "use POST to upload a scan, GET to read the inventory")
		return
	}
	if r = h.authenticate(w, r, ep); r == nil {
		return
	}
	who := caller(r)
	if who.Method == "anonymous" || who.Subject == "" {
		httpError(w, http.StatusForbidden, "the fleet inventory needs an authenticated caller: send a login or service token")
		return
	}
	store := h.opts.Inventory
	if store == nil {
		httpError(w, http.StatusNotFound, "this gateway keeps no fleet inventory")
		return
	}
	if r.Method == http.MethodGet {
		if len(h.opts.InventoryReaders) == 0 || !memberOf(h.opts.InventoryReaders, who.Groups) {
			httpError(w, http.StatusForbidden, "reading the fleet inventory needs a group in [gateway] inventory_readers")
			return
		}
		inv, err := store.Inventory(r.Context())
		if err != nil {
			h.warnf("fleet inventory: %v", err)
			httpError(w, http.StatusInternalServerError, "the fleet inventory could not be read")
			return
		}
		writeInventoryJSON(w, http.StatusOK, inv)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is larger than %d bytes", h.opts.MaxBody))
			return
		}
		httpError(w, http.StatusBadRequest, "read the upload: "+err.Error())
		return
	}
	u, err := fleet.Decode(body)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := store.Record(r.Context(), u, fleet.Uploader{Subject: who.Subject, Method: who.Method, Groups: who.Groups}, h.now())
	if err != nil {
		h.warnf("fleet inventory: %v", err)
		httpError(w, http.StatusInternalServerError, "the upload could not be stored")
		return
	}
	writeInventoryJSON(w, http.StatusOK, res)
}

func writeInventoryJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httpError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, status, append(b, '\n'))
}
