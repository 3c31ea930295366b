// Command instance-state is the elbattach Lambda handler for EC2 instance state-change events (attach on running, detach on stopping, stopped, shutting-down, terminated), and for manual console test events.
package main

import (
	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/event"
)

func main() { attach.Main(event.StateChange) }
