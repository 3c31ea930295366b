package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"gopkg.in/yaml.v3"

	"github.com/elbattach/elbattach/infra/faultproxy"
	"github.com/elbattach/elbattach/infra/localaws"
)

// asyncInvoke plays Lambda's asynchronous invoke for a function of
// template.yaml (moto cannot run Lambdas): the event is tried once plus the
// function's EventInvokeConfig.MaximumRetryAttempts times; when every
// attempt fails, a record in the format of Lambda's on-failure destination
// goes to dlq. It returns the attempts made and the last error.
func asyncInvoke(t *testing.T, fn *localaws.RIE, logical string, payload []byte, dlq string) (int, *localaws.FunctionError) {
	t.Helper()
	attempts := 1 + maxRetryAttempts(t, logical)
	var ferr *localaws.FunctionError
	for i := 1; i <= attempts; i++ {
		if _, ferr = invoke(t, fn, payload); ferr == nil {
			return i, nil
		}
	}
	if dlq != "" {
		record, _ := json.Marshal(map[string]any{
			"version": "1.0", "timestamp": time.Now().UTC().Format(time.RFC3339),
			"requestContext": map[string]any{"condition": "RetriesExhausted", "approximateInvokeCount": attempts,
				"functionArn": "arn:aws:lambda:us-east-1:123456789012:function:" + logical + ":$LATEST"},
			"requestPayload":  json.RawMessage(payload),
			"responseContext": map[string]any{"statusCode": 200, "functionError": "Unhandled"},
			"responsePayload": map[string]string{"errorType": ferr.Type, "errorMessage": ferr.Message},
		})
		if _, err := sqs.NewFromConfig(awsCfg).SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(dlq), MessageBody: aws.String(string(record))}); err != nil {
			t.Fatal(err)
		}
	}
	return attempts, ferr
}

// maxRetryAttempts reads Properties.EventInvokeConfig.MaximumRetryAttempts of
// a function in template.yaml.
func maxRetryAttempts(t *testing.T, logical string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Properties struct {
				EventInvokeConfig struct {
					MaximumRetryAttempts int `yaml:"MaximumRetryAttempts"`
					DestinationConfig    struct {
						OnFailure struct {
							Type string `yaml:"Type"`
						} `yaml:"OnFailure"`
					} `yaml:"DestinationConfig"`
				} `yaml:"EventInvokeConfig"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	stripTags(&doc)
	if err := doc.Decode(&tpl); err != nil {
		t.Fatal(err)
	}
	cfg := tpl.Resources[logical].Properties.EventInvokeConfig
	if cfg.DestinationConfig.OnFailure.Type != "SQS" {
		t.Fatalf("%s has no SQS on-failure destination in template.yaml", logical)
	}
	return cfg.MaximumRetryAttempts
}

// stripTags drops CloudFormation's short tags (!Ref, !GetAtt, ...) so that
// yaml decodes the template into plain structs.
func stripTags(n *yaml.Node) {
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		n.Tag = ""
	}
	for _, c := range n.Content {
		stripTags(c)
	}
}

// TestFaults: with throttling, 5xx, dropped connections (before and after
// AWS applied the request) and latency between the function and AWS, every
// event still converges, within Lambda's retries, to the right state.
func TestFaults(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(o *options) {
		o.vpc.PrivateSubnets = map[string][]string{"c": {"10.0.2.0/24"}, "d": {"10.0.4.0/24"}}
	})
	ids := append([]string{s.inst.ID}, launch(t, s, "10.0.2.0/24", 2)...)
	ids = append(ids, launch(t, s, "10.0.4.0/24", 3)...)
	rates := faultproxy.Rates{Throttle: 0.15, ServerError: 0.10, Drop: 0.10, Latency: 2 * time.Millisecond}
	proxy, err := faultproxy.Start(moto.Endpoint, rates, 42)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	fn := function(t, StateFn, proxy.Env(nil)...)
	maxAttempts := 0
	for _, id := range ids {
		n, ferr := asyncInvoke(t, fn, logicalID[StateFn], manual(id, "attach", false), "")
		if ferr != nil {
			t.Fatalf("%s did not converge in %d attempts: %v", id, n, ferr)
		}
		maxAttempts = max(maxAttempts, n)
	}
	st := proxy.Stats()
	t.Logf("faults %+v over %d requests: throttled %d, 5xx %d, dropped before %d, after %d; most attempts for one event: %d",
		rates, st.Requests, st.Throttled, st.ServerErrors, st.DroppedBefore, st.DroppedAfter, maxAttempts)
	if st.Throttled+st.ServerErrors+st.DroppedBefore+st.DroppedAfter == 0 {
		t.Fatal("no fault was injected")
	}
	for _, az := range []string{"us-east-1c", "us-east-1d"} {
		if n := len(s.subnetsIn(az)); n != 2 {
			t.Errorf("%s has %d subnets, want its private one and one public", az, n)
		}
		if s.lbSubnets()[az] == "" {
			t.Errorf("load balancer lacks %s", az)
		}
	}
	if got := s.targets(); len(got) != len(ids) {
		t.Errorf("targets = %v, want %d", got, len(ids))
	}
	if rules := s.ingress(s.inst.SecurityGroup); len(rules) != 1 {
		t.Errorf("rules = %v, want one", rules)
	}
}

// TestFailedEventLandsInDLQ: an event that fails on every attempt is not
// dropped: after the template's retries it is in the failure queue with its
// reason.
func TestFailedEventLandsInDLQ(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(o *options) { o.alb.AllowTag = false })
	q, err := sqs.NewFromConfig(awsCfg).CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("FailedEventsQueue-" + strings.TrimPrefix(s.vpc.ID, "vpc-"))})
	if err != nil {
		t.Fatal(err)
	}
	event := sample(t, "instance-running.json", s.inst.ID)
	n, ferr := asyncInvoke(t, function(t, StateFn), logicalID[StateFn], event, aws.ToString(q.QueueUrl))
	if ferr == nil || n != 3 {
		t.Fatalf("attempts %d, error %v: want 3 failed attempts", n, ferr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	msgs, err := sqs.NewFromConfig(awsCfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs.Messages) != 1 {
		t.Fatalf("%d messages in the failure queue, want 1", len(msgs.Messages))
	}
	var rec struct {
		RequestPayload  map[string]any    `json:"requestPayload"`
		ResponsePayload map[string]string `json:"responsePayload"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(msgs.Messages[0].Body)), &rec); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.ResponsePayload["errorMessage"], "has no tag elbattach:allow=true") ||
		fmt.Sprint(rec.RequestPayload["detail"]) != fmt.Sprint(map[string]any{"instance-id": s.inst.ID, "state": "running"}) {
		t.Errorf("failure record = %+v", rec)
	}
}
