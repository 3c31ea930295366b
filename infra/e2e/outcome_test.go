package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// outcomeQueue routes the outcome events about one instance from the
// default bus to a new queue.
func outcomeQueue(t *testing.T, instance string) string {
	t.Helper()
	ctx, q := t.Context(), sqs.NewFromConfig(awsCfg)
	name := "outcome-" + strings.TrimPrefix(instance, "i-")
	out, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(awsCfg)
	pattern := fmt.Sprintf(`{"source": ["elbattach"], "detail": {"instance": [%q]}}`, instance)
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(attrs.Attributes["QueueArn"])}}}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

// TestOutcome: a run that changes something announces it on the default bus
// (source elbattach) with the report as detail, and writes an EMF line.
func TestOutcome(t *testing.T) {
	t.Parallel()
	s := newScenario(t, nil)
	url := outcomeQueue(t, s.inst.ID)
	fn := function(t, StateFn)
	attachOK(t, s)
	msgs, err := sqs.NewFromConfig(awsCfg).ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 2, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs.Messages) != 1 {
		t.Fatalf("%d outcome events, want 1", len(msgs.Messages))
	}
	var ev struct {
		Source     string `json:"source"`
		DetailType string `json:"detail-type"`
		Detail     struct {
			Instance string   `json:"instance"`
			Changes  []string `json:"changes"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(msgs.Messages[0].Body)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Source != "elbattach" || ev.DetailType != "Instance Attached" || ev.Detail.Instance != s.inst.ID || len(ev.Detail.Changes) != 5 {
		t.Errorf("outcome event = %+v", ev)
	}
	// The function that ran the attach wrote an EMF record.
	_, _ = invoke(t, fn, manual(s.inst.ID, "attach", false))
	if logs, ok := fn.AwaitLogs(`"CloudWatchMetrics":[{"Dimensions":[["Function"]],"Metrics":[{"Name":"Attached"`, 10*time.Second); !ok {
		t.Errorf("no EMF record in the function's output:\n%s", logs)
	}
}
