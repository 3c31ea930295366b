package faultproxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
)

// TestLifecycleActions: the proxy answers both lifecycle actions itself,
// even with every other request throttled, and records them.
func TestLifecycleActions(t *testing.T) {
	p := startProxy(t, Rates{Throttle: 1, Drop: 0})
	client := autoscaling.NewFromConfig(proxyConfig(t, p, 1))
	start := time.Now()
	_, err := client.CompleteLifecycleAction(t.Context(), &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName:  aws.String("asg-1"),
		LifecycleHookName:     aws.String("launch-hook"),
		LifecycleActionToken:  aws.String("bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635"),
		InstanceId:            aws.String("i-0123456789abcdef0"),
		LifecycleActionResult: aws.String("CONTINUE"),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.RecordLifecycleActionHeartbeat(t.Context(), &autoscaling.RecordLifecycleActionHeartbeatInput{
		AutoScalingGroupName: aws.String("asg-2"),
		LifecycleHookName:    aws.String("terminate-hook"),
		InstanceId:           aws.String("i-0fedcba9876543210"),
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := p.LifecycleCalls()
	want := []LifecycleCall{
		{Action: "CompleteLifecycleAction", AutoScalingGroupName: "asg-1", LifecycleHookName: "launch-hook",
			LifecycleActionToken: "bcd2f1b8-9a78-44d3-8a7a-4dd07d7cf635", InstanceID: "i-0123456789abcdef0",
			LifecycleActionResult: "CONTINUE"},
		{Action: "RecordLifecycleActionHeartbeat", AutoScalingGroupName: "asg-2", LifecycleHookName: "terminate-hook",
			InstanceID: "i-0fedcba9876543210"},
	}
	if len(calls) != len(want) {
		t.Fatalf("calls = %+v, want %d", calls, len(want))
	}
	for i, c := range calls {
		if c.At.Before(start) || c.At.After(time.Now()) {
			t.Errorf("call %d At = %s, not during the test", i, c.At)
		}
		c.At = time.Time{}
		if c != want[i] {
			t.Errorf("call %d = %+v, want %+v", i, c, want[i])
		}
	}
	s := p.Stats()
	if s.Lifecycle != 2 || s.Forwarded != 0 || s.Throttled != 0 || len(s.Faults) != 0 {
		t.Errorf("stats = %+v, want 2 lifecycle calls, nothing forwarded or faulted", s)
	}
	if s.Operations["autoscaling.CompleteLifecycleAction"] != 1 || s.Operations["autoscaling.RecordLifecycleActionHeartbeat"] != 1 {
		t.Errorf("operations = %v", s.Operations)
	}
}

// TestLifecycleValidation: a call Auto Scaling would refuse gets a
// ValidationError and is not recorded.
func TestLifecycleValidation(t *testing.T) {
	p := startProxy(t, Rates{})
	client := autoscaling.NewFromConfig(proxyConfig(t, p, 1))
	_, err := client.CompleteLifecycleAction(t.Context(), &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName:  aws.String("asg-1"),
		LifecycleHookName:     aws.String("launch-hook"),
		LifecycleActionResult: aws.String("CONTINUE"),
	})
	if code := requireAPIError(t, err).ErrorCode(); code != "ValidationError" {
		t.Errorf("code = %q, want ValidationError", code)
	}
	_, err = client.CompleteLifecycleAction(t.Context(), &autoscaling.CompleteLifecycleActionInput{
		AutoScalingGroupName:  aws.String("asg-1"),
		LifecycleHookName:     aws.String("launch-hook"),
		InstanceId:            aws.String("i-1"),
		LifecycleActionResult: aws.String("MAYBE"),
	})
	if apiErr := requireAPIError(t, err); apiErr.ErrorCode() != "ValidationError" ||
		!strings.Contains(apiErr.ErrorMessage(), "CONTINUE or ABANDON") {
		t.Errorf("error = %v", err)
	}
	if calls := p.LifecycleCalls(); len(calls) != 0 {
		t.Errorf("recorded %+v", calls)
	}
}

func TestClassify(t *testing.T) {
	auth := func(svc string) string {
		return "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/" + svc + "/aws4_request, SignedHeaders=host, Signature=00"
	}
	cases := []struct {
		auth, target, ctype, body string
		key                       string
		proto                     protocol
	}{
		{auth("ec2"), "", "application/x-www-form-urlencoded", "Action=CreateVpc&Version=2016-11-15", "ec2.CreateVpc", protoEC2},
		{auth("elasticloadbalancing"), "", "application/x-www-form-urlencoded", "Action=SetSubnets&Version=2015-12-01", "elbv2.SetSubnets", protoQuery},
		{auth("elasticloadbalancing"), "", "application/x-www-form-urlencoded", "Action=AttachLoadBalancerToSubnets&Version=2012-06-01", "elb.AttachLoadBalancerToSubnets", protoQuery},
		{auth("autoscaling"), "", "application/x-www-form-urlencoded; charset=utf-8", "Action=CompleteLifecycleAction&Version=2011-01-01", "autoscaling.CompleteLifecycleAction", protoQuery},
		{auth("events"), "AWSEvents.PutEvents", "application/x-amz-json-1.1", "{}", "events.PutEvents", protoJSON},
		{auth("sqs"), "AmazonSQS.ReceiveMessage", "application/x-amz-json-1.0", "{}", "sqs.ReceiveMessage", protoJSON},
		{"", "", "", "", "unknown.GET /", protoQuery},
	}
	for _, c := range cases {
		method := http.MethodPost
		if c.body == "" {
			method = http.MethodGet
		}
		r, _ := http.NewRequest(method, "http://127.0.0.1/", strings.NewReader(c.body))
		r.Header.Set("Authorization", c.auth)
		r.Header.Set("X-Amz-Target", c.target)
		r.Header.Set("Content-Type", c.ctype)
		op := classify(r, []byte(c.body))
		if op.Key() != c.key || op.Proto != c.proto {
			t.Errorf("classify(%q) = %s/%d, want %s/%d", c.body, op.Key(), op.Proto, c.key, c.proto)
		}
	}
}

func TestErrorBodies(t *testing.T) {
	ec2Op := operation{Service: ServiceEC2, Proto: protoEC2}
	body, _ := errorBody(ec2Op, throttleError(ec2Op), "rid")
	if want := `<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>rid</RequestID></Response>`; !strings.HasSuffix(string(body), want) {
		t.Errorf("ec2 body = %s", body)
	}
	elbOp := operation{Service: ServiceELBv2, Proto: protoQuery}
	body, _ = errorBody(elbOp, throttleError(elbOp), "rid")
	if want := `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>rid</RequestId></ErrorResponse>`; string(body) != want {
		t.Errorf("elbv2 body = %s", body)
	}
	jsonOp := operation{Service: ServiceEvents, Proto: protoJSON, JSONVer: "1.1"}
	body, ctype := errorBody(jsonOp, throttleError(jsonOp), "rid")
	if string(body) != `{"__type":"ThrottlingException","message":"Rate exceeded"}` || ctype != "application/x-amz-json-1.1" {
		t.Errorf("events body = %s (%s)", body, ctype)
	}
}

func TestEnv(t *testing.T) {
	p := &Proxy{URL: "http://127.0.0.1:1"}
	got := p.Env([]string{"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=http://moto"})
	if len(got) != 2 || got[0] != "AWS_REGION=us-east-1" || got[1] != "AWS_ENDPOINT_URL=http://127.0.0.1:1" {
		t.Errorf("Env = %v", got)
	}
}
