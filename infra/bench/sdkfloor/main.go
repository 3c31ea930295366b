// Command sdkfloor is the empty handler of infra/bench/empty that also links
// the aws-sdk-go-v2 packages the functions use, without calling them: the
// cold-start benchmark's floor for any handler built on those clients. Go
// runs every linked package's init before main, so this measures what the
// SDK's package init costs on its own (TestSDKFloorLinksTheFunctionsSDK
// keeps the list equal to the functions').
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/ec2"
	_ "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	_ "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	_ "github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

func main() {
	lambda.Start(func(_ context.Context, event json.RawMessage) (json.RawMessage, error) { return event, nil })
}
