// Command reconcile is the elbattach Lambda handler run on the reconcile schedule, and for {"action": "reconcile"}.
package main

import (
	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/event"
)

func main() { attach.Main(event.Sweep) }
