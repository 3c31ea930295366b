package fakeaws_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/elbattach/elbattach/shared/awserr"
	"github.com/elbattach/elbattach/shared/fakeaws"
)

func Example() {
	w := fakeaws.New()
	vpc := w.AddVPC("10.0.0.0/16", fakeaws.WithIGW())
	a := w.AddSubnet(vpc, "us-east-1a", "10.0.0.0/27", fakeaws.Tag("Name", "public-a"))
	w.AddRouteTable(vpc, w.IGW(vpc), fakeaws.Subnets(a))

	client := w.EC2() // satisfies observe.EC2 and apply.EC2
	_, err := client.CreateSubnet(context.Background(), &ec2.CreateSubnetInput{
		VpcId: aws.String(vpc), AvailabilityZone: aws.String("us-east-1b"), CidrBlock: aws.String("10.0.0.16/28")})
	fmt.Println(awserr.Code(err))
	fmt.Println(w.Calls(), w.FreeIPs(a))
	// Output:
	// InvalidSubnet.Conflict
	// [ec2.CreateSubnet] 27
}
