package faultproxy

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
)

// apiError is one injected error: its HTTP status, code, message and, for
// the Query protocol, fault type (Sender or Receiver).
type apiError struct {
	Status  int
	Code    string
	Message string
	Type    string
}

// throttleError is the throttling error of the operation's service.
func throttleError(op operation) apiError {
	switch op.Proto {
	case protoEC2:
		return apiError{http.StatusBadRequest, "RequestLimitExceeded", "Request limit exceeded.", "Sender"}
	case protoJSON:
		return apiError{http.StatusBadRequest, "ThrottlingException", "Rate exceeded", "Sender"}
	default:
		return apiError{http.StatusBadRequest, "Throttling", "Rate exceeded", "Sender"}
	}
}

// serverError is the 500 or 503 error of the operation's service: 500
// InternalError (EC2) or InternalFailure (Query and JSON services, AWS's
// common errors), 503 ServiceUnavailable everywhere.
func serverError(op operation, unavailable bool) apiError {
	if unavailable {
		return apiError{http.StatusServiceUnavailable, "ServiceUnavailable",
			"The request has failed due to a temporary failure of the server.", "Receiver"}
	}
	if op.Proto == protoEC2 {
		return apiError{http.StatusInternalServerError, "InternalError",
			"An internal error has occurred.", "Receiver"}
	}
	return apiError{http.StatusInternalServerError, "InternalFailure",
		"The request processing has failed because of an unknown error, exception or failure.", "Receiver"}
}

// queryNamespaces are the XML namespaces of the Query-protocol services.
var queryNamespaces = map[string]string{
	ServiceELBv2:       "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
	ServiceELB:         "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/",
	ServiceAutoScaling: "http://autoscaling.amazonaws.com/doc/2011-01-01/",
}

// errorBody renders e in the operation's wire format and returns the body
// and its Content-Type.
func errorBody(op operation, e apiError, requestID string) ([]byte, string) {
	switch op.Proto {
	case protoEC2:
		return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
			`<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>`+
			`<RequestID>%s</RequestID></Response>`,
			e.Code, html.EscapeString(e.Message), requestID), "text/xml;charset=UTF-8"
	case protoJSON:
		b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
		return b, "application/x-amz-json-" + op.JSONVer
	default:
		xmlns := ""
		if ns, ok := queryNamespaces[op.Service]; ok {
			xmlns = fmt.Sprintf(` xmlns=%q`, ns)
		}
		return fmt.Appendf(nil, `<ErrorResponse%s><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error>`+
			`<RequestId>%s</RequestId></ErrorResponse>`,
			xmlns, e.Type, e.Code, html.EscapeString(e.Message), requestID), "text/xml"
	}
}

// writeError answers the request with e in the operation's format.
func writeError(w http.ResponseWriter, op operation, e apiError) {
	id := requestID()
	body, ctype := errorBody(op, e, id)
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", fmt.Sprint(len(body)))
	if op.Proto != protoEC2 {
		h.Set("X-Amzn-RequestId", id)
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// requestID returns a random UUID-shaped request ID.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
