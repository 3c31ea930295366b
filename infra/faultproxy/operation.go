package faultproxy

import (
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Service names used in operation keys ("Service.Action").
const (
	ServiceEC2         = "ec2"
	ServiceELBv2       = "elbv2" // elasticloadbalancing, Version 2015-12-01
	ServiceELB         = "elb"   // Classic ELB: elasticloadbalancing, Version 2012-06-01
	ServiceAutoScaling = "autoscaling"
	ServiceEvents      = "events"
	ServiceSQS         = "sqs"
	ServiceUnknown     = "unknown" // no SigV4 credential scope
)

// protocol is the wire protocol of a request, which decides the shape of
// the error bodies the proxy injects.
type protocol int

const (
	protoQuery protocol = iota // awsQuery: <ErrorResponse> XML
	protoEC2                   // ec2Query: <Response><Errors> XML
	protoJSON                  // awsJson 1.0 / 1.1
)

// operation is what the proxy knows about one request.
type operation struct {
	Service string
	Action  string
	Proto   protocol
	JSONVer string     // "1.0" or "1.1" for protoJSON
	Params  url.Values // the Query-protocol parameters (nil for JSON)
}

// Key is the "Service.Action" of the operation.
func (op operation) Key() string { return op.Service + "." + op.Action }

// classify tells the service, action and protocol of a request from its
// SigV4 credential scope, X-Amz-Target header or Action parameter.
func classify(r *http.Request, body []byte) operation {
	op := operation{Service: scopeService(r.Header.Get("Authorization"))}
	ctype := r.Header.Get("Content-Type")
	if target := r.Header.Get("X-Amz-Target"); target != "" || strings.HasPrefix(ctype, "application/x-amz-json") {
		op.Proto = protoJSON
		op.JSONVer = "1.1"
		if strings.HasPrefix(ctype, "application/x-amz-json-1.0") {
			op.JSONVer = "1.0"
		}
		op.Action = target
		if i := strings.LastIndexByte(target, '.'); i >= 0 {
			op.Action = target[i+1:]
		}
	} else {
		op.Params = r.URL.Query()
		if form, err := url.ParseQuery(string(body)); err == nil && strings.Contains(ctype, "x-www-form-urlencoded") {
			for k, v := range form {
				op.Params[k] = append(op.Params[k], v...)
			}
		}
		op.Action = op.Params.Get("Action")
		if op.Service == "elasticloadbalancing" {
			op.Service = ServiceELBv2
			if op.Params.Get("Version") == "2012-06-01" {
				op.Service = ServiceELB
			}
		}
		if op.Service == ServiceEC2 {
			op.Proto = protoEC2
		}
	}
	if op.Action == "" {
		op.Action = r.Method + " " + r.URL.Path
	}
	return op
}

// scopeService returns the service of a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ec2/aws4_request,
// SignedHeaders=..., Signature=..."), or ServiceUnknown.
func scopeService(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ServiceUnknown
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(strings.TrimSpace(cred), "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[3] == "" {
		return ServiceUnknown
	}
	return parts[3]
}

// matches reports whether the operation key matches one of the patterns: a
// bare service name ("ec2"), an exact key ("ec2.CreateVpc"), or a
// path.Match glob ("elbv2.*", "*.Describe*").
func matches(key, service string, patterns []string) bool {
	for _, p := range patterns {
		if p == service || p == key {
			return true
		}
		if ok, err := path.Match(p, key); err == nil && ok {
			return true
		}
	}
	return false
}
