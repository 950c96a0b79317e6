package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"github.com/mcpgov/mcpgov/scan/fleet"
)

// Fleet is the fleet inventory (`mcpgov scan --upload`, `mcpgov gateway
// inventory`) in the shared store, so that an upload to any replica is
// in the inventory every replica serves. Each machine's part of
// fleet.State (the machine and its sightings) is one key, changed by
// fleet.State.Apply in an optimistic transaction; a set names the
// machines. Machine ids are keyed hashes (fleet.MachineID), not names.
type Fleet struct{ r *Redis }

var _ fleet.Store = (*Fleet)(nil)

// Keys of the fleet inventory.
const (
	fleetMachines = Prefix + "fleet:machines"
	fleetMachine  = Prefix + "fleet:machine:"
)

// Fleet returns the fleet inventory store on r.
func (r *Redis) Fleet() *Fleet { return &Fleet{r: r} }

// decodeMachine reads one machine's stored part of the inventory.
func decodeMachine(id string, b []byte) (*fleet.State, error) {
	st := &fleet.State{}
	if err := jsonv2.Unmarshal(b, st, jsonv2.RejectUnknownMembers(true)); err != nil {
		return nil, fmt.Errorf("fleet inventory: %s%s: %w (remove it with: redis-cli DEL %s%s)", fleetMachine, id, err, fleetMachine, id)
	}
	return st, nil
}

// Record implements fleet.Store.
func (f *Fleet) Record(ctx context.Context, u fleet.Upload, by fleet.Uploader, now time.Time) (fleet.Result, error) {
	key := fleetMachine + u.Machine.ID
	for range 10 {
		var res fleet.Result
		var stErr error
		err := f.r.c.Watch(ctx, func(tx *redis.Tx) error {
			st := &fleet.State{Version: fleet.SchemaVersion}
			b, err := tx.Get(ctx, key).Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			default:
				if st, stErr = decodeMachine(u.Machine.ID, b); stErr != nil {
					return nil
				}
			}
			res = st.Apply(u, by, now)
			out, err := jsonv2.Marshal(st)
			if err != nil {
				stErr = err
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, out, 0)
				p.SAdd(ctx, fleetMachines, u.Machine.ID)
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue // another replica recorded the same machine meanwhile
		}
		if err != nil {
			return fleet.Result{}, fmt.Errorf("fleet inventory: %w", f.r.unavailable(err))
		}
		return res, stErr
	}
	return fleet.Result{}, fmt.Errorf("fleet inventory: %w", f.r.unavailable(errors.New("machine "+u.Machine.ID+" changed concurrently too often")))
}

// Inventory implements fleet.Store: every machine's part, merged and
// summarized as the embedded store does.
func (f *Fleet) Inventory(ctx context.Context) (fleet.Inventory, error) {
	ids, err := f.r.c.SMembers(ctx, fleetMachines).Result()
	if err != nil {
		return fleet.Inventory{}, fmt.Errorf("fleet inventory: %w", f.r.unavailable(err))
	}
	slices.Sort(ids)
	all := &fleet.State{Version: fleet.SchemaVersion}
	const batch = 256
	for start := 0; start < len(ids); start += batch {
		part := ids[start:min(start+batch, len(ids))]
		keys := make([]string, len(part))
		for i, id := range part {
			keys[i] = fleetMachine + id
		}
		vals, err := f.r.c.MGet(ctx, keys...).Result()
		if err != nil {
			return fleet.Inventory{}, fmt.Errorf("fleet inventory: %w", f.r.unavailable(err))
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue // named but gone: removed by hand
			}
			st, err := decodeMachine(part[i], []byte(s))
			if err != nil {
				return fleet.Inventory{}, err
			}
			all.Machines = append(all.Machines, st.Machines...)
			all.Sightings = append(all.Sightings, st.Sightings...)
		}
	}
	return all.Summarize(), nil
}
