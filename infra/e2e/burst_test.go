package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/elbattach/elbattach/infra/faultproxy"
	"github.com/elbattach/elbattach/infra/localaws"
	"github.com/elbattach/elbattach/shared/attach"
	"github.com/elbattach/elbattach/shared/awsclient"
	"github.com/elbattach/elbattach/shared/config"
	"github.com/elbattach/elbattach/shared/event"
)

// inProcess builds the pipeline the handlers use, in this process, against
// moto, counting calls into calls.
func inProcess(t *testing.T, cfg aws.Config, calls *awsclient.Counter) *attach.Pipeline {
	t.Helper()
	calls.Install(&cfg)
	p := attach.NewPipeline(config.Default(), cfg, slog.New(slog.DiscardHandler))
	p.Observer.InstanceNotFoundAttempts = 1
	return p
}

// launch runs n instances in one subnet with the scenario's group and tag.
func launch(t *testing.T, s *scenario, cidr string, n int32) []string {
	t.Helper()
	out, err := s.ec2.RunInstances(s.ctx, &ec2.RunInstancesInput{ImageId: aws.String(localaws.AMI), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(n), MaxCount: aws.Int32(n), SubnetId: aws.String(s.vpc.Subnets[cidr]), SecurityGroupIds: []string{s.inst.SecurityGroup},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
			Tags: []ec2types.Tag{{Key: aws.String(s.tagKey), Value: aws.String(s.tg)}}}}})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, n)
	for _, i := range out.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	return ids
}

// TestBurst: an Auto Scaling burst of 50 instances over 3 AZs the load
// balancer does not cover, all attached at once, ends with exactly one public
// subnet per AZ, every AZ on the load balancer, every instance registered and
// no duplicate rule.
func TestBurst(t *testing.T) {
	t.Parallel()
	s := newScenario(t, func(o *options) {
		o.vpc.PrivateSubnets = map[string][]string{"c": {"10.0.2.0/24"}, "d": {"10.0.4.0/24"}, "e": {"10.0.5.0/24"}}
	})
	ids := append([]string{s.inst.ID}, launch(t, s, "10.0.2.0/24", 16)...)
	ids = append(ids, launch(t, s, "10.0.4.0/24", 17)...)
	ids = append(ids, launch(t, s, "10.0.5.0/24", 16)...)
	// AWS creates a subnet or adds a rule atomically (one CreateSubnet per
	// block wins, a rule is added once); moto checks, then inserts,
	// unlocked: a proxy gives it AWS's rule (faultproxy.CheckThenWrite).
	proxy, err := faultproxy.Start(moto.Endpoint, faultproxy.Rates{Serial: faultproxy.CheckThenWrite}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	cfg := awsCfg.Copy()
	cfg.BaseEndpoint = aws.String(proxy.URL)
	calls := &awsclient.Counter{}
	p := inProcess(t, cfg, calls)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Go(func() {
			if _, err := p.Run(context.Background(), event.Trigger{InstanceID: id, Action: event.Attach, Origin: "burst"}); err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	counts := calls.Snapshot()
	t.Logf("burst of %d over 3 AZs: %s, %d calls, CreateSubnet %d, SetSubnets %d", len(ids), time.Since(start).Round(time.Millisecond),
		calls.Total(), counts["EC2.CreateSubnet"], counts["Elastic Load Balancing v2.SetSubnets"])

	lb := s.lbSubnets()
	for _, az := range []string{"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1e"} {
		if lb[az] == "" {
			t.Errorf("load balancer lacks %s: %v", az, lb)
		}
	}
	for _, az := range []string{"us-east-1c", "us-east-1d", "us-east-1e"} {
		if sn := s.subnetsIn(az); len(sn) != 2 {
			var desc []string
			for _, x := range sn {
				desc = append(desc, fmt.Sprintf("%s %s %v", aws.ToString(x.SubnetId), aws.ToString(x.CidrBlock), x.Tags))
			}
			t.Errorf("%s has %d subnets, want its private one and exactly one public: %v", az, len(sn), desc)
		}
	}
	if got := s.targets(); len(got) != len(ids) {
		t.Errorf("%d targets registered, want %d", len(got), len(ids))
	}
	rules := s.ingress(s.inst.SecurityGroup)
	if len(rules) != 1 {
		t.Errorf("instance group rules = %v, want one", rules)
	}
	if n := counts["Elastic Load Balancing v2.SetSubnets"]; n > 6 {
		t.Errorf("%d SetSubnets calls for 3 AZs", n)
	}

	// Replaying the whole burst changes nothing.
	before := s.world()
	var changed []string
	var mu sync.Mutex
	for _, id := range ids {
		wg.Go(func() {
			r, err := p.Run(context.Background(), event.Trigger{InstanceID: id, Action: event.Attach, Origin: "burst"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				changed = append(changed, err.Error())
			}
			changed = append(changed, r.Changes...)
		})
	}
	wg.Wait()
	sort.Strings(changed)
	if len(changed) != 0 {
		t.Errorf("replayed burst changed: %v", changed)
	}
	if diff := cmpWorld(before, s.world()); diff != "" {
		t.Errorf("replayed burst changed the world:\n%s", diff)
	}
}
