package faultproxy

import (
	"fmt"
	"net/http"
	"time"
)

// Auto Scaling lifecycle actions that moto 5.2.1 does not implement: the
// proxy answers them itself.
const (
	ActionCompleteLifecycleAction        = "CompleteLifecycleAction"
	ActionRecordLifecycleActionHeartbeat = "RecordLifecycleActionHeartbeat"
)

// LifecycleCall is one CompleteLifecycleAction or
// RecordLifecycleActionHeartbeat the proxy answered.
type LifecycleCall struct {
	Action                string // ActionCompleteLifecycleAction or ActionRecordLifecycleActionHeartbeat
	AutoScalingGroupName  string
	LifecycleHookName     string
	LifecycleActionToken  string
	InstanceID            string
	LifecycleActionResult string // CONTINUE or ABANDON; "" for a heartbeat
	At                    time.Time
}

// isLifecycle reports whether the proxy answers the operation itself.
func isLifecycle(op operation) bool {
	return op.Service == ServiceAutoScaling &&
		(op.Action == ActionCompleteLifecycleAction || op.Action == ActionRecordLifecycleActionHeartbeat)
}

// lifecycleCall reads the call's parameters and checks them as Auto Scaling
// does: group and hook required, a token or an instance ID, and for
// CompleteLifecycleAction a result of CONTINUE or ABANDON.
func lifecycleCall(op operation) (LifecycleCall, error) {
	p := op.Params
	c := LifecycleCall{
		Action:                op.Action,
		AutoScalingGroupName:  p.Get("AutoScalingGroupName"),
		LifecycleHookName:     p.Get("LifecycleHookName"),
		LifecycleActionToken:  p.Get("LifecycleActionToken"),
		InstanceID:            p.Get("InstanceId"),
		LifecycleActionResult: p.Get("LifecycleActionResult"),
		At:                    time.Now(),
	}
	switch {
	case c.AutoScalingGroupName == "":
		return c, fmt.Errorf("AutoScalingGroupName is required")
	case c.LifecycleHookName == "":
		return c, fmt.Errorf("LifecycleHookName is required")
	case c.LifecycleActionToken == "" && c.InstanceID == "":
		return c, fmt.Errorf("either LifecycleActionToken or InstanceId must be specified")
	case c.Action == ActionCompleteLifecycleAction &&
		c.LifecycleActionResult != "CONTINUE" && c.LifecycleActionResult != "ABANDON":
		return c, fmt.Errorf("LifecycleActionResult must be CONTINUE or ABANDON, got %q", c.LifecycleActionResult)
	}
	return c, nil
}

// serveLifecycle answers a lifecycle action with the empty success response
// of the Auto Scaling Query API, or a ValidationError, and records it.
func (p *Proxy) serveLifecycle(w http.ResponseWriter, op operation) {
	call, err := lifecycleCall(op)
	if err != nil {
		writeError(w, op, apiError{http.StatusBadRequest, "ValidationError", err.Error(), "Sender"})
		return
	}
	p.mu.Lock()
	p.lifecycle = append(p.lifecycle, call)
	p.mu.Unlock()
	id := requestID()
	body := fmt.Appendf(nil, `<%[1]sResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/">`+
		`<%[1]sResult/><ResponseMetadata><RequestId>%[2]s</RequestId></ResponseMetadata></%[1]sResponse>`,
		op.Action, id)
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	h.Set("X-Amzn-RequestId", id)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// LifecycleCalls returns the lifecycle actions answered so far, oldest first.
func (p *Proxy) LifecycleCalls() []LifecycleCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]LifecycleCall(nil), p.lifecycle...)
}
