package audit

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestAppendRecordWritesEveryField: a record with every field set (found
// by reflection, so a field added to Record or to a type it holds counts
// the day it is added) is written by the store's encoder as Marshal
// writes it. The hand-written encoder lists its fields one by one; a new
// field it does not know would be left out of the stored line, and out of
// the chain's hash, while TestAppendRecordMatchesMarshal's generator,
// hand-written too, would not set it either.
func TestAppendRecordWritesEveryField(t *testing.T) {
	rec := new(Record)
	fillEvery(t, reflect.ValueOf(rec).Elem(), "Record")
	rec.Alert = nil // a record holding an alert is left to Marshal
	want, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := appendRecord(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendRecord leaves out or writes differently what Marshal writes:\n got %s\nwant %s", got, want)
	}
}

// fillEvery sets every exported field below v to a value that is not
// its zero (so no omitempty hides it).
func fillEvery(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.Date(2026, 12, 7, 21, 0, 0, 123456789, time.UTC)))
		return
	case v.Type() == reflect.TypeFor[json.RawMessage]():
		v.SetBytes([]byte(`{"k":[1,"v"]}`))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.25)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillEvery(t, v.Elem(), path)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fillEvery(t, s.Index(i), path+"[]")
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fillEvery(t, k, path+".key")
		e := reflect.New(v.Type().Elem()).Elem()
		fillEvery(t, e, path+".value")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() && f.Tag.Get("json") != "-" {
				fillEvery(t, v.Field(i), path+"."+f.Name)
			}
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf("s-" + path))
	default:
		t.Fatalf("%s: a field of kind %s this test cannot fill: teach fillEvery (and the store's encoder) about it", path, v.Kind())
	}
}
