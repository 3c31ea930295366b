// Command empty is an aws-lambda-go handler that does nothing but echo its
// event: the baseline the cold-start benchmark compares the instance-state
// bootstrap with. It is built as the functions are (static, -tags
// lambda.norpc, -trimpath, -ldflags='-s -w').
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, event json.RawMessage) (json.RawMessage, error) { return event, nil })
}
