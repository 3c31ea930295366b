package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elbattach/elbattach/shared/attach"
)

// TestReconcile sweeps the whole account, so it runs alone (not parallel)
// and with a tag key of its own (other tests' tagged instances, some with
// targets refused on purpose, are not its business): tagged instances nobody
// attached get attached, a stopped instance still registered gets detached,
// and a second sweep changes nothing.
func TestReconcile(t *testing.T) {
	const tagKey = "elbattach:reconcile-test"
	s := newScenario(t, func(o *options) { o.tagKey = tagKey })
	missed := launch(t, s, "10.0.2.0/24", 2) // launched while elbattach was not listening
	stopped := launch(t, s, "10.0.2.0/24", 1)[0]
	fn := function(t, StateFn, "TAG_KEY="+tagKey)
	if _, ferr := invoke(t, fn, manual(stopped, "attach", false)); ferr != nil {
		t.Fatal(ferr)
	}
	if _, err := s.ec2.StopInstances(s.ctx, &ec2.StopInstancesInput{InstanceIds: []string{stopped}}); err != nil {
		t.Fatal(err)
	}
	sweep := func() attach.ReconcileReport {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		resp, ferr, err := function(t, ReconcileFn, "TAG_KEY="+tagKey).Invoke(ctx, []byte(`{"action": "reconcile"}`))
		if err != nil || ferr != nil {
			t.Fatalf("reconcile: %v %v", err, ferr)
		}
		var rr attach.ReconcileReport
		if err := json.Unmarshal(resp, &rr); err != nil {
			t.Fatal(err)
		}
		return rr
	}
	rr := sweep()
	t.Logf("reconcile: %d instances, %d changes, warnings %v, failures %v", rr.Instances, len(rr.Changes), rr.Warnings, rr.Failures)
	want := append([]string{s.inst.ID + ":80"}, missed[0]+":80", missed[1]+":80")
	got := s.targets()
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("targets = %v, want %s registered", got, w)
		}
	}
	if contains(got, stopped+":80") {
		t.Errorf("stopped %s still registered: %v", stopped, got)
	}
	if again := sweep(); len(again.Changes) != 0 {
		t.Errorf("second sweep changed %v", again.Changes)
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
