package localaws

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// testMoto is the moto_server shared by the package's tests.
var testMoto *Moto

// TestMain starts one moto_server for all tests.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	moto, err := StartMoto(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer moto.Stop()
	testMoto = moto
	return m.Run()
}

// testConfig returns the SDK configuration of the shared moto_server.
func testConfig(t *testing.T) aws.Config {
	t.Helper()
	return testMoto.Config(t.Context())
}
