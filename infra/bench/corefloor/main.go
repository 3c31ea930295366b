// Command corefloor is the empty handler of infra/bench/empty that also links
// the three aws-sdk-go-v2 service packages no implementation of the
// checklist can do without (ec2, elasticloadbalancing for Classic ELB,
// elasticloadbalancingv2 for ALB and NLB), without calling them, and nothing
// else of the SDK: no config loader, no EventBridge client. It is the
// cold-start floor of any Go handler that does the job with these SDK
// releases, however it loads its configuration.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/service/ec2"
	_ "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	_ "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

func main() {
	lambda.Start(func(_ context.Context, event json.RawMessage) (json.RawMessage, error) { return event, nil })
}
