// Command tag-change is the elbattach Lambda handler for EC2 instance tag-change events (the elbattach:target tag added, changed or removed), and for manual console test events.
package main

import (
	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/event"
)

func main() { attach.Main(event.TagChange) }
