// Command reconcile is the elbattach Lambda handler run on a schedule (and by
// {"action": "reconcile"}): it attaches every tagged running instance and
// detaches the stopped ones still registered, catching missed events and drift.
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
	h, err := attach.New(context.Background(), event.Sweep)
	if err != nil {
		slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error("elbattach cannot start", "error", err.Error())
		lambda.Start(func(context.Context) error { return err })
	}
	lambda.Start(h.HandleSweep)
}
