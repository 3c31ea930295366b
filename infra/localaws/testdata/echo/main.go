// Command echo is a throwaway Lambda used by the localaws tests: it echoes its
// payload, and returns an error when the payload has "fail": true,
// panics on "panic": true and exits the process on "exit": true.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

// request is the payload the echo function understands.
type request struct {
	Fail    bool   `json:"fail"`
	Panic   bool   `json:"panic"`
	Exit    bool   `json:"exit"`
	Message string `json:"message"`
}

// handle echoes raw, or fails the way the payload asks.
func handle(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, fmt.Errorf("decoding payload, %w", err)
	}
	fmt.Fprintf(os.Stderr, "echo: got %s\n", raw)
	fmt.Fprintf(os.Stderr, "echo: AWS_ENDPOINT_URL=%s\n", os.Getenv("AWS_ENDPOINT_URL"))
	if req.Panic {
		panic("asked to panic: " + req.Message)
	}
	if req.Exit {
		os.Exit(3)
	}
	if req.Fail {
		return nil, errors.New("asked to fail: " + req.Message)
	}
	return raw, nil
}

func main() {
	lambda.Start(handle)
}
