package httpcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// step is one element of a JSON path: an object key, an array index, or "#" (the length of
// the array or object reached so far).
type step struct {
	key   string
	index int
	isIdx bool
	count bool
}

// parsePath reads a simple JSON path: dotted keys with optional [n] indexes, an optional
// leading "$" or ".", and "#" as the last step for a length. Examples: ".status",
// "workers[0].state", "activeapps.#".
func parsePath(p string) ([]step, error) {
	s := strings.TrimPrefix(strings.TrimSpace(p), "$")
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return nil, nil
	}
	var out []step
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return nil, fmt.Errorf("json path %q has an empty step", p)
		}
		if part == "#" {
			out = append(out, step{count: true})
			continue
		}
		key := part
		rest := ""
		if i := strings.IndexByte(part, '['); i >= 0 {
			key, rest = part[:i], part[i:]
		}
		if key != "" {
			out = append(out, step{key: key})
		}
		for rest != "" {
			end := strings.IndexByte(rest, ']')
			if rest[0] != '[' || end < 0 {
				return nil, fmt.Errorf("json path %q: bad index in %q", p, part)
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("json path %q: index %q is not a whole number", p, rest[1:end])
			}
			out = append(out, step{index: n, isIdx: true})
			rest = rest[end+1:]
		}
	}
	for i, st := range out {
		if st.count && i != len(out)-1 {
			return nil, fmt.Errorf("json path %q: # must be the last step", p)
		}
	}
	return out, nil
}

// lookup walks a decoded JSON document and returns the value at the path as text: strings as
// they are, numbers, booleans and null as JSON spells them, objects and arrays as compact JSON.
func lookup(body []byte, path []step) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return "", fmt.Errorf("body is not JSON: %w", err)
	}
	cur := doc
	where := "$"
	for _, st := range path {
		switch {
		case st.count:
			switch v := cur.(type) {
			case []any:
				return strconv.Itoa(len(v)), nil
			case map[string]any:
				return strconv.Itoa(len(v)), nil
			default:
				return "", fmt.Errorf("%s is not an array or object, so it has no length", where)
			}
		case st.isIdx:
			arr, ok := cur.([]any)
			if !ok {
				return "", fmt.Errorf("%s is not an array", where)
			}
			if st.index >= len(arr) {
				return "", fmt.Errorf("%s has %d elements, no [%d]", where, len(arr), st.index)
			}
			cur = arr[st.index]
			where += fmt.Sprintf("[%d]", st.index)
		default:
			obj, ok := cur.(map[string]any)
			if !ok {
				return "", fmt.Errorf("%s is not an object", where)
			}
			v, ok := obj[st.key]
			if !ok {
				return "", fmt.Errorf("%s has no key %q", where, st.key)
			}
			cur = v
			where += "." + st.key
		}
	}
	switch v := cur.(type) {
	case string:
		return v, nil
	case nil:
		return "null", nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
}
