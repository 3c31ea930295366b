package localaws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Rule is one EventBridgeRule event of a function in the SAM template.
type Rule struct {
	Function string          // logical ID of the AWS::Serverless::Function
	Name     string          // the event's name under Properties.Events
	Pattern  json.RawMessage // the event pattern, as JSON
}

// LoadRules reads the EventBridgeRule events of every AWS::Serverless::Function
// in a SAM template, in document order. CloudFormation short tags (!Ref,
// !Sub, !GetAtt...) are tolerated anywhere; anchors and aliases are followed.
func LoadRules(templatePath string) ([]Rule, error) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		return nil, fmt.Errorf("reading %s, %w", templatePath, err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing %s, %w", templatePath, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s is empty", templatePath)
	}
	var rules []Rule
	resources := mapValue(doc.Content[0], "Resources")
	for _, fn := range mapEntries(resources) {
		if scalar(mapValue(fn.value, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		events := mapValue(mapValue(fn.value, "Properties"), "Events")
		for _, ev := range mapEntries(events) {
			if scalar(mapValue(ev.value, "Type")) != "EventBridgeRule" {
				continue
			}
			rule, err := newRule(fn.key, ev.key, mapValue(mapValue(ev.value, "Properties"), "Pattern"))
			if err != nil {
				return nil, fmt.Errorf("reading %s, %w", templatePath, err)
			}
			rules = append(rules, rule)
		}
	}
	return rules, nil
}

// newRule converts the pattern node of one event into a Rule.
func newRule(function, name string, pattern *yaml.Node) (Rule, error) {
	if pattern == nil || pattern.Kind != yaml.MappingNode {
		return Rule{}, fmt.Errorf("%s.%s has no Pattern mapping", function, name)
	}
	value, err := nodeValue(pattern)
	if err != nil {
		return Rule{}, fmt.Errorf("converting the pattern of %s.%s, %w", function, name, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<" and ">" of numeric matchers readable
	if err := enc.Encode(value); err != nil {
		return Rule{}, fmt.Errorf("encoding the pattern of %s.%s, %w", function, name, err)
	}
	return Rule{Function: function, Name: name, Pattern: bytes.TrimSpace(buf.Bytes())}, nil
}

type entry struct {
	key   string
	value *yaml.Node
}

// resolve follows aliases (and the document node).
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && (n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode) {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else if len(n.Content) > 0 {
			n = n.Content[0]
		} else {
			return nil
		}
	}
	return n
}

// mapEntries returns the entries of a mapping node in order (nil otherwise).
func mapEntries(n *yaml.Node) []entry {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	entries := make([]entry, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		entries = append(entries, entry{key: scalar(n.Content[i]), value: resolve(n.Content[i+1])})
	}
	return entries
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	for _, e := range mapEntries(n) {
		if e.key == key {
			return e.value
		}
	}
	return nil
}

// scalar returns the value of a scalar node, or "".
func scalar(n *yaml.Node) string {
	n = resolve(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// nodeValue converts a node into plain Go values for encoding/json. Scalars
// with a standard tag keep their type (string, number, bool, null); a
// custom-tagged scalar (!Ref X) becomes its string.
func nodeValue(n *yaml.Node) (any, error) {
	n = resolve(n)
	if n == nil {
		return nil, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, e := range mapEntries(n) {
			v, err := nodeValue(e.value)
			if err != nil {
				return nil, err
			}
			m[e.key] = v
		}
		return m, nil
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := nodeValue(item)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		return list, nil
	case yaml.ScalarNode:
		if !strings.HasPrefix(n.Tag, "!!") {
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("decoding %q at line %d, %w", n.Value, n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("unexpected YAML node kind %d at line %d", n.Kind, n.Line)
}
