// Command lifecycle is the elbattach Lambda handler for Auto Scaling lifecycle actions (launch: attach, then complete; terminate: detach, drain, then complete), and for manual console test events.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/elbattach/elbattach/shared/asg"
	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/event"
)

func main() {
	attach.Main(event.LifecycleAction, func(h *attach.Handler, cfg aws.Config) { h.Pipeline.Lifecycle = asg.New(cfg) })
}
