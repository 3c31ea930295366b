// Command lifecycle is the elbattach Lambda handler for Auto Scaling lifecycle actions (launch: attach, then complete; terminate: detach, drain, then complete) and manual events.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/event"
)

func main() {
	h, err := attach.New(context.Background(), event.LifecycleAction)
	if err != nil {
		// Fail every invocation with the reason, so it reaches the retry and
		// the failure destination instead of a crash loop.
		slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("elbattach cannot start", "error", err.Error())
		lambda.Start(func(context.Context) error { return err })
	}
	lambda.Start(h.Handle)
}
